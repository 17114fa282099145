"""Compiled-module packages: one file that runs later, in another process, without compiling.

A package is a compile-cache entry (runtime/compile_cache.py: the same container, length and
CRC-32 checked) that holds everything itself: the module's object code, the objects of the
kernel library and the thread pool when the code calls them, every weight, and a header
naming what the code needs and was built for: the package ABI version, the CPU name,
features and triple, the entry and its signature (parameter names and types, `?` dims
included, the result type, the ADT definitions those types name), the positions of its
recursive functions (for the depth error), and the names tools give the inputs and results
(an ONNX model's).

`Executable.export_library(path)` (runtime/jit.py) and `relay-compile` write one;
`load_module(path)` reads it back as an Executable: the weights are bound in place from the
file's buffer and the objects handed to MCJIT, no pass and no LLVM optimization runs. A
package built for another CPU or another ABI, or one whose bytes changed, is refused with a
PackageError (an ArgumentError: tools print it as one line and exit 1).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from io import StringIO
from typing import TYPE_CHECKING

from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Attribute

from relay_opt.diagnostics import ArgumentError, SourceLoc, location_of

if TYPE_CHECKING:
    from relay_opt.runtime.jit import Executable

ABI = 1
"""relay-opt's package ABI: bumped when the calling convention of compiled code, the runtime
support it calls (thread pool, objects, depth check) or the header's meaning changes."""

KEY = "relay-opt package"
"""The key field of a package (a cache entry's is its hash)."""


class PackageError(ArgumentError):
    """A package that cannot be used here: unreadable, corrupt, or built for another CPU or
    relay-opt ABI."""


def host() -> dict[str, str]:
    """The CPU a package is built for (and checked against when it is loaded)."""
    from relay_opt.runtime.jit import _llvm

    llvm = _llvm()
    return {
        "cpu": llvm.get_host_cpu_name(),
        "features": llvm.get_host_cpu_features().flatten(),
        "triple": llvm.get_process_triple(),
    }


def _print(thing: Attribute | ModuleOp) -> str:
    from xdsl.printer import Printer

    text = StringIO()
    printer = Printer(stream=text)
    if isinstance(thing, ModuleOp):
        printer.print_op(thing)
    else:
        printer.print_attribute(thing)
    return text.getvalue()


def _type_module(module: ModuleOp) -> ModuleOp:
    """The ADT definitions of `module`, alone in a module (what object values need)."""
    from relay_opt.dialects.relay.adt import TypeDefOp

    return ModuleOp([op.clone() for op in module.ops if isinstance(op, TypeDefOp)])


def export(
    exe: Executable,
    path: str | os.PathLike[str],
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
) -> None:
    """Write `exe` to `path` as a package (whole or not at all: a temporary file beside it,
    then a rename)."""
    parts = encode(exe, input_names, output_names)
    target = os.path.realpath(path)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".tmp-", suffix=".relaymod")
    try:
        with os.fdopen(fd, "wb") as f:
            for part in parts:
                f.write(part)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def encode(
    exe: Executable,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
) -> list[bytes | memoryview]:
    """The bytes of `exe`'s package, as the parts to write in order."""
    from relay_opt.dialects.relay.ir_helpers import functions_by_name
    from relay_opt.runtime import compile_cache, kernel_library, thread_pool

    parts = exe._export
    if parts is None:
        raise ArgumentError(
            "this executable has no object code to export (compiled with profile=True, or "
            "read from a package: copy that file instead)"
        )
    func = functions_by_name(parts.module)[parts.entry]
    names = [a.name_hint or f"arg{i}" for i, a in enumerate(func.args)]
    if input_names is not None and len(input_names) != len(names):
        raise ArgumentError(f"{len(input_names)} input names for {len(names)} parameters")
    positions = {}
    funcs = functions_by_name(parts.module)
    for name in parts.recursive_functions or []:
        where = location_of(funcs[name]) if name in funcs else None  # pyright: ignore[reportArgumentType]
        if where is not None:
            positions[name] = str(where)
    runtime_objects: dict[str, bytes] = {}
    if parts.kernels:
        runtime_objects.update(kernel_library.package_objects(parts.kernels, parts.cache))
    if any(thread_pool.uses_pool(code) for code in (parts.object_code, *runtime_objects.values())):
        runtime_objects[thread_pool.OBJECT] = thread_pool.load().object_code
    header = {
        "abi": ABI,
        **host(),
        "entry": parts.entry,
        "options": parts.options,
        "params": [[n, _print(a.type)] for n, a in zip(names, func.args, strict=True)],
        "result": _print(func.ret_type),
        "types": _print(_type_module(parts.module)),
        "functions": positions,
        "input_names": list(input_names) if input_names is not None else names,
        "output_names": list(output_names) if output_names is not None else None,
    }
    return compile_cache.encode(
        KEY,
        parts.object_code,
        parts.weights,
        (),
        parts.recursive_functions,
        parts.match_failures,
        parts.kernels,
        runtime_objects=runtime_objects,
        package=header,
    )


