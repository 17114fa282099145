"""`relay-opt`: the modular optimizer driver, with xdsl-opt's and mlir-opt's conventions.

    relay-opt model.mlir -p infer-types,canonicalize -o out.mlir
    relay-opt --list-passes

It is xDSL's `xDSLOptMain` with Relay's dialect and passes, a frontend that
records every op's source position, located diagnostics instead of tracebacks,
`--print-ir-after-all` / `--print-ir-before-all`, a timing report, and plugins:
dialects and passes of other packages arrive through the `xdsl.universe`
entry-point group, or from a module named with `--load-plugin`.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Mapping, Sequence
from io import BytesIO, StringIO
from typing import IO

from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass, PassPipeline
from xdsl.printer import Printer
from xdsl.universe import Universe
from xdsl.utils.exceptions import DiagnosticException, ParseError, VerifyException
from xdsl.xdsl_opt_main import xDSLOptMain

from relay_opt import __version__
from relay_opt.diagnostics import (
    ArgumentError,
    InternalError,
    RelayError,
    UserError,
    VerifyEach,
    render,
    render_error,
    render_parse_error,
    run_tool,
    verify_located,
    write_output,
)
from relay_opt.timing import Timings


def _plugin_universes(argv: Sequence[str]) -> list[Universe]:
    """The Universes of the modules named by `--load-plugin` (read before argparse runs)."""
    names: list[str] = []
    for i, arg in enumerate(argv):
        if arg == "--load-plugin" and i + 1 < len(argv):
            names.append(argv[i + 1])
        elif arg.startswith("--load-plugin="):
            names.append(arg.split("=", 1)[1])
    from relay_opt.universe import load_plugin

    return [u for name in names for u in load_plugin(name)]


TARGETS = ("mlir", "llvm")
"""The output targets that apply to relay-opt's IR: MLIR text, and LLVM IR of the llvm dialect."""


