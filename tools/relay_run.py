"""`relay-run`: run a Relay program on numpy inputs, with the conventions of TVM's `tvmc run`.

    relay-run model.rly --meta weights.npz -i inputs.npz -o outputs.npz
    relay-run model.rly -i inputs.npz --interpret --expected want.npz --rtol 1e-4
    relay-run model.onnx --inputs inputs.npz --outputs outputs.npz

Inputs are named by parameter (without `%`), or for an ONNX model by the
graph's input names; results are saved as output_0, output_1, ... (a tuple
result is flattened; an ONNX model's by its output names) and printed as
`result[i]: SHAPExDTYPE` with a summary of their values. Without
`--interpret` the program is compiled to native code (static graphs today).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from relay_opt.diagnostics import (
    ArgumentError,
    RelayError,
    UserError,
    render_error,
    run_tool,
    write_output,
)
from relay_opt.runtime.values import ADTValue, RefCell, show, tensors_inside, to_adt_list
from relay_opt.timing import Timings

if TYPE_CHECKING:
    from xdsl.dialects.builtin import ModuleOp


def _tolerance(text: str) -> float:
    """A finite, non-negative tolerance: `nan` would make every comparison pass."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text} is not a finite, non-negative tolerance")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def _input_shape(spec: str) -> tuple[str, list[int]]:
    from relay_opt.loader import parse_input_shape

    try:
        return parse_input_shape(spec)
    except ArgumentError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="relay-run", description=(__doc__ or "").partition("\n")[0])
    p.add_argument(
        "input_file",
        help="the program: .rly (Relay text), .mlir (Relay dialect), .onnx, or a package "
        "relay-compile wrote (.relaymod)",
    )
    p.add_argument("-i", "--inputs", metavar="IN.npz", help="input arrays, named by parameter")
    p.add_argument("-o", "--outputs", metavar="OUT.npz", help="where to save the results")
    p.add_argument("--meta", metavar="M.npz", help="constants for meta[relay.Constant][i]")
    p.add_argument(
        "--input-format", choices=("mlir", "relay", "onnx"), help="default: by file extension"
    )
    p.add_argument("--entry", default="main", help="the function to run (default: main)")
    p.add_argument(
        "--interpret",
        action="store_true",
        help="run the reference interpreter instead of native code",
    )
    p.add_argument(
        "--fill-mode",
        choices=("zeros", "ones", "random"),
        help="fill inputs that --inputs does not give, as tvmc does: random draws floats "
        "uniformly from [-1, 1), integers from [0, 128) (within the type's range), bools 50/50",
    )
    p.add_argument(
        "--seed", type=_count, default=0, help="the seed of --fill-mode random (default 0)"
    )
    p.add_argument(
        "--input-shape",
        action="append",
        type=_input_shape,
        metavar="NAME=D1,D2,...",
        help="the shape of an input with symbolic (?) dimensions, e.g. an ONNX graph input's "
        "(repeatable; an input given by --inputs has its array's shape)",
    )
    p.add_argument(
        "--print-top",
        type=_count,
        metavar="K",
        help="print the K largest values of each result with their indices (as tvmc does)",
    )
    p.add_argument("--expected", metavar="E.npz", help="compare the results with these arrays")
    p.add_argument("--rtol", type=_tolerance, default=1e-5)
    p.add_argument("--atol", type=_tolerance, default=1e-5)
    p.add_argument(
        "--repeat",
        type=_count,
        default=0,
        metavar="N",
        help="time N calls after an untimed warm-up (--print-time alone times one)",
    )
    p.add_argument("--print-time", action="store_true", help="print mean/median/min/max/std in ms")
    p.add_argument(
        "--profile",
        action="store_true",
        help="print the time of each compiled kernel (named by function, Relay operator, "
        "step and source position)",
    )
    p.add_argument(
        "--html",
        metavar="REPORT.html",
        help="with --profile: also write a self-contained page with the kernel times as a bar "
        "chart, the fused groups and the IR after each stage",
    )
    p.add_argument(
        "--mlir-timing",
        "--time-passes",
        action="store_true",
        help="print a per-pass timing report (stderr), as relay-opt does",
    )
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="neither read nor write the compile cache (also RELAY_OPT_NO_CACHE=1); "
        "--profile and --mlir-timing always compile",
    )
    p.add_argument(
        "-O",
        dest="opt_level",
        type=int,
        choices=(0, 1, 2, 3),
        help="optimization level of the compiled code (default 3)",
    )
    p.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="threads of the compiled code's parallel regions (default: RELAY_OPT_NUM_THREADS, "
        "else the CPUs this process may use)",
    )
    p.add_argument(
        "--fp-policy",
        choices=("fast", "strict"),
        help="floating-point policy of the compiled code: fast (default: FMA contraction, "
        "reductions reassociated) or strict (every float operation as written)",
    )
    return p


