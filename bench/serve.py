"""Benchmark ``awrs serve`` on loopback: 1, 4, 16 concurrent clients sending small JSON-schema
requests (SMC, 4 particles). Reports requests/s, p50/p99 latency, particle-tokens/s and whether
anything was lost (every request answered, every returned document valid under its schema).

    python -m bench.serve                       # starts its own server on a free port
    python -m bench.serve --levels 1 4 16 --requests 3 --json bench/out/serve.json
    python -m bench.serve --engine ray --replicas 1 --min-requests 30 --rounds 3
                                                # the local server and Ray Serve, interleaved
    python -m bench.serve --engine ray --replicas 2 --kill-after 8 --levels 16
                                                # a replica killed mid-load: nothing lost?

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

import numpy as np

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
        **(
            {
                "tokens": [r["particle_tokens"] for r in answered],
                "latencies": [r["latency"] for r in answered],
            }
            if keep_tokens
            else {}
        ),
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
    p.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="ray: the local server and the Ray Serve application (--replicas engine "
        "replicas, an engine each) in one run, levels interleaved, ratios ray/local with "
        "bootstrap intervals (requires awrs[ray])",
    )
    p.add_argument("--replicas", type=int, default=1, help="engine replicas with --engine ray")
    p.add_argument(
        "--hop-requests",
        type=int,
        default=100,
        help="with --engine ray: sequential pairs timing the proxy's hop (100)",
    )
    p.add_argument(
        "--kill-after",
        type=float,
        default=None,
        metavar="S",
        help="with --engine ray: run the first level on Ray only and kill one engine "
        "replica S seconds in; count lost, doubly answered and non-OpenAI error bodies",
    )
    args = p.parse_args(argv)
    if args.engine == "ray":
        return kill_run(args) if args.kill_after is not None else compare_ray(args)
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
                c: [{k: v for k, v in r.items() if k not in ("tokens", "latencies")} for r in rs]
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


# -- --engine ray: the Ray Serve application beside the local server ---------------------------
def start_ray(args) -> str:
    """Ray on this machine (this process is the driver) and the awrs application behind
    Serve's proxy on a free loopback port: ``--replicas`` engine replicas, ``--threads`` each."""
    import ray
    from ray import serve

    from awrs.serve.ray import RaySettings, build

    ray.init(
        num_cpus=os.cpu_count(),
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
    )
    port = _free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    settings = RaySettings.model_validate(
        {
            "model": args.model,
            "replicas": args.replicas,
            "threads": args.threads or None,
            "num_cpus": 0,  # threads, not Ray's CPU accounting, bound the work here
            "max_pending": 256,
            "max_rows": args.max_rows,
        }
    )
    serve.run(build(settings), name="awrs", route_prefix="/")
    return f"http://127.0.0.1:{port}"


def stop_ray() -> None:
    import ray
    from ray import serve

    serve.shutdown()
    ray.shutdown()


def _pooled(rows: list[dict]) -> tuple[float, np.ndarray, np.ndarray]:
    wall = sum(r["wall_s"] for r in rows)
    lat = np.concatenate([np.asarray(r["latencies"], dtype=float) for r in rows])
    tok = np.concatenate([np.asarray(r["tokens"], dtype=float) for r in rows])
    return wall, lat, tok


def _metrics(wall: float, lat: np.ndarray, tok: np.ndarray, scale: float = 1.0) -> dict:
    return {
        "requests_per_s": len(lat) / (wall * scale),
        "particle_tokens_per_s": tok.sum() / (wall * scale),
        "p50_s": float(np.percentile(lat, 50)),
        "p99_s": float(np.percentile(lat, 99)),
    }


def _boot(wall: float, lat: np.ndarray, tok: np.ndarray, rng) -> dict:
    """One bootstrap draw: requests resampled; the wall time scaled by their mean latency
    (a closed loop of clients: throughput is clients over the mean latency)."""
    i = rng.integers(0, len(lat), size=len(lat))
    return _metrics(wall, lat[i], tok[i], scale=lat[i].mean() / lat.mean())


