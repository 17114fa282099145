"""view-op-graph: write each Relay function's dataflow graph in Graphviz's dot language.

mlir-opt's pass of that name, for Relay: the module is left as it is. One `digraph` holds a
cluster per global function; an op with a body (a closure, an `if`) is a cluster inside it
with a node for the op itself, and a fused group (a closure with the `Primitive` attribute,
what fuse-ops makes) is a filled cluster named `fused group`. Each edge goes from a value's
definition to a use and is labelled with the value's type: `1x3x224x224xfloat32` for a
tensor. The text goes to standard error (as mlir-opt's does) or to `output-file`:

    relay-opt model.rly -O 3 --view-op-graph 2> model.dot && dot -Tsvg model.dot > model.svg
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import FunctionType, ModuleOp, TensorType, TupleType
from xdsl.ir import Attribute, Block, BlockArgument, Operation, SSAValue
from xdsl.passes import ModulePass

from relay_opt.dialects.relay import core
from relay_opt.dialects.relay.attribute_names import PRIMITIVE
from relay_opt.dialects.relay.registry import RelayOperatorOp
from relay_opt.dialects.relay.types import tensor_dtype


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def type_label(t: Attribute, limit: int = 48) -> str:
    """A value's type as an edge label: `2x3xfloat32`, `(2xint32, float32)` for a tuple."""
    if isinstance(t, TensorType):
        shape = "x".join("?" if d < 0 else str(d) for d in t.get_shape())
        return f"{shape}x{tensor_dtype(t)}" if shape else tensor_dtype(t)
    if isinstance(t, FunctionType):
        return "closure"  # its signature is on the edges into the closure's parameters
    if isinstance(t, TupleType):
        text = "(" + ", ".join(type_label(f, limit) for f in t.types) + ")"
    else:
        text = str(t)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _op_label(op: Operation) -> str:
    if isinstance(op, RelayOperatorOp):
        return op.opdef.name
    if isinstance(op, core.FuncOp):
        return f"@{op.sym_name.data}"
    if isinstance(op, core.ClosureOp):
        return "closure"
    if isinstance(op, core.CallOp):
        return f"call @{op.callee.root_reference.data}"
    return op.name.removeprefix("relay.")


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.names: dict[int, str] = {}  # id of an op or block argument -> its node
        self.edges: list[str] = []
        self.clusters = 0

    def node(self, key: object, label: str, indent: str, shape: str = "box") -> str:
        name = f"n{len(self.names)}"
        self.names[id(key)] = name
        self.lines.append(f"{indent}{name} [label={_quote(label)}, shape={shape}];")
        return name

    def block(self, block: Block, indent: str) -> None:
        for arg in block.args:
            self.node(arg, f"%{arg.name_hint or arg.index}", indent, "ellipse")
        for op in block.ops:
            self.op(op, indent)

    def op(self, op: Operation, indent: str) -> None:
        if op.regions:
            self.clusters += 1
            fused = isinstance(op, core.ClosureOp) and PRIMITIVE in op.attributes
            title = "fused group" if fused else _op_label(op)
            self.lines.append(f"{indent}subgraph cluster_{self.clusters} {{")
            self.lines.append(f"{indent}  label={_quote(title)};")
            if fused:
                self.lines.append(f'{indent}  style=filled; fillcolor="#eef3fb";')
            if op.results:  # the value the op defines (a closure): its uses have edges from here
                self.node(op, _op_label(op), indent + "  ", "box")
            for region in op.regions:
                for block in region.blocks:
                    self.block(block, indent + "  ")
            self.lines.append(f"{indent}}}")
        else:
            shape = "box" if op.results else "plain"
            self.node(op, _op_label(op), indent, shape)
        for operand in op.operands:
            self.edge(operand, op)

    def edge(self, value: SSAValue, user: Operation) -> None:
        owner = value if isinstance(value, BlockArgument) else value.owner
        source = self.names.get(id(owner))
        if source is None:  # defined outside what is drawn (cannot happen in a Relay function)
            return
        label = _quote(type_label(value.type))
        self.edges.append(f"  {source} -> {self.names[id(user)]} [label={label}];")


def op_graph(module: ModuleOp) -> str:
    """The dot text of every Relay function of `module` (one digraph, a cluster per function)."""
    writer = _Writer()
    writer.lines.append("digraph relay {")
    writer.lines.append('  node [fontname="Helvetica"]; edge [fontname="Helvetica", fontsize=10];')
    for f in module.ops:
        if isinstance(f, core.FuncOp):
            writer.op(f, "  ")
    writer.lines.extend(writer.edges)
    writer.lines.append("}")
    return "\n".join(writer.lines) + "\n"


@dataclass(frozen=True)
class ViewOpGraphPass(ModulePass):
    """Writes each Relay function's dataflow as Graphviz dot: fused groups as clusters, types
    on the edges."""

    name = "view-op-graph"

    output_file: str = "-"
    """Where to write the graph; `-` is standard error, as mlir-opt's view-op-graph."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        text = op_graph(op)
        if self.output_file == "-":
            sys.stderr.write(text)
            sys.stderr.flush()
        else:
            from relay_opt.diagnostics import write_output

            write_output(self.output_file, text, "view-op-graph")
