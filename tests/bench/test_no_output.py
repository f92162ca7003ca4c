"""The report's runs-without-output table: exact counts and shares, and scores over all runs
(no output = 0) beside scores over the runs with output only, on synthetic samples."""

from __future__ import annotations

import math

import pytest

from bench import report
from bench.metrics import count_ci
from bench.store import FAILED, OK, UNSUPPORTED, Row
from bench.suites import Item


class Suite:
    """Just what the report reads of a suite."""

    name = "syn"
    metric = "match"
    extra_metrics = ()

    def no_output_score(self, item):
        return math.nan if item.data.get("na") else 0.0


class Rows:
    """A store holding a fixed list of rows."""

    def __init__(self, rows):
        self._rows = rows

    def rows(self):
        return iter(self._rows)


class M:
    def __init__(self, name):
        self.name = name


def row(method, item, seed, *, output=True, score=1.0, status=OK, ending=None):
    r = Row("syn", method, item, seed, "h", status=status)
    r.has_output = output
    r.score = r.score_post = score if output else math.nan  # select() fills no output's score
    if ending:
        r.metrics[ending] = 1
    return r


ITEMS = [Item(f"i{k}", (), {}) for k in range(5)] + [Item("na", (), {"na": True})]


def summaries(rows, names):
    methods = [M(n) for n in names]
    hashes = {("syn", n): "h" for n in names}
    return report.select(Rows(rows), Suite(), methods, {0, 1}, hashes, ITEMS)


def synthetic():
    rows = []
    # "quiet": 10 runs on i0..i4 x seeds 0, 1; nothing on i0, i1, i2 seed 0 (3 of 10);
    # every output it returns matches, so it scores 1.0 on what it did return
    for k in range(5):
        for seed in (0, 1):
            silent = seed == 0 and k < 3
            ending = ("budget_dead", "dead", "out_of_budget")[k] if silent else None
            rows.append(row("quiet", f"i{k}", seed, output=not silent, ending=ending))
    # "steady": always answers, half right; one failed and one unsupported run (not counted)
    for k in range(5):
        for seed in (0, 1):
            rows.append(row("steady", f"i{k}", seed, score=float(seed)))
    rows.append(row("steady", "na", 0, status=FAILED))
    rows.append(row("steady", "na", 1, status=UNSUPPORTED))
    # "mute": never answers
    rows += [row("mute", f"i{k}", 0, output=False) for k in range(4)]
    return rows


def test_count_ci_exact_counts_and_a_constant_is_a_point():
    c = count_ci([True, False, False, True, False])
    assert (c.k, c.n) == (2, 5) and c.share.value == pytest.approx(0.4)
    assert c.share.lo <= 0.4 <= c.share.hi and c.share.lo < c.share.hi
    for flags, v in (([False] * 7, 0.0), ([True] * 7, 1.0)):
        c = count_ci(flags)
        assert (c.share.value, c.share.lo, c.share.hi) == (v, v, v)
        assert c.format() == f"{c.k}/7 ({v:.2f})"
    empty = count_ci([])
    assert (empty.k, empty.n) == (0, 0) and empty.format() == "-"


def test_no_output_counts_and_scores_over_all_runs():
    sums = summaries(synthetic(), ["quiet", "steady", "mute"])
    quiet, steady, mute = sums["quiet"], sums["steady"], sums["mute"]

    none = quiet.no_output()
    assert (none.k, none.n) == (3, 10) and none.share.value == pytest.approx(0.3)
    assert none.share.lo <= 0.3 <= none.share.hi
    # no output scores 0 over all runs; only the runs with output: a perfect 1.0
    assert quiet.score().value == pytest.approx(0.7) and quiet.score().n == 10
    with_out = quiet.score_with_output()
    assert (with_out.value, with_out.lo, with_out.hi, with_out.n) == (1.0, 1.0, 1.0, 7)
    assert quiet.score(post=True).value == pytest.approx(0.7)

    # failed and unsupported runs are not completed runs
    none = steady.no_output()
    assert (none.k, none.n) == (0, 10)
    assert (none.share.value, none.share.lo, none.share.hi) == (0.0, 0.0, 0.0)
    assert steady.score().value == steady.score_with_output().value == pytest.approx(0.5)

    none = mute.no_output()
    assert (none.k, none.n) == (4, 4) and none.share.lo == none.share.hi == 1.0
    assert mute.score().value == 0.0 and mute.score_with_output().n == 0


def test_no_output_is_counted_where_the_metric_does_not_apply():
    # on an item whose metric is NaN the run leaves the score but still counts as no output
    rows = [row("m", "na", 0, output=False), row("m", "i0", 0, score=1.0)]
    s = summaries(rows, ["m"])["m"]
    none = s.no_output()
    assert (none.k, none.n) == (1, 2) and none.share.value == 0.5
    assert s.score().n == 1 and s.score().value == 1.0


def table_rows(text):
    lines = text.splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = {}
    for ln in lines[2:]:
        cells = [c.strip() for c in ln.strip("|").split("|")]
        rows[cells[0]] = dict(zip(header, cells, strict=True))
    return rows


def test_no_output_table_columns_and_exact_cells():
    sums = summaries(synthetic(), ["quiet", "steady", "mute"])
    t = table_rows(report.no_output_table(Suite(), sums))
    q = t["quiet"]
    assert (q["runs"], q["no output"]) == ("10", "3")
    assert q["no output share [95% CI]"].startswith("0.30 [")
    assert q["match over all runs [95% CI]"].startswith("0.70 [")
    assert q["match over runs with output only [95% CI]"] == "1.00"
    assert [q[k] for k in ("pruned to completion", "all particles dead", "out of budget")] == [
        "1",
        "1",
        "1",
    ]
    assert q["other"] == "0"
    st = t["steady"]
    assert (st["runs"], st["no output"], st["no output share [95% CI]"]) == ("10", "0", "0.00")
    m = t["mute"]
    assert (m["runs"], m["no output"], m["no output share [95% CI]"]) == ("4", "4", "1.00")
    assert m["match over all runs [95% CI]"] == "0.00"
    assert m["match over runs with output only [95% CI]"] == "-"
    assert m["other"] == "4"


def test_main_table_shows_no_output_next_to_the_score():
    sums = summaries(synthetic(), ["quiet", "mute"])
    t = table_rows(report.main_table(Suite(), sums))
    header = list(t["quiet"])
    i = header.index("match over all runs [95% CI]")
    assert header[i + 1] == "no output / runs (share [95% CI])"
    assert t["quiet"]["no output / runs (share [95% CI])"].startswith("3/10 (0.30 [")
    assert t["mute"]["no output / runs (share [95% CI])"] == "4/4 (1.00)"
    assert t["mute"]["match over all runs [95% CI]"] == "0.00"
