"""The compile cache (runtime/compile_cache.py): a warm compile loads the object code instead of
lowering; a changed module, option or CPU misses; two writers and a corrupt entry are safe;
--no-cache, cache=False and RELAY_OPT_NO_CACHE=1 neither read nor write it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from relay_opt import load_program
from relay_opt.diagnostics import RelayError
from relay_opt.runtime import compile_cache, jit
from relay_opt.runtime.interpreter import interpret
from relay_opt.runtime.values import same_value, to_adt_list
from relay_opt.timing import Timings

# A weight of the input (the constant c, a resource) and one made at compile time
# (fold-constant computes 2 * c, a new resource the cache entry has to carry).
PROGRAM = """#[version = "0.0.5"]
def @main(%x: Tensor[(8, 100), float32], %w: Tensor[(16, 100), float32]) {
  %0 = nn.dense(%x, %w);
  %1 = multiply(meta[relay.Constant][0], 2f);
  %2 = add(%x, %1);
  %3 = subtract(%2, meta[relay.Constant][0]);
  (nn.softmax(%0), %3)
}
"""


def _meta(tmp_path: Path, seed: int = 0) -> str:
    path = tmp_path / f"meta{seed}.npz"
    c = np.random.default_rng(seed).standard_normal((8, 100)).astype(np.float32)
    np.savez(path, **{"relay.Constant.0": c})
    return str(path)


def _inputs() -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [rng.standard_normal(s).astype(np.float32) for s in ((8, 100), (16, 100))]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cache"
    shared = Path(os.environ.get("RELAY_OPT_TEST_CACHE_DIR", "/nonexistent")) / "kernels"
    if shared.is_dir():  # the run's kernel library: child processes need not build it again
        shutil.copytree(shared, path / "kernels")
    monkeypatch.setenv("RELAY_OPT_CACHE_DIR", str(path))
    monkeypatch.setenv("RELAY_OPT_VERIFY_EACH", "0")  # the passes are not under test
    monkeypatch.delenv("RELAY_OPT_NO_CACHE", raising=False)
    return path


def _entries(cache: Path) -> list[Path]:
    folder = cache / "modules"
    return sorted(folder.iterdir()) if folder.exists() else []


def _compile(module, **kwargs) -> tuple[jit.Executable, list[str]]:  # noqa: ANN001
    timings = Timings()
    exe = jit.compile(module, timings=timings, **kwargs)
    return exe, [name for name, _ in timings.rows]


def _check(exe: jit.Executable, module) -> None:  # noqa: ANN001
    args = _inputs()
    got, want = exe(*args), interpret(module, args)
    for g, w in zip(got, want, strict=True):  # pyright: ignore
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_a_second_compile_loads_the_entry_and_runs_alike(cache: Path, tmp_path: Path):
    module = load_program(PROGRAM, "relay", meta=_meta(tmp_path)).module
    cold, steps = _compile(module)
    assert "convert-to-llvm" in steps and "compile-cache-store" in steps
    (entry,) = _entries(cache)
    # c is the input's (found by name when the entry is read), 2 * c is in the entry.
    header = entry.read_bytes().partition(b'"weights": ')[2].partition(b"]")[0]
    assert header.count(b'"input": true') == 1 and header.count(b'"offset": 0') == 1
    warm, steps = _compile(module)
    assert steps == ["compile-cache-lookup", "compile-cache-load"]  # no pass, no LLVM
    _check(cold, module)
    _check(warm, module)
    assert [p.describe() for p in warm.params] == [p.describe() for p in cold.params]
    with pytest.raises(ValueError, match="input 'x' must be 8x100 float32"):
        warm(np.zeros((8, 99), np.float32), _inputs()[1])


def test_a_changed_module_option_or_cpu_misses(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    module = load_program(PROGRAM, "relay", meta=_meta(tmp_path)).module
    key = compile_cache.module_key(module, "main", {"opt": 3})
    # Other weights under the same text: another key (the weights' content is hashed).
    other = load_program(PROGRAM, "relay", meta=_meta(tmp_path, seed=2)).module
    assert compile_cache.module_key(other, "main", {"opt": 3}) != key
    changed = load_program(PROGRAM.replace("2f", "3f"), "relay", meta=_meta(tmp_path)).module
    assert compile_cache.module_key(changed, "main", {"opt": 3}) != key
    assert compile_cache.module_key(module, "main", {"opt": 2}) != key
    assert compile_cache.module_key(module, "other", {"opt": 3}) != key
    monkeypatch.setenv("RELAY_OPT_SOME_CODEGEN_KNOB", "1")  # unknown knobs count
    assert compile_cache.module_key(module, "main", {"opt": 3}) != key
    monkeypatch.delenv("RELAY_OPT_SOME_CODEGEN_KNOB")
    monkeypatch.setenv("RELAY_OPT_MAX_DEPTH", "7")  # run-time only
    assert compile_cache.module_key(module, "main", {"opt": 3}) == key

    import llvmlite.binding as llvm

    features = llvm.get_host_cpu_features()
    features["avx2"] = not features.get("avx2", False)
    monkeypatch.setattr(llvm, "get_host_cpu_features", lambda: features)
    compile_cache._toolchain.cache_clear()
    compile_cache.machine.cache_clear()
    try:
        assert compile_cache.module_key(module, "main", {"opt": 3}) != key
    finally:
        monkeypatch.undo()
        compile_cache._toolchain.cache_clear()
        compile_cache.machine.cache_clear()

    # Compiled: each variant is its own entry.
    monkeypatch.setenv("RELAY_OPT_CACHE_DIR", str(cache))
    monkeypatch.setenv("RELAY_OPT_VERIFY_EACH", "0")
    for m, opt in ((module, 3), (module, 0), (changed, 3)):
        _, steps = _compile(m, opt=opt)
        assert "compile-cache-store" in steps
    assert len(_entries(cache)) == 3


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "garbage"])
def test_a_corrupt_entry_is_compiled_again_and_replaced(cache: Path, tmp_path: Path, damage: str):
    module = load_program(PROGRAM, "relay", meta=_meta(tmp_path)).module
    _compile(module)
    (entry,) = _entries(cache)
    data = bytearray(entry.read_bytes())
    if damage == "truncate":
        data = data[: len(data) - 100]
    elif damage == "flip":
        data[len(data) // 2] ^= 0x40
    elif damage == "empty":
        data = bytearray()
    else:
        data = bytearray(b"\x7fELF" + bytes(range(256)) * 8)
    entry.write_bytes(bytes(data))
    exe, steps = _compile(module)
    assert "convert-to-llvm" in steps and "compile-cache-store" in steps
    _check(exe, module)
    assert entry.read_bytes() != bytes(data)  # replaced by a whole entry
    exe, steps = _compile(module)
    assert steps == ["compile-cache-lookup", "compile-cache-load"]
    _check(exe, module)


def test_cache_false_and_no_cache_neither_read_nor_write(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import relay_opt

    module = load_program(PROGRAM, "relay", meta=_meta(tmp_path)).module
    exe, steps = _compile(module, cache=False)
    assert "compile-cache-lookup" not in steps and not _entries(cache)
    relay_opt.compile(module, cache=False)
    monkeypatch.setenv("RELAY_OPT_NO_CACHE", "1")
    _, steps = _compile(module)
    assert "compile-cache-lookup" not in steps and not _entries(cache)
    monkeypatch.delenv("RELAY_OPT_NO_CACHE")
    _compile(module, profile=True)  # a profile names its kernels from the lowering
    assert not _entries(cache)
    _compile(module)
    assert len(_entries(cache)) == 1
    _, steps = _compile(module, cache=False)  # not read either
    assert "convert-to-llvm" in steps


def test_relay_run_no_cache(cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from relay_opt.tools.relay_run import main

    src = tmp_path / "p.rly"
    src.write_text(PROGRAM.replace("meta[relay.Constant][0]", "ones(shape=[8, 100])"))
    args = [str(src), "--fill-mode", "random"]
    assert main([*args, "--no-cache"]) == 0
    assert main([*args, "--mlir-timing"]) == 0  # a pass timing report needs the passes
    assert "convert-to-llvm" in capsys.readouterr().err
    assert not _entries(cache)
    assert main(args) == 0
    first = capsys.readouterr().out
    assert len(_entries(cache)) == 1
    assert main(args) == 0
    assert capsys.readouterr().out == first


# A fresh process: what a warm start after a restart sees (its resource store is empty until
# it loads the program).
CHILD = """
import sys
import numpy as np
from relay_opt import load_program
from relay_opt.diagnostics import RelayError
from relay_opt.runtime.interpreter import interpret
from relay_opt.runtime.jit import compile
from relay_opt.timing import Timings

