"""How many of ONNX's node tests relay-run can import from their inputs alone.

    python benchmarks/onnx_node_tests_inputs.py [--list]

relay-run gives an ONNX model only its `-i` arrays: every graph input is a run-time value
whose shape is the array's. A model whose shape-deciding input (Reshape's shape, Expand's,
Slice's starts, ...) is a graph input then needs that input as a constant, which relay-run
cannot do (ONNX's backend interface can: it specializes on the values it is given). This
counts the node tests by what the import does with them: imported, "needs a constant",
unsupported (an operator, attribute or dtype relay-opt lacks), or another import error.
It imports only (no compile): a count, not a timing; nothing here asserts anything.
"""

from __future__ import annotations

import argparse
import collections
import warnings
from collections.abc import Sequence


def main() -> None:
    p = argparse.ArgumentParser(description="ONNX node tests that relay-run imports from -i")
    p.add_argument("--list", action="store_true", help="print the tests that need a constant")
    args = p.parse_args()

    import numpy as np
    from onnx.backend.test.case import node

    from relay_opt.frontends.onnx.importer import (
        OnnxImportError,
        OnnxNeedsConstantError,
        OnnxUnsupportedError,
        import_onnx,
    )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = node.collect_testcases(None)
    counts: collections.Counter[str] = collections.Counter()
    needs: list[str] = []
    for case in cases:
        if not case.data_sets or case.model is None:
            continue
        # A numpy scalar (Range's bounds) is a 0-d tensor, as `-i` stores it.
        inputs = [np.asarray(a) if isinstance(a, np.generic) else a for a in case.data_sets[0][0]]
        graph = case.model.graph
        initialized = {i.name for i in graph.initializer}
        names = [vi.name for vi in graph.input if vi.name not in initialized]
        if len(names) != len(inputs) or not all(isinstance(a, np.ndarray) for a in inputs):
            counts["inputs that are not tensors"] += 1
            continue
        shapes: dict[str, Sequence[int]] = {
            n: [int(d) for d in a.shape] for n, a in zip(names, inputs, strict=True)
        }
        try:
            import_onnx(case.model, shapes)
            counts["imported"] += 1
        except OnnxNeedsConstantError as e:
            counts["needs a constant"] += 1
            needs.append(f"{case.name}: {e}")
        except OnnxUnsupportedError:
            counts["unsupported"] += 1
        except OnnxImportError:
            counts["other import error"] += 1
    for what, n in counts.most_common():
        print(f"{n:5d}  {what}")
    if args.list:
        print("\n".join(needs))


if __name__ == "__main__":
    main()
