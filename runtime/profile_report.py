"""`relay-run --profile --html REPORT.html`: one self-contained page (no scripts, no network)
with the kernel times as a bar chart, the fused groups, and the IR after each stage."""

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

    def __call__(self, name: str, module: ModuleOp) -> None:
        out = StringIO()
        Printer(stream=out).print_op(module)
        self.stages.append((name, out.getvalue()))
        groups = fused_groups(module)
        if groups is not None:
            self.groups = groups


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
    out.append("<h2>IR after each stage</h2>")
    for name, text in recorder.stages:
        shown = text if len(text) <= STAGE_LIMIT else text[:STAGE_LIMIT] + "\n... (cut here)"
        out.append(
            f'<details class="stage"><summary>{e(name)}</summary><pre>{e(shown)}</pre></details>'
        )
    out.append("</body></html>")
    return "\n".join(out) + "\n"
