"""User-facing errors, rendered the way clang and mlir-opt do:

    model.mlir:7:10: error: shapes (2, 3) and (4, 3) do not broadcast (dimension 2 against 4)
        %2 = relay.add %0, %1 : (tensor<2x3xf32>, tensor<4x3xf32>) -> !relay.incomplete
             ^
    model.mlir:3:10: note: operand 1 is defined here

Ops carry their source position as a `FileLineColLoc` (the MLIR frontend of
relay-opt records one for every op it parses); an op imported from ONNX carries its node as a
`NameLoc`, said after the file: `model.onnx: error: node 3 'conv1' (Conv): message`.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from xdsl.dialects.builtin import FileLineColLoc, NameLoc
from xdsl.ir import Attribute, Block, Operation, SSAValue
from xdsl.utils.exceptions import (
    ArgSpecParseError,
    DiagnosticException,
    ParseError,
    VerifyException,
)


@dataclass(frozen=True)
class SourceLoc:
    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


Anchor = Operation | SSAValue | SourceLoc | None


class RelayError(Exception):
    """An error in the user's program, located at an op, a value or a source position."""

    def __init__(
        self,
        message: str,
        at: Anchor = None,
        notes: Sequence[tuple[Anchor, str]] = (),
        file: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.at = at
        self.notes = list(notes)
        self.file = file
        """The input file, for errors about it that have no line (a binary ONNX model)."""


class UserError(Exception):
    """An error already rendered for the user: `str(e)` is what a tool prints."""


class LoadError(RelayError, UserError):
    """Bad input to `relay_opt.load_program`: `diagnostic` is the whole rendered message
    (`file:line:col: error: ...`, the source line and a caret)."""

    def __init__(self, diagnostic: str, message: str, at: Anchor = None):
        super().__init__(message, at)
        self.diagnostic = diagnostic

    def __str__(self) -> str:
        return self.diagnostic


class ArgumentError(ValueError):
    """A bad value given to the Python API (an unknown entry function, an input of the wrong
    shape or dtype): a ValueError to API callers, a one-line error from the tools. Any other
    ValueError that reaches a tool is a bug and is reported as an internal error."""


class InternalError(Exception):
    """A bug in relay-opt or a plugin that a check caught (IR that no longer verifies after a
    pass, a pass that crashed): reported as an internal error, exit code 2, never as the
    user's mistake. `details` is an already rendered diagnostic to show under the message."""

    def __init__(self, message: str, details: str = ""):
        super().__init__(message)
        self.message = message
        self.details = details


def _op_of(anchor: Operation | SSAValue) -> Operation | None:
    if isinstance(anchor, SSAValue):
        owner = anchor.owner
        return owner if isinstance(owner, Operation) else owner.parent_op()
    return anchor


def _enclosing_locations(anchor: Anchor) -> Iterator[Attribute]:
    """The locations of an anchor's op and of each op enclosing it, innermost first."""
    if isinstance(anchor, SourceLoc) or anchor is None:
        return
    op = _op_of(anchor)
    while op is not None:
        yield op.location
        op = op.parent_op()


def location_of(anchor: Anchor) -> SourceLoc | None:
    """The source position of an op (or of the nearest enclosing op that has one)."""
    if isinstance(anchor, SourceLoc):
        return anchor
    for loc in _enclosing_locations(anchor):
        if isinstance(loc, FileLineColLoc):
            return SourceLoc(loc.filename.data, loc.line.data, loc.column.data)
    return None


def node_of(anchor: Anchor) -> str | None:
    """Where in a file without lines an op comes from: the `NameLoc` the ONNX importer gives
    each op it builds (`node 3 'conv1' (Conv)`), when no enclosing op has a position."""
    for loc in _enclosing_locations(anchor):
        if isinstance(loc, FileLineColLoc):
            return None
        if isinstance(loc, NameLoc):
            return loc.desc.data
    return None


def _excerpt(loc: SourceLoc, sources: Mapping[str, str]) -> str:
    text = sources.get(loc.file)
    if text is None:
        return ""
    lines = text.splitlines()
    if not 1 <= loc.line <= len(lines):
        return ""
    line = lines[loc.line - 1]
    return f"{line}\n{' ' * (loc.col - 1)}^\n"


def render(
    message: str,
    at: Anchor,
    sources: Mapping[str, str],
    notes: Iterable[tuple[Anchor, str]] = (),
    severity: str = "error",
    unlocated: str = "<unknown>",
) -> str:
    """The message and its notes; `unlocated` stands in for a position when there is none
    (a tool names itself there: `relay-opt: error: ...`)."""

    def one(anchor: Anchor, msg: str, sev: str) -> str:
        loc = location_of(anchor)
        if loc is None:
            if (node := node_of(anchor)) is not None:  # as the importer's own errors say it
                return f"{unlocated}: {sev}: {node}: {msg}\n"
            where = unlocated
            if isinstance(anchor, Operation):
                where = f"'{anchor.name}'"
            return f"{where}: {sev}: {msg}\n"
        return f"{loc}: {sev}: {msg}\n" + _excerpt(loc, sources)

    out = one(at, message, severity)
    for anchor, note in notes:
        out += one(anchor, note, "note")
    return out


def render_error(err: RelayError, sources: Mapping[str, str], unlocated: str = "<unknown>") -> str:
    return render(err.message, err.at, sources, err.notes, unlocated=err.file or unlocated)


def render_parse_error(err: ParseError) -> str:
    """xDSL's ParseError in the `file:line:col: error: message` shape."""
    span = err.span
    loc = span.get_location()
    text = span.input.content
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    start = span.input.get_start_of_line(span.start)
    end = span.input.get_end_of_line(span.start)
    line = text[start:end] if isinstance(text, str) else ""
    col = span.start - start
    width = max(1, min(span.end, end) - span.start)
    msg = parse_error_message(err)
    return f"{loc.file}:{loc.line}:{loc.col}: error: {msg}\n{line}\n{' ' * col}{'^' * width}\n"


def verify_located(module: Operation) -> None:
    """Verify every op, innermost first; the first failure is a RelayError at that op."""
    for op in module.walk(region_first=True):
        try:
            op.verify(verify_nested_ops=False)
        except (VerifyException, DiagnosticException) as e:
            message = str(e.args[0]) if e.args else str(e)
            message = message.removeprefix("Operation does not verify: ")
            raise RelayError(message, op) from None
        except ValueError as e:
            # xDSL's verifiers assume what they check the structure of: a symbol lookup in a
            # region of several blocks (an op nested where it cannot be) raises this instead.
            raise RelayError(f"'{op.name}' does not verify here: {e}", op) from None
        except Exception as e:
            # A few of xDSL's verifiers raise a bare Exception for what is a verifier error
            # (memref.load/store with the wrong number of indices, scf.while's block
            # arguments); any subclass (an AssertionError, a TypeError) stays a crash.
            if type(e) is not Exception:
                raise
            message = str(e)
            raise RelayError(f"'{op.name}' op {message[:1].lower()}{message[1:]}", op) from None


def parse_error_message(err: ParseError) -> str:
    """xDSL's message, never empty: a few of its errors are only a context such as
    ' in block definition' (it wanted a block label where an op or `}` may also go)."""
    msg = str(getattr(err, "msg", err)).strip()
    found = err.span.text.strip() or "end of input"
    if msg.startswith("in block definition"):
        return f"expected an operation or '}}', found '{found}'"
    return msg or f"unexpected '{found}'"


def write_output(path: str, data: str | bytes | Callable[[BinaryIO], None], tool: str) -> None:
    """Write a tool's output file whole or not at all.

    The data goes to a temporary file in the directory of the file the path resolves to (a
    symlink is written through, not replaced), which is then renamed over it; on any error the
    temporary file is removed and the error names `path`. `data` is text, bytes, or a function
    that writes to a binary file. A device or a FIFO (`-o /dev/stdout`) is written directly."""

    def fail(e: OSError) -> UserError:
        return UserError(f"{tool}: error: cannot write '{path}': {e.strerror or e}\n")

    def emit(f: BinaryIO) -> None:
        if callable(data):
            data(f)
        else:
            f.write(data.encode() if isinstance(data, str) else data)

    try:
        mode = os.stat(path).st_mode  # through symlinks
    except FileNotFoundError:
        mode = None
    except OSError as e:
        raise fail(e) from None
    if mode is not None and stat.S_ISDIR(mode):
        raise UserError(f"{tool}: error: cannot write '{path}': it is a directory\n")
    if mode is not None and not stat.S_ISREG(mode):
        # /dev/stdout may resolve to a pipe's pseudo-name: open the path as given.
        try:
            with open(path, "wb") as f:
                emit(f)
        except OSError as e:
            raise fail(e) from None
        return
    target = os.path.realpath(path)
    if mode is None:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    directory, base = os.path.split(target)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=".tmp", dir=directory or ".")
    except OSError as e:
        raise fail(e) from None
    try:
        with os.fdopen(fd, "wb") as f:
            emit(f)
        os.chmod(tmp, stat.S_IMODE(mode))
        os.replace(tmp, target)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise fail(e) from None
        raise


