"""The JIT: llvm dialect -> llvmlite -> native code at -O3 for the host CPU.

`compile` lowers a Relay module along the whole pipeline and returns an
`Executable`: numpy arrays in, numpy arrays out. Every argument's shape and
dtype is checked before native code touches memory.
"""

from __future__ import annotations

import ctypes
import os
import platform
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, cached_property

import ml_dtypes
import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ArrayAttr, FunctionType, ModuleOp, TensorType, TupleType
from xdsl.ir import Attribute, Operation, ParametrizedAttribute

from relay_opt.diagnostics import ArgumentError, RelayError, VerifyEach
from relay_opt.dialects.relay.ir_helpers import functions_by_name
from relay_opt.dialects.relay.numpy_dtypes import exact_dtype, string_array
from relay_opt.dialects.relay.types import DYNAMIC, STRING, IncompleteType, tensor_dtype
from relay_opt.runtime import compile_cache, forked, kernel_library, thread_pool
from relay_opt.runtime.kernel_library import KernelErrorCell
from relay_opt.timing import Timings


@cache
def _llvm():  # noqa: ANN202
    import llvmlite.binding as llvm

    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    return llvm


def target_machine(opt: int = 3):  # noqa: ANN201
    """A TargetMachine for this CPU. MCJIT takes ownership of it: make one per engine."""
    from relay_opt.lowering.kernels.target import llvm_features

    llvm = _llvm()
    target = llvm.Target.from_default_triple()
    return target.create_target_machine(
        cpu=llvm.get_host_cpu_name(),
        features=llvm_features(llvm.get_host_cpu_features().flatten()),
        opt=opt,
        codemodel="jitdefault",
    )


def llvm_ir(module: ModuleOp) -> str:
    """LLVM IR text of an llvm-dialect module."""
    from xdsl.backend.llvm.convert import convert_module
    from xdsl.dialects import llvm as llvm_dialect

    indirect = _mark_indirect_calls(module)
    try:
        ir_module = convert_module(module, fallback_target_triple=None)
    finally:
        for marker, call in indirect:
            call.properties.pop("callee")
            marker.detach()
            marker.erase()
    _restore_indirect_calls(ir_module, {m.sym_name.data for m, _ in indirect})
    # xDSL's translation drops a global's alignment; LLVM may use it (aligned vector loads).
    for op in module.ops:
        if isinstance(op, llvm_dialect.GlobalOp) and op.alignment is not None:
            ir_module.get_global(op.sym_name.data).align = op.alignment.value.data
    _mark_vector_variants(ir_module)
    return str(ir_module)


def _mark_vector_variants(ir_module) -> None:  # noqa: ANN001
    """expand-math's scalar functions with a vector variant (VECTOR_VARIANTS) get LLVM's
    vector-function ABI attribute, which the loop vectorizer reads to call the variant per
    vector, and `noinline`, so that the call is still there when it does; the variant gets
    `alwaysinline` (inlined after vectorization: _run_pipeline). xDSL's translation has no
    function attributes."""
    from relay_opt.lowering.expand_math import VECTOR_VARIANTS

    names = {f.name for f in ir_module.functions}
    for scalar, (vector, lanes) in VECTOR_VARIANTS.items():
        if scalar not in names or vector not in names:
            continue
        fn = ir_module.get_global(scalar)
        fn.attributes.add("noinline")
        fn.attributes.add("nounwind")
        # llvmlite knows no string attributes: the set holds what is printed.
        abi = f'"vector-function-abi-variant"="_ZGV_LLVM_N{lanes}v_{scalar}({vector})"'
        set.add(fn.attributes, abi)
        ir_module.get_global(vector).attributes.add("alwaysinline")


_INDIRECT = "relay_opt.indirect_call."


def _mark_indirect_calls(module: ModuleOp) -> list:
    """xDSL's translation has no indirect calls (an `llvm.call` whose callee is its first
    operand, as the thread pool makes): each becomes, for the translation, a direct call of a
    marker function taking the pointer first; `_restore_indirect_calls` undoes that."""
    from xdsl.dialects import llvm as llvm_dialect
    from xdsl.dialects.builtin import SymbolRefAttr

    marked = []
    for op in module.walk():
        if isinstance(op, llvm_dialect.CallOp) and op.callee is None:
            name = f"{_INDIRECT}{len(marked)}"
            result = op.returned.type if op.returned is not None else None
            marker = llvm_dialect.FuncOp(
                name,
                llvm_dialect.LLVMFunctionType([a.type for a in op.args], result),
                linkage=llvm_dialect.LinkageAttr("external"),
            )
            module.body.block.add_op(marker)
            op.properties["callee"] = SymbolRefAttr(name)
            marked.append((marker, op))
    return marked


def _restore_indirect_calls(ir_module, markers: set[str]) -> None:  # noqa: ANN001
    """Calls of the markers become calls through their first argument."""
    if not markers:
        return
    import llvmlite.ir as ir

    class Callee:  # the pointer, typed as the function it points to
        def __init__(self, ptr, function_type) -> None:  # noqa: ANN001
            self.ptr, self.function_type, self.type = ptr, function_type, ptr.type

        def get_reference(self) -> str:
            return self.ptr.get_reference()

    for fn in ir_module.functions:
        for block in fn.blocks:
            for instr in block.instructions:
                if not isinstance(instr, ir.CallInstr):
                    continue
                callee = instr.callee
                if getattr(callee, "name", "") in markers:
                    ptr, *args = instr.args
                    fnty = ir.FunctionType(callee.function_type.return_type, [a.type for a in args])
                    instr.operands = [Callee(ptr, fnty), *args]
    for name in markers:
        del ir_module.globals[name]


