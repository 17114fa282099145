"""Compiled-module packages (runtime/package.py): relay-compile and export_library write one,
relay-run and load_module run it in a new process without compiling, and a package that is
damaged or built for another CPU or ABI is refused with a one-line error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from relay_opt.runtime import compile_cache, kernel_library, package

# dense and conv2d call the kernel library: its object must travel in the package.
CNN = """#[version = "0.0.5"]
def @main(%x: Tensor[(1, 8, 10, 10), float32], %w: Tensor[(16, 8, 3, 3), float32],
          %d: Tensor[(10, 400), float32]) {
  %0 = nn.relu(nn.conv2d(%x, %w, padding=[1, 1, 1, 1]));
  %1 = nn.max_pool2d(%0, pool_size=[2, 2], strides=[2, 2]);
  nn.softmax(nn.dense(reshape(%1, newshape=[1, 400]), %d))
}
"""

# A recursive function returning a List: objects and the depth check cross the package.
LISTS = """#[version = "0.0.5"]
def @count(%n: int32, %x: Tensor[(3), float32]) -> List[Tensor[(3), float32]] {
  if (%n <= 0) { Nil } else { Cons(multiply(%x, 2f), @count(%n - 1, %x)) }
}
def @main(%n: int32, %x: Tensor[(3), float32]) -> List[Tensor[(3), float32]] {
  @count(%n, %x)
}
"""


def tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=600)


def saved(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


@pytest.fixture(scope="module")
def cnn(tmp_path_factory) -> tuple[Path, Path, Path]:
    """The CNN's source, its package (relay-compile) and inputs."""
    folder = tmp_path_factory.mktemp("cnn")
    source = folder / "cnn.rly"
    source.write_text(CNN)
    rng = np.random.default_rng(0)
    inputs = folder / "in.npz"
    np.savez(
        inputs,
        x=rng.standard_normal((1, 8, 10, 10), np.float32),
        w=rng.standard_normal((16, 8, 3, 3), np.float32),
        d=rng.standard_normal((10, 400), np.float32) * 0.05,
    )
    built = folder / "cnn.relaymod"
    r = tool("relay-compile", str(source), "-o", str(built))
    assert r.returncode == 0, r.stderr
    return source, built, inputs


def test_relay_compile_then_relay_run_gives_relay_runs_numbers(cnn, tmp_path: Path):
    source, built, inputs = cnn
    from_package, from_source = tmp_path / "p.npz", tmp_path / "s.npz"
    r = tool("relay-run", str(built), "-i", str(inputs), "-o", str(from_package))
    assert r.returncode == 0, r.stderr
    assert "result[0]: 1x10xfloat32" in r.stdout
    r = tool("relay-run", str(source), "-i", str(inputs), "-o", str(from_source))
    assert r.returncode == 0, r.stderr
    got, want = saved(from_package), saved(from_source)
    assert list(got) == ["output_0"]
    np.testing.assert_array_equal(got["output_0"], want["output_0"])  # the same machine code
    # ... and the reference interpreter's numbers.
    r = tool("relay-run", str(source), "-i", str(inputs), "--interpret", "--expected",
             str(from_package), "--rtol", "1e-4", "--atol", "1e-5")  # fmt: skip
    assert r.returncode == 0 and "[SUCCESS]" in r.stdout, r.stdout + r.stderr


def test_the_package_holds_the_kernel_library_and_every_weight(cnn):
    _, built, _ = cnn
    entry = compile_cache.parse(compile_cache.read_aligned(built), None)  # pyright: ignore[reportArgumentType]
    assert entry.kernels
    # The objects of the routines it calls (the conv and the GEMM), not the whole library.
    routines = sorted(f"{kernel_library.OBJECT}/{name}" for name in entry.kernels)
    assert sorted(entry.runtime_objects) == [*routines, "thread-pool"]
    assert all(code.startswith(b"\x7fELF") for code in entry.runtime_objects.values())
    header = entry.package
    assert header is not None and header["abi"] == package.ABI
    assert header["params"] == [
        ["x", "tensor<1x8x10x10xf32>"],
        ["w", "tensor<16x8x3x3xf32>"],
        ["d", "tensor<10x400xf32>"],
    ]
    assert header["cpu"] == package.host()["cpu"]


LOAD_AND_RUN = """
import sys, time
import numpy as np
start = time.perf_counter()
from relay_opt.runtime import load_module
import relay_opt.runtime.jit as jit
jit.lower_to_llvm = None  # loading must not compile: any use of the lowering fails
jit.optimize = None
exe = load_module(sys.argv[1])
with np.load(sys.argv[2]) as f:
    inputs = {k: f[k] for k in f.files}
result = exe(**inputs)
leaves = result if isinstance(result, list) else [result]
np.savez(sys.argv[3], *leaves)
print(time.perf_counter() - start)
"""