def _params(func) -> list[tuple[str, object]]:  # noqa: ANN001
    return [(a.name_hint or f"arg{i}", a.type) for i, a in enumerate(func.args)]


def _fill(
    name: str,
    t,  # noqa: ANN001
    mode: str,
    rng: np.random.Generator,
    shape: list[int] | None = None,
) -> np.ndarray:
    """An input of type `t` filled by `mode`; `shape` (from --input-shape) fixes its ? dims."""
    from xdsl.dialects.builtin import TensorType

    from relay_opt.dialects.relay.numpy_dtypes import numpy_dtype
    from relay_opt.dialects.relay.types import DYNAMIC, STRING, tensor_dtype

    if not isinstance(t, TensorType):
        hint = f" (give a List as {name}/0, {name}/1, ... in --inputs)" if "List" in str(t) else ""
        raise UserError(f"relay-run: error: cannot fill input '{name}' of type {t}{hint}\n")
    declared = tuple(t.get_shape())
    if shape is not None:
        if len(shape) != len(declared) or any(
            d != DYNAMIC and d != g for d, g in zip(declared, shape, strict=True)
        ):
            raise UserError(
                f"relay-run: error: --input-shape gives '{name}' the shape {tuple(shape)}, "
                f"which its type {t} does not allow\n"
            )
        declared = tuple(shape)
    if DYNAMIC in declared:
        raise UserError(
            f"relay-run: error: cannot fill input '{name}': its shape {t} has ? dims "
            f"(give them with --input-shape {name}=D1,D2,...)\n"
        )
    if tensor_dtype(t) == STRING:  # empty strings, or short words of ASCII letters
        words = np.empty(declared, dtype=object)
        for i in np.ndindex(declared):
            size = 0 if mode == "zeros" else 1 if mode == "ones" else int(rng.integers(0, 6))
            words[i] = "".join(chr(ord("a") + int(c)) for c in rng.integers(0, 26, size))
        return words
    dtype = numpy_dtype(tensor_dtype(t))
    if mode == "zeros":
        return np.zeros(declared, dtype)
    if mode == "ones":
        return np.ones(declared, dtype)
    if dtype.kind == "f":
        return rng.uniform(-1.0, 1.0, declared).astype(dtype)
    if dtype.kind == "b":
        return rng.random(declared) < 0.5
    high = min(128, int(np.iinfo(dtype).max) + 1)
    return rng.integers(0, high, declared).astype(dtype)


def _is_bfloat16(t: object) -> bool:
    from xdsl.dialects.builtin import BFloat16Type, TensorType

    return isinstance(t, TensorType) and isinstance(t.element_type, BFloat16Type)


def _bfloat16_input(array: np.ndarray) -> np.ndarray:
    """A bfloat16 input as the float32 that stands in for it (exact): ml_dtypes' array, or the
    bytes (V2) .npz keeps of one."""
    import ml_dtypes

    if array.dtype == np.dtype("V2"):
        array = array.view(ml_dtypes.bfloat16)
    return array.astype(np.float32) if array.dtype == ml_dtypes.bfloat16 else array


