"""`relay-run --profile --html REPORT.html`: one self-contained page (no scripts, no network)
with the kernel times as a bar chart, the fused groups (a table and a picture of the
dataflow), and the IR after each stage."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from io import StringIO

from xdsl.dialects.builtin import ModuleOp
from xdsl.printer import Printer

STAGE_LIMIT = 200_000
"""Characters of IR shown per stage: a large model's lowered IR would make the page unusable."""


@dataclass
class FusedGroup:
    function: str
    operators: list[str]
    result: str
    where: str


@dataclass
class Recorder:
    """The `after_pass` callback of compile(): keeps each stage's text and the fused groups of
    the last Relay-level stage (before lowering starts)."""

    stages: list[tuple[str, str]] = field(default_factory=list)
    groups: list[FusedGroup] | None = None
    graph: str = ""
    """The inline SVG of the functions' dataflow at that stage (see `graph_svg`)."""

    def __call__(self, name: str, module: ModuleOp) -> None:
        out = StringIO()
        Printer(stream=out).print_op(module)
        self.stages.append((name, out.getvalue()))
        groups = fused_groups(module)
        if groups is not None:
            self.groups = groups
            self.graph = graph_svg(module)


def fused_groups(module: ModuleOp) -> list[FusedGroup] | None:
    """Every fused group (a `Primitive` closure) with its operators, or None when the module is
    no longer Relay (it has been lowered)."""
    from xdsl.dialects.builtin import FileLineColLoc

    from relay_opt.dialects.relay import core
    from relay_opt.dialects.relay.attribute_names import PRIMITIVE
    from relay_opt.dialects.relay.registry import RelayOperatorOp
    from relay_opt.passes.view_op_graph import type_label

    functions = [f for f in module.ops if isinstance(f, core.FuncOp)]
    if not functions:
        return None
    groups = []
    for f in functions:
        for op in f.walk():
            if isinstance(op, core.ClosureOp) and PRIMITIVE in op.attributes:
                operators = [o.opdef.name for o in op.walk() if isinstance(o, RelayOperatorOp)]
                first = next((o for o in op.walk() if isinstance(o, RelayOperatorOp)), op)
                loc = first.location
                where = (
                    f"{loc.filename.data}:{loc.line.data}:{loc.column.data}"
                    if isinstance(loc, FileLineColLoc)
                    else "?"
                )
                result = type_label(op.ret_type)
                groups.append(FusedGroup(f.sym_name.data, operators, result, where))
    return groups


GRAPH_LIMIT = 600
"""Nodes drawn per function; a larger graph is left to `relay-opt --view-op-graph`."""


def graph_svg(module: ModuleOp) -> str:
    """Each Relay function's top-level dataflow as an inline SVG (no Graphviz here): parameters,
    operators, and each fused group as one filled box named as in the groups table, edges
    labelled with the value's type. Nodes go in rows by their depth from the parameters."""
    from xdsl.ir import BlockArgument, Operation, SSAValue

    from relay_opt.dialects.relay import core
    from relay_opt.dialects.relay.attribute_names import PRIMITIVE
    from relay_opt.dialects.relay.registry import RelayOperatorOp
    from relay_opt.passes.view_op_graph import type_label

    e = html.escape
    numbers: dict[int, int] = {}  # a Primitive closure -> its row in the groups table
    for f in module.ops:
        if isinstance(f, core.FuncOp):
            for op in f.walk():
                if isinstance(op, core.ClosureOp) and PRIMITIVE in op.attributes:
                    numbers[id(op)] = len(numbers)

    def is_group(op: Operation) -> bool:
        return isinstance(op, core.ClosureOp) and id(op) in numbers

    def label(op: Operation) -> tuple[str, int | None]:
        if isinstance(op, core.CallClosureOp) and is_group(callee := op.callee.owner):  # pyright: ignore[reportArgumentType]
            assert isinstance(callee, core.ClosureOp)
            ops = [o.opdef.name for o in callee.walk() if isinstance(o, RelayOperatorOp)]
            return f"group {numbers[id(callee)]}: " + " + ".join(ops), numbers[id(callee)]
        from relay_opt.passes.view_op_graph import _op_label  # pyright: ignore[reportPrivateUsage]

        return _op_label(op), None

    pictures: list[str] = []
    for f in module.ops:
        if not isinstance(f, core.FuncOp):
            continue
        block = f.body.block
        nodes: list[tuple[str, int | None, int, bool]] = []  # label, group, depth, parameter
        index: dict[int, int] = {}  # id of a block argument or op -> its node
        edges: list[tuple[int, int, str]] = []

        def source(value: SSAValue, index: dict[int, int] = index) -> int | None:
            owner = value if isinstance(value, BlockArgument) else value.owner
            return index.get(id(owner))

        for arg in block.args:
            index[id(arg)] = len(nodes)
            nodes.append((f"%{arg.name_hint or arg.index}", None, 0, True))
        for op in block.ops:
            if is_group(op):
                continue  # drawn where it is called
            text, group = label(op)
            operands = [v for v in op.operands if not is_group(v.owner)]  # pyright: ignore[reportArgumentType]
            sources = [(s, v) for v in operands if (s := source(v)) is not None]
            depth = 1 + max((nodes[s][2] for s, _ in sources), default=0)
            index[id(op)] = len(nodes)
            nodes.append((text, group, depth, False))
            edges.extend((s, index[id(op)], type_label(v.type, 24)) for s, v in sources)
        if len(nodes) > GRAPH_LIMIT:
            pictures.append(
                f"<p>@{e(f.sym_name.data)} has {len(nodes)} nodes, more than are drawn here: "
                "<code>relay-opt --view-op-graph</code> writes its graph as Graphviz dot.</p>"
            )
            continue
        rows: dict[int, list[int]] = {}
        for n, (_, _, depth, _) in enumerate(nodes):
            rows.setdefault(depth, []).append(n)
        char, height, gap_x, gap_y = 7, 26, 24, 62
        widths = [min(60, len(text)) * char + 16 for text, _, _, _ in nodes]
        xy: dict[int, tuple[float, float]] = {}
        width = 0
        for depth, members in sorted(rows.items()):
            x = 10.0
            for n in members:
                xy[n] = (x, 10 + depth * gap_y)
                x += widths[n] + gap_x
            width = max(width, int(x))
        total_height = 10 + (max(rows) + 1) * gap_y
        out = [
            f'<svg class="graph" xmlns="http://www.w3.org/2000/svg" width="{width}" '
            f'height="{total_height}" viewBox="0 0 {width} {total_height}" '
            'font-family="sans-serif" font-size="12">',
            f"<title>@{e(f.sym_name.data)}</title>",
            f'<defs><marker id="arrow{len(pictures)}" viewBox="0 0 10 10" refX="10" refY="5" '
            'markerWidth="6" markerHeight="6" orient="auto">'
            '<path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>',
        ]
        for s, d, text in edges:
            (sx, sy), (dx, dy) = xy[s], xy[d]
            x1, y1 = sx + widths[s] / 2, sy + height
            x2, y2 = dx + widths[d] / 2, dy
            out.append(
                f'<line class="edge" x1="{x1:.0f}" y1="{y1:.0f}" x2="{x2:.0f}" y2="{y2:.0f}" '
                f'stroke="#555" marker-end="url(#arrow{len(pictures)})"/>'
                f'<text x="{(x1 + x2) / 2 + 4:.0f}" y="{(y1 + y2) / 2:.0f}" font-size="10" '
                f'fill="#555">{e(text)}</text>'
            )
        for n, (text, group, _, parameter) in enumerate(nodes):
            x, y = xy[n]
            shown = text if len(text) <= 60 else text[:57] + "..."
            fill = "#dbe6f8" if group is not None else ("#fff" if parameter else "#f4f4f4")
            kind = "group" if group is not None else ("param" if parameter else "op")
            radius = height / 2 if parameter else 3
            out.append(
                f'<g class="{kind}"><title>{e(text)}</title>'
                f'<rect x="{x:.0f}" y="{y:.0f}" width="{widths[n]}" height="{height}" '
                f'rx="{radius:.0f}" fill="{fill}" stroke="#333"/>'
                f'<text x="{x + 8:.0f}" y="{y + 17:.0f}">{e(shown)}</text></g>'
            )
        out.append("</svg>")
        pictures.append(f"<h3>@{e(f.sym_name.data)}</h3>" + "".join(out))
    return "\n".join(pictures)


