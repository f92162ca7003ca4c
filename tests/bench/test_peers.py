"""Peer engines on the default model: valid outputs, unsupported constraints reported (slow)."""

from __future__ import annotations

import argparse
import csv

import pytest

from bench import harness, suites
from bench.suites import Item, Score, Spec, Suite

pytestmark = pytest.mark.slow


class Phone(Suite):
    """Two regex tasks: one every peer compiles, one with a back-reference."""

    name = "phone"
    metric = "match"

    def items(self, limit=None):
        msgs = ({"role": "user", "content": "Write a phone number like 555-1234."},)
        return [
            Item("plain", msgs, {"pattern": r"\d{3}-\d{4}"}),
            Item("backref", msgs, {"pattern": r"(\d)\1-\d{4}"}),
        ][:limit]

    def constraint(self, item):
        import awrs

        return awrs.Pattern(item.data["pattern"])

    def spec(self, item, constraint=None):
        return Spec("regex", item.data["pattern"], constraint)

    def score(self, item, text):
        import regex

        ok = regex.fullmatch(item.data["pattern"], text) is not None
        return Score(ok, float(ok))


@pytest.mark.parametrize("peer", ["llguidance", "xgrammar", "genlm-control"])
def test_peer_outputs_satisfy_the_constraint(peer, default_lm, tmp_path, monkeypatch):
    pytest.importorskip({"genlm-control": "genlm.control"}.get(peer, peer))
    monkeypatch.setitem(suites.EXTRA, "phone", Phone())
    limit = "1" if peer == "genlm-control" else "2"  # genlm-control takes seconds per token
    args = harness.add_arguments(argparse.ArgumentParser()).parse_args(
        [
            "phone",
            "--methods",
            peer,
            "--particles",
            "2",
            "--max-tokens",
            "10",
            "--limit",
            limit,
            "--threads",
            "1",
            "--out",
            str(tmp_path),
            "--no-plots",
        ]
    )
    assert harness.run(args, lm=default_lm) == 0
    with open(tmp_path / "samples.csv", newline="") as fh:
        rows = {r["item"]: r for r in csv.DictReader(fh)}
    plain = rows["plain"]
    assert plain["status"] == "ok", plain["reason"]
    assert plain["has_output"] == "1" and plain["valid"] == "1", plain
    if peer != "genlm-control":  # genlm-control takes any prefix check: nothing unsupported
        backref = rows["backref"]
        assert backref["status"] == "unsupported"
        assert "regex" in backref["reason"].lower() or "backref" in backref["reason"].lower()