def _adt(t: object, name: str) -> bool:
    from relay_opt.dialects.relay.types import ADTType

    return isinstance(t, ADTType) and t.adt_name == name


def _list_inputs(given: dict, params: list[tuple[str, object]]) -> dict:  # noqa: ANN001
    """A `List` parameter `xs` (or an `Option` of one) is given as arrays `xs/0`, `xs/1`, ...
    (the names relay-run saves a list result under): they become one Python list, in order."""
    lists = {
        n
        for n, t in params
        if _adt(t, "List") or (_adt(t, "Option") and _adt(t.args.data[0], "List"))  # pyright: ignore
    }
    items: dict[str, dict[int, np.ndarray]] = {}
    rest = {}
    for key, array in given.items():
        name, _, index = key.rpartition("/")
        if name in lists and index.isdigit():
            items.setdefault(name, {})[int(index)] = array
        else:
            rest[key] = array
    for name, by_index in items.items():
        if sorted(by_index) != list(range(len(by_index))):
            raise UserError(
                f"relay-run: error: the items of list input '{name}' must be {name}/0, "
                f"{name}/1, ... with none missing\n"
            )
        rest[name] = [by_index[k] for k in range(len(by_index))]
    return rest


def _optional_inputs(given: dict, params: list[tuple[str, object]]) -> dict:  # noqa: ANN001
    """An `Option` parameter (an ONNX optional input) is `Some` of what the inputs give under
    its name (an array, or a list as `name/0`, ...), `None` when they give nothing."""
    for name, t in params:
        if not _adt(t, "Option"):
            continue
        if name not in given:
            given[name] = ADTValue("Option::None", 1, ())
            continue
        value = given[name]
        given[name] = ADTValue(
            "Option::Some", 0, (to_adt_list(value) if isinstance(value, list) else value,)
        )
    return given


def _check_sizes(module) -> None:  # noqa: ANN001
    """Every value must fit in memory to run (the interpreter and native code both hold each
    one): refuse a larger tensor where it is defined, before allocating anything."""
    from xdsl.dialects.builtin import TupleType

    from relay_opt.dialects.relay.resources import check_size

    def check(t, what: str, op) -> None:  # noqa: ANN001
        if isinstance(t, TupleType):
            for field in t.types:
                check(field, f"a field of {what}", op)
        else:
            check_size(t, what, op)

    for op in module.walk():
        for region in op.regions:
            for block in region.blocks:
                for arg in block.args:
                    check(arg.type, f"parameter %{arg.name_hint or arg.index}", op)
        for result in op.results:
            check(result.type, "this value", op)


def _flatten(value) -> list[np.ndarray]:  # noqa: ANN001
    if isinstance(value, tuple):
        return [leaf for v in value for leaf in _flatten(v)]
    if isinstance(value, (np.ndarray, ADTValue, RefCell)):
        return [value]  # pyright: ignore[reportReturnType]  (objects: see _saved)
    shown = " ".join(repr(value).split())[:60]
    raise UserError(
        f"relay-run: error: a result of kind {type(value).__name__} ({shown}) cannot be saved; "
        f"only tensors, ADT values, references and tuples of them can\n"
    )


def _saved(results: list, names: list[str]) -> tuple[list[str], list[np.ndarray]]:  # noqa: ANN001
    """The arrays to save and compare, by name: an ADT value or reference saves each tensor
    inside it under a path (`output_0/3` is item 3 of a list, `output_0/Rose.0` a field)."""
    keys: list[str] = []
    arrays: list[np.ndarray] = []
    for name, value in zip(names, results, strict=True):
        for key, array in (
            tensors_inside(value, name) if not isinstance(value, np.ndarray) else [(name, value)]
        ):
            keys.append(key)
            arrays.append(array)
    return keys, arrays


