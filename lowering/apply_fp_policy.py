"""apply-fp-policy: the floating-point policy, decided in this one place.

The lowering writes float arithmetic without fast-math flags: each op rounds as written,
and a reduction is one serial chain of adds in loop order. LLVM may then neither form an
FMA nor vectorize a reduction ("cannot prove it is safe to reorder floating-point
operations"). This pass sets arith's `fastmath` flags, which convert-to-llvm carries to
LLVM's instructions:

- `fast` (the default, as BLAS libraries and onnxruntime compute): every float `addf`,
  `subf` and `mulf` gets `contract` (a multiply and the add that uses it may become one FMA,
  rounded once), and the accumulation of every reduction gets `reassoc` too (its partial sums
  may be kept in vector lanes and added up at the end). A reduction's accumulation is the
  chain of ops from the accumulator to what the loop yields: a `linalg.generic` with a
  reduction iterator (from its output block argument to `linalg.yield`; sum, mean, prod,
  dense/matmul/conv accumulation, softmax's sums, variance) and an `scf.for`'s iter_args
  (fuse-linalg-epilogue's reduction loops). Nothing else is reassociated.
  The results then differ from numpy's by the rounding of a different summation order
  (relative error about n * 2^-24 in the worst case for n terms, far less in practice).
- `strict`: no flags are added: every operation rounds as written, reductions add in loop
  order (the interpreter's results within a few ulp).

Flags the input already carries are kept under both policies. No `nnan`, `ninf`, `nsz` or
`arcp`: nan, inf and -0.0 keep their meaning. expand-math runs after this pass and writes
its polynomials with `contract` only, under either policy: they are its own approximations
of exp, tanh and the others (not numpy's order of operations), and their evaluation order
stays as written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import arith, scf
from xdsl.dialects.arith import FastMathFlagsAttr
from xdsl.dialects.builtin import ModuleOp
from xdsl.dialects.linalg import ops as linalg
from xdsl.dialects.utils.fast_math import FastMathFlag
from xdsl.ir import Block, Operation, SSAValue
from xdsl.passes import ModulePass

from relay_opt.diagnostics import RelayError

FP_POLICIES = ("fast", "strict")
"""The policies, default first."""

_CONTRACTED = (arith.AddfOp, arith.SubfOp, arith.MulfOp)
_REASSOCIATED = (arith.AddfOp, arith.SubfOp, arith.MulfOp)


def check_fp_policy(policy: str) -> str:
    """`policy` if it names one; otherwise a RelayError listing them."""
    if policy not in FP_POLICIES:
        raise RelayError(
            f"unknown floating-point policy '{policy}' (expected {' or '.join(FP_POLICIES)})"
        )
    return policy


def _add_flags(op: arith.FloatingPointLikeBinaryOperation, flags: Iterable[FastMathFlag]) -> None:
    have = set(op.fastmath.data)
    want = have | set(flags)
    if want != have:
        op.fastmath = FastMathFlagsAttr(sorted(want))


def _accumulation(block: Block, accumulators: Sequence[SSAValue], yielded: Sequence[SSAValue]):  # noqa: ANN202
    """The ops of `block` on a path from an accumulator to the value yielded in its place:
    forward from the accumulator through the block's ops, and backward from the yield."""
    chain: set[Operation] = set()
    for acc, out in zip(accumulators, yielded, strict=True):
        forward: set[Operation] = set()
        pending = [acc]
        while pending:
            for use in pending.pop().uses:
                user = block.find_ancestor_op_in_block(use.operation)
                if user is not None and user not in forward:
                    forward.add(user)
                    pending.extend(user.results)
        pending = [out]
        seen: set[SSAValue] = set()
        while pending:
            v = pending.pop()
            owner = v.owner
            if v in seen or not isinstance(owner, Operation) or owner not in forward:
                continue
            seen.add(v)
            chain.add(owner)
            pending.extend(owner.operands)
    return chain


def _reductions(module: ModuleOp):  # noqa: ANN202
    """Each reduction's body block with its accumulators and the values yielded for them."""
    for op in module.walk():
        if isinstance(op, linalg.GenericOp) and any(
            it.data.value == "reduction"
            for it in op.iterator_types  # pyright: ignore[reportAttributeAccessIssue]
        ):
            block = op.body.block
            n_in = len(op.inputs)
            term = block.last_op
            if isinstance(term, linalg.YieldOp):
                yield block, block.args[n_in:], list(term.operands)
        elif isinstance(op, scf.ForOp) and op.iter_args:
            block = op.body.block
            term = block.last_op
            if isinstance(term, scf.YieldOp):
                yield block, block.args[1:], list(term.operands)


@dataclass(frozen=True)
class ApplyFpPolicyPass(ModulePass):
    """Sets fast-math flags: contract on float add/sub/mul, reassoc on reductions; strict: none."""

    name = "apply-fp-policy"

    fp_policy: str = "fast"
    """fast (contract everywhere, reassoc on reductions) or strict (as written)."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if check_fp_policy(self.fp_policy) == "strict":
            return
        for block, accumulators, yielded in _reductions(op):
            for o in _accumulation(block, accumulators, yielded):
                if isinstance(o, _REASSOCIATED):
                    _add_flags(o, (FastMathFlag.REASSOC,))
        for o in op.walk():
            if isinstance(o, _CONTRACTED):
                _add_flags(o, (FastMathFlag.ALLOW_CONTRACT,))
