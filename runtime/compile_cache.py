"""The compile cache: each compiled module's object code on disk, so a warm start skips the
whole lowering and LLVM.

An entry is keyed by a hash of everything that decides the machine code: the Relay module as
loaded (its printed text, the source positions of its ops, which the run-time errors the
entry keeps report, and a content hash of every weight it names), the entry function
and the compile options, the CPU's name and features, the versions of LLVM, llvmlite, xDSL
and numpy, relay-opt's own source files (so a changed lowering never reads a stale entry) and
the `RELAY_OPT_*` environment that is not known to be irrelevant. An entry holds the object
code, the names of the external globals the code reads (the weights) with their data where
the input module does not have it (weights folded or re-laid at compile time), the
functions of the native recursion-depth check, and the kernel-library routines the code
calls (runtime/kernel_library.py adds the library's object, itself an entry of this format
under `kernels/`, keyed by the toolchain and the target).

The directory is `$RELAY_OPT_CACHE_DIR`, else `$XDG_CACHE_HOME/relay-opt`, else
`~/.cache/relay-opt`; `RELAY_OPT_NO_CACHE=1` (or `compile(..., cache=False)`, `relay-run
--no-cache`) turns it off. Entries are written to a temporary file and renamed into place,
so two processes writing one entry leave one whole entry; an entry that is truncated or
corrupt fails its length and checksum test and is compiled again and replaced, never read.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
from xdsl.dialects.builtin import DenseResourceAttr, FileLineColLoc, ModuleOp, NameLoc
from xdsl.ir import Attribute

FORMAT = 5
"""Bumped when the entry layout or what the key covers changes."""

MAGIC = b"relay-opt compile cache\n"
_ALIGN = 64  # weights are read in place: the lowering declares their globals 64-byte aligned

# Environment variables that cannot change the code: not part of the key.
_RUNTIME_ONLY = {
    "RELAY_OPT_CACHE_DIR",
    "RELAY_OPT_NO_CACHE",
    "RELAY_OPT_VERIFY_EACH",
    "RELAY_OPT_TRACEBACK",
    "RELAY_OPT_LLVM_IN_PROCESS",
    "RELAY_OPT_MAX_DEPTH",
    "RELAY_OPT_NUM_THREADS",
}


def cache_dir() -> Path:
    """Where entries live (the directory may not exist yet)."""
    explicit = os.environ.get("RELAY_OPT_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "relay-opt"


def enabled(requested: bool = True) -> bool:
    """Whether to use the cache: asked for, and not turned off by RELAY_OPT_NO_CACHE."""
    return requested and os.environ.get("RELAY_OPT_NO_CACHE", "") in ("", "0")


def _source_files(
    paths: tuple[str, ...] = ("", "dialects", "passes", "lowering", "runtime"),
) -> list[Path]:
    """relay-opt's compiler sources, in a fixed order: every .py file of the folders `paths`
    (the root's own files for ""; a path ending .py is that file)."""
    root = Path(__file__).resolve().parent.parent
    files: list[Path] = []
    for folder in paths:
        if folder.endswith(".py"):
            files.append(root / folder)
            continue
        pattern = "*.py" if folder == "" else "**/*.py"
        files += [p for p in sorted((root / folder).glob(pattern)) if p.is_file()]
    return files


@cache
def source_hash(paths: tuple[str, ...] | None = None) -> str:
    """A hash of relay-opt's compiler sources (of `paths` only, when given): a changed pass or
    lowering is a new key even where the version number stayed (an editable install)."""
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for path in _source_files() if paths is None else _source_files(paths):
        h.update(str(path.relative_to(root)).encode() + b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()


@cache
def _toolchain() -> str:
    """What, besides the module and options, decides the code: versions, the CPU and
    relay-opt's own code (its version says less)."""
    return json.dumps({"machine": machine(), "sources": source_hash()}, sort_keys=True)


@cache
def machine() -> str:
    """The toolchain but relay-opt's sources: versions and the CPU."""
    import llvmlite
    import llvmlite.binding as llvm
    import xdsl

    llvm.initialize_native_target()
    return json.dumps(
        {
            "format": FORMAT,
            "llvm": list(llvm.llvm_version_info),
            "llvmlite": llvmlite.__version__,
            # xDSL's version is slow to ask (package metadata): its install stands for it.
            "xdsl": [xdsl.__file__, os.stat(xdsl.__file__ or "").st_mtime_ns],
            "numpy": np.__version__,
            "python": list(sys.version_info[:2]),
            "cpu": llvm.get_host_cpu_name(),
            "features": llvm.get_host_cpu_features().flatten(),
            "triple": llvm.get_process_triple(),
        },
        sort_keys=True,
    )


def resource_names(module: ModuleOp) -> list[str]:
    """The weights a module names (`dense_resource` handles), each once, in order of use."""
    names: dict[str, None] = {}
    for op in module.walk():
        for value in (*op.properties.values(), *op.attributes.values()):
            if isinstance(value, DenseResourceAttr):
                names[value.resource_handle.data] = None
    return list(names)


def module_key(module: ModuleOp, entry: str, options: Mapping[str, object]) -> str:
    """The cache key of compiling `entry` of `module` with `options` on this machine."""
    from io import StringIO

    from xdsl.printer import Printer

    from relay_opt.dialects.relay.resources import content_digest

    text = StringIO()
    Printer(stream=text).print_op(module)
    env = {k: v for k, v in os.environ.items() if k.startswith("RELAY_OPT_")}
    for k in _RUNTIME_ONLY:
        env.pop(k, None)
    head = json.dumps(
        {
            "toolchain": _toolchain(),
            "entry": entry,
            "options": {k: repr(v) for k, v in sorted(options.items())},
            "env": sorted(env.items()),
            "weights": [(n, content_digest(n)) for n in resource_names(module)],
        },
        sort_keys=True,
    )
    h = hashlib.sha256(head.encode())
    h.update(b"\0")
    h.update(text.getvalue().encode())
    # The printed text has no source positions, but the entry keeps the ones its run-time
    # errors report (Entry.match_failures): the same text at other lines, in another file
    # or from another ONNX node is another entry, so no error names a stale position.
    for op in module.walk():
        h.update(b"\0")
        h.update(_position_text(op.location).encode())
    return h.hexdigest()


def _position_text(loc: Attribute) -> str:
    """A location as text; the common kinds without the printer (10x faster: 0.06 s for the
    20,000 ops of a long chain, against 2 s for the whole key)."""
    if isinstance(loc, FileLineColLoc):
        return f"{loc.filename.data}:{loc.line.data}:{loc.column.data}"
    if isinstance(loc, NameLoc):
        return f"{loc.desc.data}({_position_text(loc.location)})"
    return str(loc)


@dataclass
class Entry:
    """What a cached module needs to run: its object code and the arrays to bind."""

    object_code: bytes
    weights: list[tuple[str, np.ndarray]]
    """(symbol, array): each external global the code reads, with the array to bind it to."""
    recursive_functions: list[str] | None
    """The functions of the recursion-depth check (None: the module has no recursion)."""
    match_failures: list[str]
    """The position of each `match` that can fail, by error code (docs/native-objects.md)."""
    kernels: list[str]
    """The kernel-library routines the code calls (the library object must be added)."""
    runtime_objects: dict[str, bytes] = field(default_factory=dict)
    """A package's objects of the kernel library and the thread pool, by name (a cache
    entry has none: the process builds or loads its own)."""
    package: dict | None = None
    """A package's header (runtime/package.py); None in a cache entry."""


MODULES = "modules"
KERNELS = "kernels"
"""The folders of the cache directory: compiled modules, compiled kernel libraries."""


def entry_path(key: str, folder: str = MODULES) -> Path:
    return cache_dir() / folder / f"{key}.bin"


def _pad(n: int) -> int:
    return -n % _ALIGN


def save(
    key: str,
    object_code: bytes,
    weights: Iterable[tuple[str, np.ndarray]],
    input_weights: Iterable[str],
    recursive_functions: list[str] | None,
    match_failures: list[str] | None = None,
    kernels: Iterable[str] = (),
    folder: str = MODULES,
) -> bool:
    """Write an entry; weights named in `input_weights` (the input module's own) are not
    copied: a warm start finds them in the module it loaded. Returns whether it was written
    (an unwritable cache directory only costs the next start its compile)."""
    parts = encode(
        key, object_code, weights, input_weights, recursive_functions, match_failures, kernels
    )
    path = entry_path(key, folder)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".bin")
        try:
            with os.fdopen(fd, "wb") as f:
                for part in parts:
                    f.write(part)
            os.replace(tmp, path)  # atomic: a reader sees the old entry or the new, whole
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        return False
    return True


def encode(
    key: str,
    object_code: bytes,
    weights: Iterable[tuple[str, np.ndarray]],
    input_weights: Iterable[str],
    recursive_functions: list[str] | None,
    match_failures: list[str] | None = None,
    kernels: Iterable[str] = (),
    runtime_objects: Mapping[str, bytes] | None = None,
    package: Mapping[str, object] | None = None,
) -> list[bytes | memoryview]:
    """An entry as the parts to write in order. `runtime_objects` (the objects of the kernel
    library and the thread pool, by name) and `package` (a compiled-module package's header:
    runtime/package.py) are what a package adds; a cache entry has neither."""
    extras = dict(runtime_objects or {})
    inputs = set(input_weights)
    records: list[dict[str, object]] = []
    blobs: list[bytes | memoryview] = []
    offset = 0
    for symbol, array in weights:
        data = np.ascontiguousarray(array).reshape(-1).view(np.uint8)
        if symbol in inputs:
            records.append({"symbol": symbol, "input": True, "nbytes": data.nbytes})
            continue
        records.append({"symbol": symbol, "offset": offset, "nbytes": data.nbytes})
        blobs += [data.data, bytes(_pad(data.nbytes))]
        offset += data.nbytes + _pad(data.nbytes)
    fields: dict[str, object] = {
        "key": key,
        "object": len(object_code),
        "runtime_objects": {name: len(code) for name, code in extras.items()},
        "weights": records,
        "recursive": recursive_functions,
        "kernels": sorted(kernels),
        "match_failures": match_failures or [],
    }
    if package is not None:
        fields["package"] = dict(package)
    header = json.dumps(fields).encode()
    # The payload: header length, header, then the objects and the weights, each 64-aligned
    # in the file (the checksum and its length come first, so the prefix is 64 bytes).
    prefix_len = len(MAGIC) + 4 + 8
    head = len(header).to_bytes(8, "little") + header
    head += bytes(_pad(prefix_len + len(head)))
    body = [head, object_code, bytes(_pad(len(object_code)))]
    for code in extras.values():
        body += [code, bytes(_pad(len(code)))]
    body += blobs
    crc = 0
    total = 0
    for part in body:
        crc = zlib.crc32(part, crc)
        total += len(part)
    return [MAGIC + crc.to_bytes(4, "little") + total.to_bytes(8, "little"), *body]


class CorruptEntry(Exception):
    """An entry that fails its checks (it is compiled again and replaced)."""


def load(key: str, folder: str = MODULES) -> Entry | None:
    """The entry of `key`, or None if there is none or it is unreadable, truncated or corrupt
    (the caller compiles and `save` replaces it)."""
    try:
        buf = read_aligned(entry_path(key, folder))
    except OSError:
        return None
    if buf is None:
        return None
    try:
        return parse(buf, key)
    except (CorruptEntry, ValueError, KeyError, TypeError, IndexError):
        return None


def read_aligned(path: str | os.PathLike[str]) -> np.ndarray | None:
    """A file's bytes in a 64-byte aligned buffer (weights are used in place); None if it
    shrank while being read. OSError if it cannot be read."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        raw = np.empty(size + _ALIGN, np.uint8)  # read to a 64-byte boundary
        start = -raw.ctypes.data % _ALIGN
        buf = raw[start : start + size]
        if f.readinto(memoryview(buf)) != size:  # pyright: ignore[reportArgumentType]
            return None
    return buf


def parse(buf: np.ndarray, key: str | None) -> Entry:
    """The entry in `buf`, its length and checksum checked; `key` None takes any key (a
    package's). Raises CorruptEntry (or a ValueError, KeyError, ... on a malformed header)."""
    from relay_opt.dialects.relay.resources import stored

    prefix_len = len(MAGIC) + 4 + 8
    if bytes(buf[: len(MAGIC)]) != MAGIC or len(buf) < prefix_len:
        raise CorruptEntry("not an entry")
    crc = int.from_bytes(bytes(buf[len(MAGIC) : len(MAGIC) + 4]), "little")
    total = int.from_bytes(bytes(buf[len(MAGIC) + 4 : prefix_len]), "little")
    body = buf[prefix_len:]
    if len(body) != total or zlib.crc32(body.data) != crc:
        raise CorruptEntry("truncated or corrupt")
    header_len = int.from_bytes(bytes(body[:8]), "little")
    header = json.loads(bytes(body[8 : 8 + header_len]))
    if key is not None and header["key"] != key:
        raise CorruptEntry("another key")
    at = prefix_len + 8 + header_len
    at += _pad(at)
    object_code = bytes(buf[at : at + header["object"]])
    at += header["object"]
    at += _pad(at)
    runtime_objects: dict[str, bytes] = {}
    for name, size in header["runtime_objects"].items():
        runtime_objects[str(name)] = bytes(buf[at : at + size])
        at += size + _pad(size)
    weights: list[tuple[str, np.ndarray]] = []
    for record in header["weights"]:
        symbol, nbytes = record["symbol"], record["nbytes"]
        if record.get("input"):
            array = stored(symbol)
            if array is None or array.nbytes != nbytes:
                raise CorruptEntry(f"the input module has no weight {symbol}")
        else:
            begin = at + record["offset"]
            if begin + nbytes > len(buf):
                raise CorruptEntry("a weight past the end")
            array = buf[begin : begin + nbytes]
            array.setflags(write=False)
        weights.append((symbol, array))
    recursive = header["recursive"]
    return Entry(
        object_code,
        weights,
        recursive if recursive is None else list(recursive),
        match_failures=[str(f) for f in header["match_failures"]],
        kernels=[str(k) for k in header["kernels"]],
        runtime_objects=runtime_objects,
        package=header.get("package"),
    )