def describe(array: np.ndarray) -> str:
    """`2x3xfloat32 [...]` or a summary of its values; a scalar as `int32 55`."""
    dtype = "string" if array.dtype == object else array.dtype  # (str objects: docs/strings.md)
    if array.ndim == 0:
        return f"{dtype} {np.array2string(array, precision=5)}"
    head = f"{'x'.join(str(d) for d in array.shape)}x{dtype}"
    if array.size == 0:
        return head
    if array.size <= 8:
        return f"{head} {np.array2string(array.reshape(-1), precision=5, separator=', ')}"
    if array.dtype.kind in "OU":  # strings: the first ones
        return f"{head} {np.array2string(array.reshape(-1)[:8], separator=', ')[:-1]}, ...]"
    a = array.astype(np.float64)
    return f"{head} min {a.min():.5g} max {a.max():.5g} mean {a.mean():.5g}"


def _top(label: str, array: np.ndarray, k: int) -> str:
    """The `k` largest values of `array`, largest first (ties: the lower index first), each with
    its index; the index leaves out the dimensions of size 1 (a 1x1000 result's is its class)."""
    if array.size == 0 or array.dtype.kind not in "biuf":
        return f"{label} top {k}: (no values to rank)"
    flat = array.reshape(-1)
    # A stable sort of the negated values: equal values keep their index order (nan sorts last).
    ranked = np.argsort(-flat.astype(np.float64), kind="stable")[:k]
    kept = [d for d in array.shape if d != 1] or [1]
    lines = [f"{label} top {min(k, flat.size)}:"]
    for rank, index in enumerate(ranked, 1):
        where = np.unravel_index(int(index), kept)
        shown = ", ".join(str(int(w)) for w in where)
        lines.append(f"  {rank:>3}. [{shown}] {np.array2string(flat[index], precision=5)}")
    return "\n".join(lines)


def run(args: Sequence[str] | None = None) -> int:
    parser = _parser()
    ns = parser.parse_args(args)
    from relay_opt.loader import merge_input_shapes

    try:
        ns.shapes = merge_input_shapes(ns.input_shape or [])
    except ArgumentError as e:
        parser.error(str(e))
    if ns.html and not ns.profile:
        parser.error("--html writes the profile's report: give --profile too")
    timings = Timings()
    status = _run(ns, timings)
    if ns.mlir_timing:
        sys.stderr.write(timings.report())
    return status


def is_package(ns: argparse.Namespace) -> bool:
    """Whether the input is a compiled package (relay-compile's output)."""
    return ns.input_file != "-" and Path(ns.input_file).suffix == ".relaymod"


def _load_package(ns: argparse.Namespace):  # noqa: ANN202
    """The package's executable; options that need the program are refused."""
    from relay_opt.runtime.package import load_module

    needs_program = [
        ("--interpret", ns.interpret),
        ("--profile", ns.profile),
        ("--mlir-timing", ns.mlir_timing),
        ("--meta", ns.meta),
        ("--input-format", ns.input_format),
    ]
    for flag, given in needs_program:
        if given:
            raise UserError(
                f"relay-run: error: {flag} needs the program; '{ns.input_file}' is a compiled "
                "package (run the .rly, .mlir or .onnx it was compiled from)\n"
            )
    exe = load_module(ns.input_file)
    info = exe.package
    assert info is not None
    for flag, given, built in (
        ("--entry", ns.entry if ns.entry != "main" else None, info.entry),
        ("-O", ns.opt_level, info.options.get("opt")),
        ("--fp-policy", ns.fp_policy, info.options.get("fp_policy")),
    ):
        if given is not None and given != built:
            raise UserError(
                f"relay-run: error: '{ns.input_file}' was compiled with {flag} {built}, "
                f"not {given} (compile it again with relay-compile {flag} {given})\n"
            )
    return exe