def test_export_library_and_load_module_in_a_new_process(tmp_path: Path):
    import relay_opt
    from relay_opt.runtime.jit import compile

    program = relay_opt.load_program(CNN, "relay")
    exe = compile(program.module, cache=False)
    built = tmp_path / "api.relaymod"
    exe.export_library(built)
    rng = np.random.default_rng(1)
    inputs = {
        "x": rng.standard_normal((1, 8, 10, 10), np.float32),
        "w": rng.standard_normal((16, 8, 3, 3), np.float32),
        "d": rng.standard_normal((10, 400), np.float32) * 0.05,
    }
    np.savez(tmp_path / "in.npz", **inputs)  # pyright: ignore[reportArgumentType]
    r = tool(sys.executable, "-c", LOAD_AND_RUN, str(built), str(tmp_path / "in.npz"),
             str(tmp_path / "out.npz"))  # fmt: skip
    assert r.returncode == 0, r.stderr
    np.testing.assert_array_equal(saved(tmp_path / "out.npz")["arr_0"], exe(**inputs))


DENSE = """#[version = "0.0.5"]
def @main(%x: Tensor[(4, 64), float32], %w: Tensor[(32, 64), float32]) {
  nn.relu(nn.dense(%x, %w))
}
"""


def test_a_package_holding_the_library_as_one_object_still_loads(tmp_path: Path):
    # Packages written before the library was split per routine hold it as one object named
    # `kernel-library`, not `kernel-library/<routine>`: the loader must still link it.
    import relay_opt
    from relay_opt.runtime.jit import compile

    exe = compile(relay_opt.load_program(DENSE, "relay").module)
    built, old = tmp_path / "new.relaymod", tmp_path / "old.relaymod"
    exe.export_library(built)
    entry = compile_cache.parse(compile_cache.read_aligned(built), None)  # pyright: ignore[reportArgumentType]
    routines = [n for n in entry.runtime_objects if n.startswith(f"{kernel_library.OBJECT}/")]
    assert len(routines) == 1  # the GEMM
    objects = {
        kernel_library.OBJECT if n in routines else n: code
        for n, code in entry.runtime_objects.items()
    }
    _rewritten(built, old, runtime_objects=objects)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 64), np.float32)
    w = rng.standard_normal((32, 64), np.float32)
    np.testing.assert_array_equal(package.load_module(old)(x=x, w=w), exe(x=x, w=w))


RELAY_RUN_WITHOUT_A_COMPILER = """
import sys
import relay_opt.runtime.jit as jit
jit.lower_to_llvm = None  # running a package must not compile: any use of the lowering fails
jit.optimize = None
from relay_opt.tools.relay_run import main
sys.exit(main(sys.argv[1:]))
"""


def test_relay_run_of_a_package_compiles_nothing(cnn, tmp_path: Path):
    _, built, inputs = cnn
    out = tmp_path / "out.npz"
    r = tool(sys.executable, "-c", RELAY_RUN_WITHOUT_A_COMPILER, str(built), "-i", str(inputs),
             "-o", str(out))  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert saved(out)["output_0"].shape == (1, 10)


def test_adt_results_and_recursion_through_a_package(tmp_path: Path):
    import relay_opt
    from relay_opt.runtime.jit import compile
    from relay_opt.runtime.values import from_adt_list

    exe = compile(relay_opt.load_program(LISTS, "relay").module)
    exe.export_library(tmp_path / "lists.relaymod")
    loaded = package.load_module(tmp_path / "lists.relaymod")
    x = np.array([1.0, -2.0, 0.5], np.float32)
    got = from_adt_list(loaded(np.int32(3), x))  # pyright: ignore[reportArgumentType]
    assert len(got) == 3 and all(np.array_equal(g, 2 * x) for g in got)
    # The depth check travels too: runaway recursion is the located error, not a crash.
    np.savez(tmp_path / "deep.npz", n=np.int32(100000), x=x)
    r = tool("relay-run", str(tmp_path / "lists.relaymod"), "-i", str(tmp_path / "deep.npz"))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "recursion too deep: @count" in r.stderr
    assert "<relay>:2:1" in r.stderr  # @count's definition


