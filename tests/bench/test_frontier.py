"""The quality-against-compute frontier on toy models and a toy suite: exact rows and costs,
resumability, batched peer samples, and selection rules equal to ``awrs.best_of_k``'s."""

from __future__ import annotations

import argparse
import csv
import string

import pytest
import regex
import torch

import awrs
from awrs.models.toy import ToyLM
from awrs.rewards import Judge, batched
from bench import frontier as fr
from bench import suites
from bench.frontier.draw import CountingLM
from bench.frontier.run import Frontier, Settings
from bench.frontier.select import PromptLogProb
from bench.frontier.table import COLUMNS, ItemRow, ItemTable, cross_fit, read_points, summarize
from bench.methods import RunConfig
from bench.peers.base import MaskingPeer
from bench.suites import Item, Score, Spec, Suite

VOCAB = [b"<eos>"] + [c.encode() for c in string.printable]
ID = {b.decode(): i for i, b in enumerate(VOCAB) if i}


def fixed_lm() -> ToyLM:
    """Always writes "ab" and then stops."""

    def table(ctx):
        return {ID["a"]: 1.0} if ctx[-1] != ID["a"] else {ID["b"]: 1.0}

    def after(ctx):
        return {0: 1.0} if ctx[-1] == ID["b"] and ctx[-2] == ID["a"] else table(ctx)

    return ToyLM(VOCAB, 0, after)


def random_lm() -> ToyLM:
    """a, b or a digit, or the end, at every step (digits let a judge give a score)."""
    digits = {ID[d]: 0.02 for d in "0123456789"}
    return ToyLM(VOCAB, 0, lambda ctx: {ID["a"]: 0.35, ID["b"]: 0.25, 0: 0.2, **digits})


class ToySuite(Suite):
    """Write a string matching a regex; reward: the number of "a"."""

    name = "toy"
    metric = "match"

    def __init__(self, patterns=("ab", "a+b", "c")):
        self.patterns = patterns

    def items(self, limit=None):
        return [
            Item(f"t{i}", ({"role": "user", "content": f"match {p}"},), {"pattern": p})
            for i, p in enumerate(self.patterns)
        ][:limit]

    def constraint(self, item):
        return awrs.Regex(item.data["pattern"])

    def spec(self, item, constraint=None):
        return Spec("regex", item.data["pattern"], constraint)

    def score(self, item, text):
        ok = regex.fullmatch(item.data["pattern"], text) is not None
        return Score(ok, float(ok))

    def reward(self, item):
        return batched(lambda texts: [float(t.count("a")) for t in texts])


def settings(**kw) -> Settings:
    base = dict(budgets=(1, 2), methods=("direct",), selections=("first-valid",), seed=0)
    base["cfg"] = RunConfig(1, 8)
    return Settings(**{**base, **kw})


def run_frontier(lm, suite, tmp_path, resume=False, **kw):
    table = ItemTable(tmp_path / "frontier-items.csv", resume=resume)
    f = Frontier(lm, settings(**kw), table)
    f.run_suite(suite)
    return f, summarize(list(table.rows.values()))


def test_direct_with_rejection_exact_rows(tmp_path):
    _, points = run_frontier(fixed_lm(), ToySuite(), tmp_path)
    by = {p.budget: p for p in points}
    assert [p.method for p in points] == ["direct/first-valid"] * 2
    for b in (1, 2):  # "ab" is valid on 2 of 3 items; 3 tokens (EOS included) per sample
        p = by[b]
        assert (p.items, p.score, p.no_output) == (3, pytest.approx(2 / 3), 1)
        # identical samples share their forward rows: 3 steps of one row per item
        assert (p.particle_tokens, p.lm_rows) == (9 * b, 9)
        assert p.ci_lo <= p.score <= p.ci_hi and p.ci_lo < p.ci_hi