class RelayOptMain(xDSLOptMain):
    version_format = f"relay-opt {__version__} (xDSL {{xdsl_version}})"

    def __init__(self, args: Sequence[str] | None = None):
        argv = _verify_each_spelling(list(sys.argv[1:] if args is None else args))
        self.plugins = _plugin_universes(argv)
        self.sources: dict[str, str] = {}
        self.timings = Timings()
        super().__init__(
            description="relay-opt: Relay's optimizer and lowering driver (xdsl-opt conventions)",
            args=argv,
        )
        if self.args.input_file == "-":  # mlir-opt's name for standard input
            self.args.input_file = None

    # -- registries -----------------------------------------------------------------------

    def register_all_dialects(self) -> None:
        super().register_all_dialects()
        for universe in self.plugins:
            for name, factory in universe.all_dialects.items():
                if name in self.ctx.registered_dialect_names:
                    raise RelayError(f"plugin dialect '{name}' is already registered")
                self.ctx.register_dialect(name, factory)

    def register_all_passes(self) -> None:
        from relay_opt.universe import RELAY_OPT_OVERRIDES, pass_loader

        super().register_all_passes()
        for name, path in RELAY_OPT_OVERRIDES.items():
            self.register_pass(name, pass_loader(path))
        for universe in self.plugins:
            for name, factory in universe.all_passes.items():
                if name in self.available_passes:
                    raise RelayError(f"plugin pass '{name}' is already registered")
                self.register_pass(name, factory)

    def register_all_targets(self) -> None:
        # xDSL's other targets print its own dialects (riscv, x86 and arm assembly, wgsl, csl,
        # mps, wat): on Relay's IR they crash or print nothing. Only those that apply are offered.
        super().register_all_targets()
        targets = {n: t for n, t in self.available_targets.items() if n in TARGETS}
        targets["llvm"] = _print_llvm_ir  # the JIT's translation: it keeps globals' alignment
        for universe in self.plugins:
            targets.update(universe.all_targets)
        self.available_targets = targets

    def register_all_frontends(self) -> None:
        super().register_all_frontends()
        from relay_opt.loader import parse_module, read_meta, type_check

        def frontend(fmt: str):  # noqa: ANN202
            def parse(io: IO[bytes], line_offset: int = 0) -> ModuleOp:
                module = parse_module(
                    io.read(),
                    fmt,
                    self.get_input_name(),
                    ctx=self.ctx,
                    meta=read_meta(self.args.meta) if fmt == "relay" else None,
                    line_offset=line_offset,
                    implicit_module=not self.args.no_implicit_module,
                )
                if fmt == "relay":  # Relay text is type-checked as it is read, as TVM's parser does
                    type_check(module, self.timings)
                return module

            return parse

        formats = {"mlir": "mlir", "rly": "relay", "onnx": "onnx", "onnxtxt": "onnxtxt"}
        for extension, fmt in formats.items():
            self.available_frontends[extension] = frontend(fmt)

    def register_all_arguments(self, arg_parser: argparse.ArgumentParser) -> None:
        super().register_all_arguments(arg_parser)
        for action in arg_parser._actions:  # pyright: ignore[reportPrivateUsage]
            if action.dest == "passes":
                # xDSL's help lists all ~150 passes inline; --list-passes groups and explains them.
                action.help = (
                    "comma-separated passes with options, e.g. "
                    "'infer-types,fuse-ops{fuse-opt-level=2}' (--list-passes shows them all)"
                )
            elif action.dest == "frontend":
                action.help = argparse.SUPPRESS  # --input-format is the documented spelling
        arg_parser.add_argument(
            "--load-plugin",
            action="append",
            default=[],
            metavar="MODULE[:NAME]",
            help="import MODULE and register the dialects and passes of its "
            "xdsl.universe.Universe (NAME, or every Universe it defines)",
        )
        arg_parser.add_argument(
            "-O",
            dest="opt_level",
            type=int,
            choices=(0, 1, 2, 3),
            help="run the default Relay pipeline of this level (relay-optimize) before -p's passes",
        )
        arg_parser.add_argument(
            "--input-format",
            choices=("mlir", "relay", "onnx"),
            help="how to read the input (default: by file extension; .rly is Relay text)",
        )
        arg_parser.add_argument(
            "--meta",
            metavar="M.npz",
            help="constants for meta[relay.Constant][i] in Relay text "
            "(arrays named relay.Constant.0, relay.Constant.1, ...)",
        )
        arg_parser.add_argument(
            "--mlir-elide-resource-strings-if-larger",
            type=int,
            metavar="N",
            help="leave out of the printed IR the weights of more than N bytes",
        )
        arg_parser.add_argument(
            "--list-passes", action="store_true", help="list every pass with a one-line summary"
        )
        arg_parser.add_argument(
            "--pass-pipeline",
            metavar="PIPELINE",
            help="mlir-opt's spelling of -p: 'builtin.module(infer-types,fuse-ops{max-depth=8})'",
        )
        arg_parser.add_argument(
            "--print-ir-after-all",
            "--mlir-print-ir-after-all",
            action="store_true",
            help="print the IR after each pass (stderr)",
        )
        arg_parser.add_argument(
            "--print-ir-before-all",
            "--mlir-print-ir-before-all",
            action="store_true",
            help="print the IR before each pass (stderr)",
        )
        arg_parser.add_argument(
            "--mlir-print-ir-after",
            "--print-ir-after",
            action="append",
            default=[],
            metavar="PASS[,PASS...]",
            help="print the IR after each run of these passes (stderr)",
        )
        arg_parser.add_argument(
            "--mlir-print-ir-before",
            "--print-ir-before",
            action="append",
            default=[],
            metavar="PASS[,PASS...]",
            help="print the IR before each run of these passes (stderr)",
        )
        arg_parser.add_argument(
            "--dump-pass-pipeline",
            action="store_true",
            help="print the pipeline that will run, -O's levels expanded (stderr)",
        )
        arg_parser.add_argument(
            "--verify-each",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="verify the IR after every pass (default); IR that does not verify is an "
            "internal error naming the pass. --verify-each=false or --no-verify-each skips it",
        )
        arg_parser.add_argument(
            "--mlir-timing",
            action="store_true",
            help="print a per-pass timing report (stderr); --time-passes is the same",
        )
        arg_parser.add_argument(
            "--mlir-pass-statistics",
            action="store_true",
            help="print each pass's counters (stderr): the operations it created and erased, "
            "and how many there are after it",
        )
        arg_parser.add_argument(
            "--view-op-graph",
            action="store_true",
            help="after the passes, write each Relay function's graph in Graphviz's dot language "
            '(stderr); the pass view-op-graph{output-file="F.dot"} does so anywhere in -p',
        )

    # -- pipeline -------------------------------------------------------------------------

    def setup_pipeline(self) -> None:
        started = time.perf_counter()
        self.running: ModulePass | None = None
        self.statistics = PassStatistics()
        verifier = VerifyEach(self.sources)

        def callback(
            previous: ModulePass | None, module: ModuleOp, following: ModulePass | None
        ) -> None:
            nonlocal started
            now = time.perf_counter()
            if previous is None:  # a new pipeline run (each --split-input-file chunk)
                verifier.verified = None
            else:
                self.timings.add(previous.name, now - started)
                if self.args.mlir_pass_statistics:
                    self.statistics.after(previous.name, module)
                if self.args.verify_each and not self.args.disable_verify:
                    verifier.after(module, previous.name)
                if self.args.print_ir_after_all or previous.name in after:
                    self._dump(f"IR Dump After {previous.name}", module)
            if following is not None and (
                self.args.print_ir_before_all or following.name in before
            ):
                self._dump(f"IR Dump Before {following.name}", module)
            if following is not None and self.args.mlir_pass_statistics:
                self.statistics.before(module, first=previous is None)
            self.running = following
            started = time.perf_counter()

        after = _pass_names(self.args.mlir_print_ir_after, self.available_passes)
        before = _pass_names(self.args.mlir_print_ir_before, self.available_passes)
        spec = self.args.passes
        if self.args.pass_pipeline is not None:
            if spec:
                raise ArgumentError("give the passes with -p or with --pass-pipeline, not both")
            spec = _module_pipeline(self.args.pass_pipeline)
        if self.args.opt_level is not None:
            level = f"relay-optimize{{level={self.args.opt_level}}}"
            spec = f"{level},{spec}" if spec else level
        if self.args.view_op_graph:
            spec = f"{spec},view-op-graph" if spec else "view-op-graph"
        try:
            parsed = PassPipeline.parse_spec(self.available_passes, spec, callback)
        except ValueError as e:  # an unknown pass or option: xDSL says which
            raise ArgumentError(str(e)) from None
        self.pipeline = PassPipeline(tuple(_nested_passes(parsed.passes)), callback)
        if self.args.dump_pass_pipeline:
            passes = self.pipeline.passes
            sys.stderr.write(f"Pass Manager with {len(passes)} passes:\n")
            sys.stderr.write(f"builtin.module({','.join(str(p.spec()) for p in passes)})\n")

    def apply_passes(self, prog: ModuleOp) -> None:
        try:
            super().apply_passes(prog)
        except (
            RelayError,
            UserError,
            InternalError,
            ParseError,
            DiagnosticException,
            RecursionError,
            MemoryError,
        ):
            raise
        except Exception as e:
            # A pass that raises anything else has crashed: say which one, as a bug report.
            name = self.running.name if self.running is not None else "?"
            raise InternalError(f"pass '{name}' crashed: {type(e).__name__}: {e}") from e

    def _dump(self, title: str, module: ModuleOp) -> None:
        """One stage as the final output prints it, resource blobs included, so a dump can be
        cut out and fed back to relay-opt (or upstream mlir-opt) as it is."""
        from relay_opt.dialects.relay.resources import write_blobs

        write_blobs(module, self.args.mlir_elide_resource_strings_if_larger)
        self.ctx.get_optional_dialect("builtin")
        sys.stderr.write(f"// -----// {title} //----- //\n")
        printer = Printer(stream=sys.stderr, print_generic_format=self.args.print_op_generic)
        printer.print_op(module)
        printer.print_metadata(self.ctx.loaded_dialects)
        sys.stderr.write("\n\n")

    # -- driver ---------------------------------------------------------------------------

    def output_resulting_program(self, prog: ModuleOp) -> str:
        from relay_opt.dialects.relay.resources import write_blobs

        if self.args.target.partition("{")[0].strip() == "llvm":
            _check_llvm_dialect(prog)
        write_blobs(prog, self.args.mlir_elide_resource_strings_if_larger)
        # The printer looks for blobs through the loaded dialects; .rly input never loads builtin.
        self.ctx.get_optional_dialect("builtin")
        return super().output_resulting_program(prog)

    def parse_chunk(
        self, chunk: IO[bytes], file_extension: str, start_offset: int = 0
    ) -> ModuleOp | None:
        frontend = self.available_frontends[file_extension]
        if file_extension in ("mlir", "rly"):
            return frontend(chunk, start_offset)  # pyright: ignore[reportCallIssue]
        return frontend(chunk)

    def run(self) -> int:  # pyright: ignore[reportIncompatibleMethodOverride]
        if self.args.list_passes:
            self.list_passes(sys.stdout)
            return 0
        if self.args.input_format is not None:
            self.args.frontend = {"mlir": "mlir", "relay": "rly", "onnx": "onnx"}[
                self.args.input_format
            ]
        chunks, extension = self.prepare_input()
        name = self.get_input_name()
        if self.args.input_file is not None:
            with open(self.args.input_file, encoding="utf-8", errors="replace") as f:
                self.sources[name] = f.read()
        else:
            # Standard input can be read only once: keep its text for the diagnostics' excerpts.
            texts = [chunk.read() for chunk, _ in chunks]
            for chunk, _ in chunks:
                chunk.close()
            chunks = [
                (BytesIO(text), offset) for text, (_, offset) in zip(texts, chunks, strict=True)
            ]
            self.sources[name] = b"// -----".join(texts).decode("utf-8", "replace")
        diagnostics_mode = self.args.verify_diagnostics or self.args.parsing_diagnostics
        out = StringIO()
        for i, (chunk, offset) in enumerate(chunks):
            if i > 0:
                out.write("// -----\n")
            message = None
            try:
                module = self.parse_chunk(chunk, extension, offset)
                if module is not None:
                    if name not in self.sources:
                        self.sources[name] = ""
                    if not self.args.disable_verify:
                        verify_located(module)
                    self.apply_passes(module)
                    out.write(self.output_resulting_program(module))
            except ParseError as e:
                message = render_parse_error(_with_offset(e, offset))
            except RelayError as e:
                message = render_error(e, self.sources, unlocated="relay-opt")
            except (VerifyException, DiagnosticException) as e:
                text = str(e.args[0]) if e.args else str(e)
                message = render(text, None, self.sources, unlocated="relay-opt")
            finally:
                chunk.close()
            if message is not None:
                if diagnostics_mode:
                    out.write(message)
                    continue
                sys.stderr.write(message)
                return 1
        # Write the output only once everything succeeded: no half-written files.
        if self.args.output_file is None:
            sys.stdout.write(out.getvalue())
        else:
            write_output(self.args.output_file, out.getvalue(), "relay-opt")
        if self.args.mlir_timing or self.args.time_passes:
            sys.stderr.write(self.timings.report())
        if self.args.mlir_pass_statistics:
            sys.stderr.write(self.statistics.report())
        return 0

    def list_passes(self, stream: IO[str]) -> None:
        """Relay's passes first (in the order of their layers), then plugins', then the generic
        MLIR passes xDSL brings; each with its one-line summary and its options."""
        from relay_opt.universe import PASSES, RELAY_OPT_OVERRIDES, pass_summary

        plugin_names = {n for u in self.plugins for n in u.all_passes}
        plugin_names |= _installed_plugin_passes()
        relay = [n for n, path in PASSES.items() if path.startswith("passes.")]
        relay += [n for n, path in RELAY_OPT_OVERRIDES.items() if path.startswith("passes.")]
        lowering = [n for n, path in PASSES.items() if path.startswith("lowering.")]
        lowering += [n for n, path in RELAY_OPT_OVERRIDES.items() if path.startswith("lowering.")]
        ours = set(relay) | set(lowering) | plugin_names
        groups = [
            ("Relay passes (Relay -> Relay)", relay),
            ("Lowering (Relay -> linalg -> loops -> llvm)", lowering),
            ("Plugin passes", sorted(plugin_names)),
            (
                "xDSL's passes (generic MLIR transforms and other targets' lowerings)",
                sorted(n for n in self.available_passes if n not in ours),
            ),
        ]
        width = max(len(n) for n in self.available_passes)
        for title, names in groups:
            if not names:
                continue
            stream.write(f"{title}:\n")
            for name in names:
                try:
                    pass_class = self.available_passes[name]()
                    summary, options = pass_summary(pass_class), pass_options(pass_class)
                except Exception:  # a broken plugin must not hide the rest of the list
                    summary, options = "(failed to load)", ""
                stream.write(f"  {name.ljust(width)}  {summary}\n")
                if options:
                    stream.write(f"  {''.ljust(width)}    options: {options}\n")
            stream.write("\n")