def verify_after_pass(
    module: Operation, pass_name: str, sources: Mapping[str, str] | None = None
) -> None:
    """Verify the IR a pass left (MLIR's -verify-each): input that verified before the pass
    and not after it is the pass's bug, an InternalError naming it and the failing op."""
    try:
        verify_located(module)
    except RelayError as e:
        raise InternalError(
            f"the IR does not verify after pass '{pass_name}'", render_error(e, sources or {})
        ) from e


def ir_fingerprint(module: Operation) -> int:
    """A hash of the IR's identity: every op, its operands, result and block-argument types,
    attributes, properties, blocks and successors, by object identity. xDSL's attributes are
    immutable, so any rewrite, replacement or new type changes it; computing it costs about a
    tenth of a verification."""
    parts: list[tuple[object, ...]] = []
    for op in module.walk():
        parts.append(
            (
                id(op),
                op.name,
                *map(id, op.operands),
                -1,
                *(id(r.type) for r in op.results),
                -2,
                *map(id, op.attributes.values()),
                -3,
                *map(id, op.properties.values()),
                -4,
                *map(id, op.successors),
                -5,
                *(x for r in op.regions for b in r.blocks for x in _block_identity(b)),
            )
        )
    return hash(tuple(parts))


def _block_identity(block: Block) -> tuple[int, ...]:
    return (id(block), *(id(a.type) for a in block.args))


