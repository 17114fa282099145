"""The thread pool of compiled code, built as an llvm-dialect module of its own.

    i64 relay_opt_parallel_for(i64 (*body)(ptr ctx, i64 begin, i64 end), ptr ctx, i64 n, i64 grain)

runs `body` over [0, n) on a team of at most `threads` threads (the caller and workers 1 to
team - 1), each task at least `grain` iterations: the range is cut in one chunk per team
member, or up to CHUNKS_PER_THREAD when each still holds GRAINS_PER_CHUNK grains; chunk k =
[k*n/chunks, (k+1)*n/chunks) (a partition that depends only on n, grain and the thread
count, never on timing), and the team claims them one at a time.
The result is the non-zero code returned by the lowest-numbered failing chunk, or 0: a task's
error reaches the caller through the error channel of docs/ARCHITECTURE.md.

The pool is process-wide (runtime/thread_pool.py compiles this module once and gives every
compiled module the address of `relay_opt_parallel_for`), so modules do not each start threads.
Workers are started on the first region that needs them and stay: after a region they poll the
generation counter for a while (a region costs about a microsecond while they do) and then
sleep on a condition variable. Chunks are claimed, not assigned: the caller runs chunk 0, then
every chunk no worker has claimed yet, and waits only for chunks a worker is running. Several
chunks per thread, not one, because a worker is not always there when the region starts (a
futex wake-up under KVM takes tens of microseconds; on a loaded machine, or while another
runtime's threads spin on the other core, the worker gets its core late or loses it for a time
slice): with one chunk each, the caller then finished its half and waited for the whole other
half, and two threads were slower than one (ResNet-50's 1x1 convs at 0.2-0.6x). With small
chunks a late worker takes what is left and the caller waits for one chunk at most. A short
region (a grain is sized as about 10 us of work) is cut in one chunk per thread all the same:
its extra claims cost more than a late worker does, and with one chunk each an awake worker
takes the same half every time, so an LSTM step's weights stay in that core's cache. Which
thread runs a chunk does not change what it computes. Everything a
region shares (body, ctx, n, the next unclaimed chunk, the running count, the error) is written
and read under one pthread mutex, so no atomics are needed; the polls are plain loads behind a
compiler barrier, and a thread takes the mutex before it trusts what it saw. The mutex is taken
by polling `trylock` first: a blocking lock that finds it held sleeps in the kernel, and the
wake-up would cost more than the region. A region entered while another is running (a nested
region in a task, or a second caller thread) runs serially in its caller; so does one with
fewer than two tasks. Workers beyond the team (started for a larger thread count before) stay
out of the region.

Only C library functions are called: pthread_{create,join,mutex_*,cond_*}, malloc.
"""

from __future__ import annotations

from collections.abc import Callable

from xdsl.dialects import llvm
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, i32, i64
from xdsl.ir import Attribute, Block, Region, SSAValue

from relay_opt.lowering.kernels.gemm import _IR  # pyright: ignore[reportPrivateUsage]

PTR = llvm.LLVMPointerType()

PARALLEL_FOR = "relay_opt_parallel_for"
PARALLEL_FOR_TYPE = llvm.LLVMFunctionType([PTR, PTR, i64, i64], i64)
BODY_TYPE = llvm.LLVMFunctionType([PTR, i64, i64], i64)
"""A task: `body(ctx, begin, end)` returns 0, or an error code (docs/ARCHITECTURE.md)."""

INIT = "relay_opt_pool_init"
AFTER_FORK = "relay_opt_pool_after_fork"
SET_THREADS = "relay_opt_pool_set_threads"
THREADS = "relay_opt_pool_get_threads"
WORKERS = "relay_opt_pool_get_workers"
SHUTDOWN = "relay_opt_pool_shutdown"

LOCK = "relay_opt_pool_lock"
CLAIM = "relay_opt_pool_claim_all"

CHUNKS_PER_THREAD = 4
"""Chunks a region is cut in per team member (at most; each at least `grain` iterations):
the caller waits at the end for one chunk a late worker is still running, not for a
thread's whole share, at the cost of a few more claims (a mutex each)."""

