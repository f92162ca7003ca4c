"""Benchmark ``awrs serve`` on loopback: 1, 4, 16 concurrent clients sending small JSON-schema
requests (SMC, 4 particles). Reports requests/s, p50/p99 latency, particle-tokens/s and whether
anything was lost (every request answered, every returned document valid under its schema).

    python -m bench.serve                       # starts its own server on a free port
    python -m bench.serve --levels 1 4 16 --requests 3 --json bench/out/serve.json

Bounded: at most ``--requests`` per client and ``--level-seconds`` per level (no new request is
sent after that), and the server it started is stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCHEMAS = [
    (
        "Describe a person as JSON.",
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "age"],
            "properties": {
                "name": {"type": "string", "maxLength": 8},
                "age": {"type": "integer", "minimum": 0, "maximum": 99},
            },
        },
    ),
    (
        "Pick a color and a count, as JSON.",
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["color", "count"],
            "properties": {
                "color": {"enum": ["red", "green", "blue"]},
                "count": {"type": "integer", "minimum": 0, "maximum": 9},
            },
        },
    ),
    (
        "Is the sky blue? Answer as JSON.",
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["answer"],
            "properties": {"answer": {"type": "boolean"}},
        },
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(args, root: Path = ROOT) -> tuple[subprocess.Popen, str]:
    """``awrs serve`` from the source tree ``root`` (another checkout: ``--compare``)."""
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "awrs",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--max-pending",
        "256",
        "--max-rows",
        str(args.max_rows),
    ]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    if args.model:
        cmd += ["--model", args.model]
    env = {**os.environ, "AWRS_API_KEY": "", "PYTHONPATH": str(root)}
    proc = subprocess.Popen(
        cmd, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    base = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with code {proc.returncode}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.terminate()
    raise SystemExit("the server did not become healthy within 300 s")


def one_request(client, i: int, args) -> dict:
    """Send request ``i``; return its latency, usage and whether its document is valid."""
    import jsonschema

    prompt, schema = SCHEMAS[i % len(SCHEMAS)]
    t0 = time.perf_counter()
    try:
        r = client.chat.completions.create(
            model="default",
            messages=[{"role": "user", "content": prompt}],
            max_tokens=args.max_tokens,
            seed=i,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "doc", "schema": schema},
            },
            extra_body={"method": "smc", "n_particles": args.particles},
        )
    except Exception as exc:  # counted as lost
        return {
            "ok": False,
            "error": f"{type(exc).__name__}: {exc}"[:200],
            "latency": time.perf_counter() - t0,
        }
    latency = time.perf_counter() - t0
    text = r.choices[0].message.content
    empty = bool(r.model_extra["awrs"]["empty"])
    valid = False
    if not empty:
        try:
            jsonschema.validate(json.loads(text), schema)
            valid = True
        except (ValueError, jsonschema.ValidationError):
            valid = False
    return {
        "ok": True,
        "latency": latency,
        "empty": empty,
        "valid": valid,
        "particle_tokens": r.usage.model_extra["particle_tokens"],
    }


def run_level(base: str, clients: int, args, first_seed: int, keep_tokens: bool = False) -> dict:
    import httpx
    import openai

    results: list[dict] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + args.level_seconds
    per_client = max(args.requests, -(-getattr(args, "min_requests", 0) // clients))
    counter = iter(range(first_seed, first_seed + clients * per_client))

    def worker():
        client = openai.OpenAI(
            base_url=f"{base}/v1", api_key="none", max_retries=0, timeout=args.level_seconds + 300
        )
        while time.monotonic() < stop_at:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            res = one_request(client, i, args)
            with lock:
                results.append(res)

    before = httpx.get(f"{base}/health").json()
    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    after = httpx.get(f"{base}/health").json()
    answered = [r for r in results if r["ok"]]
    lat = sorted(r["latency"] for r in answered)
    tokens = sum(r["particle_tokens"] for r in answered)
    forwards = after["lm_calls"] - before["lm_calls"]
    return {
        "clients": clients,
        "sent": len(results),
        "answered": len(answered),
        "empty": sum(r["empty"] for r in answered),
        "invalid": sum(1 for r in answered if not r["empty"] and not r["valid"]),
        "errors": [r["error"] for r in results if not r["ok"]][:3],
        "wall_s": wall,
        "requests_per_s": len(answered) / wall,
        "p50_s": statistics.median(lat) if lat else None,
        "p99_s": lat[min(len(lat) - 1, int(round(0.99 * (len(lat) - 1))))] if lat else None,
        "particle_tokens": tokens,
        "particle_tokens_per_s": tokens / wall,
        "forwards": forwards,
        "tokens_per_forward": tokens / forwards if forwards else None,
        "engine_busy": (after["busy_seconds"] - before["busy_seconds"]) / wall,
        "server_peak_rss_mb": after.get("peak_rss_mb"),
        **({"tokens": [r["particle_tokens"] for r in answered]} if keep_tokens else {}),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.serve",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--levels", type=int, nargs="+", default=[1, 4, 16])
    p.add_argument("--requests", type=int, default=3, help="requests per client per level (3)")
    p.add_argument(
        "--level-seconds",
        type=float,
        default=120,
        help="no new request after this many seconds of a level (120)",
    )
    p.add_argument("--particles", type=int, default=4)
    p.add_argument("--max-tokens", type=int, default=32)
    p.add_argument("--max-rows", type=int, default=64)
    p.add_argument("--threads", type=int, default=1, help="server torch threads (1; 0: torch's)")
    p.add_argument("--model", default=None)
    p.add_argument("--url", default=None, help="use a running server at this loopback URL")
    p.add_argument("--json", default=None, help="write the results here")
    p.add_argument(
        "--compare",
        default=None,
        metavar="DIR",
        help="another checkout (e.g. the base commit): both servers run, their levels "
        "interleaved, and the ratio of the last level over the first is reported "
        "for each with a bootstrap interval",
    )
    p.add_argument("--rounds", type=int, default=2, help="interleaved rounds with --compare (2)")
    p.add_argument(
        "--min-requests",
        type=int,
        default=0,
        help="at least this many requests per level (more per client at low levels)",
    )
    args = p.parse_args(argv)
    if args.compare:
        return compare(args)
    if args.url and not args.url.startswith(("http://127.0.0.1", "http://localhost")):
        raise SystemExit("--url must be a loopback address")
    proc, base = (None, args.url.rstrip("/")) if args.url else start_server(args)
    rows = []
    try:
        import openai

        warm = openai.OpenAI(base_url=f"{base}/v1", api_key="none", max_retries=0)
        for i in range(len(SCHEMAS)):  # compile paths, load caches
            one_request(warm, 10_000 + i, args)
        seed = 0
        for clients in args.levels:
            row = run_level(base, clients, args, seed)
            seed += clients * args.requests
            rows.append(row)
            print(
                f"{clients:>3} clients: {row['answered']}/{row['sent']} answered, "
                f"{row['invalid']} invalid, {row['empty']} empty | "
                f"{row['requests_per_s']:.2f} req/s, p50 {row['p50_s']:.2f} s, "
                f"p99 {row['p99_s']:.2f} s | {row['particle_tokens_per_s']:.1f} "
                f"particle-tokens/s, {row['tokens_per_forward'] or 0:.1f} per forward, "
                f"engine busy {row['engine_busy']:.0%}",
                flush=True,
            )
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    base_rate = rows[0]["particle_tokens_per_s"] if rows else 0
    for row in rows:
        row["speedup_vs_first"] = row["particle_tokens_per_s"] / base_rate if base_rate else None
    if len(rows) > 1:
        print(
            f"particle-tokens/s at {rows[-1]['clients']} clients / at {rows[0]['clients']}: "
            f"{rows[-1]['speedup_vs_first']:.2f}x"
        )
    lost = sum(r["sent"] - r["answered"] + r["invalid"] for r in rows)
    print("nothing lost" if lost == 0 else f"LOST: {lost} requests unanswered or invalid")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"settings": vars(args), "levels": rows}, indent=2))
    return 0 if lost == 0 else 1


def _warm(base: str, args) -> None:
    import openai

    warm = openai.OpenAI(base_url=f"{base}/v1", api_key="none", max_retries=0)
    for i in range(len(SCHEMAS)):  # compile paths, load caches
        one_request(warm, 10_000 + i, args)


def _ratio_interval(first: list[dict], last: list[dict], seed: int = 0) -> tuple[float, ...]:
    """Ratio of particle-tokens/s, last level over first, summed over rounds; 95 % bootstrap
    over rounds x requests (each round's wall time held, its requests' tokens resampled)."""
    import numpy as np

    rng = np.random.default_rng(seed)

    def rate(rows, resample: bool) -> float:
        tokens = 0.0
        for r in rows:
            t = np.asarray(r["tokens"], dtype=float)
            if resample and len(t):
                t = rng.choice(t, size=len(t))
            tokens += t.sum()
        return tokens / sum(r["wall_s"] for r in rows)

    point = rate(last, False) / rate(first, False)
    boots = [rate(last, True) / rate(first, True) for _ in range(2000)]
    return point, float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))


def compare(args) -> int:
    """Both versions, levels interleaved round by round, on the same machine in one run."""
    trees = {"this": ROOT, "compare": Path(args.compare).resolve()}
    servers = {name: start_server(args, root) for name, root in trees.items()}
    rows: dict[str, dict[int, list[dict]]] = {n: {c: [] for c in args.levels} for n in trees}
    try:
        for _, base in servers.values():
            _warm(base, args)
        seed = 0
        for rnd in range(args.rounds):
            for clients in args.levels:
                for name, (_, base) in servers.items():
                    row = run_level(base, clients, args, seed, keep_tokens=True)
                    rows[name][clients].append(row)
                    print(
                        f"round {rnd} {name:>7} {clients:>3} clients: {row['answered']}/"
                        f"{row['sent']} | {row['particle_tokens_per_s']:.1f} particle-tokens/s",
                        flush=True,
                    )
                seed += 100_000
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(timeout=20)
    first, last = args.levels[0], args.levels[-1]
    out = {}
    for name in trees:
        point, lo, hi = _ratio_interval(rows[name][first], rows[name][last])
        out[name] = {
            "ratio": point,
            "ci95": [lo, hi],
            "levels": {
                c: [{k: v for k, v in r.items() if k != "tokens"} for r in rs]
                for c, rs in rows[name].items()
            },
        }
        print(
            f"{name} ({trees[name]}): particle-tokens/s at {last} clients / at {first}: "
            f"{point:.2f}x (95 % interval {lo:.2f}-{hi:.2f})"
        )
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"settings": vars(args), "versions": out}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
