"""String operators -> linalg.generic over string pointers (docs/strings.md, "Native code").

A string tensor is lowered to a tensor of i64 (`signless` maps `!relay.string` to i64): each
element is the address of an immutable string object, `{i64 byte length, UTF-8 bytes}`.
Data movement is then what it is for any i64 tensor. The texts a module writes out (string
constants, label tables) are one constant global, `@relay_opt_strings`, each object 8-byte
aligned in it; strings made at run time (concat) come from the per-call arena
(`relay_opt_alloc`, docs/native-objects.md), freed after the call with everything else.
The bodies use llvm ops (pointer loads, `memcmp`, `llvm.memcpy`), which keeps
parallelize-loops away from them (it outlines only arith/math/memref nests): the arena is
not thread-safe.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from xdsl.builder import Builder
from xdsl.dialects import arith, llvm, memref, scf
from xdsl.dialects import math as math_dialect
from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    DenseIntOrFPElementsAttr,
    FloatAttr,
    IndexType,
    IntegerAttr,
    IntegerType,
    TensorType,
    f64,
    i1,
    i8,
    i32,
    i64,
)
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.rewriter import InsertPoint

from relay_opt.diagnostics import RelayError
from relay_opt.dialects.relay import regex
from relay_opt.dialects.relay.numpy_dtypes import numpy_dtype
from relay_opt.dialects.relay.ops.strings import (
    FromString,
    LabelEncode,
    RegexFullMatch,
    StringConcat,
    StringConstant,
    StringEqual,
    StringNormalize,
    StringSplit,
    ToString,
    _label_table,  # pyright: ignore[reportPrivateUsage]
)
from relay_opt.dialects.relay.registry import RelayOperatorOp
from relay_opt.dialects.relay.types import STRING, tensor_dtype
from relay_opt.lowering.convert_relay_to_linalg import (
    NO_NATIVE_STRINGS,
    Lowerer,
    lowering,
    signless,
)
from relay_opt.lowering.convert_relay_to_linalg.elementwise import cast_scalar, elementwise
from relay_opt.lowering.convert_relay_to_linalg.objects import ALLOC, OBJECT
from relay_opt.lowering.convert_relay_to_linalg.string_pool import (
    HEADER,
    MEMCMP,
    MEMCPY,
    POOL,
    SNPRINTF,
    STRTOD,
    StringPool,
)
from relay_opt.lowering.convert_relay_to_linalg.vision import Emitter, owned_tensor, read_buffer


def pool(lw: Lowerer) -> StringPool:
    lw.strings.used = True
    return lw.strings


# -- scalar string code (inside a linalg body) -----------------------------------------------


def _emit(b: Builder, op: Operation) -> SSAValue:
    b.insert(op)
    return op.results[0]


def _i64(b: Builder, value: int) -> SSAValue:
    return _emit(b, arith.ConstantOp(IntegerAttr(value, i64)))


def literal(b: Builder, lw: Lowerer, text: str) -> SSAValue:
    """The address (i64) of `text`'s object in the pool."""
    base = _emit(b, llvm.AddressOfOp(POOL, OBJECT))
    at = _emit(b, llvm.GEPOp(base, [pool(lw).offset(text)], i8, inbounds=True))
    return _emit(b, llvm.PtrToIntOp(at, i64))


def _length_and_text(b: Builder, word: SSAValue) -> tuple[SSAValue, SSAValue]:
    obj = _emit(b, llvm.IntToPtrOp(word))
    return _emit(b, llvm.LoadOp(obj, i64)), _emit(b, llvm.GEPOp(obj, [HEADER], i8, inbounds=True))


def equal(b: Builder, x: SSAValue, y: SSAValue) -> SSAValue:
    """Whether two strings have the same bytes (i1): lengths, then memcmp (of 0 bytes when
    the lengths differ, so it never reads past the shorter)."""
    nx, tx = _length_and_text(b, x)
    ny, ty = _length_and_text(b, y)
    same_length = _emit(b, arith.CmpiOp(nx, ny, "eq"))
    n = _emit(b, arith.SelectOp(same_length, nx, _i64(b, 0)))
    order = _emit(b, llvm.CallOp(MEMCMP, tx, ty, n, return_type=i32))
    zero = _emit(b, arith.ConstantOp(IntegerAttr(0, i32)))
    same_bytes = _emit(b, arith.CmpiOp(order, zero, "eq"))
    return _emit(b, arith.AndIOp(same_length, same_bytes))


def concat(b: Builder, lw: Lowerer, x: SSAValue, y: SSAValue) -> SSAValue:
    """A new string object in the arena holding x's bytes, then y's."""
    nx, tx = _length_and_text(b, x)
    ny, ty = _length_and_text(b, y)
    n = _emit(b, arith.AddiOp(nx, ny))
    lw.objects.used = True  # the arena's functions are emitted
    obj = _emit(
        b, llvm.CallOp(ALLOC, _emit(b, arith.AddiOp(n, _i64(b, HEADER))), return_type=OBJECT)
    )
    b.insert(llvm.StoreOp(n, obj))
    text = _emit(b, llvm.GEPOp(obj, [HEADER], i8, inbounds=True))
    rest = _emit(b, llvm.GEPOp(text, [llvm.GEP_USE_SSA_VAL], i8, ssa_indices=[nx], inbounds=True))
    volatile = _emit(b, arith.ConstantOp(IntegerAttr(0, i1)))
    b.insert(llvm.CallIntrinsicOp(MEMCPY, [text, tx, nx, volatile], []))
    b.insert(llvm.CallIntrinsicOp(MEMCPY, [rest, ty, ny, volatile], []))
    return _emit(b, llvm.PtrToIntOp(obj, i64))


def full_match(b: Builder, table: str, rows: int, x: SSAValue) -> SSAValue:
    """Whether the DFA in global `table` (StringPool.regex_table) accepts x's bytes (i1): a
    loop over the bytes, each a load of the next state."""
    n, text = _length_and_text(b, x)
    start = _i64(b, 0)
    index = IndexType()
    zero = _emit(b, arith.ConstantOp(IntegerAttr(0, index)))
    one = _emit(b, arith.ConstantOp(IntegerAttr(1, index)))
    upper = _emit(b, arith.IndexCastOp(n, index))
    block = Block(arg_types=[index, i64])
    inner = Builder(InsertPoint.at_end(block))
    at = _emit(inner, arith.IndexCastOp(block.args[0], i64))
    byte_at = _emit(inner, llvm.GEPOp(text, [llvm.GEP_USE_SSA_VAL], i8, ssa_indices=[at]))
    byte = _emit(inner, arith.ExtUIOp(_emit(inner, llvm.LoadOp(byte_at, i8)), i64))
    row = _emit(inner, arith.MuliOp(block.args[1], _i64(inner, 256)))
    entry = _emit(inner, arith.AddiOp(row, byte))
    inner.insert(scf.YieldOp(_table_entry(inner, table, entry)))
    loop = scf.ForOp(zero, upper, one, [start], Region(block))
    b.insert(loop)
    accepts_at = _emit(b, arith.AddiOp(loop.results[0], _i64(b, 256 * rows)))
    accepts = _table_entry(b, table, accepts_at)
    return _emit(b, arith.CmpiOp(accepts, _i64(b, 0), "ne"))