def ray_ratios(local: list[dict], ray_rows: list[dict], seed: int = 0) -> dict:
    """ray / local for each metric, point and 95 % bootstrap interval (2000 draws)."""
    rng = np.random.default_rng(seed)
    a, b = _pooled(local), _pooled(ray_rows)
    pa, pb = _metrics(*a), _metrics(*b)
    draws = [(_boot(*a, rng), _boot(*b, rng)) for _ in range(2000)]
    out = {}
    for k in pa:
        ratios = [db[k] / da[k] for da, db in draws]
        out[k] = {
            "local": pa[k],
            "ray": pb[k],
            "ratio": pb[k] / pa[k],
            "ci95": [float(np.percentile(ratios, 2.5)), float(np.percentile(ratios, 97.5))],
        }
    return out


def hop_overhead(local: str, ray_base: str, n: int) -> dict:
    """What the proxy, the ingress and the handle add to a request: ``n`` sequential pairs
    (local, then Ray) of ``GET /v1/models`` (no engine) and of a one-token completion
    (``method="direct"``); the median of each, their difference, a bootstrap interval."""
    import httpx

    rng = np.random.default_rng(0)
    body = {"model": "default", "prompt": "Hi", "max_tokens": 1, "method": "direct", "seed": 0}
    out = {}
    with httpx.Client(timeout=60) as http:
        for what, send in (
            ("GET /v1/models", lambda b: http.get(f"{b}/v1/models")),
            ("1-token completion", lambda b: http.post(f"{b}/v1/completions", json=body)),
        ):
            times: dict[str, list[float]] = {"local": [], "ray": []}
            for _ in range(n):
                for name, base in (("local", local), ("ray", ray_base)):
                    t0 = time.perf_counter()
                    send(base).raise_for_status()
                    times[name].append(time.perf_counter() - t0)
            a, b = np.asarray(times["local"]) * 1000, np.asarray(times["ray"]) * 1000
            boots = [
                np.median(rng.choice(b, len(b))) - np.median(rng.choice(a, len(a)))
                for _ in range(2000)
            ]
            out[what] = {
                "local_ms": float(np.median(a)),
                "ray_ms": float(np.median(b)),
                "diff_ms": float(np.median(b) - np.median(a)),
                "ci95": [float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))],
                "n": n,
            }
    return out


def compare_ray(args) -> int:
    """The local server and the Ray application, levels interleaved round by round (the
    order alternating), the same requests (seeds) for both."""
    proc, local = start_server(args)
    try:
        engines = {"local": local, "ray": start_ray(args)}
        rows: dict[str, dict[int, list[dict]]] = {n: {c: [] for c in args.levels} for n in engines}
        for base in engines.values():
            _warm(base, args)
        hop = hop_overhead(engines["local"], engines["ray"], args.hop_requests)
        for what, v in hop.items():
            print(
                f"{what}: p50 local {v['local_ms']:.1f} ms, ray {v['ray_ms']:.1f} ms, "
                f"difference {v['diff_ms']:+.1f} ms (95 % interval {v['ci95'][0]:+.1f} to "
                f"{v['ci95'][1]:+.1f})",
                flush=True,
            )
        seed = 0
        for rnd in range(args.rounds):
            for clients in args.levels:
                order = list(engines) if rnd % 2 == 0 else list(reversed(engines))
                for name in order:
                    row = run_level(engines[name], clients, args, seed, keep_tokens=True)
                    rows[name][clients].append(row)
                    print(
                        f"round {rnd} {name:>5} {clients:>3} clients: {row['answered']}/"
                        f"{row['sent']}, {row['invalid']} invalid | {row['requests_per_s']:.2f} "
                        f"req/s, {row['particle_tokens_per_s']:.1f} particle-tokens/s, p50 "
                        f"{row['p50_s']:.2f} s, p99 {row['p99_s']:.2f} s",
                        flush=True,
                    )
                seed += 100_000
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        stop_ray()
    summary = {}
    for clients in args.levels:
        r = ray_ratios(rows["local"][clients], rows["ray"][clients])
        summary[clients] = r
        print(f"{clients} clients, ray ({args.replicas} replica(s)) / local:")
        for k, v in r.items():
            lo, hi = v["ci95"]
            print(
                f"  {k:>22}: local {v['local']:.3f}, ray {v['ray']:.3f}, "
                f"ratio {v['ratio']:.3f} (95 % interval {lo:.3f}-{hi:.3f})"
            )
    one = summary.get(1)
    if one:
        d = (one["p50_s"]["ray"] - one["p50_s"]["local"]) * 1000
        print(f"proxy overhead at 1 client: p50 {d:+.0f} ms per request")
    lost = sum(
        r["sent"] - r["answered"] + r["invalid"]
        for e in rows.values()
        for rs in e.values()
        for r in rs
    )
    print("nothing lost" if lost == 0 else f"LOST: {lost} requests unanswered or invalid")
    if args.json:
        levels = {
            n: {
                c: [{k: v for k, v in r.items() if k not in ("tokens", "latencies")} for r in rs]
                for c, rs in e.items()
            }
            for n, e in rows.items()
        }
        out = {"settings": vars(args), "hop": hop, "ratios": summary, "levels": levels}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0 if lost == 0 else 1