class PassStatistics:
    """mlir-opt's --mlir-pass-statistics with counters every pass has: the operations it created
    and erased (by identity: an op moved elsewhere is neither) and the operations after it. A
    pipeline run on several inputs (--split-input-file) sums each pass's counters."""

    COUNTERS = (
        ("ops-created", "Number of operations the pass created"),
        ("ops-erased", "Number of operations the pass erased"),
        ("ops-after", "Number of operations in the module after the pass"),
    )

    def __init__(self) -> None:
        self.rows: list[tuple[str, list[int]]] = []
        self._position = 0
        self._before: list[object] = []

    def before(self, module: ModuleOp, first: bool) -> None:
        if first:
            self._position = 0
        # The ops themselves, not their ids: holding them keeps an erased op's id from being
        # reused by a new one.
        self._before = list(module.walk())

    def after(self, name: str, module: ModuleOp) -> None:
        ops = list(module.walk())
        before = {id(op) for op in self._before}
        after = {id(op) for op in ops}
        counts = [len(after - before), len(before - after), len(ops)]
        self._before = []
        if self._position < len(self.rows):
            total = self.rows[self._position][1]
            self.rows[self._position] = (name, [a + b for a, b in zip(total, counts, strict=True)])
        else:
            self.rows.append((name, counts))
        self._position += 1

    def report(self) -> str:
        rule = "===" + "-" * 73 + "==="
        lines = [rule, " " * 25 + "... Pass statistics report ...", rule]
        lines.append("'builtin.module' Pipeline")
        for name, counts in self.rows:
            lines.append(f"  {name}")
            width = max(len(str(c)) for c in counts)
            for (counter, description), value in zip(self.COUNTERS, counts, strict=True):
                lines.append(f"    (S) {value:>{width}} {counter} - {description}")
        return "\n".join(lines) + "\n"