def optimize(ir_text: str, opt: int = 3, slp: bool = True):  # noqa: ANN201
    """The parsed, verified module after LLVM's default pipeline of level `opt` (without the
    SLP vectorizer if not `slp`: code that is vectorized already skips its time).

    The pipeline runs in a forked child where the OS allows it: llvmlite's new pass manager
    leaks native memory that Python cannot free (each PassBuilder allocates a
    PassInstrumentationCallbacks it never deletes, every run registers instrumentation
    callbacks into it, and building the default pipeline loses about 30 KiB), about
    0.1 to 0.7 MiB per compile. The child sends back bitcode and exits, taking the leak
    with it."""
    llvm = _llvm()
    mod = llvm.parse_assembly(ir_text)
    mod.verify()
    tm = target_machine(opt)
    mod.triple = tm.triple
    mod.data_layout = str(tm.target_data)
    bitcode = _optimized_in_child(mod, tm, opt, slp)
    if bitcode is None:  # no fork here, or the child failed: run it in this process
        _run_pipeline(mod, tm, opt, slp)
        return mod
    mod.close()
    return llvm.parse_bitcode(bitcode)


def _run_pipeline(mod, tm, opt: int, slp: bool = True) -> None:  # noqa: ANN001
    llvm = _llvm()
    pto = llvm.create_pipeline_tuning_options(speed_level=opt)
    # clang's choices at -O2 and up: llvmlite leaves the SLP vectorizer off, which keeps
    # straight-line code (unrolled loops, short fixed-size inner loops) scalar.
    vectorize = opt >= 2
    pto.loop_vectorization = vectorize
    pto.slp_vectorization = vectorize and slp
    pto.loop_interleaving = vectorize
    pto.loop_unrolling = vectorize
    pb = llvm.create_pass_builder(tm, pto)
    pb.getModulePassManager().run(mod, pb)
    if vectorize and _has_vector_variants(mod):
        # The vectorizer's calls of vector math variants, inlined into their loops (the
        # default pipeline inlines before it vectorizes).
        inline = llvm.create_new_module_pass_manager()
        inline.add_always_inliner_pass()
        inline.add_instruction_combine_pass()
        inline.run(mod, pb)


def _has_vector_variants(mod) -> bool:  # noqa: ANN001
    from relay_opt.lowering.expand_math import VECTOR_VARIANTS

    names = {f.name for f in mod.functions}
    return any(vector in names for vector, _ in VECTOR_VARIANTS.values())


def _optimized_in_child(mod, tm, opt: int, slp: bool) -> bytes | None:  # noqa: ANN001
    """`mod` optimized by a forked child, as bitcode; None where that cannot be done."""
    if os.environ.get("RELAY_OPT_LLVM_IN_PROCESS"):
        return None

    def optimized() -> bytes:
        _run_pipeline(mod, tm, opt, slp)
        return mod.as_bitcode()

    wait = forked.start(optimized)
    return wait() if wait is not None else None


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int, ...]
    dtype: str

    # (cached: read on every call of a compiled function)
    @cached_property
    def np_dtype(self) -> np.dtype:
        # Native bfloat16 is its 16 bits (legalize-bf16): ml_dtypes' arrays, not the
        # interpreter's float32 stand-in. A string tensor's buffer holds addresses.
        if self.dtype == STRING:
            return np.dtype(np.int64)
        return exact_dtype(self.dtype)

    @cached_property
    def dynamic(self) -> bool:
        """Whether a dim is `?` (docs/native-dynamic-shapes.md: sizes passed as i64s)."""
        return DYNAMIC in self.shape

    def describe(self) -> str:
        dims = "x".join("?" if d == DYNAMIC else str(d) for d in self.shape) or "scalar"
        return f"{dims} {self.dtype}"

    def accepts(self, shape: tuple[int, ...]) -> bool:
        if shape == self.shape:
            return True
        return len(shape) == len(self.shape) and all(
            d in (DYNAMIC, n) for d, n in zip(self.shape, shape, strict=True)
        )

    def c_types(self) -> list[type]:
        """The C arguments of this input: its pointer, then an int64 per `?` dim (an output
        with `?` dims is one pointer, to its slot)."""
        return [ctypes.c_void_p] + [ctypes.c_int64] * self.shape.count(DYNAMIC)


def _check_boundary_types(f: Operation) -> None:
    """Python passes tensors, tuples, ADT values and references to native code and gets them
    back; a function value has no form there. A located error, not a failed assertion."""
    from relay_opt.dialects.relay import core

    assert isinstance(f, core.FuncOp)

    def check(t: Attribute, what: str) -> None:
        if isinstance(t, TupleType):
            for i, field_type in enumerate(t.types):
                check(field_type, f"{what} (tuple field {i})")
        elif isinstance(t, FunctionType):
            raise RelayError(
                f"@{f.sym_name.data}'s {what} is a function: native code takes and returns "
                "tensors, tuples, ADT values and references (call the function inside the "
                "program)",
                f,
            )

    for i, a in enumerate(f.args):
        check(a.type, f"parameter %{a.name_hint or i}")
    check(f.ret_type, "result")


def _specs(t: Attribute, name: str) -> list[TensorSpec]:
    from relay_opt.dialects.relay.types import ADTType, RefType
    from relay_opt.runtime.values import ObjectSpec

    if isinstance(t, TupleType):
        return [s for i, f in enumerate(t.types) for s in _specs(f, f"{name}.{i}")]
    if isinstance(t, (ADTType, RefType)):
        return [ObjectSpec(name, t)]  # pyright: ignore[reportReturnType]
    assert isinstance(t, TensorType)
    return [TensorSpec(name, tuple(t.get_shape()), tensor_dtype(t))]


def _regroup(t: Attribute, leaves: list[np.ndarray]) -> object:
    if isinstance(t, TupleType):
        return tuple(_regroup(f, leaves) for f in t.types)
    return leaves.pop(0)


