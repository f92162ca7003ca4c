"""The engine loop: every record's line emitted exactly once, whatever crashes; the in-process
engine end to end on a toy model."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from batch_helpers import read_lines, write_jsonl

import awrs
from awrs.jobs import Record
from awrs.jobs.engine import CRASHED, Engine


class FlakyEngine(Engine):
    """Slots that hold records like real workers, finish one per call, and crash at random
    (losing everything they hold)."""

    crash_type = "Flaky"

    def __init__(self, rng: random.Random, slots: int, in_flight: int, p_crash: float):
        self.rng, self.n_slots, self.in_flight, self.p_crash = rng, slots, in_flight, p_crash
        self.held = [[] for _ in range(slots)]
        self.busy: set[int] = set()
        self.calls = self.restarts = 0
        self.max_held = 0

    def start(self):
        pass

    def call(self, slot, records):
        self.held[slot] += records
        self.max_held = max(self.max_held, len(self.held[slot]))
        self.busy.add(slot)
        self.calls += 1

    def wait(self):
        slot = self.rng.choice(sorted(self.busy))
        self.busy.discard(slot)
        if self.rng.random() < self.p_crash:
            self.held[slot] = []
            return [(slot, CRASHED)]
        rec = self.held[slot].pop(self.rng.randrange(len(self.held[slot])))
        return [(slot, [{"id": rec.id, "text": "ok"}])]

    def restart(self, slot):
        self.restarts += 1

    def stop(self):
        pass


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("p_crash", [0.0, 0.2, 0.6])
def test_every_record_once_whatever_crashes(seed, p_crash):
    rng = random.Random(seed)
    engine = FlakyEngine(rng, slots=rng.randint(1, 4), in_flight=rng.randint(1, 5), p_crash=p_crash)
    recs = [Record(i, "p", None, {}) for i in range(40)]
    lines = []
    engine.run(recs, lines.append, retries=2)
    assert Counter(line["id"] for line in lines) == Counter(range(40))
    assert engine.max_held <= engine.in_flight
    errors = [line for line in lines if "error" in line]
    assert all(
        e["error"]["type"] == "Flaky" and "crashed 3 times" in e["error"]["message"] for e in errors
    )
    if p_crash == 0:
        assert not errors and engine.restarts == 0
    elif p_crash == 0.6:
        assert errors  # 40 records, most slots die: some records run out of retries


def test_inline_engine_end_to_end_resumes_and_reports_errors(tmp_path, toy_lm):
    recs = [{"id": i, "prompt": "q", "regex": "[0-9]{2}"} for i in range(6)]
    recs[2] = {"id": 2, "prompt": "q", "json_schema": {"type": "nonsense"}}
    recs[4] = {"id": 4, "prompt": "q", "regex": "[0-9]{2}", "max_tokens": -1}
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(src, recs)
    s = awrs.batch(
        src, out, model=toy_lm, method="awrs", n_particles=2, max_tokens=4, seed=0, in_flight=3
    )
    lines = read_lines(out)
    assert (s.total, s.written, s.skipped, s.errors) == (6, 6, 0, 2)
    assert sorted(line["id"] for line in lines) == list(range(6))
    by_id = {line["id"]: line for line in lines}
    assert by_id[2]["error"]["type"] == "ConstraintError"
    assert by_id[4]["error"]["type"] == "ConfigurationError"
    for i in (0, 1, 3, 5):
        assert by_id[i]["text"] is None or awrs.Regex("[0-9]{2}").accepts(by_id[i]["text"])
        assert by_id[i]["stats"]["n_particles"] == 2
    write_jsonl(src, recs + [{"id": 6, "prompt": "q"}])  # one new record, no constraint
    again = awrs.batch(src, out, model=toy_lm, max_tokens=3, seed=0)
    assert (again.skipped, again.written) == (6, 1)
    assert read_lines(out)[-1]["stats"]["method"] == "direct"


def test_records_in_memory_and_bad_arguments(toy_lm):
    s = awrs.batch(
        [{"prompt": "q", "regex": "a"}, {"prompt": "r", "regex": "b"}],
        model=toy_lm,
        method="awrs",
        n_particles=1,
        max_tokens=2,
        seed=1,
    )
    assert sorted(line["id"] for line in s.lines) == [1, 2]
    assert all(line["text"] in (None, "a", "b") for line in s.lines)
    with pytest.raises(awrs.ConfigurationError, match="engine must be one of"):
        awrs.batch([], engine="spark")
    with pytest.raises(awrs.ConfigurationError, match="expected engine='ray'"):
        awrs.batch([], address="auto")
    with pytest.raises(awrs.ConfigurationError, match="workers=1"):
        awrs.batch([], model=toy_lm, workers=2)
    with pytest.raises(awrs.ConfigurationError, match="duplicate record id"):
        awrs.batch([{"id": 1, "prompt": "a"}, {"id": 1, "prompt": "b"}], model=toy_lm)