def _installed_plugin_passes() -> set[str]:
    """The passes of installed packages' `xdsl.universe` entry points other than xDSL's and
    relay-opt's own (a plugin that fails to load is left out here; using it says why)."""
    from importlib.metadata import entry_points

    names: set[str] = set()
    for ep in entry_points(group="xdsl.universe"):
        if ep.value.split(".")[0].split(":")[0] in ("xdsl", "relay_opt"):
            continue
        try:
            universe = ep.load()
        except Exception:  # noqa: BLE001 - listing must not fail on a broken plugin
            continue
        if isinstance(universe, Universe):
            names |= set(universe.all_passes)
    return names


def pass_options(pass_class: type[ModulePass]) -> str:
    """A pass's options as `-p` spells them: `{name=default ...}` from its dataclass fields."""
    if not dataclasses.is_dataclass(pass_class):
        return ""
    shown = []
    for f in dataclasses.fields(pass_class):
        if not f.init or f.name.startswith("_"):
            continue
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = "..."
        if isinstance(default, bool):
            default = str(default).lower()
        elif isinstance(default, tuple | list):
            default = ",".join(str(v) for v in default)  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
        elif default is None:
            default = "<unset>"
        shown.append(f"{f.name.replace('_', '-')}={default}")
    return "{" + " ".join(shown) + "}" if shown else ""