module = load_program(sys.argv[1], "relay", meta=sys.argv[2] or None).module
timings = Timings()
exe = compile(module, timings=timings)
# A hit may read the kernel library's object from the cache too (a first use in a process).
steps = [n for n, _ in timings.rows if n != "kernel-library-load"]
hit = steps == ["compile-cache-lookup", "compile-cache-load"]
rng = np.random.default_rng(1)
args = [rng.standard_normal(p.shape).astype(np.float32) for p in exe.params]
try:
    got = exe(*args)
except RelayError as e:
    print("hit" if hit else "miss", "error", e.message)
    sys.exit(0)
want = interpret(module, args)
got, want = (g if isinstance(g, tuple) else (g,) for g in (got, want))
for g, w in zip(got, want):
    np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
print("hit" if hit else "miss", "ok")
"""


def _child(program: str, meta: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, program, meta],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _finish(child: subprocess.Popen[str]) -> str:
    out, err = child.communicate(timeout=300)
    assert child.returncode == 0, err
    return out.strip()


def test_two_processes_write_one_entry_at_once_and_a_third_reads_it(cache: Path, tmp_path: Path):
    env = {**os.environ}
    meta = _meta(tmp_path)
    first, second = _child(PROGRAM, meta, env), _child(PROGRAM, meta, env)
    assert {_finish(first), _finish(second)} <= {"miss ok", "hit ok"}
    (entry,) = _entries(cache)  # one whole entry, no temporary file left
    assert entry.suffix == ".bin" and not entry.name.startswith(".tmp")
    assert _finish(_child(PROGRAM, meta, env)) == "hit ok"


RUNAWAY = """#[version = "0.0.5"]
def @f(%x: Tensor[(4), float32]) -> Tensor[(4), float32] {
  add(@f(%x), %x)
}
def @main(%x: Tensor[(4), float32]) -> Tensor[(4), float32] {
  @f(%x)
}
"""


def test_a_cached_recursive_module_keeps_its_depth_check(cache: Path):
    # In a child: were the check lost, the stack overflow would kill it, not pytest. The
    # recursion is not a tail call (a tail call is a loop, and counts no depth).
    env = {**os.environ, "RELAY_OPT_MAX_DEPTH": "300"}
    message = "error recursion too deep: @f called more than 300 levels deep"
    for expected in ("miss", "hit"):
        assert _finish(_child(RUNAWAY, "", env)).startswith(f"{expected} {message}")


OBJECTS = """#[version = "0.0.5"]
def @main(%xs: List[Tensor[(64, 64), float32]]) -> (Tensor[(64, 64), float32], List[Tensor[(64, 64), float32]]) {
  (@hd(%xs), @map(fn (%x: Tensor[(64, 64), float32]) -> Tensor[(64, 64), float32] { negative(%x) }, %xs))
}
"""


def test_a_cached_module_with_objects_converts_and_frees_them(cache: Path):
    """A warm executable takes and returns ADT values, reports a failed match at its position
    and releases its per-call arena, as a fresh one does (it once lost all three: a List
    result was an internal error, and every call's objects leaked)."""
    import resource

    module = load_program(OBJECTS, "relay").module
    xs = [np.full((64, 64), i, np.float32) for i in range(4)]
    cold, _ = _compile(module, opt=0)
    warm, steps = _compile(module, opt=0)
    assert steps == ["compile-cache-lookup", "compile-cache-load"]
    want = interpret(module, [to_adt_list(xs)])
    assert same_value(cold(xs), want) and same_value(warm(xs), want)
    with pytest.raises(RelayError, match="no clause of this match") as info:
        warm([])
    assert info.value.at is not None and "prelude" in str(info.value.at)
    # A call builds 4 list cells and 4 tensors of 16 KiB: 1,000 leaking calls would be 64 MiB.
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(1_000):
        warm(xs)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 5 * 1024


FAILING_MATCH = """#[version = "0.0.5"]
def @main(%xs: List[Tensor[(4), float32]]) -> Tensor[(4), float32] {
  match? (%xs) {
    Cons(%x, _) => %x,
  }
}
"""


def test_a_run_time_error_names_the_position_of_the_module_compiled_not_a_cached_one(
    cache: Path,
):
    """The entry keeps the positions its run-time errors report, so they are part of the
    key: the same text two lines lower, or in another file, is its own entry (it once loaded
    the first one's and reported a.rly:3:3 for both)."""
    lower = FAILING_MATCH.replace("\n", "\n\n\n", 1)
    where = {}
    for name, text in (("a.rly", FAILING_MATCH), ("a.rly", lower), ("b.rly", FAILING_MATCH)):
        module = load_program(text, "relay", filename=name).module
        exe, steps = _compile(module, opt=0)
        assert "compile-cache-store" in steps
        with pytest.raises(RelayError, match="no clause of this match") as info:
            exe([])
        where[(name, text)] = str(info.value.at)
    assert list(where.values()) == ["a.rly:3:3", "a.rly:5:3", "b.rly:3:3"]
    assert len(_entries(cache)) == 3
    # And the same module again is a hit, with its own position.
    module = load_program(lower, "relay", filename="a.rly").module
    warm, steps = _compile(module, opt=0)
    assert steps == ["compile-cache-lookup", "compile-cache-load"]
    with pytest.raises(RelayError, match="no clause of this match") as info:
        warm([])
    assert str(info.value.at) == "a.rly:5:3"