def test_an_onnx_package_keeps_input_names_output_names_and_dynamic_dims(tmp_path: Path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["data"], ["y"]), helper.make_node("Neg", ["y"], ["out"])],
        "g",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, ["batch", 3])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["batch", 3])],
    )
    model = tmp_path / "m.onnx"
    onnx.save_model(helper.make_model(graph), str(model))
    built = tmp_path / "m.relaymod"
    r = tool("relay-compile", str(model), "-o", str(built))
    assert r.returncode == 0, r.stderr
    data = np.linspace(-1, 1, 15, dtype=np.float32).reshape(5, 3)
    np.savez(tmp_path / "in.npz", data=data)
    r = tool("relay-run", str(built), "-i", str(tmp_path / "in.npz"), "-o", str(tmp_path / "o.npz"))
    assert r.returncode == 0, r.stderr
    np.testing.assert_array_equal(saved(tmp_path / "o.npz")["out"], -np.maximum(data, 0))
    r = tool("relay-run", str(built), "--fill-mode", "ones", "--input-shape", "data=2,3")
    assert r.returncode == 0 and "result[0]: 2x3xfloat32" in r.stdout, r.stderr


def _rewritten(
    source: Path, target: Path, runtime_objects: dict[str, bytes] | None = None, **changes: object
) -> None:
    """A copy of a package with header fields (or its runtime objects) changed and a valid
    checksum: what a package built elsewhere, or by an older relay-opt, looks like."""
    entry = compile_cache.parse(compile_cache.read_aligned(source), None)  # pyright: ignore[reportArgumentType]
    header = {**(entry.package or {}), **changes}
    parts = compile_cache.encode(
        package.KEY,
        entry.object_code,
        entry.weights,
        (),
        entry.recursive_functions,
        entry.match_failures,
        entry.kernels,
        runtime_objects=entry.runtime_objects if runtime_objects is None else runtime_objects,
        package=header,
    )
    target.write_bytes(b"".join(bytes(p) for p in parts))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"cpu": "pentium-mmx"}, "was built for the CPU pentium-mmx"),
        ({"features": "+sse2,-avx"}, "with other features than this machine's"),
        ({"abi": package.ABI + 1}, f"package ABI {package.ABI + 1}, this relay-opt loads ABI"),
    ],
)
def test_a_package_for_another_cpu_or_abi_is_refused(cnn, tmp_path: Path, changes, message):
    _, built, inputs = cnn
    other = tmp_path / "other.relaymod"
    _rewritten(built, other, **changes)
    r = tool("relay-run", str(other), "-i", str(inputs))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.startswith("relay-run: error: '") and message in r.stderr, r.stderr
    with pytest.raises(package.PackageError, match=message):
        package.load_module(other)


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty", "cache-entry", "garbage"])
def test_a_damaged_package_is_refused(cnn, tmp_path: Path, damage: str):
    _, built, inputs = cnn
    data = bytearray(built.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0x40
    elif damage == "truncate":
        del data[-100:]
    elif damage == "empty":
        data = bytearray()
    elif damage == "garbage":
        data = bytearray(b"\x7fELF not a package at all")
    bad = tmp_path / "bad.relaymod"
    if damage == "cache-entry":
        _rewritten(built, bad)
        entry = compile_cache.parse(compile_cache.read_aligned(bad), None)  # pyright: ignore[reportArgumentType]
        parts = compile_cache.encode("k", entry.object_code, entry.weights, (), None)
        data = bytearray(b"".join(bytes(p) for p in parts))
    bad.write_bytes(bytes(data))
    r = tool("relay-run", str(bad), "-i", str(inputs))
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1 and str(bad) in r.stderr, r.stderr
    with pytest.raises(package.PackageError):
        package.load_module(bad)


def test_relay_run_refuses_options_that_need_the_program(cnn):
    _, built, inputs = cnn
    for extra in (["--interpret"], ["--profile"], ["-O", "1"], ["--fp-policy", "strict"]):
        r = tool("relay-run", str(built), "-i", str(inputs), *extra)
        assert r.returncode == 1 and "Traceback" not in r.stderr
        assert r.stderr.startswith("relay-run: error:"), r.stderr
    r = tool("relay-run", str(built), "-i", str(inputs), "-O", "3", "--threads", "1",
             "--repeat", "2", "--print-time", "--print-top", "3")  # fmt: skip
    assert r.returncode == 0 and "Execution time summary" in r.stdout, r.stderr


def test_relay_compile_errors_are_located_and_write_nothing(tmp_path: Path):
    bad = tmp_path / "bad.rly"
    bad.write_text('#[version = "0.0.5"]\ndef @main(%x: Tensor[(3), float32]) { add(%x, }\n')
    out = tmp_path / "out.relaymod"
    r = tool("relay-compile", str(bad), "-o", str(out))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert f"{bad}:2:" in r.stderr and not out.exists()
    good = tmp_path / "good.rly"
    good.write_text('#[version = "0.0.5"]\ndef @main(%x: Tensor[(3), float32]) { exp(%x) }\n')
    r = tool("relay-compile", str(good), "--entry", "nope", "-o", str(out))
    assert r.returncode == 1 and "no function @nope" in r.stderr
    assert sorted(tmp_path.iterdir()) == sorted([bad, good])  # no package, no temporary file
