"""The kernel library as objects of their own (runtime/kernel_library.py): modules declare the
GEMM and the JIT adds its routine's object, built once per CPU and cached on disk (reused by
another process, rebuilt when corrupt, in memory only under RELAY_OPT_NO_CACHE; only the
routines a module calls, several at once in children); relay-translate's objects link the
library in; a failed scratch allocation is reported, not a crash."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from xdsl.dialects import llvm as llvm_dialect

from relay_opt import load_program
from relay_opt.lowering.kernels.conv import conv_name
from relay_opt.lowering.kernels.depthwise import depthwise_name
from relay_opt.lowering.kernels.gemm import gemm_name
from relay_opt.lowering.kernels.target import Target
from relay_opt.runtime import compile_cache, jit, kernel_library
from relay_opt.timing import Timings

# 16 x 64 x 32 multiply-adds: above MIN_KERNEL_MACS, so the matmul is a GEMM call.
PROGRAM = """#[version = "0.0.5"]
def @main(%a: Tensor[(16, 64), float32], %b: Tensor[(64, 32), float32]) {
  nn.matmul(%a, %b)
}
"""


def _inputs() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.standard_normal(s).astype(np.float32) for s in ((16, 64), (64, 32))]


def _module():  # noqa: ANN202
    return load_program(PROGRAM, "relay").module


GEMM = gemm_name(Target.host())
"""The routine PROGRAM calls."""


@pytest.fixture
def own_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """A fresh cache directory and no library in this process's memory (restored after);
    builds of the GEMM return its real object and are counted instead of redone (LLVM's
    second), all in this process (prefetch off)."""
    real = kernel_library.library_objects([GEMM])[GEMM]  # this process's, built or loaded once
    saved = dict(kernel_library._objects)
    kernel_library.forget_loaded()
    monkeypatch.setenv("RELAY_OPT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("RELAY_OPT_NO_CACHE", raising=False)
    builds: list[str] = []

    def build(target: Target, name: str) -> bytes:
        assert target == Target.host() and name == GEMM
        builds.append(name)
        return real

    monkeypatch.setattr(kernel_library, "build_routine", build)
    # Builds are counted in this process: no child builds ahead (see the prefetch test).
    monkeypatch.setattr(kernel_library, "prefetch", lambda *args, **kwargs: None)
    yield tmp_path / "cache", builds, real
    kernel_library.forget_loaded()
    kernel_library._objects.update(saved)


def _library_entries(cache: Path) -> list[Path]:
    folder = cache / compile_cache.KERNELS
    return sorted(folder.iterdir()) if folder.exists() else []


def test_modules_declare_the_gemm_and_the_library_object_defines_it():
    lowered = jit.lower_to_llvm(_module(), level=1)
    [routine] = [
        op for op in lowered.ops if isinstance(op, llvm_dialect.FuncOp) and op.sym_name.data == GEMM
    ]
    assert not routine.body.blocks  # a declaration: no per-module LLVM work on the routine
    assert kernel_library.called_kernels(lowered) == [GEMM]
    assert jit._likely_kernels(_module()) == [GEMM]
    exe = jit.compile(_module(), opt=1, cache=False)
    a, b = _inputs()
    np.testing.assert_allclose(exe(a, b), a.astype(np.float64) @ b, rtol=1e-5, atol=1e-5)


def test_the_library_is_built_once_stored_and_read_back(own_library):  # noqa: ANN001
    cache, builds, real = own_library
    timings = Timings()
    assert kernel_library.library_objects([GEMM], timings=timings) == {GEMM: real}
    assert [n for n, _ in timings.rows] == ["kernel-library-load", "kernel-library-build"]
    [entry] = _library_entries(cache)  # the GEMM's only: the routine asked for
    assert entry.name == kernel_library.library_key(Target.host(), GEMM) + ".bin"
    assert kernel_library.library_objects([GEMM]) == {GEMM: real} and len(builds) == 1  # memoized
    kernel_library.forget_loaded()
    timings = Timings()
    assert kernel_library.library_objects([GEMM], timings=timings) == {GEMM: real}
    assert [n for n, _ in timings.rows] == ["kernel-library-load"] and len(builds) == 1


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_corrupt_library_entry_is_rebuilt_and_replaced(own_library, damage: str):  # noqa: ANN001
    cache, builds, real = own_library
    kernel_library.library_objects([GEMM])
    [entry] = _library_entries(cache)
    data = bytearray(entry.read_bytes())
    if damage == "truncate":
        del data[len(data) // 2 :]
    else:
        data[-100] ^= 0xFF
    entry.write_bytes(bytes(data))
    kernel_library.forget_loaded()
    assert kernel_library.library_objects([GEMM]) == {GEMM: real} and len(builds) == 2
    key = kernel_library.library_key(Target.host(), GEMM)
    loaded = compile_cache.load(key, compile_cache.KERNELS)
    assert loaded is not None and loaded.object_code == real


def test_no_cache_builds_in_memory_and_compiles(own_library, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN001
    cache, builds, _ = own_library
    monkeypatch.setenv("RELAY_OPT_NO_CACHE", "1")
    exe = jit.compile(_module(), opt=0)
    a, b = _inputs()
    np.testing.assert_allclose(exe(a, b), a.astype(np.float64) @ b, rtol=1e-5, atol=1e-5)
    assert len(builds) == 1 and not cache.exists()


def test_the_key_covers_the_toolchain_and_the_kernel_sources(monkeypatch: pytest.MonkeyPatch):
    root = Path(kernel_library.__file__).resolve().parent.parent
    sources = compile_cache._source_files(kernel_library.LIBRARY_SOURCES)
    assert root / "lowering" / "kernels" / "gemm.py" in sources
    assert all(p.is_file() for p in sources)
    host = Target.host()
    before = kernel_library.library_key(host, GEMM)
    other = Target(vector_bits=512 if host.vector_bits != 512 else 256)
    assert kernel_library.library_key(other, gemm_name(other)) != before
    assert kernel_library.library_key(host, conv_name(host)) != before  # one entry per routine
    with pytest.raises(ValueError, match="no routine"):
        kernel_library.library_key(host, "relay_opt_no_such_routine")
    monkeypatch.setattr(compile_cache, "machine", lambda: "another toolchain")
    assert kernel_library.library_key(host, GEMM) != before
    monkeypatch.undo()
    # An edited kernel generator is a new key; an edit elsewhere (a pass) is not.
    real = compile_cache.source_hash.__wrapped__
    edited = root / "lowering" / "kernels" / "gemm.py"

    def hash_with_edit(paths=None, changed=edited):  # noqa: ANN001, ANN202
        files = (
            compile_cache._source_files() if paths is None else compile_cache._source_files(paths)
        )
        return real(paths) + ("+edit" if changed in files else "")

    monkeypatch.setattr(compile_cache, "source_hash", hash_with_edit)
    assert kernel_library.library_key(host, GEMM) != before
    monkeypatch.setattr(
        compile_cache,
        "source_hash",
        lambda paths=None: hash_with_edit(paths, root / "passes" / "fuse_ops.py"),
    )
    assert kernel_library.library_key(host, GEMM) == before


def test_building_the_library_imports_only_its_key_sources():
    """The key hashes LIBRARY_SOURCES only: a module that building the library's IR imports
    and that is not among them (nor known to leave the object unchanged) would let a stale
    object be used after it changed. A fresh process, so that nothing is imported yet."""
    code = (
        "import sys\n"
        "from relay_opt.runtime import kernel_library as k\n"
        "from relay_opt.lowering.kernels.target import Target\n"
        "k.library_ir(Target.host())\n"
        "for m in sorted(sys.modules):\n"
        "    f = getattr(sys.modules[m], '__file__', None)\n"
        "    if m.startswith('relay_opt') and f: print(f)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    ).stdout.split()
    root = Path(kernel_library.__file__).resolve().parent.parent
    covered = set(compile_cache._source_files(kernel_library.LIBRARY_SOURCES))
    # Imported by the JIT for its own work (types, diagnostics, timing, the cache itself);
    # the library's IR does not depend on them.
    unrelated = {
        root / p
        for p in (
            "__init__.py",
            "diagnostics.py",
            "timing.py",
            "runtime/compile_cache.py",
            "dialects/relay/core.py",
            "dialects/relay/ir_helpers.py",
            "dialects/relay/numpy_dtypes.py",
            "dialects/relay/types.py",
        )
    }
    imported = {Path(f).resolve() for f in out}
    imported = {p for p in imported if p.name != "__init__.py" or p.parent == root}
    assert imported - covered - unrelated == set()


def _child_env(cache: Path) -> dict[str, str]:
    """The environment of a child process whose cache directory `cache` holds this
    process's GEMM object (as a build would have left it)."""
    key = kernel_library.library_key(Target.host(), GEMM)
    [code] = kernel_library.library_objects([GEMM]).values()
    os.environ["RELAY_OPT_CACHE_DIR"], saved = str(cache), os.environ["RELAY_OPT_CACHE_DIR"]
    try:
        assert compile_cache.save(key, code, [], [], None, folder=compile_cache.KERNELS)
    finally:
        os.environ["RELAY_OPT_CACHE_DIR"] = saved
    env = {**os.environ, "RELAY_OPT_CACHE_DIR": str(cache)}
    env.pop("RELAY_OPT_NO_CACHE", None)
    return env