GRAINS_PER_CHUNK = 4
"""A region gets more than one chunk per team member only if each still holds this many
grains (about 40 us of work): shorter regions gain less from a late worker's balance than
they lose in claims and in cache affinity (measured at 2 threads with one chunk each instead
of four: the MLP 22 -> 18 us, the LSTM 306 -> 264 us; ResNet-50's convs, many grains, were
faster with four)."""

MAX_THREADS = 256
"""Threads beyond this are not started (the handle table's size)."""

SPIN = 1 << 17
"""Polls of the generation (a worker) or the running count (the caller) before sleeping:
about a hundred microseconds, longer than Python's overhead between two calls of a compiled
model, so the workers are still awake for its first region."""

LOCK_SPIN = 1 << 10
"""`trylock`s before a blocking lock: the mutex guards a few stores, so a holder that does
not release it by then has been preempted."""

_SYNC_BYTES = 128
"""Room for a pthread_mutex_t or pthread_cond_t (40 and 48 bytes on glibc x86-64)."""

_GLOBALS = (
    "mutex", "wake", "done",  # pointers (as i64) to the mutex and the two condition variables
    "handles",  # pointer (as i64) to the worker's pthread_t table
    "threads", "workers", "generation", "stop", "busy",
    "body", "ctx", "n", "chunks", "team", "next", "running", "error", "error_chunk",
)  # fmt: skip


def _global(name: str) -> str:
    return f"relay_opt_pool_{name}"


def declare_parallel_for(module: ModuleOp) -> str:
    """Declares `relay_opt_parallel_for` in `module` (once) and returns its name: what a
    kernel or a pass calls to run a loop on the pool."""
    if not any(
        isinstance(op, llvm.FuncOp) and op.sym_name.data == PARALLEL_FOR for op in module.ops
    ):
        module.body.block.add_op(
            llvm.FuncOp(PARALLEL_FOR, PARALLEL_FOR_TYPE, linkage=llvm.LinkageAttr("external"))
        )
    return PARALLEL_FOR


def build_thread_pool() -> ModuleOp:
    """The pool's module: its globals, `relay_opt_parallel_for`, the worker, and the entry
    points runtime/thread_pool.py calls (init, after-fork, thread count, shutdown)."""
    ops: list[llvm.GlobalOp | llvm.FuncOp] = [
        llvm.GlobalOp(
            i64, _global(g), "internal", value=IntegerAttr(1 if g == "threads" else 0, i64)
        )
        for g in _GLOBALS
    ]
    for name, inputs, output in (
        ("malloc", [i64], PTR),
        ("pthread_mutex_init", [PTR, PTR], i32),
        ("pthread_mutex_lock", [PTR], i32),
        ("pthread_mutex_trylock", [PTR], i32),
        ("pthread_mutex_unlock", [PTR], i32),
        ("pthread_cond_init", [PTR, PTR], i32),
        ("pthread_cond_wait", [PTR, PTR], i32),
        ("pthread_cond_signal", [PTR], i32),
        ("pthread_cond_broadcast", [PTR], i32),
        ("pthread_create", [PTR, PTR, PTR, PTR], i32),
        ("pthread_join", [i64, PTR], i32),
    ):
        ops.append(
            llvm.FuncOp(
                name, llvm.LLVMFunctionType(inputs, output), linkage=llvm.LinkageAttr("external")
            )
        )
    pool = _Pool()
    ops += [
        pool.function(INIT, [], None, pool.init),
        pool.function(AFTER_FORK, [], None, pool.after_fork),
        pool.function(SET_THREADS, [i64], None, pool.set_threads),
        pool.function(THREADS, [], i64, lambda _: pool.get("threads")),
        pool.function(WORKERS, [], i64, lambda _: pool.get("workers")),
        pool.function(LOCK, [], None, pool.spin_lock, internal=True),
        pool.function("relay_opt_pool_run_chunk", [i64], None, pool.run_chunk, internal=True),
        pool.function(CLAIM, [], None, pool.claim_all, internal=True),
        pool.function("relay_opt_pool_worker", [PTR], PTR, pool.worker, internal=True),
        pool.function(PARALLEL_FOR, [PTR, PTR, i64, i64], i64, pool.parallel_for),
        pool.function(SHUTDOWN, [], None, pool.shutdown),
    ]
    return ModuleOp(ops)


