"""``python -m bench frontier``: quality against compute for every method, at equal budgets.

For each suite, method and budget ``B``: ``smc`` with ``B`` particles, and ``awrs``, ``mask``,
``direct`` and the peers as ``B`` independent samples in one batched call followed by a
selection rule (``first-valid``, ``logprob``, ``judge``, and the suite's ``reward`` where it has
one) by ``awrs.best_of_k``'s softmax rule. Writes ``frontier-items.csv`` (one row per item,
what ``--resume`` keeps), ``frontier.csv`` (one row per method and budget), a plot per suite
and ``frontier.md``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from awrs.errors import AwrsError, ConfigurationError

from ..harness import DEFAULT_OUT, warm_up
from ..methods import RunConfig, canonical
from ..suites import SUITES, get_suite
from .run import DEFAULT_METHODS, Frontier, Settings, method_names
from .select import SELECTIONS
from .table import ItemRow, ItemTable, cross_fit, summarize, write_points

__all__ = ["Frontier", "Settings", "main", "run", "add_arguments"]


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The frontier's options."""
    a = parser.add_argument
    a("suites", nargs="+", metavar="SUITE", help=f"one or more of {', '.join(SUITES)}")
    a(
        "--budgets",
        nargs="+",
        type=int,
        default=[1, 2, 4, 8, 16],
        metavar="B",
        help="particles (smc) or samples (the others) per item (default 1 2 4 8 16)",
    )
    a(
        "--methods",
        nargs="+",
        default=list(DEFAULT_METHODS),
        metavar="METHOD",
        help=f"default: {' '.join(DEFAULT_METHODS)}",
    )
    a(
        "--selections",
        nargs="+",
        default=list(SELECTIONS),
        choices=SELECTIONS,
        metavar="RULE",
        help=f"rules picking among samples (default: {' '.join(SELECTIONS)})",
    )
    a(
        "--selection-temperature",
        nargs="+",
        type=float,
        default=[0.0],
        metavar="T",
        help="softmax(reward / T) selection temperature (0 = argmax, the default); several: "
        "rows METHOD/RULE@T for each, and METHOD/RULE@cv with T chosen on the other items",
    )
    a("--limit", type=int, default=None, metavar="N", help="items per suite (default: all)")
    a("--max-tokens", type=int, default=128, metavar="N", help="tokens per sequence (128)")
    a("--temperature", type=float, default=1.0, help="sampling temperature (1.0)")
    a("--ess-threshold", type=float, default=0.5, help="smc resampling threshold (0.5)")
    a("--seed", type=int, default=0, help="seed of every run, the same for every method (0)")
    a("--model", default=None, help="model folder (default: SmolLM2-135M-Instruct)")
    a("--out", type=Path, default=DEFAULT_OUT / "frontier", metavar="DIR")
    a("--threads", type=int, default=None, help="torch intra-op threads")
    a(
        "--timeout",
        type=float,
        default=None,
        metavar="S",
        help="seconds allowed to one method's draw on one item (past it: no output)",
    )
    a(
        "--resume",
        action="store_true",
        help="keep rows of frontier-items.csv with these settings; run the rest",
    )
    a(
        "--report-only",
        action="store_true",
        help="no runs: write frontier.csv, the report and plots from frontier-items.csv",
    )
    a("--no-plots", action="store_true", help="skip the PNG plots")
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    """Validated :class:`Settings` from parsed arguments."""
    if any(b < 1 for b in args.budgets):
        raise ConfigurationError(f"--budgets must all be >= 1, got {args.budgets}")
    if args.max_tokens < 2:
        raise ConfigurationError(f"--max-tokens must be >= 2, got {args.max_tokens}")
    temps = list(dict.fromkeys(args.selection_temperature))
    if not all(t >= 0 for t in temps):
        raise ConfigurationError(f"--selection-temperature must be >= 0, got {temps}")
    methods = [m.strip() for v in args.methods for m in v.split(",") if m.strip()]
    cfg = RunConfig(
        1, args.max_tokens, args.temperature, args.ess_threshold, str(args.model or "default")
    )
    return Settings(
        sorted(set(args.budgets)),
        methods,
        list(dict.fromkeys(args.selections)),
        temps[0] if len(temps) == 1 else tuple(temps),
        cfg,
        args.seed,
        args.limit,
        args.timeout,
    )


def write_outputs(
    rows: Sequence[ItemRow], order: Sequence[str], out: Path, command: str, plots: bool
) -> list[Path]:
    """``frontier.csv``, ``frontier.md`` and the plots from item rows."""
    from .report import markdown, plot

    rows = [*rows, *cross_fit(rows)]
    points = summarize(rows, order)
    write_points(out / "frontier.csv", points)
    (out / "frontier.md").write_text(markdown(rows, points, command), encoding="utf-8")
    paths = [out / "frontier.csv", out / "frontier.md"]
    if plots:
        for suite in dict.fromkeys(p.suite for p in points):
            path = plot(out, suite, points)
            if path is not None:
                paths.append(path)
    return paths


def _order(methods: Sequence[str], temperatures: Sequence[float]) -> list[str]:
    names = method_names([canonical(m) for m in methods], SELECTIONS, temperatures)
    cv = [n.split("@")[0] + "@cv" for n in names if "@" in n]
    return [*names, *dict.fromkeys(cv)]


def run(args: argparse.Namespace, lm=None) -> int:
    """Run the frontier described by parsed ``args``; 0 when it finished, 130 if interrupted."""
    settings = settings_from(args)
    suites = [get_suite(n) for v in args.suites for n in v.split(",") if n]
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if lm is None and not args.report_only:
        import awrs

        lm = awrs.load_model(args.model)
        warm_up(lm)
    out = Path(args.out)
    command = getattr(args, "command", "") or shlex.join(sys.argv)
    order = _order(settings.methods, settings.temperatures)
    if args.report_only:
        rows = list(
            ItemTable(out / "frontier-items.csv", resume=True, read_only=True).rows.values()
        )
        for p in write_outputs(rows, order, out, command, not args.no_plots):
            print(f"wrote {p}", file=sys.stderr)
        return 0
    table = ItemTable(out / "frontier-items.csv", resume=args.resume)
    frontier = Frontier(lm, settings, table)

    def progress() -> None:
        write_outputs(list(table.rows.values()), order, out, command, False)

    code = 0
    try:
        for suite in suites:
            try:
                frontier.run_suite(suite, progress)
            except FileNotFoundError as exc:
                frontier.problems.append(f"suite {suite.name!r} skipped: {exc}")
    except KeyboardInterrupt:
        frontier.problems.append("interrupted: rerun with --resume to go on")
        code = 130
    paths = write_outputs(list(table.rows.values()), order, out, command, not args.no_plots)
    for p in paths:
        print(f"wrote {p}", file=sys.stderr)
    for problem in frontier.problems:
        print(f"warning: {problem}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None, prog: str = "python -m bench frontier") -> int:
    """Command-line entry point."""
    parser = add_arguments(argparse.ArgumentParser(prog=prog, description=__doc__))
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.command = " ".join([prog, shlex.join(argv)])
    try:
        return run(args)
    except AwrsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
