"""Batch jobs: records per second, local engine (1 and 2 workers) vs Ray (2 CPUs).

Run: ``python -m bench.batch [--records 50] [--max-tokens 16] [--repeat 1]``. The same
records go through each engine; start-up (worker processes or Ray and its actors, each loading
the model) is timed apart from the processing. Prints a Markdown table and Ray's overhead over
the local engine with as many workers (target <= 15 %). Every worker uses ``--threads`` torch
threads (default 1, as the engines do with several workers).
"""

from __future__ import annotations

import argparse
import json
import os
import time

from awrs.jobs.engine import _drive
from awrs.jobs.records import parse_record

from .common import DATA, PeakRSS, markdown_table, median

SCHEMA = {"type": "array", "items": {"type": "boolean"}, "minItems": 1, "maxItems": 3}


def make_records(n: int) -> list[dict]:
    """``n`` records: phone numbers, years, JSON lists of booleans (text and chat prompts)."""
    out = []
    for i in range(n):
        if i % 3 == 0:
            out.append(
                {"id": i, "prompt": f"Phone number of office {i}:", "regex": r"[0-9]{3}-[0-9]{4}"}
            )
        elif i % 3 == 1:
            out.append(
                {
                    "id": i,
                    "prompt": [{"role": "user", "content": f"Is {i} odd? JSON."}],
                    "json_schema": SCHEMA,
                }
            )
        else:
            out.append(
                {"id": i, "prompt": f"A year after {1900 + i}:", "regex": r"(19|20)[0-9]{2}"}
            )
    return out


def _engine(kind: str, args):
    config = {"model": args.model, "in_flight": args.in_flight, "threads": args.threads}
    if kind == "local-1":
        from awrs.jobs.local import LocalEngine

        return LocalEngine(1, **config)
    if kind == "local-2":
        from awrs.jobs.local import LocalEngine

        return LocalEngine(2, **config)
    import ray

    from awrs.jobs.ray_engine import RayEngine

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    return RayEngine(2, **config)


def run_one(kind: str, records: list, args) -> dict:
    """Start-up seconds, processing seconds and records/s of one engine on ``records``."""
    engine = _engine(kind, args)
    lines = []
    t0 = time.perf_counter()
    peak = PeakRSS()
    try:
        with peak:
            engine.start()
            t1 = time.perf_counter()
            _drive(engine, iter(records), lines.append, retries=2)
            t2 = time.perf_counter()
    finally:
        engine.stop()
        if kind.startswith("ray"):
            import ray

            ray.shutdown()
    errors = sum("error" in line for line in lines)
    return {
        "engine": kind,
        "records": len(lines),
        "errors": errors,
        "startup_s": t1 - t0,
        "process_s": t2 - t1,
        "rate": len(lines) / (t2 - t1),
        "end_to_end_rate": len(lines) / (t2 - t0),
        "peak_rss_mb": peak.bytes / 2**20,
    }


def maskbench_records(n: int) -> list[dict]:
    """``n`` MaskBench schemas as chat records (the schema in the prompt: up to ~1k tokens)."""
    path = DATA / "maskbench" / "maskbench-open.jsonl"
    if not path.exists():
        raise SystemExit(f"--maskbench needs {path}")
    out = []
    with path.open() as f:
        for i, line in enumerate(f):
            if len(out) >= n:
                break
            item = json.loads(line)
            text = json.dumps(item["schema"])
            if len(text) > 4000:
                continue
            out.append(
                {
                    "id": i,
                    "json_schema": item["schema"],
                    "prompt": [
                        {"role": "user", "content": f"Write a JSON document valid under: {text}"}
                    ],
                }
            )
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=50)
    p.add_argument("--max-tokens", type=int, default=16)
    p.add_argument("--particles", type=int, default=2)
    p.add_argument("--method", default="awrs")
    p.add_argument("--in-flight", type=int, default=8)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--engines", nargs="+", default=["local-1", "local-2", "ray-2"])
    p.add_argument("--model", default=None)
    p.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    p.add_argument("--json", action="store_true", help="also print the rows as JSON")
    p.add_argument(
        "--maskbench",
        action="store_true",
        help="MaskBench chat records (long prompts: the memory case) instead",
    )
    args = p.parse_args(argv)
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    defaults = {
        "method": args.method,
        "n_particles": args.particles,
        "max_tokens": args.max_tokens,
        "seed": 0,
    }
    raw = maskbench_records(args.records) if args.maskbench else make_records(args.records)
    records = [parse_record(r, defaults) for r in raw]
    runs: dict[str, list[dict]] = {k: [] for k in args.engines}
    for _ in range(args.repeat):  # engines interleaved, so load drifts hit each alike
        for kind in args.engines:
            runs[kind].append(run_one(kind, records, args))
    rows = []
    for kind, rs in runs.items():
        rows.append(
            {
                "engine": kind,
                "records": rs[0]["records"],
                "errors": rs[0]["errors"],
                "startup_s": median([r["startup_s"] for r in rs]),
                "process_s": median([r["process_s"] for r in rs]),
                "rate": median([r["rate"] for r in rs]),
                "end_to_end_rate": median([r["end_to_end_rate"] for r in rs]),
                "peak_rss_mb": max(r["peak_rss_mb"] for r in rs),
            }
        )
    print(
        markdown_table(
            [
                "engine",
                "records",
                "errors",
                "start-up s",
                "processing s",
                "records/s",
                "records/s end to end",
                "peak RSS MB",
            ],
            [
                [
                    r["engine"],
                    r["records"],
                    r["errors"],
                    f"{r['startup_s']:.1f}",
                    f"{r['process_s']:.1f}",
                    f"{r['rate']:.2f}",
                    f"{r['end_to_end_rate']:.2f}",
                    f"{r['peak_rss_mb']:.0f}",
                ]
                for r in rows
            ],
        )
    )
    by = {r["engine"]: r for r in rows}
    if "ray-2" in by and "local-2" in by:
        over = by["local-2"]["rate"] / by["ray-2"]["rate"] - 1
        e2e = by["local-2"]["end_to_end_rate"] / by["ray-2"]["end_to_end_rate"] - 1
        print(
            f"\nRay overhead over local-2: processing {over:+.1%} (target <= 15 %), "
            f"end to end {e2e:+.1%}"
        )
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
