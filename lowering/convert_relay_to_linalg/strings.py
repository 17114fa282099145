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
from collections.abc import Sequence

from xdsl.builder import Builder
from xdsl.dialects import arith, llvm, scf
from xdsl.dialects.builtin import (
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

from relay_opt.dialects.relay import regex
from relay_opt.dialects.relay.numpy_dtypes import numpy_dtype
from relay_opt.dialects.relay.ops.strings import (
    LabelEncode,
    RegexFullMatch,
    StringConcat,
    StringConstant,
    StringEqual,
    _label_table,  # pyright: ignore[reportPrivateUsage]
)
from relay_opt.dialects.relay.registry import RelayOperatorOp
from relay_opt.dialects.relay.types import STRING, tensor_dtype
from relay_opt.lowering.convert_relay_to_linalg import Lowerer, lowering, signless
from relay_opt.lowering.convert_relay_to_linalg.elementwise import cast_scalar, elementwise
from relay_opt.lowering.convert_relay_to_linalg.objects import ALLOC, OBJECT
from relay_opt.lowering.convert_relay_to_linalg.string_pool import (
    HEADER,
    MEMCMP,
    MEMCPY,
    POOL,
    StringPool,
)


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