class Executable:
    """A compiled Relay function: call it with numpy arrays (positionally or by parameter name).

    Each call returns new arrays. An input that is a C-contiguous numpy array of the
    parameter's dtype is read where it is; any other array-like of the right shape and dtype
    is first copied into one (numpy.ascontiguousarray), so the quickest calls pass arrays of
    the exact dtype."""

    def __init__(
        self,
        engine,
        address: int,
        params: list[TensorSpec],  # noqa: ANN001
        param_types: list[Attribute],
        ret_type: Attribute,
        llvm_module,
    ):  # noqa: ANN001
        self._engine = engine  # keeps the code alive
        self._llvm_module = llvm_module
        self.params = params
        self._param_types = param_types
        self._ret_type = ret_type
        self.outputs = _specs(ret_type, "output")
        self.profile: KernelProfile | None = None
        self._weights: list[np.ndarray] = []  # compile() binds the module's weights here
        self._depth_check: _DepthCheck | None = None  # compile() sets it for recursive code
        self._objects: _Objects | None = None  # compile() sets it for code with objects
        self._kernel_error: KernelErrorCell | None = None  # set for code calling the library
        self._threads: int | None = None
        self._export: ExportParts | None = None  # compile() sets it: export_library's input
        self.package: PackageInfo | None = None
        """What the package says, for an executable read from one (runtime.load_module)."""
        arg_types = [
            c for p in params for c in (p.c_types() if isinstance(p, TensorSpec) else [None])
        ]
        arg_types += [ctypes.c_void_p] * len(self.outputs)
        self._fn = ctypes.CFUNCTYPE(None, *[c or ctypes.c_void_p for c in arg_types])(address)
        self._plan = _StaticPlan.of(params, self.outputs, ret_type)
        self._lean: Callable[[tuple], object] | None = None
        self._lean_ready = False  # built on the first call, after compile() set everything

    def export_library(
        self,
        path: str | os.PathLike[str],
        input_names: Sequence[str] | None = None,
        output_names: Sequence[str] | None = None,
    ) -> None:
        """Write this compiled function as a package (runtime/package.py): one file with its
        object code, the kernel library's, its weights and its signature, which
        `relay_opt.runtime.load_module(path)` loads and runs without compiling. `input_names`
        and `output_names` are the names tools use (an ONNX model's); by default the
        parameters' and `output_0`, ...; a package keeps those it was read with."""
        from relay_opt.runtime.package import export

        export(self, path, input_names, output_names)  # pyright: ignore[reportArgumentType]

    @property
    def threads(self) -> int | None:
        """The thread count of this executable's parallel regions while it runs, or None for
        the process's (runtime/thread_pool.py: RELAY_OPT_NUM_THREADS, else the usable CPUs).
        A run-time setting: the compiled code does not change."""
        return self._threads

    @threads.setter
    def threads(self, n: int | None) -> None:
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
            raise ArgumentError(f"the thread count must be a positive integer, got {n!r}")
        self._threads = n
        self._lean_ready = False

    def _with_threads(self, fn, pointers: list[int]) -> None:  # noqa: ANN001
        """fn(*pointers) with this executable's thread count, then the process's again."""
        if self._threads is None:
            fn(*pointers)
        else:
            _call_with_threads(thread_pool.load(), self._threads, fn, pointers)

    def _bind(
        self, args: Sequence[np.ndarray], kwargs: Mapping[str, np.ndarray]
    ) -> list[np.ndarray]:
        names = [p.name for p in self.params]
        if kwargs:
            if args:
                raise TypeError("pass the inputs either positionally or by name, not both")
            unknown = sorted(set(kwargs) - set(names))
            missing = [n for n in names if n not in kwargs]
            if unknown or missing:
                raise TypeError(
                    f"expected inputs {', '.join(names)}; "
                    + (
                        f"unknown: {', '.join(unknown)}"
                        if unknown
                        else f"missing: {', '.join(missing)}"
                    )
                )
            args = [kwargs[n] for n in names]
        if len(args) != len(self.params):
            raise TypeError(
                f"expected {len(self.params)} input(s) ({', '.join(names)}), got {len(args)}"
            )
        bound = []
        writer = self._objects.writer() if self._objects is not None else None
        for spec, value in zip(self.params, args, strict=True):
            if writer is not None and not isinstance(spec, TensorSpec):
                # An object: built in memory `writer.keep` holds, its tensors checked.
                [address] = writer.leaves(value, spec.type, f"input '{spec.name}'")  # pyright: ignore
                bound.append(_ObjectArg(address, writer.keep))  # pyright: ignore[reportArgumentType]
                continue
            if spec.dtype == STRING:
                bound.append(native_strings(value, spec))  # pyright: ignore[reportArgumentType]
                continue
            array = np.asarray(value)
            if spec.dtype == "bfloat16" and array.dtype == np.float32:
                array = array.astype(ml_dtypes.bfloat16)  # the stand-in, rounded to nearest even
            if not spec.accepts(array.shape) or array.dtype != spec.np_dtype:
                got = "x".join(map(str, array.shape)) or "scalar"
                raise ArgumentError(
                    f"input '{spec.name}' must be {spec.describe()}, got {got} {array.dtype}"
                )
            bound.append(np.ascontiguousarray(array))
        return bound

    def __call__(self, *args: np.ndarray, **kwargs: np.ndarray) -> object:
        if not self._lean_ready:
            self._lean, self._lean_ready = self._lean_call(), True
        if self._lean is not None and not kwargs:
            result = self._lean(args)
            if result is not None:
                return result
        if self._objects is not None:
            return self._objects.call(self, args, kwargs)
        inputs = self._bind(args, kwargs)
        outputs = [_output_buffer(s) for s in self.outputs]
        pointers = [*_input_words(self.params, inputs), *map(_address, outputs)]
        try:
            self._run(pointers)
        finally:
            results = _take_results(self.outputs, outputs)
        return _regroup(self._ret_type, results)

    def _lean_call(self) -> Callable[[tuple], object] | None:
        """The call of the common case, where every input and output is a tensor of static
        shape and nothing but the kernel library's error cell is checked: it takes
        C-contiguous arrays of exactly the expected shapes and dtypes and returns None for
        anything else, which the general path then converts or refuses. A call right after
        a kernel that evicted the caches pays for every Python object and line it touches
        (40-50 us through the general path), so this one is a closure over what it needs,
        reads addresses directly and builds one list."""
        plan = self._plan
        if plan is None or self._objects is not None or self._depth_check is not None:
            return None
        fn, address, empty, ndarray = self._fn, _address, np.empty, np.ndarray
        inputs, outputs, single, ret_type = plan.inputs, plan.outputs, plan.single, self._ret_type
        kernel_error = self._kernel_error
        cell = kernel_error.resolve() if kernel_error is not None else None
        threads = self._threads or 0  # (a thread count is at least 1)
        pool = thread_pool.load() if threads else None

        def call(args: tuple) -> object:
            if len(args) != len(inputs):
                return None
            words = []
            for a, (shape, dtype) in zip(args, inputs):  # noqa: B905 (lengths checked)
                if (
                    type(a) is not ndarray
                    or a.shape != shape
                    or a.dtype != dtype
                    or not a.flags.c_contiguous
                ):
                    return None
                words.append(address(a))
            results = [empty(shape, dtype) for shape, dtype in outputs]
            words += map(address, results)
            if cell is not None:
                cell.value = 0
            if pool is None:
                fn(*words)
            else:
                _call_with_threads(pool, threads, fn, words)
            if cell is not None and cell.value:
                assert kernel_error is not None
                kernel_error.check()
            return results[0] if single else _regroup(ret_type, results)

        return call

    def _run(self, pointers: list[int]) -> None:
        """The native call, with its error channels checked (depth, kernel library)."""
        kernel_error = self._kernel_error
        if kernel_error is not None:
            kernel_error.clear()
        if self._depth_check is None:
            self._with_threads(self._fn, pointers)
        else:
            self._depth_check.call(lambda *p: self._with_threads(self._fn, list(p)), pointers)
        if kernel_error is not None:
            kernel_error.check()