def _openai_error(body) -> bool:
    err = body.get("error") if isinstance(body, dict) and set(body) == {"error"} else None
    return isinstance(err, dict) and {"message", "type", "param", "code"} <= set(err)


def raw_request(base: str, i: int, args) -> dict:
    """Request ``i`` over raw HTTP (odd ones streamed, ``method="awrs"``), classified:
    ``ok`` (an answer, its document valid), ``error`` (an OpenAI error body, or a stream
    ending with an error event then ``[DONE]``), ``bad_body`` (an error that is not
    OpenAI's), ``lost`` (no answer, or a stream cut without ``[DONE]``)."""
    import httpx
    import jsonschema

    prompt, schema = SCHEMAS[i % len(SCHEMAS)]
    stream = i % 2 == 1
    payload = {
        "model": "default",
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": args.max_tokens,
        "seed": i,
        "response_format": {"type": "json_schema", "json_schema": {"name": "d", "schema": schema}},
        "method": "awrs" if stream else "smc",
        "n_particles": 1 if stream else args.particles,
        "stream": stream,
    }
    t0 = time.perf_counter()

    def done(outcome: str, **kw) -> dict:
        return {"i": i, "outcome": outcome, "t": t0, "latency": time.perf_counter() - t0, **kw}

    url = f"{base}/v1/chat/completions"
    try:
        if not stream:
            r = httpx.post(url, json=payload, timeout=300)
            try:
                body = r.json()
            except ValueError:
                return done("bad_body", status=r.status_code, body=r.text[:200])
            if r.status_code != 200:
                kind = "error" if _openai_error(body) else "bad_body"
                return done(kind, status=r.status_code, code=body.get("error", {}).get("code"))
            text = body["choices"][0]["message"]["content"]
            return done("ok", id=body["id"], valid=_valid(text, schema, jsonschema))
        with httpx.stream("POST", url, json=payload, timeout=300) as r:
            if r.status_code != 200:
                r.read()
                body = r.json()
                kind = "error" if _openai_error(body) else "bad_body"
                return done(kind, status=r.status_code, code=body.get("error", {}).get("code"))
            events = [ln[6:] for ln in r.iter_lines() if ln.startswith("data: ")]
    except (httpx.HTTPError, ValueError) as exc:
        return done("lost", error=f"{type(exc).__name__}: {exc}"[:200])
    if not events or events[-1] != "[DONE]":
        return done("lost", error="stream cut without [DONE]")
    objs = [json.loads(e) for e in events[:-1]]
    errs = [o for o in objs if "error" in o]
    if errs:
        kind = "error" if _openai_error(errs[-1]) else "bad_body"
        return done(kind, status=200, code=errs[-1].get("error", {}).get("code"), stream=True)
    text = "".join(o["choices"][0]["delta"].get("content") or "" for o in objs if o["choices"])
    return done("ok", id=objs[0]["id"], valid=_valid(text, schema, jsonschema), stream=True)


