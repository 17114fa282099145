"""The thread pool of compiled code (lowering/kernels/thread_pool.py, runtime/thread_pool.py):
a task built in the llvm dialect run through relay_opt_parallel_for, and the GEMM routine and
compiled programs at 1 and 2 threads."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys

import numpy as np
import pytest
from xdsl.dialects import llvm
from xdsl.dialects.builtin import ModuleOp, i64
from xdsl.ir import Block, Region

from relay_opt.diagnostics import ArgumentError
from relay_opt.lowering.kernels.gemm import _IR  # pyright: ignore[reportPrivateUsage]
from relay_opt.lowering.kernels.thread_pool import BODY_TYPE, declare_parallel_for
from relay_opt.runtime import thread_pool

PTR = llvm.LLVMPointerType()
FAILING_INDEX = 100
ERROR_CODE = 7


def _with_run(module: ModuleOp, parallel_for: str, task_body: Region) -> ModuleOp:
    """`module` with `task` (body `task_body`) and `run(out, n, grain)` = parallel_for(task,
    out, n, grain), verified."""
    module.body.block.add_op(
        llvm.FuncOp("task", BODY_TYPE, linkage=llvm.LinkageAttr("internal"), body=task_body)
    )
    entry = Block(arg_types=[PTR, i64, i64])
    region = Region(entry)
    ir = _IR(region, entry)
    task = ir.emit(llvm.AddressOfOp("task", PTR))
    ir.emit(llvm.ReturnOp(ir.emit(llvm.CallOp(parallel_for, task, *entry.args, return_type=i64))))
    module.body.block.add_op(
        llvm.FuncOp(
            "run",
            llvm.LLVMFunctionType([PTR, i64, i64], i64),
            linkage=llvm.LinkageAttr("external"),
            body=region,
        )
    )
    module.verify()
    return module


def _task_module() -> ModuleOp:
    """`run(out, n, grain)` = parallel_for(task, out, n, grain), where task(out, b, e) writes
    out[i] = 3 i for i in [b, e) and fails (code 7) on the chunk that holds index 100, and
    every chunk holding an index above 100 fails with its first index (lowest chunk wins)."""
    module = ModuleOp([])
    parallel_for = declare_parallel_for(module)
    entry = Block(arg_types=list(BODY_TYPE.inputs))
    region = Region(entry)
    ir = _IR(region, entry)
    out, begin, end = entry.args
    ir.loop(
        begin,
        end,
        ir.const(1),
        lambda i, _: ir.store(ir.mul(i, ir.const(3)), ir.gep(out, i, elem=i64), 8),
    )
    holds = ir.emit(
        llvm.AndOp(
            ir.cmp("sle", begin, ir.const(FAILING_INDEX)),
            ir.cmp("slt", ir.const(FAILING_INDEX), end),
        )
    )
    later = ir.select(ir.cmp("sgt", begin, ir.const(FAILING_INDEX)), begin, ir.const(0))
    ir.emit(llvm.ReturnOp(ir.select(holds, ir.const(ERROR_CODE), later)))
    return _with_run(module, parallel_for, region)


def _who_module(first_index: bool = False) -> ModuleOp:
    """`run(out, n, grain)` = parallel_for(task, out, n, grain), where task(out, b, e) writes
    the running thread's pthread_self() to out[b:e] (or b, with `first_index`)."""
    module = ModuleOp([])
    parallel_for = declare_parallel_for(module)
    module.body.block.add_op(
        llvm.FuncOp(
            "pthread_self", llvm.LLVMFunctionType([], i64), linkage=llvm.LinkageAttr("external")
        )
    )
    entry = Block(arg_types=list(BODY_TYPE.inputs))
    region = Region(entry)
    ir = _IR(region, entry)
    out, begin, end = entry.args
    me = begin if first_index else ir.emit(llvm.CallOp("pthread_self", return_type=i64))
    ir.loop(begin, end, ir.const(1), lambda i, _: ir.store(me, ir.gep(out, i, elem=i64), 8))
    ir.emit(llvm.ReturnOp(ir.const(0)))
    return _with_run(module, parallel_for, region)


