"""The ``awrs`` command line: generate, best-of-k, bench, serve."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import AwrsError, ConfigurationError
from .request import METHODS, ConstraintSpec


def _add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model", default=None, help="local model folder (default: SmolLM2-135M-Instruct)"
    )
    p.add_argument("--max-tokens", type=int, default=128)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--raw", action="store_true", help="no chat template")
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--regex", help="Python regex (full match)")
    g.add_argument("--pattern", help="regex-package pattern (back-references, look-arounds)")
    g.add_argument("--json-schema", metavar="FILE", help="JSON Schema file")
    g.add_argument("--grammar", metavar="FILE", help="Lark grammar file")
    g.add_argument("--sql", metavar="DB", help="SQLite database file or DDL file")
    g.add_argument(
        "--smiles", action="store_true", help="one valid molecule in SMILES (extra awrs[chem])"
    )
    p.add_argument(
        "--max-whitespace",
        type=int,
        default=8,
        metavar="N",
        help="longest whitespace run allowed with --grammar and --sql (0: unbounded)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="awrs", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="generate text, optionally under a constraint")
    gen.add_argument("prompt")
    gen.add_argument(
        "--method",
        choices=METHODS,
        default=None,
        help="default: smc with a constraint, direct without",
    )
    gen.add_argument("--particles", type=int, default=8)
    gen.add_argument("--temperature", type=float, default=1.0)
    gen.add_argument(
        "--no-budget",
        action="store_true",
        help="smc/awrs: do not restrict proposals to texts that can finish within "
        "--max-tokens (the budget-unaware behaviour, for comparison)",
    )
    gen.add_argument(
        "--sound-budget",
        action="store_true",
        help="smc/awrs: prune only tokens proven unable to finish within "
        "--max-tokens, without closing texts along a known completion "
        "(budget='sound')",
    )
    _add_model_options(gen)
    from .scaling import cli as scaling_cli

    bok = sub.add_parser("best-of-k", help="reward-weighted best-of-k selection (LLM judge)")
    scaling_cli.add_arguments(bok)
    bok.add_argument("--model", default=None, help="local model folder (default: SmolLM2)")
    from .jobs import cli as batch_cli

    batch_cli.add_arguments(
        sub.add_parser(
            "batch", help="run a JSONL file of records (local processes or Ray); resumable"
        )
    )
    bench = sub.add_parser(
        "bench", help="run a benchmark suite (source checkout only)", add_help=False
    )
    bench.add_argument("rest", nargs=argparse.REMAINDER)
    from .serve import cli as serve_cli

    serve_cli.add_arguments(sub.add_parser("serve", help="OpenAI-compatible HTTP server"))
    return parser


def _constraint(args):
    """The constraint of the ``--regex`` / ``--pattern`` / ``--json-schema`` / ``--grammar`` /
    ``--sql`` / ``--smiles`` flag given (``None``: none)."""
    settings = {"max_whitespace": args.max_whitespace if args.max_whitespace > 0 else None}
    for kind in ("regex", "pattern"):
        if getattr(args, kind):
            return ConstraintSpec(kind, getattr(args, kind), settings).build()
    for kind in ("json_schema", "grammar", "sql"):
        if getattr(args, kind):
            return ConstraintSpec.from_file(kind, getattr(args, kind), settings).build()
    if args.smiles:
        return ConstraintSpec("smiles", True).build()
    return None


def _generate(args) -> dict:
    from .threads import configure

    threads = configure(None)  # before torch loads
    import awrs

    constraint = _constraint(args)
    method = args.method or ("smc" if constraint is not None else "direct")
    lm = awrs.load_model(args.model, threads=threads)
    extra = {}
    if method in ("smc", "awrs") and (args.no_budget or args.sound_budget):
        extra = {"budget": False if args.no_budget else "sound"}
    res = awrs.generate(
        lm,
        args.prompt,
        constraint,
        method=method,
        n_particles=args.particles,
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        seed=args.seed,
        raw=args.raw,
        progress=True,
        **extra,
    )
    return {
        "text": res.text,
        "posterior": res.posterior,
        "log_ml": res.log_ml,
        "method": method,
        "empty": res.empty,
        "stats": _jsonable(res.stats),
    }


def _best_of_k(args) -> dict:
    from .models.loading import load_model
    from .scaling.cli import run_best_of_k

    return run_best_of_k(args, lm=load_model(args.model))


def _jsonable(obj):
    if hasattr(obj, "__dataclass_fields__"):
        return {k: _jsonable(getattr(obj, k)) for k in obj.__dataclass_fields__}
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and obj != obj:
        return None
    return obj if isinstance(obj, (str, int, float, bool, type(None))) else str(obj)


def _bench(rest: list[str]) -> int:
    """Run the benchmark harness of a source checkout (``bench/`` is not installed with awrs).

    The harness runs when ``bench`` is importable (``python -m awrs bench`` from the repository
    root). The installed ``awrs`` script does not import from the current folder: run from the
    repository root, it hands over to ``python -m awrs bench`` there.
    """
    import importlib
    import importlib.util
    import subprocess

    missing = (
        "awrs bench needs a source checkout: run it from the repository root (python -m bench ...)"
    )
    if importlib.util.find_spec("bench") is not None:
        try:
            harness = importlib.import_module("bench.harness")
        except ImportError as exc:  # another package named bench, or a harness dependency
            raise ConfigurationError(f"{missing}: {exc}") from exc
        if rest[:1] == ["frontier"]:  # quality against compute (bench/frontier)
            return int(
                importlib.import_module("bench.frontier").main(rest[1:], "awrs bench frontier")
            )
        return int(harness.main(rest, prog="awrs bench") or 0)
    # python -m puts the current folder first on the import path (unless -P: no loop then)
    if Path("bench", "harness.py").is_file() and not sys.flags.safe_path:
        with subprocess.Popen([sys.executable, "-m", "awrs", "bench", *rest]) as child:
            while True:
                try:
                    return child.wait()
                except KeyboardInterrupt:  # the child has it too: let it write its report
                    continue
    raise ConfigurationError(missing)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:  # the harness parses its own options (and --help)
        try:
            return _bench(argv[1:])
        except AwrsError as exc:
            print(f"awrs: error: {exc}", file=sys.stderr)
            return 2
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        from .serve.cli import run

        return run(args)
    try:
        if args.command == "batch":
            from .jobs.cli import run as run_batch

            print(json.dumps(run_batch(args)))
            return 0
        out = _generate(args) if args.command == "generate" else _best_of_k(args)
    except AwrsError as exc:
        print(f"awrs: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(_jsonable(out), ensure_ascii=False, indent=2))
    elif args.command == "best-of-k":
        from .scaling.cli import format_text

        print(format_text(out))
    else:
        print(out["text"] if out["text"] is not None else "(no valid output)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
