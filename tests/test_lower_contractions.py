"""lower-contractions and the kernel library's GEMM routine: compiled dense, matmul and
batch_matmul against the interpreter (and numpy), at -O0 and -O3, on shapes that exercise
every edge of the register tile and of the cache blocks; the routine itself through its C
ABI (accumulate, row strides wider than the row); constant B operands packed at compile time
for the packed-B entry (8 and 16 lanes)."""

from __future__ import annotations

import ctypes
from collections.abc import Callable

import numpy as np
import pytest
from xdsl.dialects import llvm as llvm_dialect
from xdsl.ir import Attribute

from relay_opt import load_program
from relay_opt.lowering.kernels import MIN_KERNEL_MACS
from relay_opt.lowering.kernels.gemm import (
    ADD_RESIDUAL,
    BIAS_PER_COLUMN,
    BIAS_PER_ROW,
    F32,
    GEMM_PACKED_B_TYPES,
    GEMM_TYPES,
    PTR,
    GemmShape,
    gemm_name,
    gemm_packed_b_name,
    pack_b_panels,
)
from relay_opt.lowering.kernels.target import Target
from relay_opt.runtime.interpreter import interpret
from relay_opt.runtime.jit import compile, lower_to_llvm

HEADER = '#[version = "0.0.5"]\n'

# (M, N, K): every size of the list in some position, M=1 (a matrix-vector product), K=1,
# sizes below, at and just past the 6x16 tile and past the K block of AVX-512. The small ones keep
# their loops (MIN_KERNEL_MACS); the routine itself runs every one in
# test_routine_on_every_edge.
SHAPES = [
    (1, 257, 33),
    (2, 1, 100),
    (5, 7, 17),
    (7, 16, 1),
    (16, 17, 257),
    (17, 33, 5),
    (33, 100, 2),
    (100, 5, 7),
    (257, 2, 16),
    (1, 1, 1),
]


def _program(params: list[tuple[str, tuple[int, ...]]], results: list[str], dtype: str) -> str:
    def shape(s: tuple[int, ...]) -> str:
        return ", ".join(map(str, s)) + ("," if len(s) == 1 else "")

    args = ", ".join(f"%{n}: Tensor[({shape(s)}), {dtype}]" for n, s in params)
    body = results[0] if len(results) == 1 else "(" + ", ".join(results) + ")"
    return HEADER + f"def @main({args}) {{\n  {body}\n}}"


def _kernel_calls(text: str, opt: int) -> int:
    lowered = lower_to_llvm(load_program(text, "relay").module, level=opt)
    return sum(
        1
        for op in lowered.walk()
        if isinstance(op, llvm_dialect.CallOp)
        and op.callee.string_value().startswith("relay_opt_sgemm_")
    )


def _check(
    text: str, shapes: list[tuple[int, ...]], opt: int, calls: int, dtype: str = "float32"
) -> None:
    rng = np.random.default_rng(opt)
    inputs = [rng.standard_normal(s).astype(dtype) for s in shapes]
    module = load_program(text, "relay").module
    got = compile(module, opt=opt)(*inputs)
    want = interpret(module, inputs)
    got = got if isinstance(got, tuple) else (got,)
    want = want if isinstance(want, tuple) else (want,)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)
    assert _kernel_calls(text, opt) == calls


@pytest.mark.parametrize("opt", [0, 3])
def test_matmul_shapes(opt: int) -> None:
    params, results, shapes = [], [], []
    for i, (m, n, k) in enumerate(SHAPES):
        params += [(f"a{i}", (m, k)), (f"b{i}", (k, n))]
        shapes += [(m, k), (k, n)]
        results.append(f"nn.matmul(%a{i}, %b{i})")
    calls = sum(m * n * k >= MIN_KERNEL_MACS for m, n, k in SHAPES)
    assert calls >= 4
    _check(_program(params, results, "float32"), shapes, opt, calls)