def _module_pipeline(text: str) -> str:
    """`builtin.module(a,b{x=1})` (mlir-opt's --pass-pipeline) as the pass list `a,b{x=1}`."""
    inner = text.strip()
    for anchor in ("builtin.module(", "any("):
        if inner.startswith(anchor) and inner.endswith(")"):
            inner = inner[len(anchor) : -1].strip()
            break
    else:
        raise ArgumentError(
            f"--pass-pipeline '{text}' is not of the form "
            "'builtin.module(PASS,PASS{OPTION=VALUE})'"
        )
    if "(" in inner:
        raise ArgumentError(
            "relay-opt's passes run on the whole module: list them directly inside "
            f"builtin.module(...), without nested op anchors (got '{text}')"
        )
    # MLIR allows spaces after the commas between passes; xDSL's -p does not.
    passes, depth, start = [], 0, 0
    for i, c in enumerate(inner + ","):
        depth += {"{": 1, "}": -1}.get(c, 0)
        if c == "," and depth == 0:
            passes.append(inner[start:i].strip())
            start = i + 1
    return ",".join(passes)


def _pass_names(values: Sequence[str], available: Mapping[str, object]) -> set[str]:
    names = {n.strip() for v in values for n in v.split(",") if n.strip()}
    unknown = sorted(names - set(available))
    if unknown:
        raise ArgumentError(f"no pass named {', '.join(unknown)} (see --list-passes)")
    return names


