"""``awrs batch`` with the local engine on the default model: two worker processes, one killed
mid-run; every record written exactly once, valid, resumable."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import threading
import time

import pytest
from batch_helpers import check_output, read_lines, records, write_jsonl

from awrs.cli import main

ARGS = [
    "--method",
    "awrs",
    "--particles",
    "2",
    "--max-tokens",
    "12",
    "--seed",
    "0",
    "--in-flight",
    "8",
    "--quiet",
]


def _wait_for_lines(path, n: int, thread: threading.Thread, limit: float = 240) -> None:
    end = time.monotonic() + limit
    while time.monotonic() < end and thread.is_alive():
        if path.exists() and len(read_lines(path)) >= n:
            return
        time.sleep(0.2)


@pytest.mark.slow
def test_two_workers_one_killed_every_record_once(tmp_path, capsys):
    recs = records(30, bad=7)
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(src, recs)
    rc = {}
    job = threading.Thread(
        target=lambda: rc.update(code=main(["batch", str(src), str(out), "--workers", "2", *ARGS]))
    )
    job.start()
    _wait_for_lines(out, 4, job)
    workers = [p for p in multiprocessing.active_children() if p.name.startswith("awrs-batch")]
    assert len(workers) == 2
    os.kill(workers[0].pid, signal.SIGKILL)
    job.join(timeout=300)
    assert not job.is_alive() and rc["code"] == 0
    lines = read_lines(out)
    check_output(recs, lines, bad={"r7"})
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["written"] == 30 and summary["errors"] == 1
    # a second run finds every id in the output: nothing runs, nothing is written
    assert main(["batch", str(src), str(out), "--workers", "2", *ARGS]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (summary["skipped"], summary["written"]) == (30, 0)
    assert read_lines(out) == lines


@pytest.mark.slow
def test_a_model_that_cannot_load_stops_the_job(tmp_path):
    import awrs

    with pytest.raises(awrs.ModelLoadError, match="could not start"):
        awrs.batch([{"prompt": "a"}], tmp_path / "out.jsonl", model=str(tmp_path / "nope"))
    assert not (tmp_path / "out.jsonl").read_text()