def _call_with_threads(pool, n: int, fn, pointers: list[int]) -> None:  # noqa: ANN001
    """fn(*pointers) with `n` threads, then the process's count again (the pool's own
    functions: this runs on every call)."""
    before = pool.get_threads()
    if before == n:
        fn(*pointers)
        return
    pool.set_threads(n)
    try:
        fn(*pointers)
    finally:
        pool.set_threads(before)


@dataclass(frozen=True)
class _StaticPlan:
    """How to call an executable whose inputs and outputs are all tensors of static shape,
    worked out once: (shape, dtype) of each input and output, and whether the result is
    one tensor (else a tuple, regrouped)."""

    inputs: tuple[tuple[tuple[int, ...], np.dtype], ...]
    outputs: tuple[tuple[tuple[int, ...], np.dtype], ...]
    single: bool

    @staticmethod
    def of(
        params: Sequence[object], outputs: Sequence[object], ret_type: Attribute
    ) -> _StaticPlan | None:
        static = [
            s
            for s in [*params, *outputs]
            if isinstance(s, TensorSpec) and not s.dynamic and s.dtype != STRING
        ]
        if len(static) != len(params) + len(outputs):
            return None  # objects or `?` dims: the general path
        pairs = tuple((s.shape, s.np_dtype) for s in static)
        return _StaticPlan(
            pairs[: len(params)], pairs[len(params) :], isinstance(ret_type, TensorType)
        )


def _array_address_reader() -> Callable[[np.ndarray], int]:
    """A function from an array to the address of its data.

    `a.ctypes.data` builds a ctypes helper object on every use, about 2 us: most of a small
    call's cost. On CPython id() is the object's address, and numpy's array object holds its
    data pointer right after the object header (PyArrayObject_fields.data, which the C API's
    PyArray_DATA macro compiles into every extension, so numpy cannot move it). Used where
    probe arrays confirm it, else the slow way."""
    read = ctypes.c_void_p.from_address
    offset = object.__basicsize__

    def direct(a: np.ndarray) -> int:
        return read(id(a) + offset).value or 0  # (numpy never has a null data pointer)

    probes = [np.zeros(3, np.float32), np.arange(10.0)[3:], np.zeros((2, 0)), np.zeros((), np.int8)]
    if platform.python_implementation() == "CPython" and all(
        direct(p) == p.ctypes.data for p in probes
    ):
        return direct
    return lambda a: a.ctypes.data


_address = _array_address_reader()


def _output_buffer(spec: object) -> np.ndarray:
    """Where an output goes: its array; for `?` dims, the slot the callee fills (address,
    then every size); for an object, a pointer slot."""
    if not isinstance(spec, TensorSpec):
        return np.zeros((), dtype=np.uint64)
    if spec.dtype == STRING and not spec.dynamic:
        return np.zeros(spec.shape, dtype=np.int64)  # null until written: read as ""
    if spec.dynamic:
        return np.zeros(1 + len(spec.shape), dtype=np.int64)
    return np.empty(spec.shape, dtype=spec.np_dtype)


def _input_words(params: Sequence[object], inputs: Sequence[object]) -> list[int]:
    """The C arguments of the inputs: pointers, each followed by its `?` sizes."""
    words: list[int] = []
    for spec, a in zip(params, inputs, strict=True):
        if isinstance(a, _ObjectArg):
            words.append(a.address)
            continue
        assert isinstance(a, np.ndarray) and isinstance(spec, TensorSpec)
        words.append(_address(a))
        if spec.dynamic:
            words += [n for d, n in zip(spec.shape, a.shape, strict=True) if d == DYNAMIC]
    return words


def _take_results(specs: Sequence[object], outputs: list[np.ndarray]) -> list[np.ndarray]:
    """Outputs with `?` dims are copied out of the buffer the callee allocated, which is
    then freed (the caller owns it: docs/native-dynamic-shapes.md)."""
    results: list[np.ndarray] = []
    for spec, out in zip(specs, outputs, strict=True):
        if not (isinstance(spec, TensorSpec) and spec.dynamic):
            is_string = isinstance(spec, TensorSpec) and spec.dtype == STRING
            results.append(python_strings(out) if is_string else out)
            continue
        address, *shape = (int(w) for w in out)
        array = np.zeros(shape, dtype=spec.np_dtype)
        if address:
            ctypes.memmove(array.ctypes.data, address, array.nbytes)
            _libc().free(ctypes.c_void_p(address))
        results.append(python_strings(array) if spec.dtype == STRING else array)
    return results