def test_constant_score_has_a_point_interval(tmp_path):
    suite = ToySuite(("ab", "a*b"))
    _, points = run_frontier(fixed_lm(), suite, tmp_path, methods=("smc", "awrs"))
    assert {p.method for p in points} == {"smc", "awrs/first-valid"}
    for p in points:
        assert (p.score, p.ci_lo, p.ci_hi, p.no_output) == (1.0, 1.0, 1.0, 0)
        assert p.particle_tokens == 3 * p.budget * 2


def test_rejection_keeps_the_first_sample_the_constraint_accepts(tmp_path):
    lm, suite = random_lm(), ToySuite(("a", "b", "ab"))
    f, _ = run_frontier(lm, suite, tmp_path, budgets=(8,))
    for item in suite.items():
        res = awrs.generate(
            lm, lm.chat(list(item.messages)), method="direct", n_particles=8, max_tokens=8, seed=0
        )
        ok = [s.text for s in res.samples if s.finished and suite.score(item, s.text).valid]
        row = f.table.rows["toy", "direct/first-valid", 8, item.id, 0, f.settings.hash(suite)]
        assert (row.text, row.output, row.valid_samples) == ((ok or [""])[0], bool(ok), len(ok))


@pytest.mark.parametrize("temperature", [0.0, 0.7])
@pytest.mark.parametrize("rule", ["logprob", "judge", "reward"])
def test_selection_rules_equal_best_of_k(rule, temperature, tmp_path):
    lm, suite = random_lm(), ToySuite(("[ab]+[0-9]?", "a[ab0-9]*"))
    f, _ = run_frontier(
        lm,
        suite,
        tmp_path,
        budgets=(6,),
        methods=("awrs",),
        selections=(rule,),
        selection_temperature=temperature,
    )
    for item in suite.items():
        ids = lm.chat(list(item.messages))
        reward = {"logprob": PromptLogProb(lm, ids), "judge": Judge(lm)}.get(rule) or suite.reward(
            item
        )
        prompt = item.messages[-1]["content"]
        if rule == "judge":  # the judge reads the request as text: give best_of_k the same
            reward = _with_prompt(reward, prompt)
        sel = awrs.best_of_k(
            lm,
            ids,
            6,
            reward,
            temperature=temperature,
            seed=0,
            constraint=suite.constraint(item),
            max_tokens=8,
        )
        row = f.table.rows["toy", f"awrs/{rule}", 6, item.id, 0, f.settings.hash(suite)]
        assert row.text == sel.text and row.output == (not sel.empty)


def _with_prompt(reward, prompt):
    return batched(lambda texts: reward.score(texts, prompt))


def test_resume_skips_done_rows_and_reruns_the_rest(tmp_path, monkeypatch):
    drawn = []
    draw = Frontier.draw

    def recording(self, suite, item, ctx, built, method, prompt_ids, budget):
        drawn.append((item.id, budget))
        return draw(self, suite, item, ctx, built, method, prompt_ids, budget)

    monkeypatch.setattr(Frontier, "draw", recording)
    run_frontier(fixed_lm(), ToySuite(), tmp_path, budgets=(1,))
    _, points = run_frontier(fixed_lm(), ToySuite(), tmp_path, resume=True, budgets=(1, 2))
    assert drawn == [(i, b) for b in (1, 2) for i in ("t0", "t1", "t2")]
    assert [(p.budget, p.items) for p in points] == [(1, 3), (2, 3)]


class OnlyA(MaskingPeer):
    """A fake engine: "a" then "b" then the end, whatever the model prefers."""

    name = "only-a"
    peer_eos = 0

    def new_matcher(self, built):
        return []

    def fill_mask(self, matcher, logprobs):
        allowed = [ID["a"], ID["b"], 0][len(matcher)]
        keep = logprobs[0, allowed].clone()
        logprobs.fill_(-float("inf"))
        logprobs[0, allowed] = keep

    def consume(self, matcher, token):
        matcher.append(token)
        return True


def test_peer_batch_runs_all_rows_in_one_forward_per_step():
    lm = CountingLM(random_lm())
    peer = OnlyA()
    peer.prepare(lm, RunConfig())
    out = peer.run_batch(None, [ID["x"]], 0, RunConfig(max_tokens=8), 4)
    assert [(s.text, s.finished, s.tokens) for s in out] == [("ab", True, 3)] * 4
    assert lm.rows == 12 and lm.lm.calls == 3


