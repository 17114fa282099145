"""`python -m relay_opt.fuzz --count N --seed S [--out DIR] [--ops OP ...]`: differential fuzzing
of native code (-O0, -O3) against the reference interpreter; `--replay DIR` runs a saved
finding again. Exit status 1 when something was found (or a replayed finding reproduces)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from relay_opt.fuzz import programs

    parser = argparse.ArgumentParser(prog="python -m relay_opt.fuzz", description=__doc__)
    parser.add_argument("--count", type=int, default=100, help="programs to run (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="the run's seed (default 0)")
    parser.add_argument("--first", type=int, default=0, help="index of the first program")
    parser.add_argument("--out", type=Path, help="folder for reduced reproducers of findings")
    parser.add_argument(
        "--ops", nargs="+", metavar="OP", help="generate only these operators (Relay names)"
    )
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="CPU seconds per program before a hang (wall-clock cap: 5 times)",
    )
    parser.add_argument("--max-ops", type=int, default=6, help="operator calls per program")
    parser.add_argument(
        "--levels", default="0,3", help="native optimization levels to compare (default 0,3)"
    )
    parser.add_argument("--no-reduce", action="store_true", help="save findings unreduced")
    parser.add_argument(
        "--no-int-div-by-zero",
        dest="int_div_by_zero",
        action="store_false",
        help="keep zero divisors away from integer divide/mod/floor_divide (defined: see README)",
    )
    parser.add_argument(
        "--include-known-bugs",
        action="store_true",
        help="also generate the calls programs.KNOWN_BUGS leaves out",
    )
    parser.add_argument("--replay", type=Path, metavar="DIR", help="run a saved finding again")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)

    from relay_opt.fuzz import driver

    if args.replay is not None:
        if not (args.replay / "finding.json").is_file():
            parser.error(f"{args.replay} holds no finding.json")
        verdict = driver.replay(args.replay, args.timeout)
        print(f"{verdict.kind}: {verdict.detail}" if verdict.detail else verdict.kind)
        return 0 if verdict.kind in ("pass", "refused") else 1
    unknown = sorted(set(args.ops or []) - set(programs.GENERATORS))
    if unknown:
        parser.error(
            f"no generator for {', '.join(unknown)} "
            f"(operators: {', '.join(sorted(programs.GENERATORS))})"
        )
    try:
        levels = tuple(int(x) for x in args.levels.split(","))
    except ValueError:
        parser.error(f"--levels takes levels like 0,3, got {args.levels!r}")
    if not all(0 <= lv <= 3 for lv in levels) or args.count < 0 or args.jobs < 1:
        parser.error("levels are 0 to 3; --count >= 0; --jobs >= 1")
    programs.DIV_BY_ZERO[0] = args.int_div_by_zero
    programs.EXCLUDE_KNOWN_BUGS[0] = not args.include_known_bugs
    summary = driver.run(
        args.count,
        args.seed,
        first=args.first,
        out=args.out,
        ops=args.ops,
        jobs=args.jobs,
        timeout=args.timeout,
        levels=levels,
        max_ops=args.max_ops,
        minimize=not args.no_reduce,
        progress=not args.quiet,
    )
    print(summary.report())
    return 1 if summary.findings else 0


if __name__ == "__main__":
    sys.exit(main())