def _nested_passes(passes: Sequence[ModulePass]) -> list[ModulePass]:
    """relay-optimize and relay-to-llvm as the passes they run, so that each of those is
    verified, timed and printed after on its own (as mlir-opt does with nested pipelines)."""
    out: list[ModulePass] = []
    for p in passes:
        if p.name == "relay-to-llvm":
            from relay_opt.lowering.apply_fp_policy import FP_POLICIES
            from relay_opt.lowering.relay_to_llvm import RelayToLLVMPipeline, lowering_stages

            assert isinstance(p, RelayToLLVMPipeline)
            # An unknown fp-policy stays the pass, which reports it when it runs.
            valid = p.fp_policy in FP_POLICIES
            out.extend(lowering_stages(p.profile, p.fp_policy) if valid else [p])
        elif p.name == "relay-optimize":
            from relay_opt.passes.relay_optimize import OptimizePass, passes_for_level

            assert isinstance(p, OptimizePass)
            # An unknown level stays the pass, which reports it when it runs.
            valid = 0 <= p.level <= 3
            out.extend(passes_for_level(p.level, p.entry, p.layout_block) if valid else [p])
        else:
            out.append(p)
    return out


def _verify_each_spelling(argv: list[str]) -> list[str]:
    """mlir-opt's `--verify-each=false` (or `=0`, `=true`, `=1`) as argparse's flags."""
    out = []
    for arg in argv:
        if arg.startswith("--verify-each="):
            value = arg.split("=", 1)[1].lower()
            if value not in ("true", "1", "false", "0"):
                raise UserError(
                    f"relay-opt: error: --verify-each takes true or false, not '{value}'\n"
                )
            arg = "--verify-each" if value in ("true", "1") else "--no-verify-each"
        out.append(arg)
    return out


def _print_llvm_ir(module: ModuleOp, output: IO[str]) -> None:
    from relay_opt.runtime.jit import llvm_ir

    print(llvm_ir(module), file=output)


def _check_llvm_dialect(module: ModuleOp) -> None:
    """`-t llvm` translates the llvm dialect: name the first op that is not in it."""
    for op in module.walk():
        if op is not module and not op.name.startswith("llvm."):
            raise RelayError(
                f"-t llvm translates the llvm dialect to LLVM IR, and '{op.name}' is not in it: "
                "lower the module first (-p relay-to-llvm)",
                op,
            )


def _with_offset(e: ParseError, offset: int) -> ParseError:
    import dataclasses

    e.span = dataclasses.replace(e.span, line_offset=offset)
    return e


def main(args: Sequence[str] | None = None) -> int:
    return run_tool(lambda: RelayOptMain(args).run(), "relay-opt")


if __name__ == "__main__":
    sys.exit(main())
