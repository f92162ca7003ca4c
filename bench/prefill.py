"""Chunked prefill on ``awrs serve``: a long prompt beside a short request, per chunk size.

For each ``--prefill-chunk`` setting (0: the whole prompt in one forward, as before chunking)
a server is started on loopback and sent: the long prompt alone; then the long prompt again
(a new one) and, ``--delay`` seconds later, a short request with ``max_tokens`` 4. Reports each
latency, the short request's latency over the long one's, and the long prompt's time against
the unchunked setting.

    python -m bench.prefill --tokens 6000 --chunks 0 256 512 1024 \\
        --json docs/results/serve-boundary/prefill.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time

from .serve import ROOT, _free_port

PARAGRAPH = (
    "The committee met on a grey morning to review the harbour accounts, the repairs "
    "to the northern pier, and the long list of complaints from fishermen about the "
    "price of ice. "
)


def start(chunk: int, threads: int, timeout: float):
    import subprocess

    import httpx

    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "awrs",
        "serve",
        "--port",
        str(port),
        "--threads",
        str(threads),
        "--prefill-chunk",
        str(chunk),
        "--timeout",
        str(timeout),
        "--max-body-bytes",
        str(4 << 20),
    ]
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "AWRS_API_KEY": ""},
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(900):
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


def long_prompt(tokens: int, tag: int) -> str:
    from transformers import AutoTokenizer

    from awrs.models.loading import default_model_path

    tok = AutoTokenizer.from_pretrained(default_model_path())
    text = f"Record {tag}. " + PARAGRAPH * (tokens // 30 + 10)
    ids = tok.encode(text, add_special_tokens=False)[:tokens]
    return tok.decode(ids)


def post(base: str, prompt: str, out: dict, key: str) -> None:
    import httpx

    t = time.perf_counter()
    r = httpx.post(
        f"{base}/v1/completions",
        json={"model": "default", "prompt": prompt, "max_tokens": 4, "seed": 0},
        timeout=900,
    )
    out[key] = dict(status=r.status_code, seconds=round(time.perf_counter() - t, 2))


def run_setting(chunk: int, args, tag: int) -> dict:
    proc, base = start(chunk, args.threads, args.timeout)
    try:
        out: dict = {}
        post(base, "Hi there.", out, "warmup")
        post(base, long_prompt(args.tokens, tag), out, "long_alone")
        th = threading.Thread(
            target=post, args=(base, long_prompt(args.tokens, tag + 1), out, "long_beside")
        )
        th.start()
        time.sleep(args.delay)
        post(base, "Say hello.", out, "short")
        th.join()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    out["short_over_long"] = round(out["short"]["seconds"] / out["long_beside"]["seconds"], 3)
    return dict(prefill_chunk=chunk, **out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.prefill",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--tokens", type=int, default=6000)
    p.add_argument("--chunks", type=int, nargs="+", default=[0, 256, 512, 1024])
    p.add_argument("--delay", type=float, default=1.0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    rows = []
    for i, chunk in enumerate(args.chunks):
        row = run_setting(chunk, args, 10 * i)
        rows.append(row)
        print(json.dumps(row), flush=True)
    base = next((r for r in rows if r["prefill_chunk"] == 0), None)
    if base is not None:
        for r in rows:
            r["long_alone_vs_unchunked"] = round(
                r["long_alone"]["seconds"] / base["long_alone"]["seconds"], 3
            )
    if args.json:
        os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(
                {"command": "python -m bench.prefill " + " ".join(sys.argv[1:]), "rows": rows},
                f,
                indent=1,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
