"""Reading a program: Relay text, the Relay dialect (MLIR) or an ONNX model, type-checked once.

    from relay_opt import load_program
    program = load_program("model.rly", meta="weights.npz")
    program.module                                  # verified and type-checked
    load_program(text, format="relay")              # text (or "-", standard input) with its format
    load_program("model.onnx", input_shapes={"x": [1, 3, 224, 224]}).input_names

The format comes from the extension (`.rly`, `.onnx`, `.onnxtxt`, anything else is MLIR)
unless `format=` names it. Every error in the input is a `LoadError`: `file:line:col: error:`
with the source line and a caret.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from xdsl.context import Context
from xdsl.dialect_interfaces.op_asm import OpAsmDialectInterface
from xdsl.dialects.builtin import (
    FileLineColLoc,
    Float80Type,
    Float128Type,
    FloatAttr,
    IntAttr,
    ModuleOp,
    StringAttr,
    UnknownLoc,
)
from xdsl.ir import Attribute, Block, Operation
from xdsl.parser import Parser
from xdsl.utils.exceptions import DiagnosticException, ParseError, VerifyException
from xdsl.utils.mlir_lexer import MLIRLexer, MLIRTokenKind

from relay_opt.diagnostics import (
    ArgumentError,
    LoadError,
    RelayError,
    location_of,
    parse_error_message,
    render_error,
    render_parse_error,
    verify_located,
)

if TYPE_CHECKING:
    import numpy as np

    from relay_opt.frontends.relay_text.metadata import MetaTable
    from relay_opt.timing import Timings

FORMATS = ("relay", "mlir", "onnx", "onnxtxt")


@dataclass
class Program:
    """A loaded program: its module and what the tools need to report on it."""

    module: ModuleOp
    filename: str
    format: str
    source: str = ""
    """The text, for the excerpts of later diagnostics ("" for a binary ONNX model)."""
    input_names: list[str] | None = None
    """An ONNX model's graph input names: @main's parameters, in order."""
    output_names: list[str] | None = None
    """An ONNX model's graph output names: @main's results, in order."""
    input_narrow: list[int | None] | None = None
    """An ONNX model's narrow dtypes (float8, int4, ...: frontends/onnx/narrow.py) per
    input and per output (`output_narrow`): the ONNX dtype code, or None."""
    output_narrow: list[int | None] | None = None
    sources: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.sources = {self.filename: self.source}

    def render(self, err: RelayError) -> str:
        """An error found later (compiling, running) rendered with the program's source line
        (an error with no line, such as an ONNX model's, names the file)."""
        return render_error(err, self.sources, unlocated=self.filename)


# xDSL 0.74 lexes a string literal with `"(?:[^"...]+|\\..)*"`: after a `"` that is not closed
# on its line, the nested repetition backtracks exponentially (60 characters hang the parser).
# One character per repetition matches the same literals, and fails in linear time.
MLIRLexer._unescaped_characters_regex = re.compile(  # pyright: ignore[reportPrivateUsage]
    r'"(?:[^"\\\n\v\f]|\\(?:["nt\\]|[0-9A-Fa-f]{2}))*"'
)


MAX_INTEGER_WIDTH = (1 << 24) - 1
"""MLIR's widest integer type."""


class LocatingParser(Parser):
    """xDSL's MLIR parser, giving every op without an explicit `loc(...)` its position.

    A resource name (`dense_resource<NAME>`) already taken in this process, by another file or
    by a stored weight, is renamed, the same way at every use in this text and in its
    `{-# dialect_resources #-}` section: xDSL's parser would give each occurrence a new name, so
    that the constants of a second file read no data."""

    def __init__(self, ctx: Context, text: str, name: str, line_offset: int = 0):
        super().__init__(ctx, text, name)
        self._name = StringAttr(name)
        self._line_offset = line_offset
        self._resource_names: dict[tuple[str, str], str] = {}

    def _parse_dialect_resource_handle(
        self, dialect_name: str, interface: OpAsmDialectInterface
    ) -> str:
        key = self.parse_identifier(" for resource handle")
        renamed = self._resource_names.get((dialect_name, key))
        if renamed is None:
            renamed = interface.declare_resource(key)
            self._resource_names[dialect_name, key] = renamed
            self.dialect_resources.add((dialect_name, renamed))
        return renamed

    def parse_module(self, expect_module_op: bool = True) -> ModuleOp:
        # xDSL's parser recurses once per nested region, type or attribute: input nested past
        # Python's stack is a located error where the parser gave up, not a crash.
        try:
            return super().parse_module(expect_module_op)
        except RecursionError:
            raise ParseError(
                self._current_token.span, "the input nests too deeply to parse here"
            ) from None

    def parse_dense_int_or_fp_elements_attr(self, type):  # noqa: ANN001, ANN201, A002
        # xDSL expands a splat (`dense<1.0> : tensor<1000000000x1000000000xf32>`) into a list
        # of every element: a type too large for memory is a located error, not a MemoryError.
        start = self._current_token.span.start
        try:
            return super().parse_dense_int_or_fp_elements_attr(type)
        except MemoryError:
            self.raise_error(
                "this dense literal has too many elements to expand in memory", start, self.pos
            )

    def parse_optional_builtin_int_or_float_attr(self):  # noqa: ANN201
        # xDSL parses `1.0 : f80` (and f128) but can neither print nor pack such a value: a
        # located error here, not a NotImplementedError when the module is printed.
        start = self._current_token.span.start
        try:
            attr = super().parse_optional_builtin_int_or_float_attr()
        except NotImplementedError:
            self.raise_error("f80 and f128 literals are not supported", start, self.pos)
        if isinstance(attr, FloatAttr) and isinstance(attr.type, (Float80Type, Float128Type)):
            self.raise_error("f80 and f128 literals are not supported", start, self.pos)
        return attr

    def _parse_block(self) -> Block:
        # xDSL forgets where a block referenced before its label was defined: a second label
        # of that name died on a KeyError instead of its re-declaration error.
        token = self._current_token
        name = token.text[1:]
        # defined after a forward reference: no span kept, no longer a forward reference
        defined = (
            name in self.blocks
            and self.blocks[name][1] is None
            and name not in self.forward_block_references
        )
        if token.kind == MLIRTokenKind.CARET_IDENT and defined:
            raise ParseError(token.span, f"re-declaration of block '{name}'")
        return super()._parse_block()

    def _parse_optional_builtin_type(self) -> Attribute | None:
        # MLIR's integer widths stop at 2^24 - 1; xDSL takes any, and then spends forever on
        # the range of an `i4294967296` value.
        token = self._current_token
        match = self._builtin_integer_type_regex.match(token.text)
        if match is not None and int(match.group(1)) > MAX_INTEGER_WIDTH:
            raise ParseError(
                token.span, f"integer width {match.group(1)} exceeds {MAX_INTEGER_WIDTH}"
            )
        return super()._parse_optional_builtin_type()

    def parse_operation(self) -> Operation:
        span = self._current_token.span
        try:
            op = super().parse_operation()
        except (
            VerifyException,
            DiagnosticException,
            NotImplementedError,
            ValueError,
            OverflowError,
            AssertionError,
            IndexError,
        ) as e:
            # xDSL's declarative assembly formats check types while parsing (VerifyException);
            # its attributes refuse odd element types (i255: NotImplementedError), literals out
            # of their type's range (ValueError) and dims past int64 (OverflowError); a few of
            # its custom op parsers assert on malformed input, or index operands they never
            # checked for (`linalg.fill` without `ins`: IndexError). None has a position: give
            # it the op's.
            message = "" if isinstance(e, IndexError) else str(e.args[0]) if e.args else str(e)
            message = message.removeprefix("Operation does not verify: ")
            raise ParseError(span, message or "malformed operation") from None
        if isinstance(op.location, UnknownLoc):
            loc = span.get_location()
            op.location = FileLineColLoc(
                self._name, IntAttr(loc.line + self._line_offset), IntAttr(loc.col)
            )
        return op


def full_context() -> Context:
    """A context with every dialect xDSL and the installed plugins know (lazily loaded)."""
    from xdsl.universe import Universe

    ctx = Context()
    for name, factory in Universe.get_multiverse().all_dialects.items():
        ctx.register_dialect(name, factory)
    return ctx


def format_of(path: str, given: str | None = None) -> str:
    """The format of a file: `given`, else by its extension (MLIR when none matches)."""
    if given is not None:
        if given not in FORMATS:
            raise ArgumentError(f"unknown input format '{given}' (one of {', '.join(FORMATS)})")
        return "onnxtxt" if given == "onnx" and path.endswith(".onnxtxt") else given
    if path.endswith(".rly"):
        return "relay"
    if path.endswith(".onnxtxt"):
        return "onnxtxt"
    return "onnx" if path.endswith(".onnx") else "mlir"


def read_npz(path: str | os.PathLike[str], what: str) -> dict[str, np.ndarray]:
    """The arrays of an .npz file (numpy's `savez`), given as `what` (an option's name).

    A missing file, other bytes (numpy would take them for a pickle), a pickled object array
    or a member that is not an .npy array is a RelayError naming the file."""
    import zipfile
    import zlib

    import numpy as np

    name = os.fspath(path)

    def bad(reason: str) -> RelayError:
        return RelayError(f"{what}: not a valid .npz file: {reason}", file=name)

    try:
        with open(name, "rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise RelayError(f"{what}: cannot read the file: {e.strerror or e}", file=name) from None
    # A zip archive (an empty one starts with its end record); numpy reads anything else as a
    # pickle and says so.
    if magic not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise bad("not a zip archive of .npy arrays")
    arrays: dict[str, np.ndarray] = {}
    try:
        with np.load(name, allow_pickle=False) as archive:
            for key in archive.files:
                try:
                    value = archive[key]
                except ValueError as e:  # a pickled object array, a broken .npy header
                    reason = f": {e}"
                    if "allow_pickle" in str(e):
                        reason = " is an array of Python objects, which is never unpickled"
                    raise bad(f"its member '{key}'{reason}") from None
                if not isinstance(value, np.ndarray):
                    raise bad(f"its member '{key}' is not an .npy array")
                arrays[key] = value
    except RelayError:
        raise
    except MemoryError:
        raise bad("an array is too large for this machine's memory") from None
    except (
        OSError,
        ValueError,
        EOFError,
        zipfile.BadZipFile,
        zlib.error,
        NotImplementedError,
    ) as e:
        raise bad(str(e) or type(e).__name__) from None
    return arrays


def parse_input_shape(spec: str) -> tuple[str, list[int]]:
    """`NAME=D1,D2,...` (the tools' --input-shape; no dims is a scalar) as (name, dims)."""
    name, _, dims = spec.rpartition("=")
    try:
        shape = [int(d) for d in dims.split(",") if d.strip()]
    except ValueError:
        shape = None
    if not name or shape is None or any(d < 0 for d in shape):
        raise ArgumentError(f"'{spec}' is not NAME=D1,D2,... (non-negative whole numbers)")
    return name, shape


def merge_input_shapes(pairs: Sequence[tuple[str, list[int]]]) -> dict[str, list[int]]:
    """Parsed --input-shape values as {name: dims}; two shapes for one name are an error."""
    shapes: dict[str, list[int]] = {}
    for name, dims in pairs:
        if name in shapes and shapes[name] != dims:
            raise ArgumentError(
                f"--input-shape gives '{name}' two shapes: {shapes[name]} and {dims}"
            )
        shapes[name] = dims
    return shapes


def read_meta(path: str | os.PathLike[str] | None) -> MetaTable | None:
    """`--meta M.npz`: arrays named relay.Constant.0, relay.Constant.1, ..."""
    if not path:
        return None
    from relay_opt.frontends.relay_text.metadata import MetadataError, from_npz

    arrays = read_npz(path, "--meta")
    try:
        return from_npz(arrays)
    except MetadataError as e:
        raise RelayError(f"--meta: {e}", file=os.fspath(path)) from None


def type_check(module: ModuleOp, timings: Timings | None = None) -> None:
    """Run infer-types (once) and verify the result. Raises RelayError at the culprit."""
    from relay_opt.passes.infer_types import InferTypesPass

    pass_ = InferTypesPass()
    if timings is None:
        pass_.apply(Context(), module)
    else:
        timings.apply(pass_, Context(), module)
    verify_located(module)


def parse_module(
    text: str | bytes,
    format: str,  # noqa: A002
    filename: str,
    *,
    ctx: Context | None = None,
    meta: MetaTable | None = None,
    line_offset: int = 0,
    implicit_module: bool = True,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
) -> ModuleOp:
    """One program text (or an ONNX model's bytes) as a verified module, not yet type-checked.

    Raises the frontends' own errors (ParseError, RelayError): `load_program` renders them;
    relay-opt renders them itself (--verify-diagnostics, --split-input-file)."""
    if format in ("onnx", "onnxtxt"):
        return _import_onnx(text, format, filename, input_shapes).module
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if format == "relay":
        from relay_opt.frontends.relay_text import parse_relay

        return parse_relay(text, filename, meta, line_offset=line_offset)
    module = LocatingParser(ctx or full_context(), text, filename, line_offset).parse_module(
        implicit_module
    )
    check_terminators(module)
    check_resolved(module)
    verify_located(module)
    check_slices(module)
    check_defined_before_use(module)
    return module


def check_resolved(module: Operation) -> None:
    """Every operand names a value defined somewhere in scope: xDSL's parser leaves a name
    used outside the region that defines it as a placeholder with no owner, on which the
    verifier then raised a ValueError."""
    from xdsl.parser.core import ForwardDeclaredValue

    for op in module.walk():
        for index, operand in enumerate(op.operands):
            if isinstance(operand, ForwardDeclaredValue):
                name = f"%{operand.name_hint}" if operand.name_hint else "a value"
                raise RelayError(
                    f"operand {index} of '{op.name}' ({name}) is used outside the scope "
                    "of its definition",
                    op,
                )


def check_terminators(module: Operation) -> None:
    """Every block of a Relay, `func`, `linalg`, `scf` or `llvm` op's regions ends with a
    terminator (`relay.return`, `relay.yield`, `func.return`, `linalg.yield`, ...): xDSL's
    verifier lets an empty body through, and the interpreter, the printer and the lowering
    then ran off its end."""
    from xdsl.traits import IsTerminator, NoTerminator

    for op in module.walk():
        if not op.regions or op.has_trait(NoTerminator):
            continue
        if not op.name.startswith(("relay.", "func.", "linalg.", "scf.", "llvm.")):
            continue
        for region in op.regions:
            for block in region.blocks:
                last = block.last_op
                if last is None or not last.has_trait(IsTerminator):
                    raise RelayError(f"a block of '{op.name}' does not end with a terminator", op)


def check_slices(module: Operation) -> None:
    """`tensor.extract_slice` and `tensor.insert_slice` as upstream MLIR verifies them, which
    xDSL's verifier does not: one offset, size and stride per dim of the sliced tensor; the
    static sizes are the slice's shape (unit dims may be dropped, the rank-reduced form); a
    static slice lies within the static dims of the tensor. Bufferize's views of a slice
    that does not fit did not verify, or read past the buffer. A `?` matches any size."""
    from xdsl.dialects import tensor
    from xdsl.dialects.builtin import DYNAMIC_INDEX, TensorType

    for op in module.walk():
        if isinstance(op, tensor.ExtractSliceOp):
            whole, part = op.source.type, op.result.type
        elif isinstance(op, tensor.InsertSliceOp):
            whole, part = op.dest.type, op.source.type
        else:
            continue
        assert isinstance(whole, TensorType) and isinstance(part, TensorType)  # verified
        shape = whole.get_shape()
        lists = {
            "offset": op.static_offsets.get_values(),
            "size": op.static_sizes.get_values(),
            "stride": op.static_strides.get_values(),
        }
        for name, values in lists.items():
            if len(values) != len(shape):
                raise RelayError(
                    f"'{op.name}' op expected {len(shape)} {name} values, got {len(values)}", op
                )
            for i, v in enumerate(values):
                if v < 0 and v != DYNAMIC_INDEX:
                    raise RelayError(f"'{op.name}' op {name} {i} is negative: {v}", op)
        offsets, sizes, strides = lists.values()
        expected = TensorType(whole.element_type, sizes)
        if part.element_type != whole.element_type:
            raise RelayError(f"'{op.name}' op expected element type to be {whole.element_type}", op)
        if not _rank_reduces(sizes, part.get_shape()):
            raise RelayError(
                f"'{op.name}' op expected type to be '{expected}' or a rank-reduced version. "
                "(size mismatch)",
                op,
            )
        for i, (dim, offset, size, stride) in enumerate(
            zip(shape, offsets, sizes, strides, strict=True)
        ):
            if DYNAMIC_INDEX in (offset, size, stride) or dim < 0 or size == 0:
                # nothing to check before run time, or nothing read (upstream also refuses
                # an empty slice at offset == dim; it reads nothing, so it is let through)
                continue
            if offset >= dim:
                raise RelayError(
                    f"'{op.name}' op offset {i} is out-of-bounds: {offset} >= {dim}", op
                )
            last = offset + (size - 1) * stride
            if last >= dim:
                raise RelayError(
                    f"'{op.name}' op slice along dimension {i} runs out-of-bounds: {last} >= {dim}",
                    op,
                )


def _rank_reduces(sizes: Sequence[int], reduced: Sequence[int]) -> bool:
    """Whether `reduced` is `sizes` with some unit dims dropped (upstream's rank-reduction
    mask, greedy from the left); a dynamic size (negative) matches any size but 1."""
    k = 0
    for size in sizes:
        if k < len(reduced) and (
            size == reduced[k] or (size != 1 and (size < 0 or reduced[k] < 0))
        ):
            k += 1
        elif size != 1:
            return False
    return k == len(reduced)


def check_defined_before_use(module: Operation) -> None:
    """A value used in its own block, or in a region nested there, before the op that defines
    it is an error at the use. xDSL's parser resolves forward references and does not check
    dominance; the passes, which walk in order, then met a value with no type or no value.
    So is a use outside the region that defines the value. (Uses from another block of a CFG
    region are left alone.)"""
    order: dict[Operation, int] = {}
    for op in module.walk():
        if op.parent is not None and op not in order:
            for i, sibling in enumerate(op.parent.ops):
                order[sibling] = i
        for index, operand in enumerate(op.operands):
            owner = operand.owner
            if not isinstance(owner, Operation) or owner.parent is None:
                continue  # a block argument outside its region: the parser refuses it
            block = owner.parent
            user: Operation | None = op
            while user is not None and user.parent is not block:
                if user.parent is not None and user.parent.parent is block.parent:
                    break  # another block of the defining region: dominance is not checked
                user = user.parent_op()
            if user is None:
                # Defined in a region that does not enclose the use (lines moved across a
                # region's brace): xDSL's parser resolved the name anyway.
                raise RelayError(
                    f"operand {index} of '{op.name}' is used outside the region that defines it",
                    op,
                    [(owner, "defined here")],
                )
            if user.parent is block and order[user] <= order[owner]:
                raise RelayError(
                    f"operand {index} of '{op.name}' is used before the op that defines it",
                    op,
                    [(owner, "defined here")],
                )


def _import_onnx(
    data: str | bytes,
    format: str,  # noqa: A002
    filename: str,
    input_shapes: Mapping[str, Sequence[int]] | None,
    base_dir: str | None = None,
):  # noqa: ANN202
    from relay_opt.frontends.onnx import import_onnx
    from relay_opt.frontends.onnx.importer import load_model

    if isinstance(data, str):
        data = data.encode()
    shapes: dict[str, Sequence[int]] = {k: list(v) for k, v in (input_shapes or {}).items()}
    model = load_model(data, filename, text=format == "onnxtxt")
    if base_dir is None:  # the model's directory, when the name is its path
        base_dir = os.path.dirname(filename) if os.path.isfile(filename) else "."
    _read_external_data(model, base_dir or ".", filename)
    return import_onnx(model, shapes, filename=filename)


def _read_external_data(model, base_dir: str, filename: str) -> None:  # noqa: ANN001
    """Read the tensors an ONNX model keeps in other files, named relative to its directory.

    A missing or short file is a RelayError naming the model, the tensor and the file (ONNX's
    own reader failed with an internal ValidationError, or read relative to the current
    directory)."""
    from onnx import external_data_helper as external

    for tensor in external._get_all_tensors(model):  # pyright: ignore[reportPrivateUsage]
        if not external.uses_external_data(tensor):
            continue
        location = external.ExternalDataInfo(tensor).location
        path = os.path.join(base_dir, location)
        what = f"the data of tensor '{tensor.name}'"
        if not location or not os.path.isfile(path):
            raise RelayError(
                f"{what} is in the file '{location}', which does not exist"
                + (f" (looked for {path})" if location else ""),
                file=filename,
            )
        try:
            external.load_external_data_for_tensor(tensor, base_dir)
        except Exception as e:  # noqa: BLE001  (onnx raises ValueError, ValidationError, OSError)
            detail = " ".join(str(e).split())
            raise RelayError(
                f"{what} cannot be read from '{location}': {detail}", file=filename
            ) from None


def load_program(
    source: str | bytes | os.PathLike[str],
    format: str | None = None,  # noqa: A002
    *,
    filename: str | None = None,
    meta: MetaTable | str | os.PathLike[str] | None = None,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    type_checked: bool = True,
    ctx: Context | None = None,
    timings: Timings | None = None,
) -> Program:
    """Read, verify and type-check a program (infer-types runs once, here).

    `source` is a path (always so as a `Path`), "-" for standard input, or with `format` also
    the text (or an ONNX model's bytes) itself. `format` is "relay", "mlir", "onnx" or
    "onnxtxt". `meta` supplies `meta[relay.Constant][i]` of Relay text (a table or an .npz
    path); `input_shapes` fixes an ONNX graph's symbolic input dimensions.
    `type_checked=False` leaves the module as parsed. `timings` records how long infer-types
    took.
    Raises LoadError."""
    path, data = _resolve(source, format)
    fmt = format_of(path or "", format)
    name = filename or ("stdin" if path == "-" else path) or f"<{fmt}>"
    if data is None:
        data = _read(path, fmt, name)
    if isinstance(data, str):
        text = data
    else:  # a binary model has no text to show
        text = "" if fmt == "onnx" else data.decode("utf-8", "replace")
    try:
        if fmt in ("onnx", "onnxtxt"):
            base_dir = os.path.dirname(path) if path and path != "-" else "."
            imported = _import_onnx(data, fmt, name, input_shapes, base_dir)
            program = Program(
                imported.module,
                name,
                fmt,
                text,
                imported.input_names,
                imported.output_names,
                imported.input_narrow,
                imported.output_narrow,
            )
        else:
            table = meta if meta is None or isinstance(meta, dict) else read_meta(meta)
            program = Program(parse_module(data, fmt, name, ctx=ctx, meta=table), name, fmt, text)
        if type_checked:
            type_check(program.module, timings)
    except ParseError as e:
        raise LoadError(render_parse_error(e), parse_error_message(e)) from None
    except RelayError as e:
        if fmt in ("onnx", "onnxtxt"):  # the importer's errors name the node, or else the file
            diagnostic = render_error(e, {}, unlocated=name)
        else:
            diagnostic = render_error(e, {name: text})
        raise LoadError(diagnostic, e.message, location_of(e.at)) from None
    return program


def _resolve(
    source: str | bytes | os.PathLike[str],
    format: str | None,  # noqa: A002
) -> tuple[str | None, str | bytes | None]:
    """(path, None) for a file or "-", (None, content) for the program itself."""
    if isinstance(source, bytes):
        if format is None:
            raise ArgumentError("load_program: give the format= of a program passed as bytes")
        return None, source
    if isinstance(source, os.PathLike):
        return os.fspath(source), None
    if format is None or source == "-":
        return source, None
    # With a format, a str is a path when it is one line naming a file or a known extension.
    named = os.path.isfile(source) or source.endswith((".rly", ".mlir", ".onnx", ".onnxtxt"))
    return (source, None) if "\n" not in source and named else (None, source)


def _read(path: str | None, fmt: str, name: str) -> str | bytes:
    binary = fmt in ("onnx", "onnxtxt")
    if path == "-":
        return sys.stdin.buffer.read() if binary else sys.stdin.read()
    assert path is not None
    try:
        if binary:
            with open(path, "rb") as f:
                return f.read()
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as e:
        message = f"cannot read the file: {e.strerror}"
        raise LoadError(f"{name}: error: {message}\n", message) from None
    except UnicodeDecodeError as e:
        message = f"not UTF-8 text (byte {e.start}: {e.reason})"
        raise LoadError(f"{name}: error: {message}\n", message) from None