class VerifyEach:
    """Verification after every pass that changed the IR. As in MLIR's pass manager, which
    skips the verifier after a pass that preserved everything, a pass that left the IR as it
    found it (same fingerprint) needs no new verification: two passes in three of the
    pipeline change nothing on a small module, and verifying is most of pass time."""

    def __init__(self, sources: Mapping[str, str] | None = None):
        self.sources = sources
        self.verified: int | None = None

    def after(self, module: Operation, pass_name: str) -> None:
        fingerprint = ir_fingerprint(module)
        if fingerprint != self.verified:
            verify_after_pass(module, pass_name, self.sources)
            self.verified = fingerprint


def run_tool(tool: Callable[[], int], prog: str) -> int:
    """Run a command-line tool's body: user errors and crashes become messages, never tracebacks."""
    try:
        return tool()
    except UserError as e:
        sys.stderr.write(str(e))
        return 1
    except InternalError as e:
        if os.environ.get("RELAY_OPT_TRACEBACK"):
            raise
        sys.stderr.write(
            f"{prog}: internal error: {e.message}\n{e.details}"
            "(set RELAY_OPT_TRACEBACK=1 to see the traceback; please report it)\n"
        )
        return 2
    except RelayError as e:
        sys.stderr.write(render_error(e, {}, unlocated=prog))
        return 1
    except BrokenPipeError:
        # The reader went away (`relay-opt ... | head`): stop quietly, as other tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as e:
        if e.filename is not None and e.strerror:
            sys.stderr.write(f"{prog}: error: cannot open '{e.filename}': {e.strerror}\n")
        else:
            sys.stderr.write(f"{prog}: error: {e}\n")
        return 1
    except ArgumentError as e:
        sys.stderr.write(f"{prog}: error: {e}\n")
        return 1
    except MemoryError as e:
        # The program asks for more than the machine (or the process's limit) has: a tensor
        # of 2^31 elements folded or run, say. Nothing to report as a bug.
        detail = f": {e}" if str(e) else ""
        sys.stderr.write(f"{prog}: error: out of memory{detail}\n")
        return 1
    except ArgSpecParseError as e:
        # A malformed -p pipeline (xDSL raises it as a BaseException); its text has the caret.
        message = str(e).removeprefix("Error parsing pass pipeline specification:\n")
        sys.stderr.write(f"{prog}: error: malformed pass pipeline: {message.rstrip()}\n")
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # noqa: BLE001 - the one place that turns crashes into messages
        if os.environ.get("RELAY_OPT_TRACEBACK"):
            raise
        sys.stderr.write(
            f"{prog}: internal error: {type(e).__name__}: {e}\n"
            f"(set RELAY_OPT_TRACEBACK=1 to see the traceback; please report it)\n"
        )
        return 2
