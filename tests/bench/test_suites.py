"""Suite data loading and scorers (the real data in ../shared/data; skipped when absent)."""

from __future__ import annotations

import json
import math
import random
import sqlite3
import warnings

import pytest

from bench.common import DATA
from bench.suites import get_suite
from bench.suites.json import check
from bench.suites.sql import EXEC_DB, ddl, explain, same_result, schemas

pytestmark = pytest.mark.skipif(not DATA.exists(), reason=f"shared data folder {DATA} is absent")


@pytest.mark.parametrize("name", ["patterns", "json", "sql"])
def test_limit_takes_a_stable_prefix_of_a_fixed_order(name):
    suite = get_suite(name)
    small, large = suite.items(4), suite.items(8)
    assert len(small) == 4 and len(large) == 8
    if name != "sql":  # sql splits the limit between concert_singer and the rest
        assert [i.id for i in small] == [i.id for i in large[:4]]
    assert len({i.id for i in large}) == 8
    for item in large:
        assert item.messages[-1]["role"] == "user"


def test_patterns_prompt_is_few_shot_and_score_is_fullmatch():
    suite = get_suite("patterns")
    item = next(i for i in suite.items() if i.data["pattern"] == r"^\d{3}(-| )\d{3}\1\d{4}$")
    roles = [m["role"] for m in item.messages]
    assert roles == ["system"] + ["user", "assistant"] * 3 + ["user"]
    assert item.data["pattern"] in item.messages[-1]["content"]
    assert suite.score(item, "555-123-4567").score == 1.0
    assert suite.score(item, "555-123 4567").score == 0.0  # the back-reference must agree
    assert suite.score(item, "555-123-4567 ").valid is False


def test_json_compliance_agrees_with_maskbench_labels():
    # MaskBench labels test documents valid / invalid; formats count as assertions. Check a
    # fixed random subset: jsonschema must agree on all but a few (known: "12:00:00Z" is not a
    # 'time' for jsonschema's checker).
    lines = (DATA / "maskbench" / "maskbench-open.jsonl").read_text().splitlines()
    rng = random.Random(1)
    agree = total = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for line in rng.sample(lines, 150):
            rec = json.loads(line)
            for t in rec["tests"]:
                _, ok, _ = check(rec["schema"], json.dumps(t["data"]))
                agree += ok == t["valid"]
                total += 1
    assert total > 200 and agree / total >= 0.99


def test_json_score_separates_parse_errors_from_schema_errors():
    suite = get_suite("json")
    item = suite.items(1)[0]
    s = suite.score(item, "not json")
    assert (s.valid, s.score, s.metrics["valid_json"]) == (False, 0.0, 0.0)
    s = suite.score(item, "[1, 2, 3]" if item.data["schema"].get("type") == "object" else "{}")
    assert s.metrics["valid_json"] == 1.0


def test_ddl_builds_every_database_and_gold_queries_compile():
    for db_id, entry in schemas().items():
        conn = sqlite3.connect(":memory:")
        conn.executescript(ddl(entry))
        n = conn.execute("select count(*) from sqlite_master where type='table'").fetchone()[0]
        internal = sum(t.lower().startswith("sqlite_") for t in entry["table_names_original"])
        assert n == len(entry["table_names_original"]) - internal, db_id
    dev = json.loads((DATA / "spider" / "dev-open.json").read_text())
    for q in random.Random(0).sample(dev, 120):
        assert explain(q["db_id"], q["query"]) == "", q["query"]
    assert "no such table" in explain("concert_singer", "SELECT * FROM nowhere")


def test_sql_execution_accuracy_on_concert_singer():
    suite = get_suite("sql")
    items = [i for i in suite.items() if i.data["db_id"] == EXEC_DB]
    assert len(items) == 45
    for item in items:
        assert suite.score(item, item.data["gold"]).score == 1.0
    count = next(i for i in items if i.data["gold"] == "SELECT count(*) FROM singer")
    assert suite.score(count, "SELECT count(*) FROM stadium").score == 0.0
    bad = suite.score(count, "SELEC nothing")
    assert (bad.valid, bad.score, bad.metrics["executable"]) == (False, 0.0, 0.0)
    other = next(i for i in suite.items(6) if i.data["db_id"] != EXEC_DB)
    s = suite.score(other, other.data["gold"])
    assert s.valid and math.isnan(s.score) and s.metrics["executable"] == 1.0
    # no output: 0 where execution accuracy applies, not applicable elsewhere
    assert suite.no_output_score(count) == 0.0 and math.isnan(suite.no_output_score(other))


def test_result_comparison_respects_order_only_when_asked():
    assert same_result([(1,), (2,)], [(2,), (1,)], ordered=False)
    assert not same_result([(1,), (2,)], [(2,), (1,)], ordered=True)
    assert not same_result([(1,), (1,)], [(1,)], ordered=False)
    assert same_result([(0.1 + 0.2,)], [(0.3,)], ordered=True)
