"""Write the runnable examples (`examples/*.rly` with their weights, an input and the expected
output) from the model generators in `examples/models/`.

    python examples/write_examples.py            # rewrite them
    python examples/write_examples.py --check    # exit 1 if a written file differs

Each model's weights are an .npz of `relay.Constant.<i>` arrays (relay-run's and
relay-translate's `--meta`); the expected output is the model's independent numpy version
applied to the input, so `relay-run --expected` checks the compiler against numpy.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE / "models"))


def _examples() -> dict[str, tuple[str, list[np.ndarray], str, np.ndarray, np.ndarray]]:
    """name -> (Relay text, weights, input name, input, expected output)."""
    from gpt2 import gpt2_numpy, gpt2_text
    from mnist import mnist_numpy, mnist_text

    rng = np.random.default_rng(0)
    out = {}
    text, weights = mnist_text()
    image = rng.random((1, 1, 28, 28)).astype(np.float32)
    out["mnist"] = (text, weights, "x", image, mnist_numpy(image, weights))
    text, weights = gpt2_text()
    tokens = rng.standard_normal((1, 8, 64)).astype(np.float32)
    out["gpt2_block"] = (text, weights, "x", tokens, gpt2_numpy(tokens, weights))
    return out


def _npz(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in arrays.items()}


def files() -> dict[str, str | dict[str, np.ndarray]]:
    """Every example file by name: text, or the arrays of an .npz."""
    written: dict[str, str | dict[str, np.ndarray]] = {}
    for name, (text, weights, input_name, x, expected) in _examples().items():
        written[f"{name}.rly"] = text
        written[f"{name}.npz"] = _npz({f"relay.Constant.{i}": w for i, w in enumerate(weights)})
        written[f"{name}_input.npz"] = _npz({input_name: x})
        written[f"{name}_expected.npz"] = _npz({"output_0": expected})
    return written


def _same(path: Path, content: str | dict[str, np.ndarray]) -> bool:
    if not path.exists():
        return False
    if isinstance(content, str):
        return path.read_text() == content
    with np.load(path) as saved:
        return sorted(saved.files) == sorted(content) and all(
            saved[k].dtype == content[k].dtype and np.array_equal(saved[k], content[k])
            for k in content
        )


def main() -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    p.add_argument("--check", action="store_true", help="only check that the files are current")
    ns = p.parse_args()
    stale = []
    for name, content in files().items():
        path = HERE / name
        if _same(path, content):
            continue
        stale.append(name)
        if not ns.check:
            if isinstance(content, str):
                path.write_text(content)
            else:
                buffer = io.BytesIO()
                np.savez(buffer, **content)  # pyright: ignore[reportArgumentType]
                path.write_bytes(buffer.getvalue())
    if ns.check and stale:
        print(f"stale: {', '.join(stale)} (run python examples/write_examples.py)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