def compiled_task(module: ModuleOp | None = None):  # noqa: ANN201
    """`(call(out, n, grain), engine)` for the task module (or `module`), compiled at -O1."""
    from relay_opt.runtime.jit import _llvm, llvm_ir, optimize, target_machine

    text = llvm_ir(module or _task_module())
    thread_pool.ensure_for(text)
    engine = _llvm().create_mcjit_compiler(optimize(text, 1), target_machine(1))
    engine.finalize_object()
    fn = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64)(
        engine.get_function_address("run")
    )
    return (lambda out, n, grain: fn(out.ctypes.data, n, grain)), engine


@pytest.fixture(scope="module")
def run():  # noqa: ANN201
    before = thread_pool.num_threads()
    yield compiled_task()
    thread_pool.set_num_threads(before)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_every_index_once_and_the_lowest_failing_chunk_reported(run, threads: int) -> None:  # noqa: ANN001
    call, _ = run
    thread_pool.set_num_threads(threads)
    assert thread_pool.num_threads() == threads
    for n, grain in [(1000, 10), (7, 1), (1, 1), (FAILING_INDEX, 1), (5000, 4096)]:
        out = np.full(n, -1, np.int64)
        code = call(out, n, grain)
        np.testing.assert_array_equal(out, np.arange(n) * 3)
        # The chunk holding index 100 fails with 7 and later chunks with their first index:
        # the caller sees 7 whatever the timing, or 0 if no chunk holds index 100.
        assert code == (ERROR_CODE if n > FAILING_INDEX else 0)
    if threads > 1:
        assert thread_pool.started_workers() >= threads - 1


def test_many_regions_and_changing_thread_counts(run) -> None:  # noqa: ANN001
    call, _ = run
    out = np.zeros(64, np.int64)
    for k in range(3000):
        thread_pool.set_num_threads(1 + k % 3)
        out[:] = -1
        assert call(out, 64, 1) == 0
        assert out[-1] == 63 * 3 and out[0] == 0


