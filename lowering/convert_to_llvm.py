"""convert-to-llvm: func, cf, arith, math, memref and index -> the llvm dialect.

xDSL 0.74 has none of these conversions (it hands them to an external
mlir-opt); this pass writes them. Conventions:
- memrefs have static shapes and become bare `!llvm.ptr`s, as with MLIR's
  `use-bare-ptr-memref-call-conv`: the pointer is the view's first element, and
  an access computes its offset with the constant strides of its type (row-major,
  or a strided view's layout); reshapes keep the pointer, subviews move it;
- `index` is i64;
- `memref.alloc`/`dealloc` call `malloc`/`free`; `memref.copy` is `llvm.memcpy`; globals
  are aligned to 64 bytes (a cache line, an AVX-512 vector);
- a bufferized function's memref parameters are `noalias` where destination passing makes
  that true (`_noalias_functions`): it writes only its out-parameters and its own buffers,
  and no caller passes one buffer both as an out-parameter and as another argument;
- operations LLVM has as intrinsics are `llvm.intr.*` ops or
  `llvm.call_intrinsic`; `tanh`, `erf`, `tan`, `atan`, `log1p` and `expm1` call the C
  math library (float16 through its float function).
Blocks are converted in reverse post-order so every value is converted
before its uses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from math import prod

from xdsl.builder import Builder
from xdsl.context import Context
from xdsl.dialects import affine, arith, cf, func, llvm, math, memref
from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    AnyFloat,
    ArrayAttr,
    DenseIntOrFPElementsAttr,
    DictionaryAttr,
    Float32Type,
    FloatAttr,
    IndexType,
    IntAttr,
    IntegerAttr,
    IntegerType,
    MemRefType,
    ModuleOp,
    StridedLayoutAttr,
    SymbolRefAttr,
    TensorType,
    UnitAttr,
    UnrealizedConversionCastOp,
    i1,
    i32,
    i64,
)
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.ir.affine import (
    AffineBinaryOpExpr,
    AffineBinaryOpKind,
    AffineConstantExpr,
    AffineDimExpr,
    AffineExpr,
    AffineSymExpr,
)
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint

from relay_opt.diagnostics import RelayError
from relay_opt.dialects.relay.attribute_names import PARALLEL_FOR, TASK
from relay_opt.dialects.relay.limits import (
    DEFAULT_MAX_DEPTH,
    DEPTH_GLOBAL,
    ERROR_GLOBAL,
    MATCH_FAILED,
    MATCH_FAILURE_BASE,
    MATCH_FAILURES_ATTR,
    MAX_DEPTH_GLOBAL,
    RECURSIVE_FUNCTIONS_ATTR,
    STACK_FLOOR_GLOBAL,
)

PTR = llvm.LLVMPointerType()
MEMCPY = "llvm.memcpy.p0.p0.i64"
ALIGNMENT = 64
"""Bytes: the boundary of the module's globals (the weights' arrays are stored at it too:
dialects/relay/resources.py)."""


def llvm_type(t: Attribute) -> Attribute:
    if isinstance(t, IndexType):
        return i64
    if isinstance(t, MemRefType):
        return PTR
    if isinstance(t, (IntegerType, AnyFloat, llvm.LLVMPointerType)):
        return t
    raise RelayError(f"convert-to-llvm cannot lower values of type {t}")


def _bits(t: Attribute) -> int:
    return t.width.data if isinstance(t, IntegerType) else t.bitwidth  # pyright: ignore


def _suffix(t: Attribute) -> str:
    """The type suffix of an overloaded intrinsic name: f32, i64, ..."""
    if isinstance(t, IntegerType):
        return f"i{t.width.data}"
    return {16: "f16", 32: "f32", 64: "f64"}[_bits(t)] if not _is_bf16(t) else "bf16"


def _is_bf16(t: Attribute) -> bool:
    from xdsl.dialects.builtin import BFloat16Type

    return isinstance(t, BFloat16Type)


_INT_BINARY: dict[type[Operation], Callable[..., Operation]] = {
    arith.AddiOp: llvm.AddOp,
    arith.SubiOp: llvm.SubOp,
    arith.MuliOp: llvm.MulOp,
    arith.DivSIOp: llvm.SDivOp,
    arith.DivUIOp: llvm.UDivOp,
    arith.RemSIOp: llvm.SRemOp,
    arith.RemUIOp: llvm.URemOp,
    arith.AndIOp: llvm.AndOp,
    arith.OrIOp: llvm.OrOp,
    arith.XOrIOp: llvm.XOrOp,
    arith.ShLIOp: llvm.ShlOp,
    arith.ShRSIOp: llvm.AShrOp,
    arith.ShRUIOp: llvm.LShrOp,
}
# C library functions that lowered operators call directly (func.call @fmodf in a kernel).
LIBC_CALLS = frozenset({"fmod", "fmodf"})
_FLOAT_BINARY: dict[type[Operation], Callable[..., Operation]] = {
    arith.AddfOp: llvm.FAddOp,
    arith.SubfOp: llvm.FSubOp,
    arith.MulfOp: llvm.FMulOp,
    arith.DivfOp: llvm.FDivOp,
}
# Binary operations LLVM has as overloaded intrinsics.
_BINARY_INTRINSICS: dict[type[Operation], str] = {
    arith.MaximumfOp: "llvm.maximum",
    arith.MinimumfOp: "llvm.minimum",
    arith.MaxnumfOp: "llvm.maxnum",
    arith.MinnumfOp: "llvm.minnum",
    arith.MaxSIOp: "llvm.smax",
    arith.MinSIOp: "llvm.smin",
    arith.MaxUIOp: "llvm.umax",
    arith.MinUIOp: "llvm.umin",
    math.PowFOp: "llvm.pow",
    math.CopySignOp: "llvm.copysign",
}
# Unary float intrinsics, called by their type-mangled names (llvm.exp.f32): xDSL's llvm.intr.*
# ops declare one unsuffixed "llvm.exp" per module, which breaks once f16 and f32 mix.
_UNARY_INTRINSICS: dict[type[Operation], str] = {
    math.ExpOp: "llvm.exp",
    math.LogOp: "llvm.log",
    math.SqrtOp: "llvm.sqrt",
    math.FloorOp: "llvm.floor",
    math.CeilOp: "llvm.ceil",
    math.SinOp: "llvm.sin",
    math.CosOp: "llvm.cos",
    math.AbsFOp: "llvm.fabs",
    math.Exp2Op: "llvm.exp2",
    math.Log2Op: "llvm.log2",
    math.RoundOp: "llvm.round",
    math.TruncOp: "llvm.trunc",
    math.RoundEvenOp: "llvm.roundeven",
    math.Log10Op: "llvm.log10",
}
# C math library functions (float, double).
_LIBM: dict[type[Operation], tuple[str, str]] = {
    math.TanhOp: ("tanhf", "tanh"),
    math.ErfOp: ("erff", "erf"),
    math.TanOp: ("tanf", "tan"),
    math.AtanOp: ("atanf", "atan"),
    math.SinhOp: ("sinhf", "sinh"),
    math.CoshOp: ("coshf", "cosh"),
    math.AsinOp: ("asinf", "asin"),
    math.AcosOp: ("acosf", "acos"),
    math.AsinhOp: ("asinhf", "asinh"),
    math.AcoshOp: ("acoshf", "acosh"),
    math.AtanhOp: ("atanhf", "atanh"),
    math.Log1pOp: ("log1pf", "log1p"),
    math.ExpM1Op: ("expm1f", "expm1"),
}
_ICMP = {
    "eq": "eq",
    "ne": "ne",
    "slt": "slt",
    "sle": "sle",
    "sgt": "sgt",
    "sge": "sge",
    "ult": "ult",
    "ule": "ule",
    "ugt": "ugt",
    "uge": "uge",
}


@dataclass
class _Converter:
    module: ModuleOp
    declared: set[str] = field(default_factory=set)
    recursive: dict[str, int] = field(default_factory=dict)
    """Functions in a call-graph cycle -> their error code (see dialects/relay/limits.py)."""
    may_fail: set[str] = field(default_factory=set)
    """Functions that can reach a recursive one: they check the error flag after such calls."""
    noalias: set[str] = field(default_factory=set)
    """Functions whose pointer parameters are `noalias` (see _noalias_functions)."""

    def declare(self, name: str, inputs: list[Attribute], output: Attribute | None) -> None:
        """An external C function (malloc, free, tanhf, ...), declared once."""
        if name in self.declared or any(
            isinstance(op, llvm.FuncOp) and op.sym_name.data == name for op in self.module.ops
        ):
            self.declared.add(name)
            return
        self.declared.add(name)
        decl = llvm.FuncOp(
            name, llvm.LLVMFunctionType(inputs, output), linkage=llvm.LinkageAttr("external")
        )
        self.module.body.block.add_op(decl)

    # -- functions -------------------------------------------------------------------------

    def function(self, f: func.FuncOp) -> llvm.FuncOp:
        # A memref with `?` dims is its pointer followed by one i64 per `?` dim.
        inputs = [
            lt for t in f.function_type.inputs for lt in [llvm_type(t)] + [i64] * _dynamic_rank(t)
        ]
        outputs = [llvm_type(t) for t in f.function_type.outputs]
        if len(outputs) > 1:
            raise RelayError("convert-to-llvm expects functions with at most one result", f)
        ftype = llvm.LLVMFunctionType(inputs, outputs[0] if outputs else None)
        if f.is_declaration:
            return llvm.FuncOp(f.sym_name.data, ftype, linkage=llvm.LinkageAttr("external"))
        self.values: dict[SSAValue, SSAValue] = {}
        self.sizes: dict[SSAValue, list[SSAValue]] = {}
        """The run-time sizes (i64) of each memref with `?` dims, one per `?` dim."""
        self.blocks: dict[Block, Block] = {}
        region = Region()
        order = _reverse_post_order(f.body.blocks.first)  # pyright: ignore
        reachable = set(order)
        # Only reachable blocks are converted (in dominance order), so only they are made: an
        # unreachable one (a join after two tail calls) would stay empty, which LLVM rejects.
        for block in [b for b in f.body.blocks if b in reachable]:
            entry = block is f.body.blocks.first
            # A block argument with `?` dims (a loop head of tail-calls-to-loops) is, like a
            # parameter, its pointer followed by its sizes; branches pass them (`operands`).
            args = [
                lt for a in block.args for lt in [llvm_type(a.type)] + [i64] * _dynamic_rank(a.type)
            ]
            new = Block(arg_types=inputs if entry else args)
            self.blocks[block] = new
            region.add_block(new)
            new_args = iter(new.args)
            for old_arg in block.args:
                new_arg = next(new_args)
                self.values[old_arg] = new_arg
                new_arg.name_hint = old_arg.name_hint
                self.sizes[old_arg] = [next(new_args) for _ in range(_dynamic_rank(old_arg.type))]
                for k, size in enumerate(self.sizes[old_arg]):
                    size.name_hint = f"{old_arg.name_hint or 'arg'}_size{k}"
        self.region, self.result_type = region, ftype.output
        self.counted = f.sym_name.data in self.recursive
        self.owned_at = _owned_at_error_points(f, self.may_fail)
        for block in order:
            self.b = Builder(InsertPoint.at_end(self.blocks[block]))
            for op in block.ops:
                self.op(op)
        if self.counted:
            self.depth_prologue(region, self.recursive[f.sym_name.data])
        out = llvm.FuncOp(f.sym_name.data, ftype, linkage=llvm.LinkageAttr("external"), body=region)
        if f.sym_name.data in self.noalias:
            out.arg_attrs = ArrayAttr(
                [DictionaryAttr({"llvm.noalias": UnitAttr()} if t == PTR else {}) for t in inputs]
            )
        for key, value in f.attributes.items():
            out.attributes[key] = value
        out.location = f.location
        return out

    # -- helpers ---------------------------------------------------------------------------

    def v(self, value: SSAValue) -> SSAValue:
        return self.values[value]

    def operands(self, values: Sequence[SSAValue]) -> list[SSAValue]:
        """Call or branch operands: each value, a memref with `?` dims followed by its sizes."""
        return [x for a in values for x in [self.v(a), *self.sizes.get(a, [])]]

    def emit(self, op: Operation) -> SSAValue:
        self.b.insert(op)
        return op.results[0] if op.results else None  # pyright: ignore

    def set(self, old: Operation, new: SSAValue) -> None:
        self.values[old.results[0]] = new
        new.name_hint = old.results[0].name_hint

    def const(self, value: int | float, t: Attribute) -> SSAValue:
        attr = IntegerAttr(value, t) if isinstance(t, IntegerType) else FloatAttr(value, t)  # pyright: ignore
        return self.emit(llvm.ConstantOp(attr, t))

    def intrinsic(self, name: str, args: list[SSAValue], result: Attribute | None) -> SSAValue:
        return self.emit(llvm.CallIntrinsicOp(name, args, [result] if result is not None else []))

    def dims(self, ref: SSAValue) -> list[int | SSAValue]:
        """A memref's sizes: ints where its type fixes them, else their run-time i64 values."""
        t = ref.type
        assert isinstance(t, MemRefType)
        sizes = iter(self.sizes.get(ref, []))
        return [d if d >= 0 else next(sizes) for d in t.get_shape()]

    def product(self, dims: Sequence[int | SSAValue]) -> int | SSAValue:
        """The product of sizes: an int when they are all static."""
        static = prod(d for d in dims if isinstance(d, int))
        total: int | SSAValue = static
        for d in dims:
            if not isinstance(d, int):
                total = (
                    d
                    if isinstance(total, int) and total == 1
                    else self.emit(llvm.MulOp(self.as_value(total), d))
                )
        return total

    def as_value(self, x: int | SSAValue) -> SSAValue:
        return self.const(x, i64) if isinstance(x, int) else x

    def strides(self, ref: SSAValue) -> list[int | SSAValue]:
        t = ref.type
        assert isinstance(t, MemRefType)
        if not _dynamic_rank(t):
            return list(memref_strides(t))
        if isinstance(t.layout, StridedLayoutAttr):
            raise RelayError(f"convert-to-llvm needs static strides, got {t}")
        dims = self.dims(ref)
        strides: list[int | SSAValue] = [1]
        for d in reversed(dims[1:]):  # row-major: the product of the dims to the right
            inner = strides[-1]
            if isinstance(inner, int) and isinstance(d, int):
                strides.append(inner * d)
            elif isinstance(inner, int) and inner == 1:
                strides.append(d)
            else:
                strides.append(self.emit(llvm.MulOp(self.as_value(inner), self.as_value(d))))
        return strides[::-1]

    def address(self, ref: SSAValue, indices: list[SSAValue]) -> SSAValue:
        """The element address of `ref[indices]`: the offset with the memref's strides (row-major
        from its run-time sizes when it has `?` dims)."""
        t = ref.type
        assert isinstance(t, MemRefType)
        strides = self.strides(ref)
        offset: SSAValue | None = None
        for k, idx in enumerate(indices):
            stride = strides[k]
            term = self.v(idx)
            if not isinstance(stride, int):
                term = self.emit(llvm.MulOp(term, stride))
            elif stride != 1:
                term = self.emit(llvm.MulOp(term, self.const(stride, i64)))
            offset = term if offset is None else self.emit(llvm.AddOp(offset, term))
        if offset is None:
            return self.v(ref)
        return self.emit(
            llvm.GEPOp(
                self.v(ref),
                [llvm.GEP_USE_SSA_VAL],
                t.element_type,
                ssa_indices=[offset],
                inbounds=True,
            )
        )

    # -- ops -------------------------------------------------------------------------------

    def op(self, op: Operation) -> None:  # noqa: C901 - one dispatch, kept flat on purpose
        t = type(op)
        if t in _FLOAT_BINARY:
            # apply-fp-policy's flags (contract, reassoc) go to LLVM unchanged.
            assert isinstance(op, arith.FloatingPointLikeBinaryOperation)
            flags = llvm.FastMathAttr([f for f in op.fastmath.data])
            x, y = self.v(op.operands[0]), self.v(op.operands[1])
            self.set(op, self.emit(_FLOAT_BINARY[t](x, y, flags)))
        elif t in _INT_BINARY:
            self.set(op, self.emit(_INT_BINARY[t](self.v(op.operands[0]), self.v(op.operands[1]))))
        elif t in _BINARY_INTRINSICS:
            rt = llvm_type(op.results[0].type)
            name = f"{_BINARY_INTRINSICS[t]}.{_suffix(rt)}"
            self.set(op, self.intrinsic(name, [self.v(o) for o in op.operands], rt))
        elif t in _UNARY_INTRINSICS:
            rt = op.results[0].type
            self.set(
                op,
                self.intrinsic(
                    f"{_UNARY_INTRINSICS[t]}.{_suffix(rt)}", [self.v(op.operands[0])], rt
                ),
            )
        elif t in _LIBM:
            rt = op.results[0].type
            if _bits(rt) not in (16, 32, 64) or _is_bf16(rt):
                raise RelayError(f"'{op.name}' on {rt} is not supported yet", op)
            x = self.v(op.operands[0])
            if _bits(rt) == 16:
                # libm has no half functions: the float one on the exactly widened operand,
                # rounded once back to half.
                x = self.emit(llvm.FPExtOp(x, Float32Type()))
            name = _LIBM[t][0 if _bits(rt) <= 32 else 1]
            ct = Float32Type() if _bits(rt) == 16 else rt
            self.declare(name, [ct], ct)
            y = self.emit(llvm.CallOp(name, x, return_type=ct))
            self.set(op, self.emit(llvm.FPTruncOp(y, rt)) if _bits(rt) == 16 else y)
        elif isinstance(op, arith.ConstantOp):
            self.set(op, self.emit(llvm.ConstantOp(op.value, llvm_type(op.result.type))))  # pyright: ignore
        elif isinstance(op, arith.NegfOp):
            self.set(op, self.emit(llvm.FNegOp(self.v(op.operand))))
        elif isinstance(op, arith.CmpiOp):
            pred = arith.CMPI_COMPARISON_OPERATIONS[op.predicate.value.data]
            flag = llvm.ICmpPredicateFlag(_ICMP[pred]).to_int()
            self.set(
                op, self.emit(llvm.ICmpOp(self.v(op.lhs), self.v(op.rhs), IntegerAttr(flag, i64)))
            )
        elif isinstance(op, arith.CmpfOp):
            # arith and llvm number the float predicates alike; llvm wants them as i64.
            pred = IntegerAttr(op.predicate.value.data, i64)
            self.set(op, self.emit(llvm.FCmpOp(self.v(op.lhs), self.v(op.rhs), pred)))
        elif isinstance(op, arith.SelectOp):
            self.set(op, self.emit(llvm.SelectOp(*(self.v(o) for o in op.operands))))
        elif isinstance(op, arith.FloorDivSIOp):
            self.set(op, self.floor_div(self.v(op.lhs), self.v(op.rhs)))
        elif isinstance(op, (arith.ExtSIOp, arith.ExtUIOp, arith.TruncIOp, arith.IndexCastOp)):
            self.set(op, self.int_cast(op))
        elif isinstance(op, arith.ExtFOp):
            self.set(op, self.emit(llvm.FPExtOp(self.v(op.input), op.result.type)))
        elif isinstance(op, arith.TruncFOp):
            x = self.v(op.input)
            if _bits(op.result.type) == 16 and _bits(x.type) == 64:
                # double -> half is a compiler-rt call on x86 (__truncdfhf2), which the JIT does
                # not link; float -> half is one instruction (F16C).
                # Two roundings: rarely 1 ulp off.
                x = self.emit(llvm.FPTruncOp(x, Float32Type()))
            self.set(op, self.emit(llvm.FPTruncOp(x, op.result.type)))
        elif isinstance(op, arith.SIToFPOp):
            self.set(op, self.emit(llvm.SIToFPOp(self.v(op.input), op.result.type)))
        elif isinstance(op, arith.UIToFPOp):
            self.set(op, self.uitofp(self.v(op.input), op.result.type))
        elif isinstance(op, (arith.FPToSIOp, arith.FPToUIOp)):
            kind = "fptosi" if isinstance(op, arith.FPToSIOp) else "fptoui"
            rt = op.result.type
            name = f"llvm.{kind}.sat.{_suffix(rt)}.{_suffix(op.input.type)}"
            self.set(op, self.intrinsic(name, [self.v(op.input)], rt))
        elif isinstance(op, arith.BitcastOp):
            self.set(op, self.emit(llvm.BitcastOp(self.v(op.input), op.result.type)))
        elif isinstance(op, affine.ApplyOp):
            [expr] = op.map.data.results
            operands = [self.v(o) for o in op.mapOperands]
            self.set(op, self.affine(expr, operands, op.map.data.num_dims))
        elif isinstance(op, math.RsqrtOp):
            x = self.v(op.operand)
            sq = self.intrinsic(f"llvm.sqrt.{_suffix(x.type)}", [x], x.type)
            self.set(op, self.emit(llvm.FDivOp(self.const(1.0, x.type), sq)))
        elif isinstance(op, math.IPowIOp):
            name = self.integer_power(op.result.type)
            call = llvm.CallOp(name, self.v(op.lhs), self.v(op.rhs), return_type=op.result.type)
            self.set(op, self.emit(call))
        elif isinstance(op, math.AbsIOp):
            rt = op.result.type
            poison = self.const(0, i1)
            self.set(
                op, self.intrinsic(f"llvm.abs.{_suffix(rt)}", [self.v(op.operand), poison], rt)
            )
        elif isinstance(op, memref.LoadOp):
            addr = self.address(op.memref, list(op.indices))
            self.set(op, self.emit(llvm.LoadOp(addr, op.res.type)))
        elif isinstance(op, memref.StoreOp):
            addr = self.address(op.memref, list(op.indices))
            self.emit(llvm.StoreOp(self.v(op.value), addr))
        elif isinstance(op, memref.AllocOp):
            # malloc, not aligned_alloc: glibc's aligned_alloc (64) returns its spare ends to
            # the heap on each call, and then each call faults in its scratch pages again
            # (runtime/allocator.py's steady memory is lost). malloc's 16 bytes are all LLVM
            # assumes of these buffers.
            self.declare("malloc", [i64], PTR)
            sizes = [self.v(s) for s in op.dynamic_sizes]
            self.sizes[op.memref] = sizes
            size = self.as_value(self.buffer_bytes(op.memref, op.memref.type))
            self.set(op, self.emit(llvm.CallOp("malloc", size, return_type=PTR)))
        elif isinstance(op, memref.DimOp):
            axis = op.index.owner
            if not isinstance(axis, arith.ConstantOp):
                raise RelayError("convert-to-llvm: memref.dim needs a constant axis", op)
            dim = self.dims(op.source)[int(axis.value.value.data)]  # pyright: ignore[reportAttributeAccessIssue]
            # The size's own value (an argument's name stays).
            self.values[op.result] = self.as_value(dim)
        elif isinstance(op, memref.CastOp):
            # The same pointer; the `?` dims of the result take the source's sizes.
            self.values[op.dest] = self.v(op.source)
            dims = self.dims(op.source)
            shape = op.dest.type.get_shape()  # pyright: ignore[reportAttributeAccessIssue]
            self.sizes[op.dest] = [self.as_value(dims[k]) for k, d in enumerate(shape) if d < 0]
        elif isinstance(op, memref.DeallocOp):
            self.declare("free", [PTR], None)
            self.emit(llvm.CallOp("free", self.v(op.memref)))
        elif isinstance(op, memref.CopyOp):
            # Declared with opaque pointers: the backend otherwise declares an intrinsic with
            # the types of its first call's arguments, and `llvm.addressof` of a global is a
            # typed pointer there (`[3 x float]*`), so a second copy from a global of another
            # type failed ("Type of #2 arg mismatch").
            self.declare(MEMCPY, [PTR, PTR, i64, i1], None)
            size = self.as_value(self.buffer_bytes(op.source, op.source.type))
            volatile = self.const(0, i1)
            self.intrinsic(
                MEMCPY,
                [self.v(op.destination), self.v(op.source), size, volatile],
                None,
            )
        elif isinstance(op, (memref.CollapseShapeOp, memref.ExpandShapeOp)):
            # A reshape of a contiguous memref is the same memory: the same pointer.
            if _dynamic_rank(op.src.type) or _dynamic_rank(op.result.type):
                raise RelayError("convert-to-llvm: reshapes of memrefs with ? dims", op)
            self.set(op, self.v(op.src))
        elif isinstance(op, memref.SubviewOp):
            self.set(op, self.subview(op))
        elif isinstance(op, memref.ExtractAlignedPointerAsIndexOp):
            # A kernel call's base address (lower-contractions): memrefs are bare pointers.
            self.set(op, self.emit(llvm.PtrToIntOp(self.v(op.source), i64)))
        elif op.dialect_name() == "llvm":
            # Already llvm (lower-contractions' inttoptr and kernel calls): only the operands.
            new = op.clone(value_mapper=self.values)
            self.b.insert(new)
            for old, result in zip(op.results, new.results, strict=True):
                self.values[old] = result
        elif isinstance(op, memref.GetGlobalOp):
            self.set(op, self.emit(llvm.AddressOfOp(op.name_.root_reference.data, PTR)))
        elif isinstance(op, func.ReturnOp):
            if self.counted:
                self.add_to_depth(-1)
            self.emit(llvm.ReturnOp(self.v(op.arguments[0]) if op.arguments else None))
        elif op.name.startswith("llvm."):
            # Heap objects (docs/native-objects.md) are llvm ops from the start.
            self.set_all(op, self.emit_clone(op))
        elif isinstance(op, UnrealizedConversionCastOp):
            # An object's pointer as a memref of its buffer: the same bare pointer; a callee's
            # `?`-shaped result: its pointer and its sizes (bufferize's `received`).
            self.values[op.results[0]] = self.v(op.operands[0])
            self.sizes[op.results[0]] = [self.v(o) for o in op.operands[1:]]
        elif isinstance(op, func.CallOp) and op.callee.string_value() == MATCH_FAILED:
            self.match_failed(op)
        elif isinstance(op, func.CallOp) and op.callee.string_value() == PARALLEL_FOR:
            self.parallel_for(op)
        elif isinstance(op, func.CallOp):
            rts = [llvm_type(r.type) for r in op.results]
            if op.callee.string_value() in LIBC_CALLS:  # C library functions called by the kernels
                self.declare(op.callee.string_value(), [a.type for a in op.arguments], rts[0])
            args = self.operands(op.arguments)
            call = llvm.CallOp(op.callee, *args, return_type=rts[0] if rts else None)
            self.b.insert(call)
            if op.results:
                self.set(op, call.results[0])
            if op.callee.string_value() in self.may_fail:
                self.return_on_error(op)
        elif isinstance(op, cf.BranchOp):
            self.emit(llvm.BrOp(self.blocks[op.successor], *self.operands(op.arguments)))
        elif isinstance(op, cf.ConditionalBranchOp):
            self.emit(
                llvm.CondBrOp(
                    self.v(op.cond),
                    self.blocks[op.then_block],
                    self.operands(op.then_arguments),
                    self.blocks[op.else_block],
                    self.operands(op.else_arguments),
                )
            )
        elif isinstance(op, cf.SwitchOp):
            self.switch(op)
        else:
            raise RelayError(f"convert-to-llvm does not handle '{op.name}' yet", op)

    def emit_clone(self, op: Operation) -> Operation:
        new = op.clone(value_mapper={o: self.v(o) for o in op.operands})
        self.b.insert(new)
        return new

    def set_all(self, old: Operation, new: Operation) -> None:
        for a, b in zip(old.results, new.results, strict=True):
            self.values[a] = b

    def match_failed(self, op: func.CallOp) -> None:
        """A `match?` found no clause: its code in the error global, and return (the ops
        after the call in this block are never reached: a new block right after it, without
        predecessors, takes them)."""
        code = op.arguments[0].owner
        assert isinstance(code, arith.ConstantOp)
        index = code.value.value.data  # pyright: ignore[reportAttributeAccessIssue]
        self.store_global(ERROR_GLOBAL, self.const(MATCH_FAILURE_BASE + index, i64))
        self.free_owned(op)
        if self.counted:
            self.add_to_depth(-1)
        self.early_return()
        dead = Block()
        self.region.insert_block_after(dead, self.b.insertion_point.block)
        self.b = Builder(InsertPoint.at_end(dead))

    def parallel_for(self, op: func.CallOp) -> None:
        """parallelize-loops' call: the pool's relay_opt_parallel_for(task, ctx, n, grain)."""
        from relay_opt.lowering.kernels.thread_pool import declare_parallel_for

        task = op.attributes.get(TASK)
        if not isinstance(task, SymbolRefAttr):
            raise RelayError(f"a call of @{PARALLEL_FOR} needs a {TASK} function symbol", op)
        name = declare_parallel_for(self.module)
        address = self.emit(llvm.AddressOfOp(task.string_value(), PTR))
        args = [self.v(a) for a in op.arguments]
        self.set(op, self.emit(llvm.CallOp(name, address, *args, return_type=i64)))

    def switch(self, op: cf.SwitchOp) -> None:
        """`cf.switch` as a chain of equality tests (xDSL's llvm dialect has no switch;
        LLVM's simplifycfg makes one of the chain again)."""
        flag = self.v(op.flag)
        values = op.case_values.get_values() if op.case_values is not None else ()
        eq = IntegerAttr(llvm.ICmpPredicateFlag("eq").to_int(), i64)
        for value, block, operands in zip(values, op.case_blocks, op.case_operand, strict=True):
            hit = self.emit(llvm.ICmpOp(flag, self.const(value, flag.type), eq))
            rest = Block()
            self.region.insert_block_after(rest, self.b.insertion_point.block)
            self.emit(llvm.CondBrOp(hit, self.blocks[block], self.operands(operands), rest, []))
            self.b = Builder(InsertPoint.at_end(rest))
        default = self.operands(op.default_operands)
        self.emit(llvm.BrOp(self.blocks[op.default_block], *default))

    def affine(self, e: AffineExpr, operands: list[SSAValue], num_dims: int) -> SSAValue:
        """An affine expression (what convert-linalg-to-loops leaves for non-trivial maps)."""
        if isinstance(e, AffineConstantExpr):
            return self.const(e.value, i64)
        if isinstance(e, AffineDimExpr):
            return operands[e.position]
        if isinstance(e, AffineSymExpr):
            return operands[num_dims + e.position]
        assert isinstance(e, AffineBinaryOpExpr)
        lhs = self.affine(e.lhs, operands, num_dims)
        rhs = self.affine(e.rhs, operands, num_dims)
        kind = e.kind
        if kind is AffineBinaryOpKind.Add:
            return self.emit(llvm.AddOp(lhs, rhs))
        if kind is AffineBinaryOpKind.Mul:
            return self.emit(llvm.MulOp(lhs, rhs))
        if kind is AffineBinaryOpKind.FloorDiv:
            return self.floor_div(lhs, rhs)
        if kind is AffineBinaryOpKind.Mod:  # affine mod is non-negative for a positive divisor
            r = self.emit(llvm.SRemOp(lhs, rhs))
            neg = self.emit(
                llvm.ICmpOp(
                    r, self.const(0, i64), IntegerAttr(llvm.ICmpPredicateFlag("slt").to_int(), i64)
                )
            )
            return self.emit(llvm.SelectOp(neg, self.emit(llvm.AddOp(r, rhs)), r))
        # CeilDiv: -floordiv(-a, b)
        zero = self.const(0, i64)
        q = self.floor_div(self.emit(llvm.SubOp(zero, lhs)), rhs)
        return self.emit(llvm.SubOp(zero, q))

    def subview(self, op: memref.SubviewOp) -> SSAValue:
        """A view's pointer is the source's plus its offset (static, or computed from run-time
        offsets: an insert at a run-time position); its strides are in its type."""
        if op.sizes or op.strides:
            raise RelayError("convert-to-llvm handles subviews with static sizes and strides", op)
        source_strides = memref_strides(op.source.type)  # pyright: ignore[reportArgumentType]
        dynamic = iter(op.offsets)
        offset, terms = 0, []
        for o, s in zip(op.static_offsets.get_values(), source_strides, strict=True):
            if o == DYNAMIC_INDEX:
                terms.append(self.emit(llvm.MulOp(self.v(next(dynamic)), self.const(s, i64))))
            else:
                offset += o * s
        base = self.v(op.source)
        element = op.source.type.element_type  # pyright: ignore[reportAttributeAccessIssue]
        if terms:
            index = self.const(offset, i64)
            for term in terms:
                index = self.emit(llvm.AddOp(index, term))
            return self.emit(llvm.GEPOp(base, [llvm.GEP_USE_SSA_VAL], element, ssa_indices=[index]))
        if offset == 0:
            return base
        return self.emit(llvm.GEPOp(base, [offset], element, inbounds=True))

    def buffer_bytes(self, ref: SSAValue, t: Attribute) -> int | SSAValue:
        """A buffer's size in bytes (computed at run time when it has `?` dims)."""
        if not _dynamic_rank(t):
            return self.byte_size(t)
        assert isinstance(t, MemRefType)
        bits = _bits(t.element_type)
        return self.product([*self.dims(ref), 1 if bits == 1 else bits // 8])

    def byte_size(self, t: Attribute) -> int:
        assert isinstance(t, MemRefType)
        bits = _bits(t.element_type)
        return prod(t.get_shape()) * (1 if bits == 1 else bits // 8)

    def int_cast(self, op: Operation) -> SSAValue:
        x = self.v(op.operands[0])
        src, dst = _bits(x.type), _bits(llvm_type(op.results[0].type))
        rt = llvm_type(op.results[0].type)
        if src == dst:
            return x
        if dst < src:
            return self.emit(llvm.TruncOp(x, rt))
        if isinstance(op, arith.ExtUIOp):
            return self.emit(llvm.ZExtOp(x, rt))
        return self.emit(llvm.SExtOp(x, rt))

    def uitofp(self, x: SSAValue, rt: Attribute) -> SSAValue:
        # Unsigned integers narrower than 64 bits zero-extend to i64, which sitofp reads exactly.
        if _bits(x.type) < 64:
            return self.emit(llvm.SIToFPOp(self.emit(llvm.ZExtOp(x, i64)), rt))
        # uint64: exact below 2**63; above, halve (keeping the low bit so rounding is right),
        # convert, double.
        zero = self.const(0, x.type)
        small = self.emit(
            llvm.ICmpOp(x, zero, IntegerAttr(llvm.ICmpPredicateFlag("sge").to_int(), i64))
        )
        one = self.const(1, x.type)
        halved = self.emit(llvm.OrOp(self.emit(llvm.LShrOp(x, one)), self.emit(llvm.AndOp(x, one))))
        as_float = self.emit(llvm.SIToFPOp(halved, rt))
        doubled = self.emit(llvm.FAddOp(as_float, as_float))
        return self.emit(llvm.SelectOp(small, self.emit(llvm.SIToFPOp(x, rt)), doubled))

    def integer_power(self, t: Attribute) -> str:
        """A private function computing base ** exponent by repeated squaring (a negative
        exponent gives 1, as the loop never runs), defined once per integer width."""
        assert isinstance(t, IntegerType), t
        name = f"relay_opt_ipow_i{_bits(t)}"
        if name in self.declared:
            return name
        self.declared.add(name)
        entry, loop, body, done = (
            Block(arg_types=[t, t]),
            Block(arg_types=[t, t, t]),
            Block(),
            Block(arg_types=[t]),
        )
        b = Builder(InsertPoint.at_end(entry))
        one = b.insert(llvm.ConstantOp(IntegerAttr(1, t), t)).results[0]
        b.insert(llvm.BrOp(loop, one, entry.args[0], entry.args[1]))
        acc, base, exp = loop.args
        b = Builder(InsertPoint.at_end(loop))
        zero = b.insert(llvm.ConstantOp(IntegerAttr(0, t), t)).results[0]
        more = b.insert(
            llvm.ICmpOp(exp, zero, IntegerAttr(llvm.ICmpPredicateFlag("sgt").to_int(), i64))
        ).results[0]
        b.insert(llvm.CondBrOp(more, body, [], done, [acc]))
        b = Builder(InsertPoint.at_end(body))
        one_b = b.insert(llvm.ConstantOp(IntegerAttr(1, t), t)).results[0]
        bit = b.insert(llvm.AndOp(exp, one_b)).results[0]
        odd = b.insert(
            llvm.ICmpOp(bit, one_b, IntegerAttr(llvm.ICmpPredicateFlag("eq").to_int(), i64))
        ).results[0]
        product = b.insert(llvm.MulOp(acc, base)).results[0]
        acc2 = b.insert(llvm.SelectOp(odd, product, acc)).results[0]
        base2 = b.insert(llvm.MulOp(base, base)).results[0]
        exp2 = b.insert(llvm.AShrOp(exp, one_b)).results[0]
        b.insert(llvm.BrOp(loop, acc2, base2, exp2))
        Builder(InsertPoint.at_end(done)).insert(llvm.ReturnOp(done.args[0]))
        fn = llvm.FuncOp(
            name,
            llvm.LLVMFunctionType([t, t], t),
            linkage=llvm.LinkageAttr("internal"),
            body=Region([entry, loop, body, done]),
        )
        self.module.body.block.add_op(fn)
        return name

    # -- the recursion depth check (dialects/relay/limits.py) ----------------------------

    def load_global(self, name: str) -> SSAValue:
        return self.emit(llvm.LoadOp(self.emit(llvm.AddressOfOp(name, PTR)), i64))

    def store_global(self, name: str, value: SSAValue) -> None:
        self.emit(llvm.StoreOp(value, self.emit(llvm.AddressOfOp(name, PTR))))

    def add_to_depth(self, delta: int) -> SSAValue:
        depth = self.emit(llvm.AddOp(self.load_global(DEPTH_GLOBAL), self.const(delta, i64)))
        self.store_global(DEPTH_GLOBAL, depth)
        return depth

    def early_return(self) -> None:
        """Return at once (out-parameters unwritten; a result, if any, is zero)."""
        t = self.result_type
        if t is None or isinstance(t, llvm.LLVMVoidType):
            self.emit(llvm.ReturnOp(None))
        elif isinstance(t, (IntegerType, AnyFloat)):
            self.emit(llvm.ReturnOp(self.const(0, t)))
        else:
            self.emit(llvm.ReturnOp(self.emit(llvm.ZeroOp(result_types=[t]))))

    def depth_prologue(self, region: Region, code: int) -> None:
        """A new entry block: one level deeper, or, past the limit, the function's error
        code in the error global and an early return."""
        body = region.blocks.first
        assert body is not None
        entry = Block(arg_types=[a.type for a in body.args])
        for old, new in zip(body.args, entry.args, strict=True):
            new.name_hint = old.name_hint
        too_deep, ok = Block(), Block()
        region.insert_block_before(entry, body)
        region.insert_block_after(too_deep, entry)
        region.insert_block_after(ok, too_deep)
        self.b = Builder(InsertPoint.at_end(entry))
        depth = self.emit(llvm.AddOp(self.load_global(DEPTH_GLOBAL), self.const(1, i64)))
        sgt = IntegerAttr(llvm.ICmpPredicateFlag("sgt").to_int(), i64)
        over = self.emit(llvm.ICmpOp(depth, self.load_global(MAX_DEPTH_GLOBAL), sgt))
        # The stack itself: a limit set too high for it stops here (code -k), not in SIGSEGV.
        frame = self.intrinsic("llvm.frameaddress.p0", [self.const(0, i32)], PTR)
        ult = IntegerAttr(llvm.ICmpPredicateFlag("ult").to_int(), i64)
        low = self.emit(
            llvm.ICmpOp(
                self.emit(llvm.PtrToIntOp(frame, i64)), self.load_global(STACK_FLOOR_GLOBAL), ult
            )
        )
        self.emit(llvm.CondBrOp(self.emit(llvm.OrOp(over, low)), too_deep, [], ok, []))
        self.b = Builder(InsertPoint.at_end(too_deep))
        error = llvm.SelectOp(low, self.const(-code, i64), self.const(code, i64))
        self.store_global(ERROR_GLOBAL, self.emit(error))
        self.early_return()
        self.b = Builder(InsertPoint.at_end(ok))
        self.store_global(DEPTH_GLOBAL, depth)
        self.emit(llvm.BrOp(body, *entry.args))

    def free_owned(self, op: Operation) -> None:
        """On the way out through the error channel at `op`: free the buffers the function
        owns there (its temporaries and `?` results so far), as its normal path would."""
        owned = self.owned_at.get(op, [])
        if owned:
            self.declare("free", [PTR], None)
        for buffer in owned:
            self.emit(llvm.CallOp("free", self.v(buffer)))

    def return_on_error(self, call: Operation) -> None:
        """After a call that may have failed (gone too deep, a failed match? or run-time
        size check below it): free what this function owns and return if the error global is
        set; the rest of the block continues in a new one."""
        ne = IntegerAttr(llvm.ICmpPredicateFlag("ne").to_int(), i64)
        failed = self.emit(llvm.ICmpOp(self.load_global(ERROR_GLOBAL), self.const(0, i64), ne))
        unwind, rest = Block(), Block()
        # Right after the current block: the blocks after it may use what `rest` defines,
        # and LLVM IR is translated in block order.
        current = self.b.insertion_point.block
        self.region.insert_block_after(unwind, current)
        self.region.insert_block_after(rest, unwind)
        self.emit(llvm.CondBrOp(failed, unwind, [], rest, []))
        self.b = Builder(InsertPoint.at_end(unwind))
        self.free_owned(call)
        if self.counted:
            self.add_to_depth(-1)
        self.early_return()
        self.b = Builder(InsertPoint.at_end(rest))

    def floor_div(self, a: SSAValue, b: SSAValue) -> SSAValue:
        """Signed division rounding towards -inf: q - 1 when the remainder and b differ in sign."""
        q = self.emit(llvm.SDivOp(a, b))
        r = self.emit(llvm.SRemOp(a, b))
        zero = self.const(0, a.type)
        nonzero = self.emit(
            llvm.ICmpOp(r, zero, IntegerAttr(llvm.ICmpPredicateFlag("ne").to_int(), i64))
        )
        r_neg = self.emit(
            llvm.ICmpOp(r, zero, IntegerAttr(llvm.ICmpPredicateFlag("slt").to_int(), i64))
        )
        b_neg = self.emit(
            llvm.ICmpOp(b, zero, IntegerAttr(llvm.ICmpPredicateFlag("slt").to_int(), i64))
        )
        differ = self.emit(llvm.XOrOp(r_neg, b_neg))
        fix = self.emit(llvm.AndOp(nonzero, differ))
        q_minus = self.emit(llvm.SubOp(q, self.const(1, a.type)))
        return self.emit(llvm.SelectOp(fix, q_minus, q))


def _dynamic_rank(t: Attribute) -> int:
    """How many `?` dims a memref type has (each is an i64 argument after its pointer)."""
    return sum(1 for d in t.get_shape() if d < 0) if isinstance(t, MemRefType) else 0


def memref_strides(t: MemRefType[Attribute]) -> list[int]:
    """Element strides: the layout's (a strided view), else row-major, which are static
    when every dim but the first is."""
    shape = t.get_shape()
    layout = t.layout
    if any(d < 0 for d in shape[1:]) and not isinstance(layout, StridedLayoutAttr):
        raise RelayError(f"convert-to-llvm needs static strides, got {t}")
    if isinstance(layout, StridedLayoutAttr):
        strides = [s.data if isinstance(s, IntAttr) else None for s in layout.strides]
        if None in strides:
            raise RelayError(f"convert-to-llvm needs static strides, got {t}")
        return strides  # pyright: ignore[reportReturnType]
    return [prod(shape[k + 1 :]) for k in range(len(shape))]


def _reverse_post_order(entry: Block) -> list[Block]:
    seen: set[Block] = set()
    order: list[Block] = []
    stack: list[tuple[Block, int]] = [(entry, 0)]
    seen.add(entry)
    while stack:
        block, i = stack.pop()
        succs = list(block.last_op.successors) if block.last_op else []
        if i < len(succs):
            stack.append((block, i + 1))
            s = succs[i]
            if s not in seen:
                seen.add(s)
                stack.append((s, 0))
        else:
            order.append(block)
    return order[::-1]


def _global(op: memref.GlobalOp) -> llvm.GlobalOp:
    """A global memref is a flat `!llvm.array<N x T>`; its initial value is flattened too
    (LLVM wants the initializer's type to be the global's: 1-D, N elements)."""
    t = op.type
    value = op.initial_value
    size = prod(t.get_shape())
    array = llvm.LLVMArrayType(size, t.element_type)
    name = op.sym_name.data
    if not isinstance(value, DenseIntOrFPElementsAttr):
        # No initializer: defined outside the module (a weight the JIT binds by address).
        return llvm.GlobalOp(array, name, "external", alignment=ALIGNMENT)
    flat = DenseIntOrFPElementsAttr(TensorType(value.get_element_type(), [size]), value.data)
    return llvm.GlobalOp(
        array,
        name,
        "internal",
        constant=op.constant is not None,
        value=flat,
        alignment=ALIGNMENT,
    )


@dataclass(frozen=True)
class ConvertToLLVMPass(ModulePass):
    """Lowers func, cf, arith, math, memref and index to the llvm dialect (bare-pointer memrefs)."""

    name = "convert-to-llvm"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        conv = _Converter(op)
        cyclic, conv.may_fail = _recursion(op)
        conv.recursive = {name: k + 1 for k, name in enumerate(cyclic)}
        conv.noalias = _noalias_functions(op)
        for child in list(op.ops):
            if isinstance(child, func.FuncOp) and child.sym_name.data in (
                MATCH_FAILED,
                PARALLEL_FOR,
            ):
                child.detach()  # its calls became stores of the error code
                child.erase()
                continue
            if isinstance(child, func.FuncOp):
                new = conv.function(child)
            elif isinstance(child, memref.GlobalOp):
                new = _global(child)
            elif isinstance(child, (llvm.FuncOp, llvm.GlobalOp)):
                continue
            else:
                raise RelayError(
                    f"convert-to-llvm does not handle '{child.name}' at module level", child
                )
            new.location = child.location
            op.body.block.insert_op_after(new, child)
            child.detach()
            child.erase(safe_erase=False)
        if cyclic or MATCH_FAILURES_ATTR in op.attributes:
            _add_depth_globals(op, cyclic)


def _recursion(module: ModuleOp) -> tuple[list[str], set[str]]:
    """The functions in a call-graph cycle (in module order), and those that can reach one.
    Tarjan's strongly connected components, iterative: linear in the calls."""
    calls: dict[str, list[str]] = {}
    for f in module.ops:
        if isinstance(f, func.FuncOp) and not f.is_declaration:
            calls[f.sym_name.data] = [
                c.callee.string_value() for c in f.walk() if isinstance(c, func.CallOp)
            ]
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cyclic: set[str] = set()
    for root in calls:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            callees = [c for c in calls[node] if c in calls]
            if i < len(callees):
                work.append((node, i + 1))
                c = callees[i]
                if c not in index:
                    work.append((c, 0))
                elif c in on_stack:
                    low[node] = min(low[node], index[c])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == node:
                        break
                if len(component) > 1 or node in calls[node]:
                    cyclic.update(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    # Callers, transitively, of a cyclic function.
    callers: dict[str, list[str]] = {}
    for f, cs in calls.items():
        for c in cs:
            callers.setdefault(c, []).append(f)
    # A failing `match?` reports through the same channel: its function's callers check too.
    may_fail, todo = set(cyclic), [*cyclic, MATCH_FAILED]
    while todo:
        for caller in callers.get(todo.pop(), []):
            if caller not in may_fail:
                may_fail.add(caller)
                todo.append(caller)
    return [name for name in calls if name in cyclic], may_fail


def _owned_at_error_points(f: func.FuncOp, may_fail: set[str]) -> dict[Operation, list[SSAValue]]:
    """The heap buffers `f` owns at each point where it can end through the error channel
    (a failing match? or size check, a call of a function that may fail): allocated on every
    path to the point and neither freed nor handed on to a block argument since. Those are
    what the normal path would free (or hand back as `?` results), so the error path frees
    them. A forward must-analysis over the blocks (an intersection at joins): a buffer in
    the set dominates the point, and one that may have been freed is never in it."""

    def fails(op: Operation) -> bool:
        return isinstance(op, func.CallOp) and (
            op.callee.string_value() == MATCH_FAILED or op.callee.string_value() in may_fail
        )

    blocks = list(f.body.blocks)
    if not blocks or not any(fails(op) for b in blocks for op in b.ops):
        return {}
    freed = {op.memref for b in blocks for op in b.ops if isinstance(op, memref.DeallocOp)}

    def owns(v: SSAValue) -> bool:
        return isinstance(v.owner, memref.AllocOp) or v in freed

    points: dict[Operation, list[SSAValue]] = {}

    def run(block: Block, owned: dict[SSAValue, None]) -> dict[SSAValue, None]:
        owned = dict(owned)
        for op in block.ops:
            if fails(op):
                points[op] = list(owned)
            if isinstance(op, memref.DeallocOp):
                owned.pop(op.memref, None)
            elif isinstance(op, (cf.BranchOp, cf.ConditionalBranchOp, cf.SwitchOp)):
                for v in op.operands:  # handed over to a block argument
                    owned.pop(v, None)
            else:
                owned.update((r, None) for r in op.results if owns(r))
        return owned

    entry = blocks[0]
    into: dict[Block, dict[SSAValue, None]] = {entry: {}}
    order = _reverse_post_order(entry)
    changed = True
    while changed:
        changed = False
        for block in order:
            out = run(block, into.get(block, {}))
            for succ in block.last_op.successors if block.last_op else ():
                before = into.get(succ)
                after = out if before is None else {v: None for v in before if v in out}
                if succ is not entry and (before is None or len(after) != len(before)):
                    into[succ] = after
                    changed = True
    return points


def _buffer_root(v: SSAValue) -> SSAValue:
    """The buffer a memref value views: through subviews and reshapes, to a parameter, an
    alloc, a global or whatever else made it."""
    while isinstance(
        o := v.owner,
        (memref.SubviewOp, memref.CollapseShapeOp, memref.ExpandShapeOp, memref.CastOp),
    ):
        v = o.source if isinstance(o, (memref.SubviewOp, memref.CastOp)) else o.src
    return v


# Ops that only read the memrefs they take (or only compute an address from them).
_READS_MEMREF = (
    memref.LoadOp,
    memref.SubviewOp,
    memref.CollapseShapeOp,
    memref.ExpandShapeOp,
    memref.CastOp,
    memref.DeallocOp,
)


def _only_prefetched(op: Operation) -> bool:
    """Whether `op` is a buffer's address that only prefetches use (parallelize-loops'
    blocks): integer arithmetic on it, made a pointer, given to llvm.prefetch, which
    writes nothing."""
    if not isinstance(op, memref.ExtractAlignedPointerAsIndexOp):
        return False
    todo = list(op.results)
    while todo:
        for use in todo.pop().uses:
            user = use.operation
            if isinstance(user, llvm.CallIntrinsicOp):
                if user.intrin.data != "llvm.prefetch.p0":
                    return False
            elif isinstance(user, (arith.IndexCastOp, arith.AddiOp, arith.MuliOp, llvm.IntToPtrOp)):
                todo.extend(user.results)
            else:
                return False
    return True


def _noalias_functions(module: ModuleOp) -> set[str]:
    """The bufferized functions whose memref parameters LLVM may take as `noalias`: a write
    through one of them is never seen through another pointer during the call.

    Destination passing makes it true, and this checks it rather than assume it. A function
    qualifies when it writes only its out-parameters and buffers it allocated (inputs are
    read-only, and two inputs may then be one array: LLVM's noalias concerns memory that is
    written); when no caller passes one buffer as an out-parameter and as another argument;
    when a caller passes two of its own parameters, one as an out-parameter, only if that
    caller qualifies (else they may be one buffer); and when its address is never taken.
    Callers from outside keep the same contract: the JIT passes fresh output arrays, and the
    C entry of --emit-obj documents that outputs do not overlap the inputs."""
    from relay_opt.dialects.relay.attribute_names import OUTPUTS

    funcs = {f.sym_name.data: f for f in module.ops if isinstance(f, func.FuncOp)}
    outputs: dict[str, int] = {}
    for name, f in funcs.items():
        n = f.attributes.get(OUTPUTS)
        if not f.is_declaration and isinstance(n, IntegerAttr):
            outputs[name] = n.value.data
    bad: set[str] = set(funcs) - set(outputs)
    # callee -> the callers whose parameter aliasing it inherits
    depends: dict[str, set[str]] = {}
    for name, n_out in outputs.items():
        f = funcs[name]
        params: list[SSAValue] = list(f.args)
        out_params = set(params[len(params) - n_out :])

        def own(root: SSAValue, out_params: set[SSAValue] = out_params) -> bool:
            """Memory this function may write: an out-parameter or its own alloc."""
            return root in out_params or isinstance(root.owner, memref.AllocOp)

        for op in f.walk():
            if not isinstance(op, func.CallOp):  # an address taken: unknown callers
                for a in (*op.properties.values(), *op.attributes.values()):
                    if isinstance(a, SymbolRefAttr) and a.root_reference.data in funcs:
                        bad.add(a.root_reference.data)
            if isinstance(op, memref.StoreOp):
                if not own(_buffer_root(op.memref)):
                    bad.add(name)
            elif isinstance(op, memref.CopyOp):
                if not own(_buffer_root(op.destination)):
                    bad.add(name)
            elif isinstance(op, func.CallOp):
                callee = op.callee.string_value()
                args = [a for a in op.arguments if isinstance(a.type, MemRefType)]
                if not args:
                    continue
                if callee not in outputs:
                    bad.add(name)  # it may write any of them
                    continue
                k = outputs[callee]
                roots = [_buffer_root(a) for a in args]
                outs, ins = roots[len(roots) - k :], roots[: len(roots) - k]
                if len(set(outs)) < len(outs) or set(outs) & set(ins):
                    bad.add(callee)
                if not all(own(r) for r in outs):
                    bad.add(name)
                if any(r in params for r in outs) and sum(r in params for r in set(roots)) > 1:
                    depends.setdefault(callee, set()).add(name)
            elif (
                any(isinstance(v.type, MemRefType) for v in op.operands)
                and not isinstance(op, _READS_MEMREF)
                and not _only_prefetched(op)
            ):
                bad.add(name)  # an op this analysis does not know may write a buffer
    # A caller that does not qualify passes its parameters' aliasing on to its callees.
    callees_of: dict[str, set[str]] = {}
    for callee, callers in depends.items():
        for caller in callers:
            callees_of.setdefault(caller, set()).add(callee)
    todo = list(bad)
    while todo:
        for callee in callees_of.get(todo.pop(), ()):
            if callee not in bad:
                bad.add(callee)
                todo.append(callee)
    return set(outputs) - bad


def _add_depth_globals(module: ModuleOp, cyclic: list[str]) -> None:
    """The depth counter, its limit and the error code (defined here, weak: a definition
    the JIT finds by name), and the list naming the error codes."""
    from xdsl.dialects.builtin import ArrayAttr, StringAttr

    for name, value in (
        (DEPTH_GLOBAL, 0),
        (MAX_DEPTH_GLOBAL, DEFAULT_MAX_DEPTH),
        (STACK_FLOOR_GLOBAL, 0),
        (ERROR_GLOBAL, 0),
    ):
        module.body.block.add_op(
            llvm.GlobalOp(i64, name, "weak", value=IntegerAttr(value, i64), alignment=8)
        )
    module.attributes[RECURSIVE_FUNCTIONS_ATTR] = ArrayAttr([StringAttr(n) for n in cyclic])