def _monomorphic_entry(
    module: ModuleOp, entry: str, inputs: Sequence[object], render: Callable[[RelayError], str]
) -> str:
    """The function to compile: @entry, or when it is polymorphic (`@main[A](%x: A)`, which
    the interpreter runs as it is) its copy at the given arrays' types."""
    from relay_opt.dialects.relay.ir_helpers import functions_by_name
    from relay_opt.dialects.relay.types import tensor_type
    from relay_opt.passes.monomorphize import specialize_entry

    if not functions_by_name(module)[entry].type_param_names:
        return entry
    types = []
    for value in inputs:
        if not isinstance(value, np.ndarray):
            raise UserError(
                f"relay-run: error: @{entry} is polymorphic: compiled, it is specialized to its "
                "inputs' types, which only arrays give here (or pass --interpret)\n"
            )
        types.append(tensor_type(list(value.shape), str(value.dtype)))
    try:
        return specialize_entry(module, entry, types)
    except RelayError as e:
        raise UserError(render(e)) from None


def _run(ns: argparse.Namespace, timings: Timings) -> int:
    from relay_opt.dialects.relay.ir_helpers import functions_by_name
    from relay_opt.loader import load_program, read_npz

    given: dict[str, np.ndarray] = read_npz(ns.inputs, "--inputs") if ns.inputs else {}
    # Read before running: a bad file is reported before any result is printed.
    expected = read_npz(ns.expected, "--expected") if ns.expected else None
    if expected is not None:  # bfloat16 results relay-run wrote (V2: their bytes)
        expected = {k: _bfloat16_input(a) for k, a in expected.items()}
    # For an ONNX model the given arrays fix the shapes of inputs with symbolic dimensions (and
    # are checked against the static ones).
    shapes = {k: list(v.shape) for k, v in given.items()}
    for name, dims in ns.shapes.items():
        if name in shapes and shapes[name] != dims:
            raise UserError(
                f"relay-run: error: --input-shape gives '{name}' the shape {tuple(dims)}, "
                f"but --inputs gives an array of shape {tuple(shapes[name])}\n"
            )
        shapes[name] = dims
    packaged = None
    if is_package(ns):
        packaged = _load_package(ns)
        info = packaged.package
        assert info is not None
        params: list[tuple[str, object]] = list(
            zip(info.input_names, info.param_types, strict=True)
        )
        output_names = info.output_names
        module = program = None
    else:
        # A Path: the argument names a file even when --input-format is given.
        source = ns.input_file if ns.input_file == "-" else Path(ns.input_file)
        program = load_program(
            source,
            ns.input_format,
            filename=None if source == "-" else ns.input_file,
            meta=ns.meta,
            input_shapes=shapes,
            timings=timings,
        )
        module = program.module
        onnx_names, output_names = program.input_names, program.output_names
        funcs = functions_by_name(module)
        if ns.entry not in funcs:
            raise UserError(
                f"relay-run: error: no function @{ns.entry} "
                f"(the module has {', '.join(sorted(funcs))})\n"
            )
        params = _params(funcs[ns.entry])
        if onnx_names is not None:
            params = [(name, t) for name, (_, t) in zip(onnx_names, params, strict=True)]
    names = [n for n, _ in params]
    given = _optional_inputs(_list_inputs(given, params), params)
    unshaped = sorted(set(ns.shapes) - set(names))
    if unshaped:
        raise UserError(
            f"relay-run: error: --input-shape names unknown input(s) {', '.join(unshaped)}; "
            f"@{ns.entry} expects {', '.join(names) or 'no inputs'}\n"
        )
    unknown = sorted(set(given) - set(names))
    missing = [n for n in names if n not in given]
    if unknown or (missing and not ns.fill_mode):
        problem = (
            f"unknown input(s) {', '.join(unknown)}"
            if unknown
            else f"missing input(s) {', '.join(missing)}"
        )
        raise UserError(
            f"relay-run: error: {problem}; @{ns.entry} expects {', '.join(names) or 'no inputs'}"
            + ("" if unknown else " (or pass --fill-mode zeros|ones|random)")
            + "\n"
        )

    def render_failure(e: RelayError) -> str:
        if program is None:
            return render_error(e, {}, unlocated=ns.input_file)
        return program.render(e)

    if module is not None:
        try:
            _check_sizes(module)
        except RelayError as e:
            raise UserError(render_failure(e)) from None
    rng = np.random.default_rng(ns.seed)
    for name, t in params:
        if name not in given:
            given[name] = _fill(name, t, ns.fill_mode, rng, ns.shapes.get(name))
        elif _is_bfloat16(t) and isinstance(given[name], np.ndarray):
            given[name] = _bfloat16_input(given[name])
    narrow_in = program.input_narrow if program is not None else None
    narrow_out = program.output_narrow if program is not None else None
    if narrow_in or narrow_out:
        from relay_opt.frontends.onnx.narrow import from_stored, narrowed

        # float8, int4, ... inputs: ml_dtypes arrays, or the bytes .npz keeps of them (V1);
        # computed with in their wide dtype, the results given back narrow.
        for name, code in zip(names, narrow_in or [], strict=False):
            if code is not None and isinstance(given[name], np.ndarray):
                given[name] = from_stored(given[name], code)
        if expected is not None and output_names:
            for name, code in zip(output_names, narrow_out or [], strict=False):
                if code is not None and name in expected:
                    expected[name] = from_stored(expected[name], code)
    inputs = [given[n] for n in names]

    if ns.threads is not None and ns.threads < 1:
        raise UserError(f"relay-run: error: --threads must be at least 1, got {ns.threads}\n")
    if ns.profile and ns.interpret:
        raise UserError("relay-run: error: --profile times compiled kernels; drop --interpret\n")
    from relay_opt.runtime.allocator import steady_scratch_memory

    steady_scratch_memory()  # else the second call faults in its scratch memory again
    try:
        if packaged is not None:
            packaged.threads = ns.threads
            call = lambda: packaged(*inputs)  # noqa: E731
        elif ns.interpret:
            from relay_opt.runtime.interpreter import Interpreter

            assert module is not None
            interpreter = Interpreter(module)
            values = [to_adt_list(v) if isinstance(v, list) else v for v in inputs]
            call = lambda: interpreter.run(ns.entry, values)  # noqa: E731
        else:
            from relay_opt.runtime.jit import compile
            from relay_opt.runtime.profile_report import Recorder

            # A per-pass timing report needs the passes to run: no cache.
            assert module is not None
            cache = not (ns.no_cache or ns.mlir_timing)
            recorder = Recorder() if ns.html else None
            entry = _monomorphic_entry(module, ns.entry, inputs, render_failure)
            exe = compile(
                module,
                entry,
                opt=3 if ns.opt_level is None else ns.opt_level,
                profile=ns.profile,
                timings=timings,
                cache=cache,
                fp_policy=ns.fp_policy or "fast",
                threads=ns.threads,
                after_pass=recorder,
            )
            call = lambda: exe(*inputs)  # noqa: E731
        result = call()
        repeat = ns.repeat or (1 if ns.print_time else 0)
        if repeat:
            # Not timed: the first calls fault in fresh code and scratch pages and fill caches.
            call()
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            call()
            times.append((time.perf_counter() - start) * 1e3)
    except RelayError as e:
        raise UserError(render_failure(e)) from None
    except ArgumentError as e:
        raise UserError(f"relay-run: error: {e}\n") from None

    outputs = _flatten(result)
    compared = outputs  # (narrow results are compared in their wide dtype)
    if narrow_out and len(narrow_out) == len(outputs):
        outputs = [
            o if code is None else narrowed(o, code)  # pyright: ignore[reportPossiblyUnbound]
            for o, code in zip(outputs, narrow_out, strict=True)
        ]
    for i, array in enumerate(outputs):
        if isinstance(array, np.ndarray):
            print(f"result[{i}]: {describe(array)}")
        else:
            print(f"result[{i}]: {show(array)}")
    if not all(isinstance(o, np.ndarray) for o in outputs):
        # Objects: every tensor inside is saved and compared under its path.
        output_names, outputs = _saved(outputs, [f"output_{i}" for i in range(len(outputs))])
        compared = outputs
        for key, array in list(zip(output_names, outputs, strict=True))[:16]:
            print(f"  {key}: {describe(array)}")
        if len(outputs) > 16:
            print(f"  ... {len(outputs) - 16} more tensors (all saved by -o)")
    if ns.print_top:
        for i, array in enumerate(outputs):
            if isinstance(array, np.ndarray):
                print(_top(f"result[{i}]", array, ns.print_top))
    if ns.print_time and times:
        print("Execution time summary:")
        print(
            f" {'mean (ms)':>10} {'median (ms)':>12} {'max (ms)':>10}"
            f" {'min (ms)':>10} {'std (ms)':>10}"
        )
        std = statistics.pstdev(times) if len(times) > 1 else 0.0
        print(
            f" {statistics.mean(times):10.4f} {statistics.median(times):12.4f} {max(times):10.4f} "
            f"{min(times):10.4f} {std:10.4f}"
        )
    if ns.profile and not ns.interpret:
        print("Kernel profile (all calls):")
        profile = exe.profile  # pyright: ignore[reportPossiblyUnbound]
        assert profile is not None
        print(profile.table())
        if ns.html:
            from relay_opt.runtime.profile_report import render

            page = render(
                ns.input_file,
                profile.names,
                profile.total_ns,
                profile.calls,
                recorder,  # pyright: ignore[reportPossiblyUnbound, reportArgumentType]
            )
            write_output(ns.html, page, "relay-run")
    if ns.outputs:
        keys = (
            output_names
            if output_names and len(output_names) == len(outputs)
            else [f"output_{i}" for i in range(len(outputs))]
        )
        # string results as numpy's 'U' arrays: an object array would be pickled
        arrays = {
            k: a.astype(np.str_) if isinstance(a, np.ndarray) and a.dtype == object else a
            for k, a in zip(keys, outputs, strict=True)
        }

        def save(f: BinaryIO) -> None:
            np.savez(f, **arrays)  # pyright: ignore[reportArgumentType]  (numpy's stub: a key could be allow_pickle)

        write_output(ns.outputs, save, "relay-run")
    if expected is not None:
        return _compare(ns, expected, compared, output_names)
    return 0