def test_a_region_runs_on_its_team_only() -> None:
    # A region is cut in more chunks than threads; the workers started for a larger thread
    # count earlier poll for the next region too, but must not claim any of its chunks.
    call, engine = compiled_task(_who_module())  # the engine keeps the code alive
    before = thread_pool.num_threads()
    out = np.zeros(1 << 19, np.int64)
    try:
        thread_pool.set_num_threads(3)
        assert call(out, out.size, 1) == 0
        assert thread_pool.started_workers() >= 2
        thread_pool.set_num_threads(2)
        seen: set[int] = set()
        for _ in range(25):
            assert call(out, out.size, 1) == 0
            seen.update(out[:: out.size // 8].tolist())  # one index of each chunk
        assert 0 not in seen and len(seen) <= 2
    finally:
        thread_pool.set_num_threads(before)
        del engine


@pytest.fixture(scope="module")
def first_index():  # noqa: ANN201
    """The task module that writes each chunk's first index over the chunk."""
    return compiled_task(_who_module(first_index=True))


@pytest.mark.parametrize(
    ("n", "grain", "chunks"),
    [(64, 8, 2), (64, 4, 4), (64, 1, 8), (3, 1, 2)],  # 8, 16, 64 and 3 grains
)
def test_more_chunks_than_threads_only_for_long_regions(
    first_index,  # noqa: ANN001
    n: int,
    grain: int,
    chunks: int,
) -> None:
    # At 2 threads a region gets one chunk per thread unless each chunk still holds
    # GRAINS_PER_CHUNK grains, then up to CHUNKS_PER_THREAD: equal cuts of [0, n).
    call, _ = first_index
    before = thread_pool.num_threads()
    out = np.full(n, -1, np.int64)
    try:
        thread_pool.set_num_threads(2)
        assert call(out, n, grain) == 0
        np.testing.assert_array_equal(np.unique(out), [k * n // chunks for k in range(chunks)])
    finally:
        thread_pool.set_num_threads(before)


def test_a_forked_child_runs_regions(run) -> None:  # noqa: ANN001
    call, _ = run
    thread_pool.set_num_threads(2)
    out = np.zeros(1000, np.int64)
    assert call(out, 1000, 1) == ERROR_CODE  # workers are running in the parent
    pid = os.fork()
    if pid == 0:  # only this thread survives: the child's pool starts its own workers
        ok = False
        try:
            out[:] = -1
            ok = call(out, 1000, 1) == ERROR_CODE and bool((out == np.arange(1000) * 3).all())
            ok = ok and thread_pool.started_workers() == 1
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert call(out, 1000, 1) == ERROR_CODE


def test_thread_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ArgumentError, match="positive integer"):
        thread_pool.set_num_threads(0)
    monkeypatch.setenv(thread_pool.ENV, "zero")
    with pytest.raises(ArgumentError, match="RELAY_OPT_NUM_THREADS must be a positive integer"):
        thread_pool.default_threads()
    monkeypatch.setenv(thread_pool.ENV, "3")
    assert thread_pool.default_threads() == 3
    monkeypatch.delenv(thread_pool.ENV)
    assert thread_pool.default_threads() == len(os.sched_getaffinity(0))


def test_a_fresh_process_takes_the_environment_and_exits_cleanly() -> None:
    # The pool is sized by RELAY_OPT_NUM_THREADS, starts its workers on the first region,
    # and joins them at exit (the process ends normally).
    script = (
        "import numpy as np, test_thread_pool as t\n"
        "from relay_opt.runtime import thread_pool as p\n"
        "call, engine = t.compiled_task()\n"
        "print(p.num_threads(), p.started_workers())\n"
        "call(np.zeros(1000, np.int64), 1000, 1)\n"
        "print(p.started_workers())\n"
    )
    env = {**os.environ, thread_pool.ENV: "3"}
    here = os.path.dirname(__file__)
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=here, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["3", "0", "2"]


MATMUL = """#[version = "0.0.5"]
def @main(%a: Tensor[(70, 300), float32], %b: Tensor[(300, 200), float32]) {
  nn.relu(nn.matmul(%a, %b))
}"""


def test_compiled_gemm_identical_at_1_and_2_threads() -> None:
    import relay_opt

    module = relay_opt.load_program(MATMUL, "relay").module
    # With the compile cache (the session's own, shared by the test processes) the GEMM
    # routine is built once per session; cache=False rebuilt it here (23-27 s loaded).
    exe = relay_opt.compile(module, opt=1, threads=1)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((70, 300), dtype=np.float32)
    b = rng.standard_normal((300, 200), dtype=np.float32)
    one = exe(a, b)
    exe.threads = 2
    before = thread_pool.num_threads()
    two = exe(a, b)
    assert thread_pool.num_threads() == before  # the executable's setting is its calls' only
    np.testing.assert_array_equal(one, two)  # a deterministic partition: bit for bit
    np.testing.assert_allclose(two, np.maximum(a.astype(np.float64) @ b, 0), rtol=1e-4, atol=1e-4)
    assert thread_pool.started_workers() >= 1
    with pytest.raises(ArgumentError, match="positive integer"):
        exe.threads = 0


NESTS = """#[version = "0.0.5"]
def @main(%x: Tensor[(1, 32, 32, 32), float32], %y: Tensor[(1, 32, 32, 32), float32]) {
  %0 = nn.relu(add(%x, %y));
  (nn.max_pool2d(%0, pool_size=[3, 3], strides=[2, 2], padding=[1, 1, 1, 1]),
   mean(%0, axis=[2, 3]))
}"""


def test_parallel_loop_nests_identical_at_1_and_2_threads() -> None:
    # parallelize-loops takes the fused elementwise nest, the pooling and the reduction over
    # kept axes; each runs split on two threads exactly as on one, as the interpreter says.
    import relay_opt
    from relay_opt.runtime.interpreter import Interpreter

    module = relay_opt.load_program(NESTS, "relay").module
    exe = relay_opt.compile(module, opt=1, cache=False)
    assert "relay_opt_parallel_for" in str(exe._llvm_module)  # pyright: ignore[reportPrivateUsage]
    rng = np.random.default_rng(1)
    x, y = (rng.standard_normal((1, 32, 32, 32), dtype=np.float32) for _ in range(2))
    exe.threads = 1
    one = exe(x, y)
    exe.threads = 2
    two = exe(x, y)
    want = Interpreter(module).run("main", [x, y])
    for a, b, r in zip(one, two, want, strict=True):  # pyright: ignore[reportArgumentType]
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(b, np.asarray(r), rtol=1e-5, atol=1e-5)