def test_cli_writes_the_csv_the_report_and_a_plot(tmp_path, monkeypatch):
    monkeypatch.setitem(suites.EXTRA, "toy", ToySuite())
    argv = [
        "toy",
        "--budgets",
        "1",
        "2",
        "--methods",
        "smc",
        "direct",
        "--max-tokens",
        "8",
        "--selections",
        "first-valid",
        "reward",
        "--out",
        str(tmp_path),
    ]
    args = fr.add_arguments(argparse.ArgumentParser()).parse_args(argv)
    assert fr.run(args, lm=fixed_lm()) == 0
    with (tmp_path / "frontier.csv").open() as fh:
        assert tuple(next(csv.reader(fh))) == COLUMNS
    names = {(p.method, p.budget) for p in read_points(tmp_path / "frontier.csv")}
    assert names == {(m, b) for m in ("smc", "direct/first-valid", "direct/reward") for b in (1, 2)}
    assert (tmp_path / "frontier-toy.png").stat().st_size > 0
    assert "smc minus the best selection" in (tmp_path / "frontier.md").read_text()


def test_counting_lm_counts_rows():
    lm = CountingLM(fixed_lm())
    logp = lm.next_token_logprobs([[1], [1, 2]], 1.0)
    assert lm.rows == 2 and isinstance(logp, torch.Tensor)


def test_several_temperatures_give_a_row_each_and_a_cross_fitted_one(tmp_path):
    lm, suite = random_lm(), ToySuite(("[ab]+", "a[ab]*"))
    kw = dict(budgets=(4,), methods=("awrs",), selections=("first-valid", "reward"))
    f, _ = run_frontier(lm, suite, tmp_path, selection_temperature=(0.0, 2.0), **kw)
    one, _ = run_frontier(lm, suite, tmp_path / "one", selection_temperature=0.0, **kw)
    names = {r.method for r in f.table.rows.values()}
    assert names == {"awrs/first-valid", "awrs/reward@0", "awrs/reward@2"}
    for item in suite.items():
        key = ("toy", "awrs/reward", 4, item.id, 0, one.settings.hash(suite))
        grid = f.table.rows["toy", "awrs/reward@0", 4, item.id, 0, f.settings.hash(suite)]
        assert grid.text == one.table.rows[key].text


def test_cross_fit_picks_each_items_temperature_on_the_other_items():
    def row(t, item, score):
        return ItemRow("s", f"m/reward@{t}", 8, item, 0, "h", score=score)

    rows = [row(0, i, s) for i, s in zip("abc", (1.0, 1.0, 0.0), strict=True)]
    rows += [row(1, i, s) for i, s in zip("abc", (0.0, 0.0, 1.0), strict=True)]
    # a and b: the others tie (1 each), the lower temperature wins; c: T=0 scores 2 elsewhere
    assert [(r.method, r.item, r.score) for r in cross_fit(rows)] == [
        ("m/reward@cv", "a", 1.0),
        ("m/reward@cv", "b", 1.0),
        ("m/reward@cv", "c", 0.0),
    ]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["llguidance", "xgrammar"])
def test_real_peer_batches_rows_and_keeps_its_constraint(name, default_lm):
    pytest.importorskip(name)
    from bench.methods import ItemContext, get_method

    suite = ToySuite((r"[0-9]{3}-[0-9]{4}",))
    item = suite.items()[0]
    lm = CountingLM(default_lm)
    peer = get_method(name)
    assert isinstance(peer, MaskingPeer)
    cfg = RunConfig(max_tokens=12)
    peer.prepare(lm, cfg)
    built = peer.build(suite, item, ItemContext(suite, item))
    out = peer.run_batch(built, default_lm.chat(list(item.messages)), 0, cfg, 3)
    assert len(out) == 3 and lm.rows <= 3 * 11
    assert all(suite.score(item, s.text).valid for s in out if s.finished)
    assert any(s.finished for s in out)