def _table_entry(b: Builder, table: str, k: SSAValue) -> SSAValue:
    """Word k of a DFA table global, as an i64."""
    base = _emit(b, llvm.AddressOfOp(table, OBJECT))
    at = _emit(b, llvm.GEPOp(base, [llvm.GEP_USE_SSA_VAL], i32, ssa_indices=[k], inbounds=True))
    return _emit(b, arith.ExtSIOp(_emit(b, llvm.LoadOp(at, i32)), i64))


# -- the rules -------------------------------------------------------------------------------


@lowering(StringConstant)
def lower_constant(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    """Each text's address: the pool's base plus a constant tensor of offsets."""
    t = signless(op.result.type)
    assert isinstance(t, TensorType)
    offsets = [pool(lw).offset(s) for s in op.attrs.texts]
    value = DenseIntOrFPElementsAttr.from_list(t, offsets)  # pyright: ignore[reportArgumentType]
    offsets_tensor = lw.insert(arith.ConstantOp(value, t)).results[0]

    def body(b: Builder, xs: Sequence[SSAValue], _: Attribute) -> SSAValue:
        base = _emit(b, llvm.PtrToIntOp(_emit(b, llvm.AddressOfOp(POOL, OBJECT)), i64))
        return _emit(b, arith.AddiOp(base, xs[0]))

    return elementwise(lw, op, [offsets_tensor], body)


@lowering(StringEqual)
def lower_equal(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    pool(lw)
    return elementwise(lw, op, args, lambda b, xs, _: equal(b, xs[0], xs[1]))


@lowering(StringConcat)
def lower_concat(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    pool(lw)
    return elementwise(lw, op, args, lambda b, xs, _: concat(b, lw, xs[0], xs[1]))


@lowering(RegexFullMatch)
def lower_regex_full_match(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    """The pattern's DFA (the interpreter's, from regex.py) as a constant table, run by a
    loop over each string's bytes."""
    table, rows = pool(lw).regex_table(op.attrs.pattern, regex.compile_dfa(op.attrs.pattern))
    return elementwise(lw, op, args, lambda b, xs, _: full_match(b, table, rows, xs[0]))


@lowering(LabelEncode)
def lower_label_encode(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    """A chain of selects, one per key (the first of equal keys wins, as the interpreter's
    table keeps it): linear in the table's size per element."""
    in_t = op.operands[0].type
    assert isinstance(in_t, TensorType)
    in_dtype = tensor_dtype(in_t)
    out_dtype = op.attrs.out_dtype
    keys, values, default = _label_table(op.attrs, in_dtype)
    pool(lw)

    def key_test(b: Builder, x: SSAValue, key: object) -> SSAValue | None:
        if in_dtype == STRING:
            return equal(b, x, literal(b, lw, str(key)))
        if isinstance(key, float):  # compared in float64, as the interpreter's table does
            wide = cast_scalar(b, x, in_dtype, "float64", f64)
            if math.isnan(key):
                return _emit(b, arith.CmpfOp(wide, wide, "uno"))
            return _emit(
                b, arith.CmpfOp(wide, _emit(b, arith.ConstantOp(FloatAttr(key, f64))), "oeq")
            )
        assert isinstance(key, int)
        info = numpy_dtype(in_dtype)
        lo, hi = (0, 1) if in_dtype == "bool" else (int(_iinfo(info).min), int(_iinfo(info).max))
        if not lo <= int(key) <= hi:  # no element of this dtype equals it
            return None
        width = x.type.width.data  # pyright: ignore[reportAttributeAccessIssue]
        constant = _emit(b, arith.ConstantOp(IntegerAttr(_wrap(int(key), width), x.type)))  # pyright: ignore
        return _emit(b, arith.CmpiOp(x, constant, "eq"))

    def value_of(b: Builder, v: object, t: Attribute) -> SSAValue:
        if out_dtype == STRING:
            return literal(b, lw, str(v))
        if isinstance(t, IntegerType):
            return _emit(b, arith.ConstantOp(IntegerAttr(_wrap(int(v), t.width.data), t)))  # pyright: ignore
        return _emit(b, arith.ConstantOp(FloatAttr(float(v), t)))  # pyright: ignore

    def body(b: Builder, xs: Sequence[SSAValue], t: Attribute) -> SSAValue:
        chosen = value_of(b, default, t)
        for key, v in reversed(list(zip(keys, values, strict=True))):
            test = key_test(b, xs[0], key)
            if test is not None:
                chosen = _emit(b, arith.SelectOp(test, value_of(b, v, t), chosen))
        return chosen

    return elementwise(lw, op, args, body)


def _iinfo(dt: object):  # noqa: ANN202
    import numpy as np

    return np.iinfo(dt)  # pyright: ignore[reportArgumentType, reportCallIssue]


def _wrap(value: int, width: int) -> int:
    """`value` as a signed integer of `width` bits (two's complement), as arith wants it."""
    if width == 1:
        return value & 1
    value &= (1 << width) - 1
    return value - (1 << width) if value >= 1 << (width - 1) else value


# -- split and normalize: loops writing buffers (their result sizes come from the data) -------


def _byte(e: Emitter, text: SSAValue, at: SSAValue) -> SSAValue:
    """Byte `at` (i64) of a text, as an i64 in [0, 255]."""
    address = e(llvm.GEPOp(text, [llvm.GEP_USE_SSA_VAL], i8, ssa_indices=[at]))
    return e(arith.ExtUIOp(e(llvm.LoadOp(address, i8)), i64))


def _i64_loop(
    e: Emitter,
    n: SSAValue,
    carried: Sequence[SSAValue],
    body: Callable[[Emitter, SSAValue, Sequence[SSAValue]], Sequence[SSAValue]],
) -> list[SSAValue]:
    """for i in [0, n) (an i64 count), i given to the body as an i64."""

    def step(e: Emitter, i: SSAValue, carried: Sequence[SSAValue]) -> Sequence[SSAValue]:
        return body(e, e(arith.IndexCastOp(i, i64)), carried)

    return e.loop(e(arith.IndexCastOp(n, IndexType())), carried, step)


def _in_range(e: Emitter, c: SSAValue, lo: int, hi: int) -> SSAValue:
    """lo <= c <= hi, for c in [0, 255]."""
    return e(arith.CmpiOp(e(arith.SubiOp(c, e.const(lo, i64))), e.const(hi - lo, i64), "ule"))


def _new_string(e: Emitter, lw: Lowerer, n: SSAValue) -> tuple[SSAValue, SSAValue]:
    """A new string object of n bytes in the arena, and where its bytes go."""
    lw.objects.used = True
    obj = e(llvm.CallOp(ALLOC, e(arith.AddiOp(n, e.const(HEADER, i64))), return_type=OBJECT))
    e.b.insert(llvm.StoreOp(n, obj))
    return obj, e(llvm.GEPOp(obj, [HEADER], i8, inbounds=True))


def _substring(e: Emitter, lw: Lowerer, text: SSAValue, start: SSAValue, end: SSAValue) -> SSAValue:
    """A new string of text's bytes [start, end), its address as an i64."""
    n = e(arith.SubiOp(end, start))
    obj, into = _new_string(e, lw, n)
    source = e(llvm.GEPOp(text, [llvm.GEP_USE_SSA_VAL], i8, ssa_indices=[start]))
    e.b.insert(llvm.CallIntrinsicOp(MEMCPY, [into, source, n, e.const(0, i1)], []))
    return e(llvm.PtrToIntOp(obj, i64))


def _non_ascii(e: Emitter, x: SSAValue) -> SSAValue:
    """Whether a string has a byte above 127 (i1)."""
    n, text = _length_and_text(e.b, x)

    def step(e: Emitter, i: SSAValue, carried: Sequence[SSAValue]) -> list[SSAValue]:
        high = e(arith.CmpiOp(_byte(e, text, i), e.const(127, i64), "ugt"))
        return [e(arith.OrIOp(carried[0], high))]

    return _i64_loop(e, n, [e.const(0, i1)], step)[0]


def _ascii_case(e: Emitter, c: SSAValue, action: str) -> SSAValue:
    """An ASCII letter's byte in the other case (LOWER or UPPER); other bytes as they are."""
    lo, shift = (ord("A"), 32) if action == "LOWER" else (ord("a"), -32)
    letter = _in_range(e, c, lo, lo + 25)
    return e.select(letter, e(arith.AddiOp(c, e.const(shift, i64))), c)


def _case_changed(e: Emitter, lw: Lowerer, x: SSAValue, action: str) -> SSAValue:
    """A new string: x with its ASCII letters in the case `action` says."""
    n, text = _length_and_text(e.b, x)
    obj, into = _new_string(e, lw, n)

    def step(e: Emitter, i: SSAValue, _: Sequence[SSAValue]) -> list[SSAValue]:
        c = _ascii_case(e, _byte(e, text, i), action)
        at = e(llvm.GEPOp(into, [llvm.GEP_USE_SSA_VAL], i8, ssa_indices=[i]))
        e.b.insert(llvm.StoreOp(e(arith.TruncIOp(c, i8)), at))
        return []

    _i64_loop(e, n, [], step)
    return e(llvm.PtrToIntOp(obj, i64))


def _lower_equal(e: Emitter, x: SSAValue, lowered: SSAValue) -> SSAValue:
    """Whether x with its ASCII letters lowercased has the bytes of `lowered` (i1)."""
    nx, tx = _length_and_text(e.b, x)
    ny, ty = _length_and_text(e.b, lowered)
    same_length = e(arith.CmpiOp(nx, ny, "eq"))

    def step(e: Emitter, i: SSAValue, carried: Sequence[SSAValue]) -> list[SSAValue]:
        a = _ascii_case(e, _byte(e, tx, i), "LOWER")
        return [e(arith.AndIOp(carried[0], e(arith.CmpiOp(a, _byte(e, ty, i), "eq"))))]

    n = e.select(same_length, nx, e.const(0, i64))
    return _i64_loop(e, n, [same_length], step)[0]


def _flat_index(e: Emitter, shape: Sequence[int], k: SSAValue) -> list[SSAValue]:
    """The indices of row-major element k (index) of a static shape."""
    out: list[SSAValue] = []
    for d in reversed(shape):
        out.append(e(arith.RemUIOp(k, e.index(d))))
        k = e(arith.DivUIOp(k, e.index(d)))
    return out[::-1]


def _static_shape(op: RelayOperatorOp) -> list[int]:
    shape = list(op.operands[0].type.get_shape())  # pyright: ignore[reportAttributeAccessIssue]
    if any(d < 0 for d in shape):
        name = op.opdef.name
        raise RelayError(f"'{name}' of data with ? dimensions {NO_NATIVE_STRINGS}", op)
    return shape


@lowering(StringNormalize)
def lower_normalize(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    """One pass over the elements: a stopword test (memcmp, or an ASCII-lowercased compare
    with the lowercased stopwords), then the case change of the kept ones into new strings,
    written at the kept count. Case mapping is ASCII's: an element with a non-ASCII byte
    where case matters (a case change, or stopwords compared case-insensitively) ends the
    call with a located error, as Unicode's mapping (the interpreter's) is not compiled."""
    shape = _static_shape(op)
    attrs = op.attrs
    action, sensitive = attrs.case_change_action, attrs.is_case_sensitive
    stops = [s if sensitive else s.lower() for s in attrs.stopwords]
    e = Emitter(lw.builder)
    data = read_buffer(lw, args[0])
    count = math.prod(shape)
    pool(lw)
    if stops:
        out = e(memref.AllocOp.get(i64, shape=[max(count, 1)]))
    else:
        out = e(memref.AllocOp.get(i64, shape=shape))
    unicode_matters = action != "NONE" or (bool(stops) and not sensitive)

    def element(e: Emitter, k: SSAValue, carried: Sequence[SSAValue]) -> list[SSAValue]:
        kept, failed = carried
        x = e.load(data, _flat_index(e, shape, k))
        if unicode_matters:
            failed = e(arith.OrIOp(failed, _non_ascii(e, x)))
        drop = e.const(0, i1)
        for stop in stops:
            word = literal(e.b, lw, stop)
            hit = equal(e.b, x, word) if sensitive else _lower_equal(e, x, word)
            drop = e(arith.OrIOp(drop, hit))

        def keep(e: Emitter) -> list[SSAValue]:
            y = x if action == "NONE" else _case_changed(e, lw, x, action)
            e.store(y, out, [kept] if stops else _flat_index(e, shape, k))
            return [e(arith.AddiOp(kept, e.index(1)))]

        kept = e.if_(drop, [IndexType()], lambda _: [kept], keep)[0]
        return [kept, failed]

    kept, failed = e.loop(e.index(count), [e.index(0), e.const(0, i1)], element)
    lw.objects.fail_if(
        op,
        failed,
        "'strings.normalize': case mapping of non-ASCII text is not compiled natively yet "
        "(the interpreter maps it: relay-run --interpret)",
    )
    if not stops:
        return owned_tensor(lw, out)
    # Every element dropped: one "" (ONNX's rule).
    none_kept = e(arith.CmpiOp(kept, e.index(0), "eq"))

    def empty_one(e: Emitter) -> list[SSAValue]:
        e.store(literal(e.b, lw, ""), out, [e.index(0)])
        return [e.index(1)]

    kept = e.if_(none_kept, [IndexType()], empty_one, lambda _: [kept])[0]
    result_shape = [*shape[:-1], DYNAMIC_INDEX]
    result = e(memref.AllocOp.get(i64, shape=result_shape, dynamic_sizes=[kept]))

    def copy(e: Emitter, j: SSAValue, _: Sequence[SSAValue]) -> list[SSAValue]:
        e.store(e.load(out, [j]), result, [e.index(0)] * (len(shape) - 1) + [j])
        return []

    e.loop(kept, [], copy)
    lw.insert(memref.DeallocOp.get(out))
    return owned_tensor(lw, result)


Emit = Callable[[Emitter, SSAValue, SSAValue, SSAValue], None] | None
"""Where split's scan puts a part: emit(e, start, end, part index); None only counts."""


def _split_by(e: Emitter, x: SSAValue, sep: SSAValue, maxsplit: int | None, emit: Emit) -> SSAValue:
    """The parts of x at each occurrence of sep (non-empty), left to right, at most maxsplit
    splits (Python's str.split(sep)); their count (i64)."""
    n, text = _length_and_text(e.b, x)
    m, sep_text = _length_and_text(e.b, sep)
    zero = e.const(0, i64)

    def step(e: Emitter, i: SSAValue, carried: Sequence[SSAValue]) -> list[SSAValue]:
        next_ok, splits, start = carried
        fits = e(arith.CmpiOp(e(arith.AddiOp(i, m)), n, "ule"))
        at = e(llvm.GEPOp(text, [llvm.GEP_USE_SSA_VAL], i8, ssa_indices=[i]))
        compared = e.select(fits, m, zero)
        order = e(llvm.CallOp(MEMCMP, at, sep_text, compared, return_type=i32))
        hit = e(arith.AndIOp(fits, e(arith.CmpiOp(order, e.const(0, i32), "eq"))))
        hit = e(arith.AndIOp(hit, e(arith.CmpiOp(i, next_ok, "sge"))))
        if maxsplit is not None:
            hit = e(arith.AndIOp(hit, e(arith.CmpiOp(splits, e.const(maxsplit, i64), "slt"))))
        if emit is not None:
            emit_part = emit

            def part(e: Emitter) -> list[SSAValue]:
                emit_part(e, start, i, splits)
                return []

            e.if_(hit, [], part, lambda _: [])
        after = e(arith.AddiOp(i, m))
        return [
            e.select(hit, after, next_ok),
            e(arith.AddiOp(splits, e(arith.ExtUIOp(hit, i64)))),
            e.select(hit, after, start),
        ]

    _, splits, start = _i64_loop(e, n, [zero, zero, zero], step)
    if emit is not None:
        emit(e, start, n, splits)
    return e(arith.AddiOp(splits, e.const(1, i64)))


def _space_width(e: Emitter, text: SSAValue, n: SSAValue, i: SSAValue) -> SSAValue:
    """The bytes of the whitespace character at byte i (i64), 0 if none: Python's
    str.isspace characters (ASCII's and U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028,
    U+2029, U+202F, U+205F, U+3000 in UTF-8)."""
    last = e(arith.SubiOp(n, e.const(1, i64)))

    def byte(k: int) -> SSAValue:
        at = e(arith.AddiOp(i, e.const(k, i64)))
        inside = e(arith.CmpiOp(at, n, "slt"))
        return e.select(inside, _byte(e, text, e(arith.MinSIOp(at, last))), e.const(0, i64))

    c0, c1, c2 = byte(0), byte(1), byte(2)

    def eq(c: SSAValue, v: int) -> SSAValue:
        return e(arith.CmpiOp(c, e.const(v, i64), "eq"))

    def any_(*tests: SSAValue) -> SSAValue:
        out = tests[0]
        for t in tests[1:]:
            out = e(arith.OrIOp(out, t))
        return out

    def all_(*tests: SSAValue) -> SSAValue:
        out = tests[0]
        for t in tests[1:]:
            out = e(arith.AndIOp(out, t))
        return out

    one = any_(_in_range(e, c0, 9, 13), _in_range(e, c0, 0x1C, 0x20))
    two = all_(eq(c0, 0xC2), any_(eq(c1, 0x85), eq(c1, 0xA0)))
    e2_80 = all_(
        eq(c1, 0x80), any_(_in_range(e, c2, 0x80, 0x8A), *(eq(c2, v) for v in (0xA8, 0xA9, 0xAF)))
    )
    three = any_(
        all_(eq(c0, 0xE1), eq(c1, 0x9A), eq(c2, 0x80)),
        all_(eq(c0, 0xE2), any_(e2_80, all_(eq(c1, 0x81), eq(c2, 0x9F)))),
        all_(eq(c0, 0xE3), eq(c1, 0x80), eq(c2, 0x80)),
    )
    width = e.select(three, e.const(3, i64), e.const(0, i64))
    width = e.select(two, e.const(2, i64), width)
    return e.select(one, e.const(1, i64), width)


def _split_on_space(e: Emitter, x: SSAValue, maxsplit: int | None, emit: Emit) -> SSAValue:
    """The words of x between runs of whitespace, leading and trailing ones ignored; after
    maxsplit words the rest (from its first non-space) is the last one (Python's
    str.split()); their count (i64)."""
    n, text = _length_and_text(e.b, x)
    zero, false = e.const(0, i64), e.const(0, i1)
    true = e.const(1, i1)

    def step(e: Emitter, i: SSAValue, carried: Sequence[SSAValue]) -> list[SSAValue]:
        skip_to, in_word, last, start, parts = carried
        active = e(arith.CmpiOp(i, skip_to, "sge"))
        width = _space_width(e, text, n, i)
        space = e(arith.AndIOp(active, e(arith.CmpiOp(width, zero, "ne"))))
        letter = e(arith.AndIOp(active, e(arith.XOrIOp(space, true))))
        ends = e(arith.AndIOp(e(arith.AndIOp(space, in_word)), e(arith.XOrIOp(last, true))))
        begins = e(arith.AndIOp(letter, e(arith.XOrIOp(in_word, true))))
        if emit is not None:
            emit_part = emit

            def part(e: Emitter) -> list[SSAValue]:
                emit_part(e, start, i, parts)
                return []

            e.if_(ends, [], part, lambda _: [])
        parts = e(arith.AddiOp(parts, e(arith.ExtUIOp(ends, i64))))
        limit = None if maxsplit is None else e.const(maxsplit, i64)
        final = false if limit is None else e(arith.CmpiOp(parts, limit, "eq"))
        return [
            e.select(space, e(arith.AddiOp(i, width)), skip_to),
            e.select(ends, false, e.select(begins, true, in_word)),
            e.select(begins, final, last),
            e.select(begins, i, start),
            parts,
        ]

    _, in_word, _, start, parts = _i64_loop(e, n, [zero, false, false, zero, zero], step)
    if emit is not None:

        def part(e: Emitter) -> list[SSAValue]:
            emit(e, start, n, parts)
            return []

        e.if_(in_word, [], part, lambda _: [])
    return e(arith.AddiOp(parts, e(arith.ExtUIOp(in_word, i64))))


@lowering(StringSplit)
def lower_split(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> list[SSAValue]:
    """Two scans of each string: the first counts its parts (the counts, and their maximum:
    the words' last dim), the second copies each part into a new arena string, over a
    buffer of "" (the padding)."""
    shape = _static_shape(op)
    delimiter, maxsplit = op.attrs.delimiter, op.attrs.maxsplit
    e = Emitter(lw.builder)
    data = read_buffer(lw, args[0])
    total = e.index(math.prod(shape))
    sep = literal(e.b, lw, delimiter) if delimiter else None

    def scan(e: Emitter, x: SSAValue, emit: Emit) -> SSAValue:
        if sep is None:
            return _split_on_space(e, x, maxsplit, emit)
        return _split_by(e, x, sep, maxsplit, emit)

    counts = e(memref.AllocOp.get(i64, shape=shape))

    def count(e: Emitter, k: SSAValue, carried: Sequence[SSAValue]) -> list[SSAValue]:
        at = _flat_index(e, shape, k)
        parts = scan(e, e.load(data, at), None)
        e.store(parts, counts, at)
        return [e(arith.MaxSIOp(carried[0], parts))]

    (width,) = e.loop(total, [e.const(0, i64)], count)
    width = e(arith.IndexCastOp(width, IndexType()))
    words = e(memref.AllocOp.get(i64, shape=[*shape, DYNAMIC_INDEX], dynamic_sizes=[width]))
    empty = literal(e.b, lw, "")

    def fill(e: Emitter, k: SSAValue, _: Sequence[SSAValue]) -> list[SSAValue]:
        at = _flat_index(e, shape, k)

        def pad(e: Emitter, j: SSAValue, _: Sequence[SSAValue]) -> list[SSAValue]:
            e.store(empty, words, [*at, j])
            return []

        e.loop(width, [], pad)
        x = e.load(data, at)
        text = _length_and_text(e.b, x)[1]

        def put(e: Emitter, start: SSAValue, end: SSAValue, j: SSAValue) -> None:
            word = _substring(e, lw, text, start, end)
            e.store(word, words, [*at, e(arith.IndexCastOp(j, IndexType()))])

        scan(e, x, put)
        return []

    e.loop(total, [], fill)
    return [owned_tensor(lw, words), owned_tensor(lw, counts)]


# -- casts: integers to and from decimal text -------------------------------------------------


def _decimal(b: Builder, lw: Lowerer, x: SSAValue, signed: bool) -> SSAValue:
    """A new string: the decimal text of integer x (Python's str of it)."""
    e = Emitter(b)
    width = x.type.width.data  # pyright: ignore[reportAttributeAccessIssue]
    if width < 64:
        x = e(arith.ExtSIOp(x, i64) if signed else arith.ExtUIOp(x, i64))
    zero, ten = e.const(0, i64), e.const(10, i64)
    negative = e(arith.CmpiOp(x, zero, "slt")) if signed else e.const(0, i1)
    # The magnitude as an unsigned i64 (INT64_MIN's is 2^63, its own bits).
    magnitude = e.select(negative, e(arith.SubiOp(zero, x)), x)

    def count(e: Emitter, k: SSAValue, carried: Sequence[SSAValue]) -> list[SSAValue]:
        v, digits = carried
        more = e(arith.OrIOp(e(arith.CmpiOp(v, zero, "ne")), e(arith.CmpiOp(k, zero, "eq"))))
        return [e(arith.DivUIOp(v, ten)), e(arith.AddiOp(digits, e(arith.ExtUIOp(more, i64))))]

    _, digits = _i64_loop(e, e.const(20, i64), [magnitude, zero], count)  # u64 has 20 at most
    n = e(arith.AddiOp(digits, e(arith.ExtUIOp(negative, i64))))
    obj, text = _new_string(e, lw, n)

    def put(e: Emitter, k: SSAValue, carried: Sequence[SSAValue]) -> list[SSAValue]:
        (v,) = carried
        digit = e(arith.AddiOp(e(arith.RemUIOp(v, ten)), e.const(ord("0"), i64)))
        at = e(arith.SubiOp(e(arith.SubiOp(n, e.const(1, i64))), k))
        address = e(llvm.GEPOp(text, [llvm.GEP_USE_SSA_VAL], i8, ssa_indices=[at]))
        e.b.insert(llvm.StoreOp(e(arith.TruncIOp(digit, i8)), address))
        return [e(arith.DivUIOp(v, ten))]

    _i64_loop(e, digits, [magnitude], put)

    def minus(e: Emitter) -> list[SSAValue]:
        e.b.insert(llvm.StoreOp(e.const(ord("-"), i8), text))
        return []

    e.if_(negative, [], minus, lambda _: [])
    return e(llvm.PtrToIntOp(obj, i64))


@lowering(ToString)
def lower_to_string(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    """Integers as decimal text (a new string each), booleans as "True" and "False" (the
    pool's); float16/32/64 as numpy's shortest round-trip text (_shortest)."""
    dtype = tensor_dtype(op.operands[0].type)  # pyright: ignore[reportArgumentType]
    if dtype in _SHORTEST:
        pool(lw)
        return elementwise(lw, op, args, lambda b, xs, _: _shortest(b, lw, xs[0], dtype))
    if dtype.startswith(("float", "bfloat")):
        shortest = "(numpy's shortest text of a float)"
        raise RelayError(f"'strings.to_string' of {dtype} {shortest} {NO_NATIVE_STRINGS}", op)
    pool(lw)
    if dtype == "bool":

        def words(b: Builder, xs: Sequence[SSAValue], _: Attribute) -> SSAValue:
            return _emit(b, arith.SelectOp(xs[0], literal(b, lw, "True"), literal(b, lw, "False")))

        return elementwise(lw, op, args, words)
    signed = not dtype.startswith("uint")
    return elementwise(lw, op, args, lambda b, xs, _: _decimal(b, lw, xs[0], signed))


def _fail_if_not_parsed(
    lw: Lowerer,
    op: RelayOperatorOp,
    dtype: str,
    non_ascii: SSAValue,
    bad: SSAValue,
    too_big: SSAValue | None = None,
) -> None:
    """from_string's run-time errors, from the flags its parsing loop gathered."""
    name = "'strings.from_string'"
    # Non-ASCII text first: Python may read it as a number (other digits, other spaces).
    lw.objects.fail_if(
        op,
        non_ascii,
        f"{name}: non-ASCII text is not parsed natively yet (the interpreter "
        "reads it: relay-run --interpret)",
    )
    lw.objects.fail_if(op, bad, f"{name}: a string is not a number of dtype {dtype}")
    if too_big is not None:
        lw.objects.fail_if(op, too_big, f"{name}: a number is out of the range of {dtype}")


@lowering(FromString)
def lower_from_string(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    """Integers parsed as Python's int() reads ASCII text: whitespace around, a sign, digits
    with single underscores between them; the magnitude accumulated in u64 with an overflow
    check, then checked against the dtype's range. Text that is no integer, out of range, or
    non-ASCII (Python reads other digits and spaces too) ends the call with a located error.
    Floats: _lower_float_from_string."""
    dtype = op.attrs.dtype
    if dtype.startswith(("float", "bfloat")):
        return _lower_float_from_string(lw, op, args)
    shape = _static_shape(op)
    out_t = signless(op.result.type)
    assert isinstance(out_t, TensorType)
    element = out_t.element_type
    bits = element.width.data  # pyright: ignore[reportAttributeAccessIssue]
    signed = not dtype.startswith("uint")
    e = Emitter(lw.builder)
    data = read_buffer(lw, args[0])
    out = e(memref.AllocOp.get(element, shape=shape))
    zero, ten = e.const(0, i64), e.const(10, i64)
    false = e.const(0, i1)
    # States: 0 leading spaces, 1 after the sign, 2 after a digit, 3 after "_", 4 trailing
    # spaces.
    states = [e.const(k, i64) for k in range(5)]

    def parse(e: Emitter, k: SSAValue, carried: Sequence[SSAValue]) -> list[SSAValue]:
        bad, too_big, non_ascii = carried
        at = _flat_index(e, shape, k)
        n, text = _length_and_text(e.b, e.load(data, at))

        def step(e: Emitter, i: SSAValue, carried: Sequence[SSAValue]) -> list[SSAValue]:
            state, value, negative, wrong, over, high = carried
            c = _byte(e, text, i)
            high = e(arith.OrIOp(high, e(arith.CmpiOp(c, e.const(127, i64), "ugt"))))
            # int()'s spaces: \t \n \v \f \r and " " (not str.isspace's \x1c-\x1f)
            space = e(
                arith.OrIOp(_in_range(e, c, 9, 13), e(arith.CmpiOp(c, e.const(32, i64), "eq")))
            )
            digit = _in_range(e, c, ord("0"), ord("9"))
            sign = e(
                arith.OrIOp(
                    e(arith.CmpiOp(c, e.const(ord("-"), i64), "eq")),
                    e(arith.CmpiOp(c, e.const(ord("+"), i64), "eq")),
                )
            )
            under = e(arith.CmpiOp(c, e.const(ord("_"), i64), "eq"))

            def is_(s: int) -> SSAValue:
                return e(arith.CmpiOp(state, states[s], "eq"))

            def both(a: SSAValue, b: SSAValue) -> SSAValue:
                return e(arith.AndIOp(a, b))

            def either(*xs: SSAValue) -> SSAValue:
                out = xs[0]
                for x in xs[1:]:
                    out = e(arith.OrIOp(out, x))
                return out

            starts = either(is_(0), is_(1))
            in_number = either(is_(2), is_(3))
            to_digit = both(digit, either(starts, in_number))
            to_sign = both(sign, is_(0))
            to_under = both(under, is_(2))
            to_trailing = both(space, either(is_(2), is_(4)))
            stay = both(space, is_(0))
            fine = either(to_digit, to_sign, to_under, to_trailing, stay)
            new_state = e.select(to_digit, states[2], state)
            new_state = e.select(to_sign, states[1], new_state)
            new_state = e.select(to_under, states[3], new_state)
            new_state = e.select(to_trailing, states[4], new_state)
            negative = e.select(to_sign, e(arith.CmpiOp(c, e.const(ord("-"), i64), "eq")), negative)
            d = e(arith.SubiOp(c, e.const(ord("0"), i64)))
            # value * 10 + d overflows u64 when value > (2^64 - 1 - d) / 10
            limit = e(arith.DivUIOp(e(arith.SubiOp(e.const(-1, i64), d)), ten))
            wraps = both(to_digit, e(arith.CmpiOp(value, limit, "ugt")))
            grown = e(arith.AddiOp(e(arith.MuliOp(value, ten)), d))
            value = e.select(to_digit, grown, value)
            return [
                new_state,
                value,
                negative,
                either(wrong, e(arith.XOrIOp(fine, e.const(1, i1)))),
                either(over, wraps),
                high,
            ]

        start = [states[0], zero, false, false, false, false]
        state, value, negative, wrong, over, high = _i64_loop(e, n, start, step)
        ended = e(
            arith.OrIOp(
                e(arith.CmpiOp(state, states[2], "eq")), e(arith.CmpiOp(state, states[4], "eq"))
            )
        )
        wrong = e(arith.OrIOp(wrong, e(arith.XOrIOp(ended, e.const(1, i1)))))
        # The dtype's range: up to 2^(bits-1) - 1 (2^(bits-1) negated) signed, 2^bits - 1
        # unsigned (and only 0 negated).
        if signed:
            most = e(
                arith.AddiOp(e.const((1 << (bits - 1)) - 1, i64), e(arith.ExtUIOp(negative, i64)))
            )
        else:
            most = e.select(negative, zero, e.const(-1 if bits == 64 else (1 << bits) - 1, i64))
        over = e(arith.OrIOp(over, e(arith.CmpiOp(value, most, "ugt"))))
        result = e.select(negative, e(arith.SubiOp(zero, value)), value)
        if bits < 64:
            result = e(arith.TruncIOp(result, element))
        e.store(result, out, at)
        return [
            e(arith.OrIOp(bad, wrong)),
            e(arith.OrIOp(too_big, over)),
            e(arith.OrIOp(non_ascii, high)),
        ]

    bad, too_big, non_ascii = e.loop(e.index(math.prod(shape)), [false, false, false], parse)
    _fail_if_not_parsed(lw, op, dtype, non_ascii, bad, too_big)
    return owned_tensor(lw, out)


# float()'s ASCII letters: "inf", "infinity", "nan" in any case, and the exponent's "e".
_FLOAT_LETTERS = "eEiInNfFaAtTyY"


def _lower_float_from_string(lw: Lowerer, op: RelayOperatorOp, args: list[SSAValue]) -> SSAValue:
    """Floats parsed as Python's float() reads ASCII text, by the C library's strtod
    (correctly rounded to f64, as float() is; then rounded to the dtype, as numpy stores it).
    Each string is first copied into the arena with a terminating 0, its spaces (float()'s
    ASCII ones: \\t-\\r and " ") written as " " and each "_" between two digits
    dropped; a byte float() never reads there (hex's "x", "nan(...)"'s parentheses, a stray
    "_") fails the string, and so does anything after strtod's end but spaces."""
    dtype = op.attrs.dtype
    shape = _static_shape(op)
    out_t = signless(op.result.type)
    assert isinstance(out_t, TensorType)
    element = out_t.element_type
    e = Emitter(lw.builder)
    data = read_buffer(lw, args[0])
    out = e(memref.AllocOp.get(element, shape=shape))
    zero, one = e.const(0, i64), e.const(1, i64)
    false = e.const(0, i1)
    pool(lw)  # declares strtod
    lw.objects.used = True  # the arena holds the copies

    def is_(e: Emitter, c: SSAValue, ch: str) -> SSAValue:
        return e(arith.CmpiOp(c, e.const(ord(ch), i64), "eq"))

    def either(e: Emitter, *xs: SSAValue) -> SSAValue:
        out = xs[0]
        for x in xs[1:]:
            out = e(arith.OrIOp(out, x))
        return out

    def parse(e: Emitter, k: SSAValue, carried: Sequence[SSAValue]) -> list[SSAValue]:
        bad, non_ascii = carried
        at = _flat_index(e, shape, k)
        n, text = _length_and_text(e.b, e.load(data, at))
        # {char *end (strtod's), the copy's bytes, 0}
        slot = e(
            llvm.CallOp(ALLOC, e(arith.AddiOp(n, e.const(HEADER + 1, i64))), return_type=OBJECT)
        )
        copy = e(llvm.GEPOp(slot, [HEADER], i8, inbounds=True))
        last = e(arith.SubiOp(n, one))

        def is_digit(e: Emitter, j: SSAValue) -> SSAValue:
            return _in_range(e, _byte(e, text, j), ord("0"), ord("9"))

        def step(e: Emitter, i: SSAValue, carried: Sequence[SSAValue]) -> list[SSAValue]:
            written, wrong, high = carried
            c = _byte(e, text, i)
            high = e(arith.OrIOp(high, e(arith.CmpiOp(c, e.const(127, i64), "ugt"))))
            space = either(e, _in_range(e, c, 9, 13), is_(e, c, " "))
            under = is_(e, c, "_")
            # Its neighbours, clamped into the string (the "_" itself is no digit).
            before = is_digit(
                e, e.select(e(arith.CmpiOp(i, zero, "sgt")), e(arith.SubiOp(i, one)), i)
            )
            after = is_digit(
                e, e.select(e(arith.CmpiOp(i, last, "slt")), e(arith.AddiOp(i, one)), i)
            )
            joins = e(arith.AndIOp(under, e(arith.AndIOp(before, after))))
            known = either(
                e,
                _in_range(e, c, ord("0"), ord("9")),
                space,
                joins,
                *(is_(e, c, ch) for ch in "+-." + _FLOAT_LETTERS),
            )
            byte = e.select(space, e.const(ord(" "), i64), c)
            address = e(llvm.GEPOp(copy, [llvm.GEP_USE_SSA_VAL], i8, ssa_indices=[written]))
            e.b.insert(llvm.StoreOp(e(arith.TruncIOp(byte, i8)), address))
            written = e.select(joins, written, e(arith.AddiOp(written, one)))
            wrong = e(arith.OrIOp(wrong, e(arith.XOrIOp(known, e.const(1, i1)))))
            return [written, wrong, high]

        written, wrong, high = _i64_loop(e, n, [zero, false, false], step)
        end_of_copy = e(llvm.GEPOp(copy, [llvm.GEP_USE_SSA_VAL], i8, ssa_indices=[written]))
        e.b.insert(llvm.StoreOp(e.const(0, i8), end_of_copy))
        value = e(llvm.CallOp(STRTOD, copy, slot, return_type=f64))
        end = e(llvm.PtrToIntOp(e(llvm.LoadOp(slot, OBJECT)), i64))
        start = e(llvm.PtrToIntOp(copy, i64))
        read = e(arith.SubiOp(end, start))
        nothing = e(arith.CmpiOp(read, zero, "eq"))

        def trailing(e: Emitter, j: SSAValue, carried: Sequence[SSAValue]) -> list[SSAValue]:
            address = e(
                llvm.GEPOp(copy, [llvm.GEP_USE_SSA_VAL], i8, ssa_indices=[e(arith.AddiOp(read, j))])
            )
            c = e(arith.ExtUIOp(e(llvm.LoadOp(address, i8)), i64))
            return [e(arith.OrIOp(carried[0], e(arith.XOrIOp(is_(e, c, " "), e.const(1, i1)))))]

        rest = _i64_loop(e, e(arith.SubiOp(written, read)), [false], trailing)[0]
        wrong = either(e, wrong, nothing, rest)
        e.store(cast_scalar(e.b, value, "float64", dtype, element), out, at)
        return [e(arith.OrIOp(bad, wrong)), e(arith.OrIOp(non_ascii, high))]

    bad, non_ascii = e.loop(e.index(math.prod(shape)), [false, false], parse)
    _fail_if_not_parsed(lw, op, dtype, non_ascii, bad)
    return owned_tensor(lw, out)


# -- casts: floats to numpy's shortest round-trip text ------------------------------------------

_SHORTEST = {"float16": (5, 1e3), "float32": (9, 1e6), "float64": (17, 1e16)}
"""dtype -> (the most significant digits a value needs to read back, where numpy's text
turns from positional to scientific)."""

_SCRATCH = 64
"""Bytes of the per-element scratch text snprintf writes (at most 26 are used)."""


def _c_string(b: Builder, lw: Lowerer, text: str) -> SSAValue:
    """A pointer to `text` with a terminating 0, in the pool."""
    at = _emit(b, llvm.IntToPtrOp(literal(b, lw, text + "\0")))
    return _emit(b, llvm.GEPOp(at, [HEADER], i8, inbounds=True))


def _shortest(b: Builder, lw: Lowerer, x: SSAValue, dtype: str) -> SSAValue:
    """numpy's str of a float: the fewest significant digits (p) that read back as x (among
    them the nearest to x), positional for 0 and 1e-4 <= |x| < 1e3, 1e6 or 1e16 (float16,
    float32, float64) with ".0" when integral, else d.ddde+XX; "nan", "inf", "-inf".

    For a p (bisected): snprintf's "%.*e" gives the nearest p digits (glibc rounds exactly),
    strtod reads them back (rounded to the dtype as numpy's float() then astype would); where
    x is a power of two the interval of texts reading back as x reaches further up than
    down, so the next p-digit text up is tried too. The digits M and exponent E found are
    then printed by snprintf in numpy's layout into a new string."""
    most, max_positional = _SHORTEST[dtype]
    e = Emitter(b)
    ft = x.type
    bits = ft.bitwidth  # pyright: ignore[reportAttributeAccessIssue]
    wide = x if bits == 64 else e(arith.ExtFOp(x, f64))
    # The sign bit (numpy prints -0.0; NaN's sign it drops).
    negative = e(
        arith.CmpiOp(e(arith.BitcastOp(x, IntegerType(bits))), e.const(0, IntegerType(bits)), "slt")
    )
    magnitude = e(math_dialect.AbsFOp(wide))
    finite = e(arith.CmpfOp(magnitude, e.const(float("inf"), f64), "olt"))  # not inf, not NaN
    a = e.select(finite, magnitude, e.const(0.0, f64))
    a_t = a if bits == 64 else e(arith.TruncFOp(a, ft))
    lw.objects.used = True
    scratch = e(llvm.CallOp(ALLOC, e.const(_SCRATCH, i64), return_type=OBJECT))
    size = e.const(_SCRATCH, i64)
    null = e(llvm.ZeroOp(result_types=[OBJECT]))
    zero, one, ten = e.const(0, i64), e.const(1, i64), e.const(10, i64)

    def reads_back(e: Emitter) -> SSAValue:
        v = e(llvm.CallOp(STRTOD, scratch, null, return_type=f64))
        back = v if bits == 64 else e(arith.TruncFOp(v, ft))
        return e(arith.CmpfOp(back, a_t, "oeq"))

    def digit_at(e: Emitter, j: SSAValue) -> SSAValue:
        return e(arith.SubiOp(_byte(e, scratch, j), e.const(ord("0"), i64)))

    def check(e: Emitter, p: SSAValue) -> list[SSAValue]:
        """Whether a text of p significant digits reads back as x, and its digits M and
        exponent E: the nearest one, else the next one up."""
        k = e(arith.SubiOp(p, one))
        precision = e(arith.TruncIOp(k, i32))
        e(
            llvm.CallOp(
                SNPRINTF,
                scratch,
                size,
                _c_string(e.b, lw, "%.*e"),
                precision,
                a,
                variadic_args=2,
                return_type=i32,
            )
        )
        nearest = reads_back(e)
        # "d.ddde-XX" ("de+XX" for one digit): the digits as M, then the exponent.
        e_at = e.select(e(arith.CmpiOp(p, one, "eq")), one, e(arith.AddiOp(p, one)))

        def digit(e: Emitter, j: SSAValue, carried: Sequence[SSAValue]) -> list[SSAValue]:
            dot = e(arith.CmpiOp(_byte(e, scratch, j), e.const(ord("."), i64), "eq"))
            grown = e(arith.AddiOp(e(arith.MuliOp(carried[0], ten)), digit_at(e, j)))
            return [e.select(dot, carried[0], grown)]

        (m,) = _i64_loop(e, e_at, [zero], digit)
        minus = e(
            arith.CmpiOp(
                _byte(e, scratch, e(arith.AddiOp(e_at, one))), e.const(ord("-"), i64), "eq"
            )
        )

        def exponent_digit(e: Emitter, j: SSAValue, carried: Sequence[SSAValue]) -> list[SSAValue]:
            value, alive = carried
            d = digit_at(e, e(arith.AddiOp(e(arith.AddiOp(e_at, e.const(2, i64))), j)))
            alive = e(arith.AndIOp(alive, e(arith.CmpiOp(d, e.const(9, i64), "ule"))))
            grown = e(arith.AddiOp(e(arith.MuliOp(value, ten)), d))
            return [e.select(alive, grown, value), alive]

        magnitude_e, _ = _i64_loop(e, e.const(3, i64), [zero, e.const(1, i1)], exponent_digit)
        exp10 = e.select(minus, e(arith.SubiOp(zero, magnitude_e)), magnitude_e)

        def upward(e: Emitter) -> list[SSAValue]:
            up = e(arith.AddiOp(m, one))
            scale = e(arith.TruncIOp(e(arith.AddiOp(e(arith.SubiOp(exp10, p)), one)), i32))
            e(
                llvm.CallOp(
                    SNPRINTF,
                    scratch,
                    size,
                    _c_string(e.b, lw, "%llde%d"),
                    up,
                    scale,
                    variadic_args=2,
                    return_type=i32,
                )
            )
            return [reads_back(e), up]

        def keep(e: Emitter) -> list[SSAValue]:
            return [e.const(1, i1), m]

        ok, digits = e.if_(nearest, [i1, i64], keep, upward)
        return [ok, digits, exp10]

    # Some p-digit text reads back as x for every p from the shortest on (it is one more
    # digit's too), so the shortest p is bisected in [1, most]: ceil(log2(most)) checks.
    def bisect(e: Emitter, _: SSAValue, carried: Sequence[SSAValue]) -> list[SSAValue]:
        lo, hi = carried
        mid = e(arith.DivUIOp(e(arith.AddiOp(lo, hi)), e.const(2, i64)))

        def narrow(e: Emitter) -> list[SSAValue]:
            ok = check(e, mid)[0]
            return [e.select(ok, lo, e(arith.AddiOp(mid, one))), e.select(ok, mid, hi)]

        open_ = e(arith.CmpiOp(lo, hi, "slt"))
        return e.if_(open_, [i64, i64], narrow, lambda _: [lo, hi])

    steps = e.const(max(1, (most - 1).bit_length()), i64)
    p, _ = _i64_loop(e, steps, [one, e.const(most, i64)], bisect)
    _, m, exp10 = check(e, p)

    # Trailing zeros dropped (the text up from 99..9 is 10..0): p digits, M < 10^p.
    def trim(e: Emitter, _: SSAValue, carried: Sequence[SSAValue]) -> list[SSAValue]:
        m, p, exp10 = carried
        drop = e(
            arith.AndIOp(
                e(arith.CmpiOp(e(arith.RemUIOp(m, ten)), zero, "eq")),
                e(arith.CmpiOp(p, one, "sgt")),
            )
        )
        full = e(arith.CmpiOp(m, zero, "ne"))
        drop = e(arith.AndIOp(drop, full))
        return [
            e.select(drop, e(arith.DivUIOp(m, ten)), m),
            e.select(drop, e(arith.SubiOp(p, one)), p),
            exp10,
        ]

    m, p, exp10 = _i64_loop(e, e.const(most, i64), [m, p, exp10], trim)

    # M = 10^p (the up text of 9..9): one digit more
    def pow10(e: Emitter, n: SSAValue) -> SSAValue:
        def step(e: Emitter, _: SSAValue, carried: Sequence[SSAValue]) -> list[SSAValue]:
            return [e(arith.MuliOp(carried[0], ten))]

        return _i64_loop(e, n, [one], step)[0]

    overflowed = e(arith.CmpiOp(m, pow10(e, p), "eq"))
    m = e.select(overflowed, e(arith.DivUIOp(m, ten)), m)
    exp10 = e.select(overflowed, e(arith.AddiOp(exp10, one)), exp10)
    sign = e.select(negative, _c_string(b, lw, "-"), _c_string(b, lw, ""))
    positional = e(
        arith.OrIOp(
            e(arith.CmpfOp(a, e.const(0.0, f64), "oeq")),
            e(
                arith.AndIOp(
                    e(arith.CmpfOp(a, e.const(1e-4, f64), "oge")),
                    e(arith.CmpfOp(a, e.const(max_positional, f64), "olt")),
                )
            ),
        )
    )
    # q digits after the point: positional "I.F" (F of q digits, "0" when integral),
    # scientific "d.ddde+XX" (d, then p - 1 digits, none for one).
    q = e(arith.SubiOp(e(arith.SubiOp(p, one)), exp10))
    integral = e(arith.CmpiOp(q, zero, "sle"))
    lead_p = pow10(
        e,
        e.select(
            integral,
            zero,
            e.select(e(arith.CmpiOp(q, e.const(18, i64), "sgt")), e.const(18, i64), q),
        ),
    )
    scale_up = pow10(e, e.select(integral, e(arith.SubiOp(zero, q)), zero))
    whole = e.select(integral, e(arith.MuliOp(m, scale_up)), e(arith.DivUIOp(m, lead_p)))
    fraction = e.select(integral, zero, e(arith.RemUIOp(m, lead_p)))
    width = e(arith.TruncIOp(e.select(integral, one, q), i32))
    rest_p = pow10(e, e(arith.SubiOp(p, one)))
    first = e(arith.DivUIOp(m, rest_p))
    rest = e(arith.RemUIOp(m, rest_p))
    more = e(arith.CmpiOp(p, one, "sgt"))
    rest_width = e(arith.TruncIOp(e(arith.SubiOp(p, one)), i32))

    def put_positional(e: Emitter) -> list[SSAValue]:
        n = e(
            llvm.CallOp(
                SNPRINTF,
                scratch,
                size,
                _c_string(e.b, lw, "%s%lld.%.*lld"),
                sign,
                whole,
                width,
                fraction,
                variadic_args=4,
                return_type=i32,
            )
        )
        return [n]

    def put_scientific(e: Emitter) -> list[SSAValue]:
        dot = e(arith.TruncIOp(e(arith.ExtUIOp(more, i64)), i32))
        n = e(
            llvm.CallOp(
                SNPRINTF,
                scratch,
                size,
                _c_string(e.b, lw, "%s%lld%.*s%.*llde%+03d"),
                sign,
                first,
                dot,
                _c_string(e.b, lw, "."),
                rest_width,
                rest,
                e(arith.TruncIOp(exp10, i32)),
                variadic_args=7,
                return_type=i32,
            )
        )
        return [n]

    (n,) = e.if_(positional, [i32], put_positional, put_scientific)
    n = e(arith.ExtUIOp(n, i64))
    obj, into = _new_string(e, lw, n)
    e.b.insert(llvm.CallIntrinsicOp(MEMCPY, [into, scratch, n, e.const(0, i1)], []))
    text = e(llvm.PtrToIntOp(obj, i64))
    # inf and NaN: the pool's words
    nan = e(arith.CmpfOp(wide, wide, "uno"))
    infinite = e.select(negative, literal(b, lw, "-inf"), literal(b, lw, "inf"))
    text = e.select(finite, text, infinite)
    return e.select(nan, literal(b, lw, "nan"), text)
