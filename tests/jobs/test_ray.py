"""``awrs batch --engine ray`` on a local Ray instance of 2 CPUs: one actor killed mid-run
(``ray.kill``); every record written exactly once, valid, resumable."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from batch_helpers import check_output, read_lines, records, write_jsonl

import awrs

ROOT = Path(__file__).resolve().parents[2]
OPTIONS = dict(engine="ray", method="awrs", n_particles=2, max_tokens=12, seed=0, in_flight=8)


@pytest.fixture
def ray_local(monkeypatch):
    ray = pytest.importorskip("ray")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # actors import this checkout's awrs
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.mark.slow
def test_ray_actor_killed_every_record_once(tmp_path, ray_local):
    ray = ray_local
    recs = records(24, bad=5)
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(src, recs)
    done = {}
    job = threading.Thread(target=lambda: done.update(s=awrs.batch(src, out, **OPTIONS)))
    job.start()
    end = time.monotonic() + 240
    while (
        job.is_alive()
        and time.monotonic() < end
        and not (out.exists() and len(read_lines(out)) >= 3)
    ):
        time.sleep(0.2)
    ray.kill(ray.get_actor("awrs-batch-0"))
    job.join(timeout=300)
    assert not job.is_alive()
    summary = done["s"]
    assert (summary.written, summary.errors) == (24, 1)
    lines = read_lines(out)
    check_output(recs, lines, bad={"r5"})
    again = awrs.batch(src, out, **OPTIONS)
    assert (again.skipped, again.written) == (24, 0)
    assert read_lines(out) == lines
