"""ONNX Einsum as transposes, reshapes, sums and batch matmuls.

Each operand first loses its repeated labels (a diagonal: multiply by an
identity mask, sum one copy away) and the labels no one else needs (summed).
Operands are then contracted left to right: the labels both share become a
batch axis when still needed later (by the output or another operand) and the
reduction axis otherwise, so every pair is one nn.batch_matmul of
[batch, rows, k] by [batch, cols, k]. Finally the result is summed and
transposed to the output's labels. Shapes are static, so all of this is known
while importing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from relay_opt.frontends.onnx.importer import Node, Value, converter


@dataclass
class Term:
    """A value with one label per axis."""

    value: Value
    labels: list[str]


def _parse(n: Node, equation: str, ranks: Sequence[int]) -> tuple[list[list[str]], list[str]]:
    """Labels per operand and of the output; an ellipsis becomes labels "…0", "…1", ... aligned
    to the right, as broadcasting aligns axes."""
    equation = equation.replace(" ", "")
    lhs, arrow, rhs = equation.partition("->")
    specs = lhs.split(",")
    if len(specs) != len(ranks):
        raise n.error(f"equation '{equation}' has {len(specs)} operands, the node {len(ranks)}")
    ellipsis_rank = 0
    operands: list[list[str]] = []
    for spec, rank in zip(specs, ranks, strict=True):
        letters = spec.replace("...", "")
        if not letters.isalpha() and letters:
            raise n.error(f"equation '{equation}': labels must be letters")
        if "..." in spec:
            extra = rank - len(letters)
            if extra < 0:
                raise n.error(
                    f"equation '{equation}': '{spec}' has more labels than its operand's "
                    f"rank {rank}"
                )
            ellipsis_rank = max(ellipsis_rank, extra)
            head, _, tail = spec.partition("...")
            operands.append(
                [*head, *(f"…{ellipsis_rank - extra + i}" for i in range(extra)), *tail]
            )
        else:
            if len(spec) != rank:
                raise n.error(
                    f"equation '{equation}': '{spec}' has {len(spec)} labels for a "
                    f"rank-{rank} operand"
                )
            operands.append(list(spec))
    dots = [f"…{i}" for i in range(ellipsis_rank)]
    if arrow:
        if "..." in rhs:
            head, _, tail = rhs.partition("...")
            output = [*head, *dots, *tail]
        else:
            output = list(rhs)
        seen = {label for labels in operands for label in labels}
        if missing := [label for label in output if label not in seen]:
            raise n.error(f"equation '{equation}': output label '{missing[0]}' is in no operand")
    else:  # implicit: the ellipsis, then the labels used once, alphabetically
        counts: dict[str, int] = {}
        for labels in operands:
            for label in labels:
                counts[label] = counts.get(label, 0) + 1
        output = dots + sorted(
            label for label, k in counts.items() if k == 1 and not label.startswith("…")
        )
    return operands, output


def _sizes(n: Node, terms: Sequence[Term]) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for term in terms:
        for label, size in zip(term.labels, n.shape(term.value), strict=True):
            if sizes.get(label, 1) not in (1, size) and size != 1:
                raise n.error(f"label '{label}' has sizes {sizes[label]} and {size}")
            sizes[label] = max(sizes.get(label, 1), size)
    return sizes


def _broadcast(n: Node, term: Term, sizes: dict[str, int]) -> Term:
    want = [sizes[label] for label in term.labels]
    if list(n.shape(term.value)) == want:
        return term
    return Term(n.op("broadcast_to", term.value, shape=want), term.labels)


def _diagonal(n: Node, term: Term) -> Term:
    """Repeated labels of one operand reduced to one axis each (x[i, i] for "ii")."""
    while True:
        repeated = next((label for label in term.labels if term.labels.count(label) > 1), None)
        if repeated is None:
            return term
        first = term.labels.index(repeated)
        second = term.labels.index(repeated, first + 1)
        shape = n.shape(term.value)
        if shape[first] != shape[second]:
            raise n.error(
                f"label '{repeated}' has sizes {shape[first]} and {shape[second]} in one operand"
            )
        mask_shape = [1] * len(shape)
        mask_shape[first] = mask_shape[second] = shape[first]
        mask = np.eye(shape[first], dtype=np.asarray(n.scalar(0, term.value)).dtype).reshape(
            mask_shape
        )
        value = n.op("sum", n.op("multiply", term.value, mask), axis=[second], keepdims=False)
        term = Term(value, term.labels[:second] + term.labels[second + 1 :])


def _sum_out(n: Node, term: Term, keep: set[str]) -> Term:
    axes = [i for i, label in enumerate(term.labels) if label not in keep]
    if not axes:
        return term
    value = n.op("sum", term.value, axis=axes, keepdims=False)
    return Term(value, [label for label in term.labels if label in keep])


def _arrange(n: Node, term: Term, order: Sequence[str]) -> Value:
    axes = [term.labels.index(label) for label in order]
    return (
        term.value if axes == list(range(len(axes))) else n.op("transpose", term.value, axes=axes)
    )


def _contract(n: Node, a: Term, b: Term, later: set[str], sizes: dict[str, int]) -> Term:
    shared = [label for label in a.labels if label in b.labels]
    batch = [label for label in shared if label in later]
    summed = [label for label in shared if label not in later]
    rows = [label for label in a.labels if label not in shared]
    cols = [label for label in b.labels if label not in shared]

    def size(labels: Sequence[str]) -> int:
        return math.prod(sizes[label] for label in labels)

    x = n.reshape(_arrange(n, a, batch + rows + summed), [size(batch), size(rows), size(summed)])
    y = n.reshape(_arrange(n, b, batch + cols + summed), [size(batch), size(cols), size(summed)])
    product = n.op("nn.batch_matmul", x, y, transpose_a=False, transpose_b=True)
    labels = batch + rows + cols
    return Term(n.reshape(product, [sizes[label] for label in labels]), labels)


@converter("Einsum")
def einsum(n: Node) -> Value:
    args = [n.required(i) for i in range(len(n.inputs))]
    operands, output = _parse(n, n.attr("equation", ""), [n.rank(a) for a in args])
    terms = [_diagonal(n, Term(a, labels)) for a, labels in zip(args, operands, strict=True)]
    sizes = _sizes(n, terms)
    terms = [_broadcast(n, t, sizes) for t in terms]

    def needed_after(i: int) -> set[str]:
        return set(output).union(*(t.labels for t in terms[i + 1 :]))

    result = _sum_out(
        n, terms[0], needed_after(0) | (set(terms[1].labels) if len(terms) > 1 else set())
    )
    for i in range(1, len(terms)):
        later = needed_after(i)
        term = _sum_out(n, terms[i], later | set(result.labels))
        result = _sum_out(n, _contract(n, result, term, later, sizes), later)
    result = _sum_out(n, result, set(output))
    return _arrange(n, result, output)