def _valid(text: str, schema: dict, jsonschema) -> bool:
    try:
        jsonschema.validate(json.loads(text), schema)
        return True
    except (ValueError, jsonschema.ValidationError):
        return False


def kill_run(args) -> int:
    """``--kill-after S``: the first level's clients on the Ray application; S seconds in,
    one engine replica is killed (``ray.kill``); then, once Ray replaced it, 8 more requests."""
    import ray
    from ray import serve

    from awrs.serve.ray import ENGINE

    if args.replicas < 2:
        raise SystemExit("--kill-after needs --replicas 2 or more")
    base = start_ray(args)
    try:
        _warm(base, args)
        handle = serve.get_deployment_handle(ENGINE, app_name="awrs")
        names: set[str] = set()
        while len(names) < args.replicas:
            names.add(handle.health.remote().result(timeout_s=60)["replica"])
        victim = sorted(names)[0]
        clients = args.levels[0]
        per_client = max(args.requests, -(-args.min_requests // clients))
        todo = iter(range(clients * per_client))
        lock = threading.Lock()
        results: list[dict] = []

        def worker():
            while True:
                with lock:
                    i = next(todo, None)
                if i is None:
                    return
                res = raw_request(base, i, args)
                with lock:
                    results.append(res)

        t0 = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(clients)]
        for t in threads:
            t.start()
        time.sleep(args.kill_after)
        killed_at = time.perf_counter()
        ray.kill(ray.get_actor(victim, namespace="serve"), no_restart=True)
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        recovered = _wait_replaced(handle, victim, args.replicas)
        after = [raw_request(base, 1_000_000 + i, args) for i in range(8)]
    finally:
        stop_ray()
    report = _kill_report(results, after, victim, killed_at - t0, wall, recovered)
    print(json.dumps({k: v for k, v in report.items() if k != "requests"}, indent=2))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"settings": vars(args), **report}, indent=2))
    bad = report["lost"] + report["answered_twice"] + report["bad_body"] + report["after_failed"]
    return 0 if bad == 0 else 1


def _wait_replaced(handle, victim: str, replicas: int, timeout: float = 180) -> float | None:
    """Seconds until ``replicas`` live replicas answer, the victim not among them."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        seen: set[str] = set()
        try:
            for _ in range(4 * replicas):
                seen.add(handle.health.remote().result(timeout_s=10)["replica"])
        except Exception:  # noqa: BLE001 - the dead replica may still be routed to
            pass
        if len(seen - {victim}) >= replicas and victim not in seen:
            return time.perf_counter() - t0
        time.sleep(1)
    return None


def _kill_report(results, after, victim, killed_s, wall, recovered) -> dict:
    from collections import Counter

    ids = Counter(r["id"] for r in results if r["outcome"] == "ok")
    idx = Counter(r["i"] for r in results)
    codes = Counter(f"{r.get('status')} {r.get('code')}" for r in results if r["outcome"] != "ok")
    return {
        "victim": victim,
        "killed_at_s": killed_s,
        "wall_s": wall,
        "sent": len(results),
        "ok": sum(r["outcome"] == "ok" for r in results),
        "ok_invalid": sum(r["outcome"] == "ok" and not r["valid"] for r in results),
        "clean_errors": sum(r["outcome"] == "error" for r in results),
        "error_codes": dict(codes),
        "bad_body": sum(r["outcome"] == "bad_body" for r in results),
        "lost": sum(r["outcome"] == "lost" for r in results),
        "answered_twice": sum(n - 1 for n in ids.values() if n > 1)
        + sum(n - 1 for n in idx.values() if n > 1),
        "replaced_after_s": recovered,
        "after_ok": sum(r["outcome"] == "ok" for r in after),
        "after_failed": sum(r["outcome"] != "ok" for r in after),
        "requests": results,
    }


if __name__ == "__main__":
    sys.exit(main())