def load_module(path: str | os.PathLike[str]) -> Executable:
    """The compiled function in the package at `path`, ready to call; nothing is compiled.
    Raises PackageError for a file that is not a package, is corrupt or truncated, or was
    built for another CPU or relay-opt ABI."""
    from relay_opt.runtime import compile_cache

    shown = os.fspath(path)
    try:
        buf = compile_cache.read_aligned(path)
    except OSError as e:
        raise PackageError(f"cannot read '{shown}': {e.strerror or e}") from None
    if buf is None or bytes(buf[: len(compile_cache.MAGIC)]) != compile_cache.MAGIC:
        raise PackageError(f"'{shown}' is not a relay-opt package (relay-compile writes them)")
    try:
        entry = compile_cache.parse(buf, None)
    except compile_cache.CorruptEntry as e:
        raise PackageError(f"'{shown}' is damaged ({e}): compile it again") from None
    except (ValueError, KeyError, TypeError, IndexError):
        raise PackageError(f"'{shown}' is damaged (a malformed header): compile it again") from None
    header = entry.package
    if not isinstance(header, dict):
        raise PackageError(f"'{shown}' is a compile-cache entry, not a package")
    _check_built_for(shown, header)
    return _executable(shown, entry, header)


def _check_built_for(shown: str, header: Mapping[str, object]) -> None:
    if header.get("abi") != ABI:
        raise PackageError(
            f"'{shown}' was built for relay-opt package ABI {header.get('abi')}, this relay-opt "
            f"loads ABI {ABI}: compile it again with this relay-opt"
        )
    here = host()
    if header.get("triple") != here["triple"] or header.get("cpu") != here["cpu"]:
        raise PackageError(
            f"'{shown}' was built for the CPU {header.get('cpu')} ({header.get('triple')}), "
            f"this machine's is {here['cpu']} ({here['triple']}): compile it again here"
        )
    if header.get("features") != here["features"]:
        theirs = set(str(header.get("features", "")).split(","))
        ours = set(here["features"].split(","))
        differ = sorted(theirs ^ ours)[:6]
        raise PackageError(
            f"'{shown}' was built for the CPU {here['cpu']} with other features than this "
            f"machine's ({', '.join(differ)}{', ...' if len(theirs ^ ours) > 6 else ''}): "
            "compile it again here"
        )


def _executable(shown: str, entry, header: Mapping) -> Executable:  # noqa: ANN001
    from xdsl.context import Context
    from xdsl.dialects.builtin import Builtin
    from xdsl.parser import Parser
    from xdsl.utils.exceptions import ParseError

    from relay_opt.dialects.relay import get_relay_dialect
    from relay_opt.runtime.jit import PackageInfo, _specs, from_object

    ctx = Context()  # the signature has Relay's and builtin types only
    ctx.load_dialect(Builtin)
    ctx.load_dialect(get_relay_dialect())
    try:  # the header passed its checksum: a failure here is a package from another writer
        types = Parser(ctx, header["types"], shown).parse_module()
        names = [str(n) for n, _ in header["params"]]
        param_types = [Parser(ctx, t, shown).parse_attribute() for _, t in header["params"]]
        result = Parser(ctx, header["result"], shown).parse_attribute()
        functions: dict[str, object] = {}
        for name, position in header["functions"].items():
            file, line, col = str(position).rsplit(":", 2)
            functions[name] = SourceLoc(file, int(line), int(col))
        options = dict(header["options"])
        opt = int(options["opt"])
        input_names = [str(n) for n in header["input_names"]]
        output_names = header["output_names"]
        entry_name = str(header["entry"])
    except (KeyError, TypeError, ValueError, ParseError):
        raise PackageError(f"'{shown}' has a malformed header: compile it again") from None
    params = [s for n, t in zip(names, param_types, strict=True) for s in _specs(t, n)]
    exe = from_object(entry, entry_name, opt, params, param_types, result, functions, types)
    if exe is None:
        raise PackageError(f"'{shown}': LLVM cannot load its object code: compile it again")
    exe.package = PackageInfo(
        shown,
        entry_name,
        names,
        param_types,
        result,
        input_names,
        None if output_names is None else [str(n) for n in output_names],
        options,
    )
    return exe