@pytest.mark.parametrize("opt", [0, 3])
def test_transposed_operands_and_dense(opt: int) -> None:
    # dense's weight is [N, K]; matmul with transpose_a/transpose_b; dense of a 3-D input
    # (its leading axes are M).
    text = _program(
        [("x", (5, 100)), ("w", (17, 100)), ("a", (100, 7)), ("b", (33, 100)), ("y", (2, 3, 100))],
        [
            "nn.dense(%x, %w)",
            "nn.matmul(%a, %b, transpose_a=True, transpose_b=True)",
            "nn.matmul(%x, %b, transpose_b=True)",
            "nn.dense(%y, %w)",
        ],
        "float32",
    )
    _check(text, [(5, 100), (17, 100), (100, 7), (33, 100), (2, 3, 100)], opt, 4)


@pytest.mark.parametrize("opt", [0, 3])
def test_batch_matmul(opt: int) -> None:
    # Batched, with a transposed B, and with a broadcast batch.
    text = _program(
        [("x", (3, 7, 20)), ("y", (3, 17, 20)), ("z", (1, 20, 33))],
        [
            "nn.batch_matmul(%x, %y, transpose_b=True)",
            "nn.batch_matmul(%x, %z, transpose_b=False)",
        ],
        "float32",
    )
    _check(text, [(3, 7, 20), (3, 17, 20), (1, 20, 33)], opt, 2)


@pytest.mark.parametrize("opt", [0, 3])
def test_dense_bias_relu_epilogue(opt: int) -> None:
    text = (
        HEADER
        + """def @main(%x: Tensor[(7, 40), float32], %w: Tensor[(33, 40), float32], %b: Tensor[(33), float32]) {
  nn.relu(nn.bias_add(nn.dense(%x, %w, units=33), %b))
}"""
    )
    _check(text, [(7, 40), (33, 40), (33,)], opt, 1)


def test_other_dtypes_keep_their_loops() -> None:
    text = _program([("a", (20, 30)), ("b", (30, 17))], ["nn.matmul(%a, %b)"], "float16")
    _check(text, [(20, 30), (30, 17)], 3, 0, "float16")
    text = _program([("a", (20, 30)), ("b", (30, 17))], ["nn.matmul(%a, %b)"], "int32")
    assert _kernel_calls(text, 3) == 0


NO_EPILOGUE = (None, None, 0, 1.0, -np.inf, np.inf, 1.0)
"""The epilogue arguments that leave the product as it is: no bias nor residual, scale 1, no
clip, slope 1."""


def _c_function(address: int, types: tuple[Attribute, ...]) -> Callable[..., None]:
    """The routine at `address` through its C ABI (llvm types -> ctypes); the epilogue's
    arguments left out are NO_EPILOGUE's."""
    ctypes_of = {PTR: ctypes.c_void_p, F32: ctypes.c_float}
    raw = ctypes.CFUNCTYPE(None, *(ctypes_of.get(t, ctypes.c_int64) for t in types))(address)
    fixed = len(types) - len(NO_EPILOGUE)

    def call(*args: object) -> None:
        raw(*args, *NO_EPILOGUE[len(args) - fixed :])

    return call


@pytest.fixture(scope="module", params=["host", 256, 512])
def routine(request: pytest.FixtureRequest):  # noqa: ANN201
    """The host's GEMM routine, AVX2's (6x16) and AVX-512's (14x32; LLVM splits its vectors
    where the host has narrower ones), each from its kernel library object, callable through
    its C ABI."""
    from relay_opt.runtime import thread_pool
    from relay_opt.runtime.jit import _llvm, target_machine
    from relay_opt.runtime.kernel_library import library_objects

    target = Target.host() if request.param == "host" else Target(vector_bits=request.param)
    thread_pool.load()  # the routine runs its packed products on the pool
    llvm = _llvm()
    engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), target_machine(3))
    [code] = library_objects([gemm_name(target)], target).values()
    engine.add_object_file(llvm.ObjectFileRef.from_data(code))
    engine.finalize_object()
    fn = _c_function(engine.get_function_address(gemm_name(target)), GEMM_TYPES)
    return engine, fn


