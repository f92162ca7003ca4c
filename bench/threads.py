"""Thread defaults on a shared machine: one decode step of the default model at batch 8, each
setting in a fresh process (``OMP_WAIT_POLICY`` only takes effect before torch is imported),
with the machine idle and with one core kept busy by another process.

    python -m bench.threads --steps 30 --json docs/results/serve-boundary/threads.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CHILD = r"""
import sys, time, torch
threads = int(sys.argv[1])
if threads:
    torch.set_num_threads(threads)
from awrs.models.loading import load_model
lm = load_model()
ids = lm.encode("Describe a fictional person as JSON, with a name and an age.")
ctx = [list(ids) for _ in range(8)]
lm.next_token_logprobs(ctx)
times = []
for step in range(int(sys.argv[2])):
    ctx = [c + [100 + step] for c in ctx]
    t = time.perf_counter()
    lm.next_token_logprobs(ctx)
    times.append(time.perf_counter() - t)
print(" ".join(f"{x:.5f}" for x in times))
"""

BUSY = "while True:\n    pass\n"


def measure(threads: int, policy: str | None, steps: int) -> list[float]:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(threads), str(steps)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return [float(x) for x in out.stdout.split()]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.threads",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    rows = []
    for busy in (False, True):
        hog = subprocess.Popen([sys.executable, "-c", BUSY]) if busy else None
        try:
            time.sleep(0.5 if busy else 0)
            for threads in args.threads:
                for policy in (None, "PASSIVE"):
                    t = measure(threads, policy, args.steps)
                    row = dict(
                        co_tenant="busy core" if busy else "idle",
                        threads=threads,
                        omp_wait_policy=policy or "default",
                        median_ms=round(1000 * statistics.median(t), 1),
                        p90_ms=round(1000 * sorted(t)[int(0.9 * len(t))], 1),
                        max_ms=round(1000 * max(t), 1),
                    )
                    rows.append(row)
                    print(json.dumps(row), flush=True)
        finally:
            if hog is not None:
                hog.kill()
                hog.wait()
    if args.json:
        os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(
                {
                    "command": "python -m bench.threads " + " ".join(argv or sys.argv[1:]),
                    "cpus": os.cpu_count(),
                    "rows": rows,
                },
                f,
                indent=1,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
