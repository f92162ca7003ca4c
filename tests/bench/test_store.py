"""The resumable CSV store of benchmark rows."""

from __future__ import annotations

import math

import pytest

from awrs.errors import ConfigurationError
from bench.store import FAILED, Row, Store, settings_hash


def test_rows_round_trip_through_the_csv(tmp_path):
    store = Store(tmp_path / "s.csv")
    row = Row(
        "json",
        "smc",
        "item,1",
        3,
        "abc",
        text='say "hi",\nbye',
        has_output=True,
        finished=True,
        valid=True,
        score=1.0,
        tokens=7,
        wall_s=0.5,
        evals=12.0,
        metrics={"valid_json": 1.0, "error": ""},
    )
    store.add(row)
    store.add(Row("json", "mask", "item,1", 3, "abc", status=FAILED, reason="boom"))
    back = {r.method: r for r in Store(tmp_path / "s.csv").rows()}
    assert back["smc"] == row
    assert back["mask"].status == FAILED and math.isnan(back["mask"].score)


def test_done_and_retry_failed(tmp_path):
    store = Store(tmp_path / "s.csv")
    ok = Row("a", "m", "1", 0, "h")
    bad = Row("a", "m", "2", 0, "h", status=FAILED, reason="x")
    store.add(ok)
    store.add(bad)
    again = Store(tmp_path / "s.csv")
    assert again.done(ok.key) and again.done(bad.key)
    assert again.done(ok.key, retry_failed=True)
    assert not again.done(bad.key, retry_failed=True)
    assert not again.done(("a", "m", "1", 0, "other-settings"))
    # a recomputed row replaces the failed one on reading back
    again.add(Row("a", "m", "2", 0, "h", score=1.0))
    final = {r.item: r for r in Store(tmp_path / "s.csv").rows()}
    assert len(final) == 2 and final["2"].status == "ok"


def test_a_csv_of_another_layout_is_refused(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("suite,method\njson,smc\n")
    with pytest.raises(ConfigurationError, match="another version"):
        Store(path)


def test_settings_hash_is_stable_and_order_free():
    assert settings_hash({"a": 1, "b": 2}) == settings_hash({"b": 2, "a": 1})
    assert settings_hash({"a": 1}) != settings_hash({"a": 2})