def native_strings(value: object, spec: TensorSpec) -> np.ndarray:
    """A string input as native code reads it (docs/strings.md): an int64 array of the
    addresses of string objects `{i64 byte length, UTF-8 bytes}`, laid out after the
    addresses in one buffer, which the returned view keeps alive for the call."""
    try:
        texts = string_array(value)
    except ValueError as e:
        raise ArgumentError(f"input '{spec.name}' must be {spec.describe()}: {e}") from None
    if not spec.accepts(texts.shape):
        got = "x".join(map(str, texts.shape)) or "scalar"
        raise ArgumentError(f"input '{spec.name}' must be {spec.describe()}, got {got} string")
    encoded = [s.encode("utf-8", "surrogatepass") for s in texts.reshape(-1)]
    n = len(encoded)
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=n)
    sizes = 8 + (lengths + 7) // 8 * 8  # the length word, the bytes padded to 8
    blob = b"".join(
        b for e in encoded for b in (len(e).to_bytes(8, "little"), e, bytes(-len(e) % 8))
    )
    buffer = np.empty(n + len(blob) // 8, dtype=np.int64)
    buffer[n:] = np.frombuffer(blob, dtype=np.int64)
    buffer[:n] = buffer.ctypes.data + 8 * n + np.cumsum(sizes) - sizes
    return buffer[:n].reshape(texts.shape)


def python_strings(addresses: np.ndarray) -> np.ndarray:
    """A string result: each address's object read into a Python str (a null one, from a
    call that failed before writing it, as "")."""
    read = ctypes.c_int64.from_address
    texts: dict[int, str] = {0: ""}  # an object met twice (split's padding "") is read once
    flat = []
    for address in addresses.reshape(-1).tolist():
        text = texts.get(address)
        if text is None:
            data = ctypes.string_at(address + 8, read(address).value)
            text = texts[address] = data.decode("utf-8", "surrogatepass")
        flat.append(text)
    out = np.empty(len(flat), dtype=object)
    out[:] = flat
    return out.reshape(addresses.shape)


@cache
def _libc():  # noqa: ANN202
    libc = ctypes.CDLL(None)
    libc.free.argtypes = [ctypes.c_void_p]
    libc.free.restype = None
    return libc


@dataclass(frozen=True)
class _ObjectArg:
    address: int
    keep: list  # the memory of the object graph, alive for the call


class _Objects:
    """Calls of code with heap objects (docs/native-objects.md): object arguments are built
    in Python's memory, object results read back, then the call's arena is released."""

    def __init__(self, table, release: int):  # noqa: ANN001
        import threading

        from relay_opt.runtime.values import NativeReader

        self.table = table
        self.reader = NativeReader(table)
        self.release = ctypes.CFUNCTYPE(None)(release) if release else None
        self.lock = threading.Lock()  # the arena is the module's: calls take turns

    def writer(self):  # noqa: ANN202
        from relay_opt.runtime.values import NativeWriter

        return NativeWriter(self.table)

    def call(self, exe: Executable, args, kwargs) -> object:  # noqa: ANN001
        import contextlib

        inputs: list = exe._bind(args, kwargs)  # arrays and _ObjectArgs
        outputs = [_output_buffer(s) for s in exe.outputs]
        pointers = [*_input_words(exe.params, inputs), *map(_address, outputs)]
        with self.lock, contextlib.ExitStack() as release:
            if self.release is not None:
                release.callback(self.release)
            exe._run(pointers)
            taken = _take_results(exe.outputs, outputs)
            leaves = [
                o if isinstance(s, TensorSpec) else self.reader.value(s.type, [int(o)])
                for s, o in zip(exe.outputs, taken, strict=True)
            ]
        return _regroup(exe._ret_type, leaves)


class _DepthCheck:
    """The recursion limit of native code (dialects/relay/limits.py): before a call, the
    limit is set and the depth and error cleared; after it, an error code is raised as the
    interpreter's error. The globals are the module's, so calls take turns (a lock)."""

    def __init__(self, engine, functions: list[str], relay_functions: Mapping[str, object]):  # noqa: ANN001
        import threading

        from relay_opt.dialects.relay.limits import (
            DEPTH_GLOBAL,
            ERROR_GLOBAL,
            MAX_DEPTH_GLOBAL,
            STACK_FLOOR_GLOBAL,
        )

        def cell(name: str) -> ctypes.c_int64:
            address = engine.get_global_value_address(name)
            if not address:
                raise RuntimeError(f"@{name} was not compiled (no native global has its name)")
            return ctypes.c_int64.from_address(address)

        self.depth, self.limit, self.floor, self.error = (
            cell(n) for n in (DEPTH_GLOBAL, MAX_DEPTH_GLOBAL, STACK_FLOOR_GLOBAL, ERROR_GLOBAL)
        )
        self.functions = functions
        self.relay_functions = relay_functions
        self.match_failures: list[str] = []  # positions of the failing match?, by code
        self.lock = threading.Lock()

    def call(self, fn, pointers: list[int]) -> None:  # noqa: ANN001
        from relay_opt.dialects.relay.limits import (
            MATCH_FAILURE_BASE,
            depth_error,
            max_depth,
            stack_floor,
        )

        limit = max_depth()
        with self.lock:
            self.depth.value, self.limit.value, self.error.value = 0, limit, 0
            self.floor.value = stack_floor()  # this thread's stack
            fn(*pointers)
            code = self.error.value
        if code >= MATCH_FAILURE_BASE:
            # A failing match?, or another run-time error (`position<TAB>message`).
            position, _, message = self.match_failures[code - MATCH_FAILURE_BASE].partition("\t")
            message = message or "no clause of this match? matches the value (in compiled code)"
            at = _source_loc(position)
            if at is None and position:  # an ONNX node: said before the message, as import's
                message = f"{position}: {message}"
            raise RelayError(message, at)
        if code:
            name = self.functions[abs(code) - 1]
            at = self.relay_functions.get(name)
            raise depth_error(f"@{name}", limit, at, out_of_stack=code < 0)


def _has_incomplete_types(module: ModuleOp) -> bool:
    """Whether some type is still `!relay.incomplete` (the module was never type-checked)."""

    def incomplete(t: Attribute) -> bool:
        if isinstance(t, IncompleteType):
            return True
        if isinstance(t, ArrayAttr):
            return any(incomplete(x) for x in t)  # pyright: ignore
        return isinstance(t, ParametrizedAttribute) and any(incomplete(p) for p in t.parameters)

    for op in module.walk():
        values = (*op.results, *(a for r in op.regions for b in r.blocks for a in b.args))
        if any(incomplete(v.type) for v in values):
            return True
    return False


def _is_polymorphic(module: ModuleOp) -> bool:
    from relay_opt.dialects.relay.core import FuncOp

    return any(isinstance(f, FuncOp) and f.type_param_names for f in module.ops)


def lower_to_llvm(
    module: ModuleOp,
    profile: bool = False,
    level: int = 3,
    timings: Timings | None = None,
    kernels: list[str] | None = None,
    entry: str = "main",
    verify_each: bool | None = None,
    fp_policy: str = "fast",
    after_pass: Callable[[str, ModuleOp], None] | None = None,
) -> ModuleOp:
    """Optimize (relay-optimize at `level`) and lower a clone of a type-checked Relay module.

    infer-types, the first pass of relay-optimize, runs only if some type is still
    incomplete: `relay_opt.load_program` has type-checked what it loaded. `timings`
    records each pass; with `profile`, `kernels` receives the name of each timed kernel.
    `entry` is the function that will be called: the optimizer keeps it and what it uses.
    `verify_each` verifies the IR after every pass (an InternalError names the pass that
    broke it); by default only when the environment sets RELAY_OPT_VERIFY_EACH=1, as the
    test suite does, since it costs compile time. `fp_policy` is the floating-point policy
    (lowering/apply_fp_policy.py): "fast" (the default) or "strict". `after_pass` is called
    with each pass's name and the IR after it (relay-run --html shows every stage)."""
    from relay_opt.lowering.kernels.target import Target
    from relay_opt.lowering.profile_kernels import (
        ProfileKernelsPass,
        kernel_names,
        operator_origins,
    )
    from relay_opt.lowering.relay_to_llvm import lowering_stages
    from relay_opt.passes.infer_types import InferTypesPass
    from relay_opt.passes.relay_optimize import passes_for_level

    if not 0 <= level <= 3:
        raise RelayError(f"optimization level {level} does not exist (0 to 3)")
    timings = timings or Timings()
    passes = passes_for_level(level, (entry,), Target.host().lanes(32))
    if not _has_incomplete_types(module):
        passes = [p for p in passes if not isinstance(p, InferTypesPass)]
    if _is_polymorphic(module):
        # The prelude is polymorphic: native code needs one copy per instance (after
        # infer-types, which monomorphize needs, when that runs).
        from relay_opt.passes.monomorphize import MonomorphizePass

        at = 1 if passes and isinstance(passes[0], InferTypesPass) else 0
        passes = [*passes[:at], MonomorphizePass(), *passes[at:]]
    lowered = module.clone()
    ctx = Context()
    if verify_each is None:
        verify_each = os.environ.get("RELAY_OPT_VERIFY_EACH", "") not in ("", "0")
    verifier = VerifyEach() if verify_each else None
    for p in [*passes, *lowering_stages(profile, fp_policy)]:
        timings.apply(p, ctx, lowered)
        if verifier is not None:
            verifier.after(lowered, p.name)
        if after_pass is not None:
            after_pass(p.name, lowered)
        if isinstance(p, ProfileKernelsPass) and kernels is not None:
            # Named on this compilation's IR: each kernel's position is its Relay operator's.
            kernels.extend(kernel_names(lowered, operator_origins(module)))
    return lowered


class KernelProfile:
    """Time per kernel, fed by the compiled code's relay_opt_profile_enter/exit calls."""

    def __init__(self, names: list[str]):
        import time

        self.names = names
        self.total_ns = [0] * len(names)
        self.calls = [0] * len(names)
        self._start = [0] * len(names)
        clock = time.perf_counter_ns
        callback = ctypes.CFUNCTYPE(None, ctypes.c_int64)

        def enter(k: int) -> None:
            self._start[k] = clock()

        def exit_(k: int) -> None:
            self.total_ns[k] += clock() - self._start[k]
            self.calls[k] += 1

        self._callbacks = (callback(enter), callback(exit_))  # kept alive with the profile

    def bind(self) -> None:
        from relay_opt.lowering.profile_kernels import ENTER, EXIT

        for name, cb in zip((ENTER, EXIT), self._callbacks, strict=True):
            _llvm().add_symbol(name, ctypes.cast(cb, ctypes.c_void_p).value)

    def reset(self) -> None:
        self.total_ns = [0] * len(self.names)
        self.calls = [0] * len(self.names)

    def table(self) -> str:
        total = sum(self.total_ns) or 1
        width = max([len(n) for n in self.names] + [6])
        rows = [f"{'kernel':<{width}} {'calls':>6} {'total (ms)':>11} {'mean (ms)':>10} {'%':>6}"]
        order = sorted(range(len(self.names)), key=lambda k: -self.total_ns[k])
        for k in order:
            if not self.calls[k]:
                continue
            ms = self.total_ns[k] / 1e6
            rows.append(
                f"{self.names[k]:<{width}} {self.calls[k]:>6} {ms:>11.3f} "
                f"{ms / self.calls[k]:>10.3f} {100 * self.total_ns[k] / total:>6.1f}"
            )
        rows.append(f"{'total':<{width}} {'':>6} {total / 1e6:>11.3f}")
        return "\n".join(rows)


def compile(
    module: ModuleOp,
    entry: str = "main",
    opt: int = 3,
    profile: bool = False,  # noqa: A001
    timings: Timings | None = None,
    fp_policy: str = "fast",
    cache: bool = True,
    threads: int | None = None,
    after_pass: Callable[[str, ModuleOp], None] | None = None,
) -> Executable:
    """Compile a type-checked Relay module; returns its `entry` function as an Executable.

    `opt` is the optimization level of both the Relay pipeline (relay-optimize) and LLVM.
    With `profile`, every kernel is timed; `executable.profile.table()` reports it.
    `timings` records the time of each pass and of LLVM's steps. `fp_policy` is "fast" (FMA
    contraction, reductions reassociated and vectorized; the default) or "strict" (every
    float operation rounded as written, in written order): lowering/apply_fp_policy.py. The
    object code is cached on disk (runtime/compile_cache.py) unless `cache` is False,
    RELAY_OPT_NO_CACHE=1 or `profile` (a profile names its kernels from the lowering).
    `threads` is the thread count of the executable's parallel regions (`Executable.threads`;
    None: the process's, runtime/thread_pool.py); it is not part of the code or its cache key.
    `after_pass(name, module)` sees the IR after each pass (it too turns the cache off)."""
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
    ):
        raise ArgumentError(f"the thread count must be a positive integer, got {threads!r}")
    funcs = functions_by_name(module)
    if entry not in funcs:
        raise ArgumentError(
            f"the module has no function @{entry} (it has {', '.join(sorted(funcs)) or 'none'})"
        )
    f = funcs[entry]
    if _has_incomplete_types(module):
        raise ArgumentError(
            "the module is not type-checked (it has !relay.incomplete types): "
            "read it with relay_opt.load_program, or run infer-types first"
        )
    if f.type_param_names:
        raise RelayError(
            f"@{entry} is polymorphic ({', '.join(f.type_param_names)}): native code needs its "
            "types; specialize it with relay_opt.passes.monomorphize.specialize_entry (relay-run "
            "does so from its inputs) or run it in the interpreter",
            f,
        )
    _check_boundary_types(f)
    params = [s for i, a in enumerate(f.args) for s in _specs(a.type, a.name_hint or f"arg{i}")]
    timings = timings or Timings()
    # Every argument that changes the code goes into the cache key's options.
    options: dict[str, object] = {"opt": opt, "fp_policy": fp_policy}
    key = None
    if not profile and after_pass is None and compile_cache.enabled(cache):
        with timings.measure("compile-cache-lookup"):
            key = compile_cache.module_key(module, entry, options)
            cached = compile_cache.load(key)
        if cached is not None:
            with timings.measure("compile-cache-load"):
                exe = _from_cache(cached, module, entry, opt, params, f, funcs, timings)
            if exe is not None:
                exe.threads = threads
                exe._export = ExportParts(
                    module,
                    entry,
                    options,
                    cached.object_code,
                    cached.weights,
                    cached.recursive_functions,
                    cached.match_failures,
                    cached.kernels,
                    cache,
                )
                return exe
    if fp_policy != "strict":
        # Built by children on the other core while this process lowers the module.
        kernel_library.prefetch(_likely_kernels(module), cache=cache)
    kernels: list[str] = []
    lowered = lower_to_llvm(
        module, profile, opt, timings, kernels, entry, fp_policy=fp_policy, after_pass=after_pass
    )
    kernel_profile = None
    if profile:
        kernel_profile = KernelProfile(kernels)
        kernel_profile.bind()
    weights = bind_weights(lowered)
    with timings.measure("llvm-translate"):
        ir_text = llvm_ir(lowered)
    llvm = _llvm()
    thread_pool.ensure_for(ir_text)  # before MCJIT resolves relay_opt_parallel_for
    with timings.measure("llvm-optimize"):
        mod = optimize(ir_text, opt)
    objects: list[bytes] = []
    called = kernel_library.called_kernels(lowered)
    engine = llvm.create_mcjit_compiler(mod, target_machine(opt))
    # The kernel library's object defines the routines the module declares.
    kernel_error = kernel_library.add_library(engine, called, cache, timings) if called else None
    with timings.measure("llvm-codegen"):
        if not profile:  # MCJIT hands over the object code it made: the cache's, a package's
            engine.set_object_cache(lambda _module, code: objects.append(bytes(code)))
        engine.finalize_object()
    address = engine.get_function_address(entry)
    if not address:  # never hand out a call through a null pointer
        raise RuntimeError(f"@{entry} was not compiled (no native code has its name)")
    exe = Executable(engine, address, params, list(f.function_type.inputs), f.ret_type, mod)
    exe._weights = weights  # the bound arrays must outlive the code
    exe._depth_check = _depth_check(lowered, engine, funcs)
    exe._objects = _objects(module, engine, params, exe.outputs)
    exe._kernel_error = kernel_error
    exe.profile = kernel_profile
    exe.threads = threads
    if len(objects) == 1:
        exe._export = ExportParts(
            module,
            entry,
            {"opt": opt, "fp_policy": fp_policy},
            objects[0],
            list(zip(weight_names(lowered), weights, strict=True)),
            _recursive_functions(lowered),
            _match_failures(lowered),
            called,
            cache,
        )
    if key is not None and len(objects) == 1:
        with timings.measure("compile-cache-store"):
            compile_cache.save(
                key,
                objects[0],
                zip(weight_names(lowered), weights, strict=True),
                compile_cache.resource_names(module),
                _recursive_functions(lowered),
                _match_failures(lowered),
                called,
            )
    return exe