_STYLE = """
body { font-family: sans-serif; margin: 2em; max-width: 70em; }
table { border-collapse: collapse; }
td, th { padding: 2px 8px; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.bar { background: #4a7bd0; height: 1em; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: 85%; }
summary { cursor: pointer; }
"""


def render(
    program: str,
    names: list[str],
    total_ns: list[int],
    calls: list[int],
    recorder: Recorder,
) -> str:
    """The page: kernels by time (a bar each, its width its share of the slowest), the fused
    groups, the stages' IR folded."""
    e = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>relay-run profile: {e(program)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Profile of {e(program)}</h1>",
        "<h2>Kernels</h2>",
    ]
    total = sum(total_ns) or 1
    slowest = max(total_ns, default=0) or 1
    order = sorted((k for k in range(len(names)) if calls[k]), key=lambda k: -total_ns[k])
    out.append(
        '<table id="kernels"><tr><th>kernel</th><th>calls</th><th>total (ms)</th>'
        "<th>%</th><th></th></tr>"
    )
    for k in order:
        width = 100 * total_ns[k] / slowest
        out.append(
            f'<tr class="kernel"><td>{e(names[k])}</td><td class="num">{calls[k]}</td>'
            f'<td class="num">{total_ns[k] / 1e6:.3f}</td>'
            f'<td class="num">{100 * total_ns[k] / total:.1f}</td>'
            f'<td style="width:20em"><div class="bar" style="width:{width:.1f}%"></div></td></tr>'
        )
    out.append(f'<tr><td>total</td><td></td><td class="num">{total / 1e6:.3f}</td></tr>')
    out.append("</table>")
    out.append("<h2>Fused groups</h2>")
    groups = recorder.groups or []
    if not groups:
        out.append("<p>No fused groups (fuse-ops runs at -O 3).</p>")
    else:
        out.append(
            '<table id="groups"><tr><th>#</th><th>function</th><th>operators</th>'
            "<th>result</th><th>at</th></tr>"
        )
        for i, g in enumerate(groups):
            out.append(
                f'<tr class="group"><td>{i}</td><td>@{e(g.function)}</td>'
                f"<td>{e(' + '.join(g.operators) or '(none)')}</td><td>{e(g.result)}</td>"
                f"<td>{e(g.where)}</td></tr>"
            )
        out.append("</table>")
        out.append(f'<div id="graph">{recorder.graph}</div>')
    out.append("<h2>IR after each stage</h2>")
    for name, text in recorder.stages:
        shown = text if len(text) <= STAGE_LIMIT else text[:STAGE_LIMIT] + "\n... (cut here)"
        out.append(
            f'<details class="stage"><summary>{e(name)}</summary><pre>{e(shown)}</pre></details>'
        )
    out.append("</body></html>")
    return "\n".join(out) + "\n"