class _Pool:
    """Builds the pool's functions; `self.ir` is the function being built."""

    ir: _IR

    def function(
        self,
        name: str,
        inputs: list[Attribute],
        output: Attribute | None,
        body: Callable[[list[SSAValue]], SSAValue | None],
        internal: bool = False,
    ) -> llvm.FuncOp:
        entry = Block(arg_types=inputs)
        region = Region(entry)
        self.ir = _IR(region, entry)
        result = body(list(entry.args))
        self.ir.emit(llvm.ReturnOp(result) if output is not None else llvm.ReturnOp())
        linkage = llvm.LinkageAttr("internal" if internal else "external")
        return llvm.FuncOp(
            name, llvm.LLVMFunctionType(inputs, output), linkage=linkage, body=region
        )

    # -- small helpers ---------------------------------------------------------------------

    def c(self, v: int) -> SSAValue:
        return self.ir.const(v)

    def addr(self, g: str) -> SSAValue:
        return self.ir.emit(llvm.AddressOfOp(_global(g), PTR))

    def get(self, g: str) -> SSAValue:
        return self.ir.load(self.addr(g), i64, 8)

    def put(self, g: str, v: SSAValue) -> None:
        self.ir.store(v, self.addr(g), 8)

    def ptr(self, g: str) -> SSAValue:
        """The object a pointer-holding global points to."""
        return self.ir.emit(llvm.IntToPtrOp(self.get(g)))

    def call(self, name: str, *args: SSAValue, result: Attribute | None = i32) -> SSAValue:
        return self.ir.emit(llvm.CallOp(name, *args, return_type=result))

    def lock(self) -> None:
        self.call(LOCK, result=None)

    def spin_lock(self, _: list[SSAValue]) -> None:
        """The mutex: `trylock` polled LOCK_SPIN times, then a blocking lock."""
        ir = self.ir
        got = ir.emit(llvm.AllocaOp(self.c(1), i64, alignment=8))
        ir.store(self.c(0), got, 8)

        def attempt() -> SSAValue:
            code = self.call("pthread_mutex_trylock", self.ptr("mutex"))
            taken = ir.emit(llvm.ZExtOp(ir.cmp("eq", code, ir.const(0, i32)), i64))
            ir.store(taken, got, 8)
            return ir.cmp("eq", taken, self.c(0))

        self.spin_while(attempt, LOCK_SPIN)
        ir.if_(
            ir.cmp("eq", ir.load(got, i64, 8), self.c(0)),
            lambda: self.call("pthread_mutex_lock", self.ptr("mutex")) and None,
        )

    def unlock(self) -> None:
        self.call("pthread_mutex_unlock", self.ptr("mutex"))

    def barrier(self) -> None:
        """A compiler barrier: memory is read again after it (a poll is not hoisted)."""
        self.ir.emit(llvm.InlineAsmOp("", "~{memory}", [], [], has_side_effects=True))

    def while_(self, cond: Callable[[], SSAValue], body: Callable[[], None]) -> None:
        """while (cond()) body(); as blocks (the condition is evaluated in the header)."""
        ir = self.ir
        header, body_block, exit_block = Block(), Block(), Block()
        ir.emit(llvm.BrOp(header))
        for block, build in ((header, None), (body_block, body)):
            ir.region.add_block(block)
            ir.b = _builder_at(block)
            if build is None:
                ir.emit(llvm.CondBrOp(cond(), body_block, [], exit_block, []))
            else:
                build()
                ir.emit(llvm.BrOp(header))
        ir.region.add_block(exit_block)
        ir.b = _builder_at(exit_block)

    def spin_while(self, cond: Callable[[], SSAValue], polls: int = SPIN) -> None:
        """Polls `cond` (behind a barrier) at most `polls` times while it holds."""
        ir = self.ir
        header = Block(arg_types=[i64])
        body_block, exit_block = Block(), Block()
        ir.emit(llvm.BrOp(header, self.c(0)))
        ir.region.add_block(header)
        ir.b = _builder_at(header)
        self.barrier()
        more = ir.emit(llvm.AndOp(ir.cmp("slt", header.args[0], self.c(polls)), cond()))
        ir.emit(llvm.CondBrOp(more, body_block, [], exit_block, []))
        ir.region.add_block(body_block)
        ir.b = _builder_at(body_block)
        ir.emit(llvm.BrOp(header, ir.add(header.args[0], self.c(1))))
        ir.region.add_block(exit_block)
        ir.b = _builder_at(exit_block)

    # -- set-up ----------------------------------------------------------------------------

    def init(self, _: list[SSAValue]) -> None:
        """Allocates and initializes the mutex, the condition variables and the handles."""
        ir = self.ir
        for g in ("mutex", "wake", "done"):
            self.put(
                g,
                ir.emit(llvm.PtrToIntOp(self.call("malloc", self.c(_SYNC_BYTES), result=PTR), i64)),
            )
        handles = self.call("malloc", self.c(8 * MAX_THREADS), result=PTR)
        self.put("handles", ir.emit(llvm.PtrToIntOp(handles, i64)))
        self.after_fork([])

    def after_fork(self, _: list[SSAValue]) -> None:
        """The state of a fresh process: only the forking thread survives a fork, and the
        mutex may have been held by a worker that is gone."""
        null = self.ir.emit(llvm.ZeroOp(result_types=[PTR]))
        self.call("pthread_mutex_init", self.ptr("mutex"), null)
        self.call("pthread_cond_init", self.ptr("wake"), null)
        self.call("pthread_cond_init", self.ptr("done"), null)
        for g in ("workers", "stop", "busy", "next", "running"):
            self.put(g, self.c(0))

    def set_threads(self, args: list[SSAValue]) -> None:
        ir = self.ir
        n = ir.min(args[0], self.c(MAX_THREADS))
        n = ir.select(ir.cmp("slt", n, self.c(1)), self.c(1), n)
        self.lock()
        self.put("threads", n)
        self.unlock()

    # -- running -----------------------------------------------------------------------------

    def run_chunk(self, args: list[SSAValue]) -> None:
        """Runs chunk `k` of the current region; a failure is kept if no lower chunk failed."""
        ir = self.ir
        k = args[0]
        n, chunks = self.get("n"), self.get("chunks")
        begin = ir.emit(llvm.SDivOp(ir.mul(k, n), chunks))
        end = ir.emit(llvm.SDivOp(ir.mul(ir.add(k, self.c(1)), n), chunks))
        body = ir.emit(llvm.IntToPtrOp(self.get("body")))
        ctx = ir.emit(llvm.IntToPtrOp(self.get("ctx")))
        code = ir.emit(_indirect_call(body, [ctx, begin, end], i64))

        def record() -> None:
            self.lock()
            first = ir.emit(
                llvm.OrOp(
                    ir.cmp("eq", self.get("error"), self.c(0)),
                    ir.cmp("slt", k, self.get("error_chunk")),
                )
            )

            def keep() -> None:
                self.put("error", code)
                self.put("error_chunk", k)

            ir.if_(first, keep)
            self.unlock()

        ir.if_(ir.cmp("ne", code, self.c(0)), record)

    def claim_all(self, _: list[SSAValue]) -> None:
        """Runs the current region's unclaimed chunks, one claim at a time, then wakes the
        caller if none is running; entered and left with the mutex held."""
        ir = self.ir

        def one() -> None:
            k = self.get("next")
            self.put("next", ir.add(k, self.c(1)))
            self.put("running", ir.add(self.get("running"), self.c(1)))
            self.unlock()
            self.call("relay_opt_pool_run_chunk", k, result=None)
            self.lock()
            self.put("running", ir.sub(self.get("running"), self.c(1)))

        self.while_(lambda: ir.cmp("slt", self.get("next"), self.get("chunks")), one)
        ir.if_(
            ir.cmp("eq", self.get("running"), self.c(0)),
            lambda: self.call("pthread_cond_signal", self.ptr("done")) and None,
        )

    def worker(self, args: list[SSAValue]) -> SSAValue:
        """A worker's life: its index and the generation it was started at come packed in
        its argument (index + generation * 2^16). A worker that wakes after its region's
        chunks were all claimed finds nothing to do."""
        ir = self.ir
        packed = ir.emit(llvm.PtrToIntOp(args[0], i64))
        start = ir.emit(llvm.AShrOp(packed, self.c(16)))
        index = ir.emit(llvm.AndOp(packed, self.c(0xFFFF)))
        # The loop: the generation this worker has served is carried.
        header = Block(arg_types=[i64])
        exit_block = Block()
        ir.emit(llvm.BrOp(header, start))
        ir.region.add_block(header)
        ir.b = _builder_at(header)
        seen = header.args[0]
        self.spin_while(lambda: ir.cmp("eq", self.get("generation"), seen))
        self.lock()
        self.while_(
            lambda: ir.emit(
                llvm.AndOp(
                    ir.cmp("eq", self.get("generation"), seen),
                    ir.cmp("eq", self.get("stop"), self.c(0)),
                )
            ),
            lambda: self.call("pthread_cond_wait", self.ptr("wake"), self.ptr("mutex")) and None,
        )
        stop = ir.cmp("ne", self.get("stop"), self.c(0))
        generation = self.get("generation")
        # Only the team's workers claim: one started for a larger thread count stays out.
        ir.if_(
            ir.emit(
                llvm.AndOp(
                    ir.cmp("eq", self.get("stop"), self.c(0)),
                    ir.cmp("slt", index, self.get("team")),
                )
            ),
            lambda: self.call(CLAIM, result=None) and None,
        )
        self.unlock()
        ir.emit(llvm.CondBrOp(stop, exit_block, [], header, [generation]))
        ir.region.add_block(exit_block)
        ir.b = _builder_at(exit_block)
        return ir.emit(llvm.ZeroOp(result_types=[PTR]))

    def parallel_for(self, args: list[SSAValue]) -> SSAValue:
        ir = self.ir
        body, ctx, n, grain = args
        result = ir.emit(llvm.AllocaOp(self.c(1), i64, alignment=8))
        ir.store(self.c(0), result, 8)

        def serial() -> None:
            ir.store(ir.emit(_indirect_call(body, [ctx, self.c(0), n], i64)), result, 8)

        def region() -> None:
            g = ir.select(ir.cmp("slt", grain, self.c(1)), self.c(1), grain)
            # ceil(n / g) without overflow
            tasks = ir.add(
                ir.emit(llvm.SDivOp(n, g)),
                ir.emit(llvm.ZExtOp(ir.cmp("ne", ir.emit(llvm.SRemOp(n, g)), self.c(0)), i64)),
            )
            self.lock()
            team = ir.min(self.get("threads"), tasks)
            alone = ir.emit(
                llvm.OrOp(ir.cmp("slt", team, self.c(2)), ir.cmp("ne", self.get("busy"), self.c(0)))
            )

            def give_up() -> None:
                self.unlock()
                serial()

            ir.if_(alone, give_up, lambda: self.shared(body, ctx, n, team, tasks, result))

        ir.if_(ir.cmp("sgt", n, self.c(0)), region)
        return ir.load(result, i64, 8)

    def shared(
        self,
        body: SSAValue,
        ctx: SSAValue,
        n: SSAValue,
        team: SSAValue,
        tasks: SSAValue,
        result: SSAValue,
    ) -> None:
        """A region on the pool; entered with the mutex held."""
        ir = self.ir
        # Start the missing workers; each starts at the current generation.
        want = ir.sub(team, self.c(1))

        def start_one() -> None:
            w = ir.add(self.get("workers"), self.c(1))
            packed = ir.add(w, ir.emit(llvm.ShlOp(self.get("generation"), self.c(16))))
            slot = ir.gep(self.ptr("handles"), w, elem=i64)
            start = ir.emit(llvm.AddressOfOp("relay_opt_pool_worker", PTR))
            null = ir.emit(llvm.ZeroOp(result_types=[PTR]))
            failed = self.call(
                "pthread_create", slot, null, start, ir.emit(llvm.IntToPtrOp(packed))
            )
            # A failure ends the loop: the region runs with the workers there are.
            ok = ir.emit(llvm.ZExtOp(ir.cmp("eq", failed, ir.const(0, i32)), i64))
            self.put("workers", ir.add(self.get("workers"), ok))
            ir.store(ok, self.started_ok, 8)

        self.started_ok = ir.emit(llvm.AllocaOp(self.c(1), i64, alignment=8))
        ir.store(self.c(1), self.started_ok, 8)
        self.while_(
            lambda: ir.emit(
                llvm.AndOp(
                    ir.cmp("slt", self.get("workers"), want),
                    ir.cmp("ne", ir.load(self.started_ok, i64, 8), self.c(0)),
                )
            ),
            start_one,
        )
        # Workers that could not be started leave their chunks to the others.
        team = ir.min(team, ir.add(self.get("workers"), self.c(1)))
        each = ir.emit(llvm.SDivOp(tasks, ir.mul(team, self.c(GRAINS_PER_CHUNK))))
        each = ir.min(
            ir.select(ir.cmp("slt", each, self.c(1)), self.c(1), each), self.c(CHUNKS_PER_THREAD)
        )
        chunks = ir.min(ir.mul(team, each), tasks)
        self.put("busy", self.c(1))
        self.put("team", team)
        self.put("body", ir.emit(llvm.PtrToIntOp(body, i64)))
        self.put("ctx", ir.emit(llvm.PtrToIntOp(ctx, i64)))
        self.put("n", n)
        self.put("chunks", chunks)
        self.put("error", self.c(0))
        self.put("error_chunk", self.c(0))
        self.put("next", self.c(1))  # chunk 0 is the caller's
        self.put("running", self.c(1))
        self.put("generation", ir.add(self.get("generation"), self.c(1)))
        self.call("pthread_cond_broadcast", self.ptr("wake"))
        self.unlock()
        self.call("relay_opt_pool_run_chunk", self.c(0), result=None)
        self.lock()
        self.put("running", ir.sub(self.get("running"), self.c(1)))
        self.call(CLAIM, result=None)
        self.unlock()
        self.spin_while(lambda: ir.cmp("ne", self.get("running"), self.c(0)))
        self.lock()
        self.while_(
            lambda: ir.cmp("ne", self.get("running"), self.c(0)),
            lambda: self.call("pthread_cond_wait", self.ptr("done"), self.ptr("mutex")) and None,
        )
        ir.store(self.get("error"), result, 8)
        self.put("busy", self.c(0))
        self.unlock()

    def shutdown(self, _: list[SSAValue]) -> None:
        """Stops and joins the workers (at interpreter exit: no thread is left running code
        that is about to be freed)."""
        ir = self.ir
        self.lock()
        self.put("stop", self.c(1))
        self.call("pthread_cond_broadcast", self.ptr("wake"))
        self.unlock()

        def join(w: SSAValue, _: list[SSAValue]) -> None:
            handle = ir.load(ir.gep(self.ptr("handles"), w, elem=i64), i64, 8)
            self.call("pthread_join", handle, ir.emit(llvm.ZeroOp(result_types=[PTR])))

        ir.loop(self.c(1), ir.add(self.get("workers"), self.c(1)), self.c(1), join)
        self.lock()
        self.put("workers", self.c(0))
        self.put("stop", self.c(0))
        self.unlock()


def _builder_at(block: Block):  # noqa: ANN202
    from xdsl.builder import Builder
    from xdsl.rewriter import InsertPoint

    return Builder(InsertPoint.at_end(block))


def _indirect_call(callee: SSAValue, args: list[SSAValue], result: Attribute) -> llvm.CallOp:
    """`callee(args)` through a function pointer: an `llvm.call` without a callee symbol and
    the pointer as its first operand (MLIR's form); runtime/jit.llvm_ir translates it."""
    call = llvm.CallOp("indirect", callee, *args, return_type=result)
    del call.properties["callee"]
    return call