@dataclass(frozen=True)
class PackageInfo:
    """What a loaded package says about itself (`Executable.package`)."""

    path: str
    entry: str
    param_names: list[str]
    param_types: list[Attribute]
    result_type: Attribute
    input_names: list[str]
    """The names tools give the inputs (an ONNX model's graph inputs, else the parameters')."""
    output_names: list[str] | None
    """The names tools save the results under (an ONNX model's outputs), or None."""
    options: dict[str, object]
    """The compile options: opt and fp_policy."""


@dataclass
class ExportParts:
    """What `Executable.export_library` writes: the compiled code and what it needs."""

    module: ModuleOp
    """The Relay module as compiled (its ADT definitions and function positions)."""
    entry: str
    options: dict[str, object]
    object_code: bytes
    weights: list[tuple[str, np.ndarray]]
    recursive_functions: list[str] | None
    match_failures: list[str]
    kernels: list[str]
    cache: bool
    """Whether the kernel library may come from the disk cache."""


def _from_cache(
    cached: compile_cache.Entry,
    module: ModuleOp,
    entry: str,
    opt: int,
    params: list[TensorSpec],
    f,  # noqa: ANN001
    funcs: Mapping[str, object],
    timings: Timings | None = None,
) -> Executable | None:
    """An Executable from a cache entry's object code, its weights bound; None if LLVM
    refuses the object (the caller compiles)."""
    return from_object(
        cached, entry, opt, params, list(f.function_type.inputs), f.ret_type, funcs, module, timings
    )