def _compare(
    ns: argparse.Namespace,
    expected: dict[str, np.ndarray],
    outputs: list[np.ndarray],
    names: list[str] | None = None,
) -> int:
    failed = False
    for i, got in enumerate(outputs):
        key = names[i] if names and names[i] in expected else f"output_{i}"
        want = expected.get(key)
        if want is None:
            print(f"[FAILED] result[{i}]: {ns.expected} has no {key}")
            failed = True
        elif want.shape != got.shape:
            print(f"[FAILED] result[{i}]: shape {got.shape}, expected {want.shape}")
            failed = True
        elif want.dtype.kind in "OU" or got.dtype.kind in "OU":  # strings: equal or not
            differ = int((want.astype(np.str_) != got.astype(np.str_)).sum())
            if differ:
                print(f"[FAILED] result[{i}]: {differ} of {got.size} strings differ")
                failed = True
        else:
            # nan matches nan and inf matches inf (as numpy.testing's); the difference is
            # taken where they do not match, with no numpy warnings (inf - inf).
            with np.errstate(all="ignore"):
                close = np.isclose(got, want, rtol=ns.rtol, atol=ns.atol, equal_nan=True)
                if close.all():
                    continue
                far = ~close
                diff = np.abs(got[far].astype(np.float64) - want[far].astype(np.float64))
            print(
                f"[FAILED] result[{i}]: max abs diff {diff.max():.3g} "
                f"(rtol {ns.rtol}, atol {ns.atol})"
            )
            failed = True
    if len(expected) > len(outputs):
        print(
            f"[FAILED] {ns.expected} has {len(expected)} arrays, "
            f"the program returned {len(outputs)}"
        )
        failed = True
    if not failed:
        print("[SUCCESS]")
    return 1 if failed else 0


def main(args: Sequence[str] | None = None) -> int:
    return run_tool(lambda: run(args), "relay-run")


if __name__ == "__main__":
    sys.exit(main())