@pytest.mark.parametrize("m,n,k", [(13, 35, 300), (6, 16, 256), (1, 40, 3), (150, 20, 400)])
def test_routine_accumulates_into_a_wider_c(routine, m: int, n: int, k: int) -> None:  # noqa: ANN001
    _, fn = routine
    rng = np.random.default_rng(m)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    c = rng.standard_normal((m, n + 5), dtype=np.float32)  # ldc = n + 5: a view of C
    want = c.copy()
    want[:, :n] += a.astype(np.float64) @ b
    data = [x.ctypes.data for x in (a, b, c)]
    fn(*data, m, n, k, k, 1, n, 1, n + 5, 1, 0, 0, 0, 1)
    np.testing.assert_allclose(c, want, rtol=1e-4, atol=1e-4)
    # Overwrite: the padding columns stay as they were.
    fn(*data, m, n, k, k, 1, n, 1, n + 5, 1, 0, 0, 0, 0)
    np.testing.assert_allclose(c[:, :n], a.astype(np.float64) @ b, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(c[:, n:], want[:, n:])


SIZES = [1, 2, 5, 7, 16, 17, 33, 100, 257]


@pytest.mark.parametrize("transposed", [False, True])
def test_routine_on_every_edge(routine, transposed: bool) -> None:  # noqa: ANN001
    # Each size in each position (the others fixed at sizes off the tile), through the C ABI;
    # B either [K, N] or [N, K] (dense's weight), overwriting C.
    _, fn = routine
    rng = np.random.default_rng(1)
    shapes = {(s, 17, 33) for s in SIZES} | {(5, s, 7) for s in SIZES} | {(7, 16, s) for s in SIZES}
    for m, n, k in sorted(shapes):
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((n, k) if transposed else (k, n), dtype=np.float32)
        c = np.full((m, n), np.nan, dtype=np.float32)
        rsb, csb = (1, k) if transposed else (n, 1)
        fn(a.ctypes.data, b.ctypes.data, c.ctypes.data, m, n, k, k, 1, rsb, csb, n, 1, 0, 0, 0, 0)
        want = a.astype(np.float64) @ (b.T if transposed else b)
        np.testing.assert_allclose(c, want, rtol=1e-4, atol=1e-4, err_msg=f"{(m, n, k)}")


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("m", [1, 3])
def test_few_rows_split_across_threads_bit_for_bit(routine, transposed: bool, m: int) -> None:  # noqa: ANN001
    # A batch-1 dense (B [N, K]) and a few-row matmul (B [K, N]) big enough for the pool to
    # split their columns: the same bits at 1 and 2 threads, numpy's values, and accumulate.
    from relay_opt.runtime import thread_pool

    _, fn = routine
    n, k = 1003, 517  # an N that is no multiple of the lanes, a K no multiple of 4
    rng = np.random.default_rng(m)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((n, k) if transposed else (k, n), dtype=np.float32)
    rsb, csb = (1, k) if transposed else (n, 1)
    sizes = (m, n, k, k, 1, rsb, csb, n, 1, 0, 0, 0)
    want = a.astype(np.float64) @ (b.T if transposed else b)
    before = thread_pool.num_threads()
    results = []
    try:
        for threads in (1, 2):
            thread_pool.set_num_threads(threads)
            c = np.full((m, n), np.nan, dtype=np.float32)
            fn(a.ctypes.data, b.ctypes.data, c.ctypes.data, *sizes, 0)
            results.append(c)
        c0 = rng.standard_normal((m, n), dtype=np.float32)
        c = c0.copy()
        fn(a.ctypes.data, b.ctypes.data, c.ctypes.data, *sizes, 1)  # accumulate
    finally:
        thread_pool.set_num_threads(before)
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_allclose(results[1], want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(c, c0 + want, rtol=1e-4, atol=1e-4)


# (M, N, K): the dot-product and the row-scaling few-row paths (M < 4), a packed product
# whose last tiles are edges, one past the K block (the epilogue only after the last one),
# K = 1 and an N over the pool's split.
EPILOGUE_SHAPES = [(1, 37, 300), (3, 1003, 517), (13, 35, 300), (150, 45, 400), (7, 16, 1)]

# (flags, scale, lo, hi, slope, accumulate): relu over a column bias; a clip over a row bias,
# a residual and a scale; leaky relu (slope 0.1, then lo < 0) of a residual added to C += A x B.
EPILOGUES = [
    (BIAS_PER_COLUMN, 1.0, 0.0, np.inf, 1.0, 0),
    (BIAS_PER_ROW | ADD_RESIDUAL, 0.5, -0.5, 0.7, 1.0, 0),
    (ADD_RESIDUAL, 1.0, -3.0, np.inf, 0.1, 1),
]


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("m,n,k", EPILOGUE_SHAPES)
def test_routine_epilogue(routine, transposed: bool, m: int, n: int, k: int) -> None:  # noqa: ANN001
    # C = clip(scale * (A x B (+ C)) + bias + residual, lo, hi) in two batches (the bias is
    # shared, the residual is per batch), the same bits at 1 and 2 threads.
    from relay_opt.runtime import thread_pool

    _, fn = routine
    rng = np.random.default_rng(m * n + k)
    batch = 2
    a = rng.standard_normal((batch, m, k), dtype=np.float32)
    b = rng.standard_normal((batch, n, k) if transposed else (batch, k, n), dtype=np.float32)
    rsb, csb = (1, k) if transposed else (n, 1)
    bt = b.transpose(0, 2, 1) if transposed else b
    product = a.astype(np.float64) @ bt
    residual = rng.standard_normal((batch, m, n), dtype=np.float32)
    c0 = rng.standard_normal((batch, m, n), dtype=np.float32)
    sizes = (m, n, k, k, 1, rsb, csb, n, batch, m * k, n * k, m * n)
    before = thread_pool.num_threads()
    try:
        for flags, scale, lo, hi, slope, accumulate in EPILOGUES:
            bias = rng.standard_normal(m if flags & BIAS_PER_ROW else n, dtype=np.float32)
            want = scale * (product + (c0 if accumulate else 0))
            if flags & BIAS_PER_ROW:
                want += bias[:, None]
            if flags & BIAS_PER_COLUMN:
                want += bias
            if flags & ADD_RESIDUAL:
                want += residual
            want = np.clip(np.maximum(want, slope * want), lo, hi)
            results = []
            for threads in (1, 2):
                thread_pool.set_num_threads(threads)
                c = c0.copy()
                pointers = (a.ctypes.data, b.ctypes.data, c.ctypes.data)
                epilogue = (bias.ctypes.data, residual.ctypes.data, flags, scale, lo, hi, slope)
                fn(*pointers, *sizes, accumulate, *epilogue)
                results.append(c)
            np.testing.assert_array_equal(results[0], results[1])
            np.testing.assert_allclose(results[0], want, rtol=1e-4, atol=1e-4, err_msg=str(flags))
    finally:
        thread_pool.set_num_threads(before)


# -- constant B, packed at compile time ------------------------------------------------------


def _aligned(x: np.ndarray) -> np.ndarray:
    """A 64-byte-aligned copy (a weight's global is: the packed-B entry loads it aligned)."""
    raw = np.empty(x.nbytes + 64, np.uint8)
    start = -raw.ctypes.data % 64
    out = raw[start : start + x.nbytes].view(x.dtype).reshape(x.shape)
    out[...] = x
    return out


@pytest.fixture(scope="module", params=[256, 512])
def packed_routine(request: pytest.FixtureRequest):  # noqa: ANN201
    """The packed-B entry of AVX2's and AVX-512's library, and its panel width NR."""
    from relay_opt.runtime import thread_pool
    from relay_opt.runtime.jit import _llvm, target_machine
    from relay_opt.runtime.kernel_library import library_objects

    target = Target(vector_bits=request.param)
    thread_pool.load()
    llvm = _llvm()
    engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), target_machine(3))
    [code] = library_objects([gemm_packed_b_name(target)], target).values()
    engine.add_object_file(llvm.ObjectFileRef.from_data(code))
    engine.finalize_object()
    fn = _c_function(engine.get_function_address(gemm_packed_b_name(target)), GEMM_PACKED_B_TYPES)
    return engine, fn, GemmShape.for_target(target).nr