def from_object(
    cached: compile_cache.Entry,
    entry: str,
    opt: int,
    params: list[TensorSpec],
    param_types: list[Attribute],
    ret_type: Attribute,
    relay_functions: Mapping[str, object],
    type_module: ModuleOp,
    timings: Timings | None = None,
) -> Executable | None:
    """An Executable from an entry's object code (a cache entry's or a package's), its
    weights bound and the kernel library added (the entry's own object if it has one);
    `relay_functions` locate the recursion-depth errors, `type_module` holds the ADTs the
    signature names. None if LLVM refuses the object."""
    llvm = _llvm()
    for symbol, array in cached.weights:
        llvm.add_symbol(symbol, array.ctypes.data)
    pool = cached.runtime_objects.get(thread_pool.OBJECT)  # a package's
    for code in (cached.object_code, *cached.runtime_objects.values()):
        thread_pool.ensure_for(code, pool)  # (the kernel library calls it too)
    engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), target_machine(opt))
    kernel_error = None
    try:
        engine.add_object_file(llvm.ObjectFileRef.from_data(cached.object_code))
        if cached.kernels:
            packaged = kernel_library.packaged(cached.runtime_objects)
            kernel_error = kernel_library.add_library(
                engine, cached.kernels, timings=timings, objects=packaged or None
            )
        engine.finalize_object()
    except RuntimeError:
        return None
    address = engine.get_function_address(entry)
    if not address:
        return None
    exe = Executable(engine, address, params, param_types, ret_type, None)
    exe._weights = [array for _, array in cached.weights]
    exe._kernel_error = kernel_error
    if cached.recursive_functions is not None:
        exe._depth_check = _DepthCheck(engine, cached.recursive_functions, relay_functions)
        exe._depth_check.match_failures = cached.match_failures
    # As a fresh compile's: without it, object arguments and results cannot be converted
    # and the per-call arena is never released.
    exe._objects = _objects(type_module, engine, params, exe.outputs)
    return exe