def test_another_process_reads_the_library_instead_of_building(tmp_path: Path):
    child = (
        "from relay_opt.runtime.kernel_library import library_objects\n"
        "from relay_opt.timing import Timings\n"
        f"t = Timings(); library_objects([{GEMM!r}], timings=t); print([n for n, _ in t.rows])\n"
    )
    env = _child_env(tmp_path)
    r = subprocess.run([sys.executable, "-c", child], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "['kernel-library-load']"


def test_a_cached_module_gets_the_library_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("RELAY_OPT_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("RELAY_OPT_NO_CACHE", raising=False)
    a, b = _inputs()
    for expected in ("llvm-codegen", "compile-cache-load"):
        timings = Timings()
        exe = jit.compile(_module(), opt=0, timings=timings)
        assert expected in [n for n, _ in timings.rows]
        np.testing.assert_allclose(exe(a, b), a.astype(np.float64) @ b, rtol=1e-5, atol=1e-5)


def test_a_failed_scratch_allocation_is_an_error_not_a_crash(tmp_path: Path):
    # In a child: malloc, as the JIT resolves it, fails for the packed GEMM's scratch (the
    # only allocation of this size), and the call must raise the out-of-memory error.
    child = f"""
import ctypes, numpy as np
from relay_opt.runtime.jit import _llvm
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
@ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_size_t)
def failing(size):
    return None if size > 8192 else libc.malloc(size)
_llvm().add_symbol("malloc", ctypes.cast(failing, ctypes.c_void_p).value)
from relay_opt import load_program
from relay_opt.diagnostics import RelayError
from relay_opt.runtime.jit import compile
exe = compile(load_program({PROGRAM!r}, "relay").module, opt=0)
a, b = np.ones((16, 64), np.float32), np.ones((64, 32), np.float32)
try:
    exe(a, b)
except RelayError as e:
    print("raised:", e.message)
"""
    env = _child_env(tmp_path)  # the library is loaded (after malloc is replaced), not built
    r = subprocess.run([sys.executable, "-c", child], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "raised: out of memory: a kernel could not allocate" in r.stdout, r.stdout


DRIVER = r"""#include <stdio.h>
void relay_main(const float *a, const float *b, float *out0);
int main(void) {
  static float a[16 * 64], b[64 * 32], out[16 * 32];
  FILE *f = fopen(%(inputs)s, "rb");
  if (!f || fread(a, sizeof a, 1, f) != 1 || fread(b, sizeof b, 1, f) != 1) return 3;
  fclose(f);
  relay_main(a, b, out);
  fwrite(out, sizeof out, 1, stdout);
  return 0;
}
"""


def test_an_emitted_object_calling_the_gemm_links_and_runs(tmp_path: Path):
    from relay_opt.runtime.native_object import emit_object, native_module

    cc = shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler (cc) on PATH to link the object with")
    module = _module()
    name = gemm_name(Target.host())
    linked = native_module(module, opt=1)
    assert any(f.name == name and not f.is_declaration for f in linked.functions) or not any(
        f.name == name for f in linked.functions
    )  # defined inside (or inlined away), never left to a library
    obj = tmp_path / "m.o"
    obj.write_bytes(emit_object(module, opt=1))
    a, b = _inputs()
    (tmp_path / "in.bin").write_bytes(a.tobytes() + b.tobytes())
    (tmp_path / "driver.c").write_text(DRIVER % {"inputs": f'"{tmp_path / "in.bin"}"'})
    exe = tmp_path / "driver"
    subprocess.run([cc, str(tmp_path / "driver.c"), str(obj), "-o", str(exe)], check=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True).stdout
    got = np.frombuffer(out, "<f4").reshape(16, 32)
    np.testing.assert_allclose(got, a.astype(np.float64) @ b, rtol=1e-5, atol=1e-5)


def test_a_cold_compile_builds_the_library_in_a_child_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """prefetch: the library is built by a forked child while the module is lowered; the
    compile waits for it (no build of its own) and stores it as a build would."""
    saved = dict(kernel_library._objects)
    kernel_library.forget_loaded()
    monkeypatch.setenv("RELAY_OPT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("RELAY_OPT_NO_CACHE", raising=False)
    monkeypatch.delenv("RELAY_OPT_LLVM_IN_PROCESS", raising=False)
    try:
        timings = Timings()
        exe = jit.compile(_module(), opt=1, timings=timings)
        steps = [n for n, _ in timings.rows]
        assert "kernel-library-wait" in steps and "kernel-library-build" not in steps
        a, b = _inputs()
        np.testing.assert_allclose(exe(a, b), a.astype(np.float64) @ b, rtol=1e-5, atol=1e-5)
        [entry] = _library_entries(tmp_path / "cache")  # the GEMM only: what it calls
        assert entry.name == kernel_library.library_key(Target.host(), GEMM) + ".bin"
        # With the routine on disk (or in memory) nothing is started again.
        kernel_library.prefetch([GEMM])
        assert not kernel_library._pending
    finally:
        kernel_library.forget_loaded()
        kernel_library._objects.update(saved)


def test_routines_missing_together_are_built_together_in_children(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Two routines neither in memory nor on disk are built at once, each by a child of its
    own (a stand-in build that names the process it ran in), and each is stored."""
    if not hasattr(os, "fork"):
        pytest.skip("no fork here: the routines are built in this process")
    saved = dict(kernel_library._objects)
    kernel_library.forget_loaded()
    monkeypatch.setenv("RELAY_OPT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("RELAY_OPT_NO_CACHE", raising=False)
    monkeypatch.delenv("RELAY_OPT_LLVM_IN_PROCESS", raising=False)
    monkeypatch.setattr(
        kernel_library, "build_routine", lambda _t, name: f"{name} in {os.getpid()}".encode()
    )
    host = Target.host()
    names = [GEMM, conv_name(host)]
    try:
        timings = Timings()
        built = kernel_library.library_objects(names, timings=timings)
        assert list(built) == names
        for name, code in built.items():
            routine, _, pid = code.decode().partition(" in ")
            assert routine == name and int(pid) != os.getpid()
        assert [n for n, _ in timings.rows].count("kernel-library-wait") == 2
        assert len(_library_entries(tmp_path / "cache")) == 2
        kernel_library.forget_loaded()
        assert kernel_library.library_objects(names) == built  # read back, not built
    finally:
        kernel_library.forget_loaded()
        kernel_library._objects.update(saved)


CONVS = """#[version = "0.0.5"]
def @main(%x: Tensor[(1, 16, 8, 8), float32], %d: Tensor[(16, 1, 3, 3), float32],
          %w: Tensor[(16, 16, 1, 1), float32]) {
  nn.conv2d(nn.conv2d(%x, %d, padding=[1, 1, 1, 1], groups=16), %w)
}
"""


def test_a_cold_compile_starts_the_routines_its_operators_will_call():
    """prefetch's guess from the Relay operators: the conv for a conv2d, the depthwise one
    too for a grouped conv2d, the GEMM for a matmul (PROGRAM's, in the first test)."""
    host = Target.host()
    module = load_program(CONVS, "relay").module
    assert jit._likely_kernels(module) == sorted([conv_name(host), depthwise_name(host)])