@pytest.mark.parametrize(
    "m,n,k,batch,broadcast",
    [
        (4, 1, 1, 1, False),  # one column: a panel that is all edge
        (5, 37, 33, 1, False),  # N and K odd, off the panel
        (17, 100, 257, 1, False),
        (150, 45, 400, 1, False),  # past the M block and (AVX-512) the K block
        (30, 3100, 21, 1, False),  # past the N block: panel (jc + jr) / NR
        (7, 19, 300, 3, False),  # batched B: batch stride in the packed layout
        (7, 19, 30, 3, True),  # one B for every batch (stride 0)
        # Fewer than SMALL_M rows (a `?` M at run time) stream the panels: groups of
        # FEW_PANELS and single ones, a column edge, batches, K = 0 (the epilogue of zeros).
        (1, 37, 33, 1, False),
        (3, 300, 70, 2, False),
        (2, 19, 30, 3, True),
        (1, 170, 0, 1, False),
    ],
)
def test_packed_b_entry(packed_routine, m: int, n: int, k: int, batch: int, broadcast: bool):  # noqa: ANN001
    _, fn, nr = packed_routine
    rng = np.random.default_rng(n)
    a = rng.standard_normal((batch, m, k), dtype=np.float32)
    b = rng.standard_normal((1 if broadcast else batch, k, n), dtype=np.float32)
    panels = _aligned(pack_b_panels(b, nr))
    assert panels.shape == (b.shape[0], -(-n // nr), k, nr)
    bsb = 0 if broadcast else panels[0].size
    want = a.astype(np.float64) @ b
    for accumulate in (0, 1):
        c0 = rng.standard_normal((batch, m, n), dtype=np.float32)
        c = c0.copy()
        sizes = (m, n, k, k, 1, n, batch, m * k, bsb, m * n, accumulate)
        fn(a.ctypes.data, panels.ctypes.data, c.ctypes.data, *sizes)
        np.testing.assert_allclose(c, want + (c0 if accumulate else 0), rtol=1e-4, atol=1e-4)
    # The epilogue: relu(A x B + bias per column + residual).
    bias = rng.standard_normal(n, dtype=np.float32)
    residual = rng.standard_normal((batch, m, n), dtype=np.float32)
    c = np.full((batch, m, n), np.nan, dtype=np.float32)
    sizes = (m, n, k, k, 1, n, batch, m * k, bsb, m * n, 0)
    epilogue = (bias.ctypes.data, residual.ctypes.data, BIAS_PER_COLUMN | ADD_RESIDUAL, 1.0)
    fn(a.ctypes.data, panels.ctypes.data, c.ctypes.data, *sizes, *epilogue, 0.0, np.inf)
    relu = np.maximum(want + bias + residual, 0)
    np.testing.assert_allclose(c, relu, rtol=1e-4, atol=1e-4)


def _constant_weights_model(path) -> None:  # noqa: ANN001
    """An ONNX model whose B operands are initializers: a Gemm (dense, B [N, K]), a MatMul
    (B [K, N]), a batched MatMul (B [3, K, N]) and a batch-1 Gemm; N and K odd."""
    from onnx import TensorProto, helper, numpy_helper, save

    rng = np.random.default_rng(3)
    inits = [
        numpy_helper.from_array(rng.standard_normal(s).astype(np.float32), name)
        for name, s in (("w", (45, 37)), ("b", (37, 19)), ("c", (3, 37, 21)), ("v", (200, 37)))
    ]
    f = TensorProto.FLOAT
    graph = helper.make_graph(
        [
            helper.make_node("Gemm", ["x", "w"], ["dense"], transB=1),
            helper.make_node("MatMul", ["x", "b"], ["matmul"]),
            helper.make_node("MatMul", ["y", "c"], ["batched"]),
            helper.make_node("Gemm", ["r", "v"], ["row"], transB=1),
        ],
        "constant_weights",
        [
            helper.make_tensor_value_info("x", f, [7, 37]),
            helper.make_tensor_value_info("y", f, [3, 5, 37]),
            helper.make_tensor_value_info("r", f, [1, 37]),
        ],
        [
            helper.make_tensor_value_info(name, f, None)
            for name in ("dense", "matmul", "batched", "row")
        ],
        inits,
    )
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


@pytest.mark.parametrize("bits", [256, 512])
def test_constant_weights_are_packed_and_match_the_interpreter(
    bits: int, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The host taken as AVX2 (8 lanes, NR 16) or AVX-512 (16 lanes, NR 32): the weights are
    # packed for that tile, and the library of that target computes with them.
    from relay_opt.lowering.kernels import target as target_module

    monkeypatch.setattr(target_module, "_host", lambda: Target(vector_bits=bits))
    _constant_weights_model(tmp_path / "m.onnx")
    module = load_program(str(tmp_path / "m.onnx")).module
    lowered = lower_to_llvm(module)
    callees = [
        op.callee.string_value() for op in lowered.walk() if isinstance(op, llvm_dialect.CallOp)
    ]
    packed = gemm_packed_b_name(Target(vector_bits=bits))
    # dense, matmul and the batched matmul take packed B; the batch-1 dense reads B in place.
    assert callees.count(packed) == 3
    assert callees.count(gemm_name(Target(vector_bits=bits))) == 1
    rng = np.random.default_rng(4)
    inputs = [rng.standard_normal(s).astype(np.float32) for s in ((7, 37), (3, 5, 37), (1, 37))]
    got = compile(module, cache=False)(*inputs)
    want = interpret(module, inputs)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)


def test_product_added_to_a_dead_buffer_accumulates_into_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # dense + tanh(y), the sum read twice: the call adds the product to tanh's buffer (dead
    # after the sum) instead of writing its own, and the sum's loop goes. At -O0: -O3 fuses
    # this sum with its readers (the LSTM's, read by slices, stays alone and is folded).
    opt = 0
    from xdsl.dialects.linalg import ops as linalg

    from relay_opt.lowering import lower_contractions

    text = (
        HEADER
        + """def @main(%x: Tensor[(7, 40), float32], %w: Tensor[(33, 40), float32], %y: Tensor[(7, 33), float32]) {
  %0 = tanh(%y);
  %1 = add(nn.dense(%x, %w), %0);
  (exp(%1), sigmoid(%1))
}"""
    )
    _check(text, [(7, 40), (33, 40), (7, 33)], opt, 1)

    def generics() -> int:
        found: list[int] = []

        def count(name: str, ir) -> None:  # noqa: ANN001
            if name == "lower-contractions":
                found.append(sum(isinstance(op, linalg.GenericOp) for op in ir.walk()))

        lower_to_llvm(load_program(text, "relay").module, level=opt, after_pass=count)
        return found[0]

    folded = generics()
    # Without the addend (nor the epilogue, which would take the sum as a residual).
    monkeypatch.setattr(lower_contractions, "_addend", lambda op: None)
    monkeypatch.setattr(lower_contractions, "gemm_epilogue", lambda op, kind: None)
    assert folded == generics() - 1


# -- the epilogue on the register tile, end to end ---------------------------------------------

EPILOGUE_PROGRAM = """def @main(%x: Tensor[(1, 300), float32], %w: Tensor[(37, 300), float32], %b: Tensor[(37), float32], %x5: Tensor[(5, 400), float32], %w5: Tensor[(45, 400), float32], %p: Tensor[(2, 5, 300), float32], %q: Tensor[(2, 9, 300), float32], %r: Tensor[(2, 5, 9), float32], %a: Tensor[(3, 400), float32], %y: Tensor[(400, 45), float32], %rb: Tensor[(3, 1), float32]) {
  %0 = nn.relu(nn.bias_add(nn.dense(%x, %w, units=37), %b));
  %1 = nn.leaky_relu(nn.dense(%x5, %w5, units=45), alpha=0.1f);
  %2 = add(multiply(nn.batch_matmul(%p, %q, transpose_b=True), 0.5f), %r);
  %3 = clip(add(nn.matmul(%a, %y), %rb), a_min=-0.5f, a_max=0.5f);
  (%0, %1, %2, %3)
}"""
"""Each product's elementwise epilogue goes into its call: a batch-1 dense + bias + relu (dot
products), leaky relu after a 5-row dense past the K block of both tiles (packed), a scaled
batch_matmul plus a residual, a 3-row matmul (rows of B scaled into C) plus a bias per row,
clipped; N and K off the tiles."""


@pytest.mark.parametrize("bits", [None, 256])
def test_epilogue_matches_the_interpreter(monkeypatch: pytest.MonkeyPatch, bits: int | None):
    # The host's routines, and AVX2's (8 lanes) forced; at 1 and 2 threads, the same bits.
    from xdsl.dialects.linalg import ops as linalg

    from relay_opt.runtime import thread_pool

    if bits is not None:
        monkeypatch.setattr(Target, "host", staticmethod(lambda: Target(vector_bits=bits)))
        monkeypatch.setenv("RELAY_OPT_NO_CACHE", "1")
    text = HEADER + EPILOGUE_PROGRAM
    found: list[int] = []

    def count(name: str, ir) -> None:  # noqa: ANN001
        if name == "lower-contractions":
            found.append(sum(isinstance(op, linalg.GenericOp) for op in ir.walk()))

    lower_to_llvm(load_program(text, "relay").module, level=3, after_pass=count)
    assert found == [0]  # every epilogue went into its call
    module = load_program(text, "relay").module
    params = module.body.block.first_op.function_type.inputs.data  # pyright: ignore
    rng = np.random.default_rng(7)
    inputs = [rng.standard_normal(t.get_shape()).astype(np.float32) for t in params]  # pyright: ignore
    want = interpret(module, inputs)
    fn = compile(module, opt=3)
    before = thread_pool.num_threads()
    results = []
    try:
        for threads in (1, 2):
            thread_pool.set_num_threads(threads)
            results.append(fn(*inputs))
    finally:
        thread_pool.set_num_threads(before)
    for one, two, w in zip(*results, want, strict=True):
        np.testing.assert_array_equal(one, two)
        np.testing.assert_allclose(one, w, rtol=1e-4, atol=1e-4)


# -- products written into a concatenation's slices ------------------------------------------


@pytest.mark.parametrize("bits", [None, 256])
def test_products_written_into_a_concatenation(monkeypatch: pytest.MonkeyPatch, bits: int | None):
    # bufferize has each product (or its epilogue) write its slice of the concatenation: the
    # calls get the result's address plus each slice's offset (37 floats: not a vector's
    # multiple), and no copy loop is left. The host's routines, and AVX2's forced.
    from xdsl.dialects import memref
    from xdsl.dialects.linalg import ops as linalg

    if bits is not None:
        monkeypatch.setattr(Target, "host", staticmethod(lambda: Target(vector_bits=bits)))
        monkeypatch.setenv("RELAY_OPT_NO_CACHE", "1")
    c = Target.host().lanes(32)
    text = (
        HEADER
        + f"""def @main(%x: Tensor[(1, 2, 5, 7, {c}), float32], %w: Tensor[(2, 2, 3, 3, {c}, {c}), float32], %v: Tensor[(1, 2, 1, 1, {c}, {c}), float32], %b: Tensor[(1, 2, 1, 1, {c}), float32], %d: Tensor[(1, 128), float32], %e: Tensor[(37, 128), float32], %f: Tensor[(40, 128), float32]) {{
  %0 = nn.conv2d(%x, %w, padding=[1, 1, 1, 1], data_layout="NCHW{c}c", kernel_layout="OIHW{c}i{c}o");
  %1 = nn.relu(add(%0, %b));
  %2 = nn.conv2d(%x, %v, data_layout="NCHW{c}c", kernel_layout="OIHW{c}i{c}o");
  %3 = concatenate((%1, %2), axis=1);
  %4 = concatenate((nn.dense(%d, %e), nn.dense(%d, %f)), axis=1);
  (%3, %4)
}}"""
    )
    found: list[int] = []

    def count(name: str, ir) -> None:  # noqa: ANN001
        if name == "lower-contractions":
            found.append(
                sum(isinstance(op, (linalg.GenericOp, memref.SubviewOp)) for op in ir.walk())
            )

    lower_to_llvm(load_program(text, "relay").module, level=3, after_pass=count)
    assert found == [0]
    module = load_program(text, "relay").module
    params = module.body.block.first_op.function_type.inputs.data  # pyright: ignore
    rng = np.random.default_rng(3)
    inputs = [rng.standard_normal(t.get_shape()).astype(np.float32) for t in params]  # pyright: ignore
    for got, want in zip(compile(module, opt=3)(*inputs), interpret(module, inputs), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


# Products with `?` dims: (parameters with their shapes, `?` as None, the results), each
# result one product. Sizes of each `?` dim at run time: empty, one, and past the tile.
DYNAMIC_PRODUCTS = [
    # dense + bias + relu over `?` rows: the epilogue goes into the call
    ([("x", (None, 40)), ("w", (33, 40)), ("b", (33,))], ["nn.relu(nn.bias_add(nn.dense(%x, %w), %b))"]),
    # `?` M and K (A's row stride is K, read at run time), B's K too
    ([("a", (None, None)), ("b", (None, 33))], ["nn.matmul(%a, %b)"]),
    # `?` N of a transposed B; `?` K of dense's weight
    ([("a", (7, 20)), ("b", (None, 20))], ["nn.matmul(%a, %b, transpose_b=True)"]),
    ([("x", (5, None)), ("w", (17, None)), ("b", (17,))], ["clip(nn.bias_add(nn.dense(%x, %w), %b), a_min=-1f, a_max=1f)"]),
    # a 3-d dense: two `?` leading axes fold into M (M = d0 * d1 at run time)
    ([("x", (None, None, 40)), ("w", (17, 40))], ["nn.dense(%x, %w)"]),
    # `?` batch: of both operands, and against a broadcast B
    ([("x", (None, 7, 20)), ("y", (None, 17, 20)), ("z", (1, 20, 33))],
     ["nn.batch_matmul(%x, %y, transpose_b=True)", "nn.batch_matmul(%x, %z, transpose_b=False)"]),
]  # fmt: skip


def _dynamic_program(params: list[tuple[str, tuple[int | None, ...]]], results: list[str]) -> str:
    def shape(s: tuple[int | None, ...]) -> str:
        return ", ".join("?" if d is None else str(d) for d in s) + ("," if len(s) == 1 else "")

    args = ", ".join(f"%{n}: Tensor[({shape(s)}), float32]" for n, s in params)
    body = results[0] if len(results) == 1 else "(" + ", ".join(results) + ")"
    return HEADER + f"def @main({args}) {{\n  {body}\n}}"


@pytest.mark.parametrize("opt", [0, 3])
@pytest.mark.parametrize("case", range(len(DYNAMIC_PRODUCTS)))
def test_dynamic_dims_call_the_routine(opt: int, case: int) -> None:
    """A `?` M (rows, leading axes folded into M), N, K or batch calls the GEMM routine once
    per product, with those sizes (and the strides they give) read at run time, the
    epilogue included: one compile against the interpreter and numpy at several sizes of the
    `?` dims (0 and 1 too: an empty K writes the epilogue of zeros)."""
    params, results = DYNAMIC_PRODUCTS[case]
    text = _dynamic_program(params, results)
    assert _kernel_calls(text, opt) == len(results)
    module = load_program(text, "relay").module
    run = compile(module, opt=opt)
    rng = np.random.default_rng(case)
    for size in (0, 1, 5, 37):
        inputs = [
            rng.standard_normal([size if d is None else d for d in s]).astype(np.float32)
            for _, s in params
        ]
        got, want = run(*inputs), interpret(module, inputs)
        got = got if isinstance(got, tuple) else (got,)
        want = want if isinstance(want, tuple) else (want,)
        for g, w in zip(got, want, strict=True):
            assert g.shape == w.shape
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)
    # numpy itself, for the first product at one size
    if case == 0:
        x, w, b = (rng.standard_normal(s).astype(np.float32) for s in ((64, 40), (33, 40), (33,)))
        np.testing.assert_allclose(run(x, w, b), np.maximum(x @ w.T + b, 0), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("bits", [256, 512])
def test_dynamic_rows_with_a_constant_weight_take_the_packed_b_entry(
    bits: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `?` M with a constant B calls the packed-B entry (B packed at compile time) at any
    run-time size, including 0 and the few rows the strided entry would read in place."""
    from relay_opt.lowering.kernels import target as target_module

    monkeypatch.setattr(target_module, "_host", lambda: Target(vector_bits=bits))
    rng = np.random.default_rng(bits)
    w, b = (
        rng.standard_normal((48, 64)).astype(np.float32),
        rng.standard_normal(48).astype(np.float32),
    )
    text = (
        HEADER
        + """def @main(%x: Tensor[(?, 64), float32]) {
  nn.relu(nn.bias_add(nn.dense(%x, meta[relay.Constant][0]), meta[relay.Constant][1]))
}"""
    )
    module = load_program(text, "relay", meta={"relay.Constant": [w, b]}).module
    callees = [
        op.callee.string_value()
        for op in lower_to_llvm(module).walk()
        if isinstance(op, llvm_dialect.CallOp)
    ]
    assert callees.count(gemm_packed_b_name(Target(vector_bits=bits))) == 1
    run = compile(module, cache=False)
    for rows in (0, 1, 2, 3, 15, 100):
        x = rng.standard_normal((rows, 64)).astype(np.float32)
        np.testing.assert_allclose(run(x), np.maximum(x @ w.T + b, 0), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(run(x), interpret(module, [x]), rtol=1e-4, atol=1e-4)
