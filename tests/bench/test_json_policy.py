"""The harness's json generation policies (METHOD@POLICY) and dead / out-of-budget counts."""

from __future__ import annotations

import csv
import json

import pytest

from awrs.models.toy import ToyLM
from bench import harness, methods, suites
from bench.suites import Item, Score, Spec, Suite
from bench.suites.json import POLICIES

VOCAB = [b"<eos>", b'"a"', b", ", b"  ", b"\n"] + [bytes([c]) for c in range(32, 127)]
SCHEMA = {"type": "array", "items": {"const": "a"}, "maxItems": 3}


class ToyJSONSuite(Suite):
    """Arrays of "a" on the toy vocabulary, with a constraint per policy."""

    name = "toyjson"
    metric = "ok"
    policies = POLICIES

    def items(self, limit=None):
        return [Item(f"j{i}", ({"role": "user", "content": "go"},), {}) for i in range(2)][:limit]

    def constraint(self, item, policy=None):
        import awrs

        return awrs.JSONSchema(SCHEMA, **POLICIES.get(policy or "natural"))

    def spec(self, item, constraint=None):
        return Spec("json_schema", SCHEMA, constraint)

    def score(self, item, text):
        try:
            ok = all(x == "a" for x in json.loads(text)) and len(json.loads(text)) <= 3
        except ValueError:
            ok = False
        return Score(ok, float(ok))


def test_policies_run_side_by_side(tmp_path, monkeypatch):
    monkeypatch.setitem(suites.EXTRA, "toyjson", ToyJSONSuite())
    lm = ToyLM(
        VOCAB,
        0,
        lambda ctx: {i: (0.2 if i == 0 else 0.8 / (len(VOCAB) - 1)) for i in range(len(VOCAB))},
    )
    argv = [
        "toyjson",
        "--methods",
        "awrs",
        "smc",
        "--json-policy",
        "natural",
        "compact",
        "--particles",
        "3",
        "--max-tokens",
        "10",
        "--repeats",
        "2",
        "--no-plots",
        "--out",
        str(tmp_path),
    ]
    args = harness.add_arguments(__import__("argparse").ArgumentParser()).parse_args(argv)
    assert harness.run(args, lm=lm) == 0
    with (tmp_path / "samples.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    names = {r["method"] for r in rows}
    assert names == {"awrs@natural", "awrs@compact", "smc@natural", "smc@compact"}
    for r in rows:
        assert r["status"] == "ok", r["reason"]
        m = json.loads(r["metrics"])
        assert {"dead", "out_of_budget"} <= m.keys()
        if r["method"].endswith("@compact") and r["has_output"] == "1":
            assert " " not in r["text"] and "\n" not in r["text"]
        if r["has_output"] == "1" and r["finished"] == "1":
            assert r["valid"] == "1"
    report = (tmp_path / "report.md").read_text()
    assert "Generation policies side by side" in report and "dead / run" in report


def test_method_names_with_policies():
    assert methods.get_method("smc@compact-open").policy == "compact-open"
    assert (
        methods.get_method("awrs@natural").settings(methods.RunConfig())["json_policy"] == "natural"
    )
    assert harness._with_policies("llguidance", ["natural"]) == ["llguidance"]
    assert harness._with_policies("direct", ["natural"]) == ["direct"]
    with pytest.raises(Exception, match="unknown policy 'loose'.*sql policy"):
        methods.get_method("smc@loose")


def test_sql_policies_build_their_constraints():
    from bench.suites.sql import SUITE

    item = SUITE.items(1)[0]
    assert methods.get_method("smc-nobudget@nocritic").policy == "nocritic"
    assert SUITE.constraint(item).guide is not None  # smc's guide, by default
    assert SUITE.constraint(item, "nocritic").guide is None
    assert SUITE.constraint(item, "strict")._schema.strict
    ctx = methods.ItemContext(SUITE, item)
    assert ctx.constraint_for("nocritic").guide is None
    assert ctx.constraint_for("compact") is ctx.constraint  # a json policy: not sql's


def test_particle_ends_fallback_tells_dead_from_out_of_budget():
    from types import SimpleNamespace as NS

    samples = [
        NS(finished=True, token_ids=(1, 2), log_weight=0.0),
        NS(finished=False, token_ids=(1,), log_weight=float("-inf")),
        NS(finished=False, token_ids=tuple(range(9)), log_weight=float("-inf")),
    ]
    assert methods.particle_ends(NS(), samples, 10) == {"dead": 1.0, "out_of_budget": 1.0}
    assert methods.particle_ends(NS(dead=3, out_of_budget=2), samples, 10) == {
        "dead": 3.0,
        "out_of_budget": 2.0,
    }