def _likely_kernels(module: ModuleOp) -> list[str]:
    """The library routines lower-contractions will likely call for the module's operators
    (started early by `prefetch`; one it calls beyond these is built once it is known)."""
    from relay_opt.dialects.relay.ops.nn import BatchMatmul, Conv2D, Dense, Matmul
    from relay_opt.lowering.kernels.conv import CONV_KERNEL
    from relay_opt.lowering.kernels.depthwise import DEPTHWISE_KERNEL
    from relay_opt.lowering.kernels.gemm import GEMM_KERNEL
    from relay_opt.lowering.kernels.target import Target

    target = Target.host()
    kernels = set()
    for op in module.walk():
        if isinstance(op, Conv2D):
            kernels.add(CONV_KERNEL.name(target))
            if op.attrs.groups != 1:  # depthwise, or grouped (the plain conv's)
                kernels.add(DEPTHWISE_KERNEL.name(target))
        elif isinstance(op, (Dense, Matmul, BatchMatmul)):
            # (Many rows by constant weights take the packed GEMM: known after lowering.)
            kernels.add(GEMM_KERNEL.name(target))
    return sorted(kernels)


def _recursive_functions(lowered: ModuleOp) -> list[str] | None:
    from relay_opt.dialects.relay.limits import RECURSIVE_FUNCTIONS_ATTR

    names = lowered.attributes.get(RECURSIVE_FUNCTIONS_ATTR)
    if not isinstance(names, ArrayAttr):
        return None
    return [n.data for n in names]  # pyright: ignore


def weight_names(module: ModuleOp) -> list[str]:
    """The external globals of an llvm-dialect module that name stored weights, in order."""
    from xdsl.dialects import llvm as llvm_dialect

    return [
        op.sym_name.data
        for op in module.ops
        if isinstance(op, llvm_dialect.GlobalOp) and "value" not in op.properties
    ]


def _match_failures(lowered: ModuleOp) -> list[str]:
    """The positions of the matches that can fail, by error code (docs/native-objects.md)."""
    from relay_opt.dialects.relay.limits import MATCH_FAILURES_ATTR

    failures = lowered.attributes.get(MATCH_FAILURES_ATTR)
    if not isinstance(failures, ArrayAttr):
        return []
    return [f.data for f in failures]  # pyright: ignore


def _depth_check(lowered: ModuleOp, engine, funcs: Mapping[str, object]) -> _DepthCheck | None:  # noqa: ANN001
    """The depth check of a module with recursive functions (convert-to-llvm lists them)."""
    names = _recursive_functions(lowered)
    if names is None:
        return None
    check = _DepthCheck(engine, names, funcs)
    check.match_failures = _match_failures(lowered)
    return check


def _source_loc(position: str):  # noqa: ANN202
    """`file:line:col` back as a SourceLoc (None when the op had no position)."""
    from relay_opt.diagnostics import SourceLoc

    file, _, rest = position.rpartition(":")
    file, _, line = file.rpartition(":")
    if not file or not line.isdigit() or not rest.isdigit():
        return None
    return SourceLoc(file, int(line), int(rest))


def _objects(module: ModuleOp, engine, params, outputs) -> _Objects | None:  # noqa: ANN001
    """The object support of a module whose entry takes or returns objects, or allocates."""
    from relay_opt.runtime.values import ObjectSpec, TypeTable

    release = engine.get_function_address("relay_opt_release")
    if not release and not any(isinstance(s, ObjectSpec) for s in [*params, *outputs]):
        return None
    return _Objects(TypeTable(module), release)


def bind_weights(module: ModuleOp) -> list[np.ndarray]:
    """Bind each external global that names a stored weight to the array's address."""
    from xdsl.dialects import llvm as llvm_dialect

    from relay_opt.dialects.relay.resources import stored

    bound = []
    for op in module.ops:
        if isinstance(op, llvm_dialect.GlobalOp) and "value" not in op.properties:
            name = op.sym_name.data
            array = stored(name)
            if array is None:
                raise ArgumentError(f"no data for the external global @{name}")
            if array.ctypes.data % 64:  # the global is declared 64-byte aligned (the store's)
                aligned = np.empty(array.nbytes + 64, np.uint8)
                start = -aligned.ctypes.data % 64
                aligned = aligned[start : start + array.nbytes].view(array.dtype)
                aligned[...] = array.reshape(-1)
                array = aligned
            _llvm().add_symbol(name, array.ctypes.data)
            bound.append(array)
    return bound
