"""``awrs batch INPUT.jsonl OUTPUT.jsonl``: the options and the run."""

from __future__ import annotations

import argparse

from .records import OPTIONS


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "input", help="JSONL file: one record per line (id, prompt, a constraint, options)"
    )
    p.add_argument(
        "output", help="JSONL file the lines are appended to; ids already in it are skipped"
    )
    p.add_argument("--engine", choices=("local", "ray"), default="local")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="local: worker processes (default 1); ray: actors (default: cluster CPUs)",
    )
    p.add_argument(
        "--address",
        default=None,
        help="ray: the cluster to join (default: start a local Ray instance)",
    )
    p.add_argument(
        "--retries",
        type=int,
        default=2,
        help="reruns of a record whose worker crashed, before its error line",
    )
    p.add_argument("--in-flight", type=int, default=16, help="records each worker holds")
    p.add_argument("--model", default=None, help="local model folder (default: SmolLM2)")
    p.add_argument(
        "--method",
        default=None,
        choices=("smc", "awrs", "mask", "rerank", "direct"),
        help="default: smc with a constraint, direct without",
    )
    p.add_argument("--particles", type=int, default=OPTIONS["n_particles"])
    p.add_argument("--max-tokens", type=int, default=OPTIONS["max_tokens"])
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--raw", action="store_true", help="no chat template for text prompts")
    p.add_argument(
        "--max-whitespace",
        type=int,
        default=8,
        metavar="N",
        help="longest whitespace run for grammar and SQL records (0: unbounded)",
    )
    p.add_argument(
        "--sql-root",
        default=None,
        metavar="DIR",
        help="a record's sql may name an SQLite file inside DIR (default: none; sql "
        "must then be DDL text or a Spider tables.json entry)",
    )
    p.add_argument("--top", type=int, default=5, help="posterior entries per output line")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> dict:
    """Run the job; the summary (counts, seconds, rate) as a dict."""
    from . import batch

    s = batch(
        args.input,
        args.output,
        engine=args.engine,
        workers=args.workers,
        address=args.address,
        retries=args.retries,
        model=args.model,
        method=args.method,
        n_particles=args.particles,
        max_tokens=args.max_tokens,
        seed=args.seed,
        temperature=args.temperature,
        raw=args.raw,
        max_whitespace=args.max_whitespace or None,
        top=args.top,
        in_flight=args.in_flight,
        progress=not args.quiet,
        sql_root=args.sql_root,
    )
    return {
        "total": s.total,
        "skipped": s.skipped,
        "written": s.written,
        "errors": s.errors,
        "seconds": round(s.seconds, 2),
        "records_per_s": round(s.rate, 3),
    }
