"""The benchmark runner: resumability, failure recording, unknown names, report and plots."""

from __future__ import annotations

import csv

import pytest

from awrs.models.toy import ToyLM
from bench import harness, methods, suites
from bench.methods import Method, Missing, Outcome, Unsupported
from bench.suites import Item, Score, Spec, Suite

VOCAB = [b"<eos>", b"a", b"b", b"c", b" ", b":", b"\n"] + [
    bytes([c]) for c in range(ord("d"), ord("z") + 1)
]


def toy_lm():
    return ToyLM(VOCAB, 0, lambda ctx: {i: 1 / len(VOCAB) for i in range(len(VOCAB))})


class FakeSuite(Suite):
    name = "fake"
    metric = "match"
    extra_metrics = ("length",)

    def __init__(self, n=3, missing=False):
        self.n, self.missing = n, missing
        self.name = "nodata" if missing else "fake"

    def items(self, limit=None):
        if self.missing:
            raise FileNotFoundError("benchmark data /nowhere/fake.csv is missing")
        ids = ["a", "b", "c", "d", "e"][: self.n]
        return [
            Item(i, ({"role": "user", "content": f"say {i}"},), {"want": i}) for i in ids[:limit]
        ]

    def constraint(self, item):
        return ("constraint", item.id)

    def spec(self, item, constraint=None):
        return Spec("regex", item.data["want"], constraint)

    def score(self, item, text):
        ok = text == item.data["want"]
        return Score(ok, float(ok), {"length": float(len(text))})


class Echo(Method):
    """answers the wanted text on even seeds, 'zz' on odd ones"""

    name = "echo"
    calls = []

    def run(self, built, prompt_ids, seed, cfg):
        assert built == ("constraint", built[1])
        Echo.calls.append((built[1], seed))
        text = built[1] if seed % 2 == 0 else "zz"
        return Outcome(text, True, tokens=4, evals=8.0, posterior={text: 0.75, "zz": 0.25})


class Slow(Echo):
    """like echo, ten times the evaluations"""

    name = "slow"
    uses_particles = True

    def run(self, built, prompt_ids, seed, cfg):
        out = super().run(built, prompt_ids, seed, cfg)
        out.evals *= 10
        return out


class Crashy(Method):
    """crashes on item b, cannot express item c, says nothing on a"""

    name = "crashy"
    needs_constraint = False

    def build(self, suite, item, ctx):
        if item.id == "c":
            raise Unsupported("crashy cannot express c")
        return item.id

    def run(self, built, prompt_ids, seed, cfg):
        if built == "b":
            raise RuntimeError("peer exploded on b")
        return Outcome(None, False, tokens=2)


class Absent(Method):
    """a peer whose package is not installed"""

    name = "absent"

    def prepare(self, lm, cfg):
        raise Missing("absent-peer is not installed")

    def run(self, built, prompt_ids, seed, cfg):  # pragma: no cover
        raise AssertionError("never runs")


class Sleepy(Echo):
    """a slow method that hangs on item a"""

    name = "sleepy"
    slow = True

    def run(self, built, prompt_ids, seed, cfg):
        if built[1] == "a":
            import time

            time.sleep(5)
        return super().run(built, prompt_ids, seed, cfg)


@pytest.fixture
def registered(monkeypatch):
    Echo.calls = []
    monkeypatch.setitem(suites.EXTRA, "fake", FakeSuite())
    monkeypatch.setitem(suites.EXTRA, "nodata", FakeSuite(missing=True))
    for cls in (Echo, Slow, Crashy, Absent, Sleepy):
        monkeypatch.setitem(methods.EXTRA, cls.name, cls)


def run(tmp_path, *argv, lm=None):
    parser = harness.add_arguments(__import__("argparse").ArgumentParser())
    args = parser.parse_args([*argv, "--out", str(tmp_path), "--no-plots"])
    return harness.run(args, lm=lm or toy_lm())


def read_rows(tmp_path):
    with open(tmp_path / "samples.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_runs_every_item_method_and_seed_and_resumes(tmp_path, registered):
    assert run(tmp_path, "fake", "--methods", "echo,slow", "--repeats", "2") == 0
    rows = read_rows(tmp_path)
    assert len(rows) == 3 * 2 * 2
    assert len(Echo.calls) == 12
    # second run: nothing recomputed
    assert run(tmp_path, "fake", "--methods", "echo", "slow", "--repeats", "2") == 0
    assert len(Echo.calls) == 12 and len(read_rows(tmp_path)) == 12
    # a larger limit / another seed computes only the new keys
    suites.EXTRA["fake"].n = 4
    run(tmp_path, "fake", "--methods", "echo", "--repeats", "3")
    assert len(Echo.calls) == 12 + 3 + 3  # new item d (3 seeds) + seed 2 of a, b, c
    by = {(r["method"], r["item"], r["seed"]) for r in read_rows(tmp_path)}
    assert ("echo", "d", "2") in by
    # --particles changes the key of particle methods only
    run(tmp_path, "fake", "--methods", "echo,slow", "--particles", "3")
    assert len(Echo.calls) == 18 + 4  # slow on a, b, c, d with seed 0


def test_scores_posterior_and_report(tmp_path, registered):
    run(tmp_path, "fake", "--methods", "echo,slow,crashy", "--repeats", "2")
    rows = [r for r in read_rows(tmp_path) if r["method"] == "echo"]
    even = [r for r in rows if r["seed"] == "0"]
    odd = [r for r in rows if r["seed"] == "1"]
    assert all(r["valid"] == "1" and float(r["score"]) == 1.0 for r in even)
    assert all(float(r["score_post"]) == pytest.approx(0.75) for r in even)
    assert all(r["valid"] == "0" and float(r["score"]) == 0.0 for r in odd)
    report = (tmp_path / "report.md").read_text()
    assert "## fake" in report
    # echo: match 0.5 over 6 runs; slow has 10x the evaluations
    line = next(ln for ln in report.splitlines() if ln.startswith("| echo |"))
    assert "| 6 | 0 | 0 | 0.50 [" in line
    lines = [ln for ln in report.splitlines() if ln.startswith("| echo |")]
    # second table: speed-up columns, then time per token vs direct (absent), then mask evals;
    # third: runs without output (count, share, score over all runs and over runs with output
    # only) and by how they ended (echo always has output)
    assert len(lines) == 3 and lines[2].startswith("| echo | 6 | 0 | 0.00 | 0.50 [")
    assert lines[2].endswith("| 0 | 0 | 0 | 0 | - | - |")
    # crashy says nothing on a, fails on b, cannot express c (2 seeds each): 2 of 2 runs empty
    crashy = [ln for ln in report.splitlines() if ln.startswith("| crashy |")]
    assert "| crashy | 2 | 2 | 2 | 0.00 | 2/2 (1.00) |" in crashy[0]
    assert crashy[-1] == "| crashy | 2 | 2 | 1.00 | 0.00 | - | 0 | 0 | 0 | 2 | - | - |"


def test_failures_and_unsupported_are_recorded_and_the_run_continues(tmp_path, registered):
    assert run(tmp_path, "fake", "--methods", "crashy,echo") == 0
    rows = {(r["method"], r["item"]): r for r in read_rows(tmp_path)}
    assert rows[("crashy", "a")]["status"] == "ok" and rows[("crashy", "a")]["has_output"] == "0"
    assert rows[("crashy", "b")]["status"] == "failed"
    assert "RuntimeError: peer exploded on b" in rows[("crashy", "b")]["reason"]
    assert rows[("crashy", "c")]["status"] == "unsupported"
    assert rows[("crashy", "c")]["reason"] == "crashy cannot express c"
    assert all(rows[("echo", i)]["status"] == "ok" for i in "abc")
    report = (tmp_path / "report.md").read_text()
    assert "`crashy` failed ×1: RuntimeError: peer exploded on b" in report
    assert "`crashy` unsupported ×1: crashy cannot express c" in report
    # failed rows are finished unless --retry-failed
    calls = len(Echo.calls)
    run(tmp_path, "fake", "--methods", "crashy,echo", "--retry-failed")
    assert len(Echo.calls) == calls
    assert len(read_rows(tmp_path)) == 7  # only crashy/b was recomputed (appended)


def test_unknown_names_missing_data_and_missing_peers_are_reported(tmp_path, registered, capsys):
    status = run(tmp_path, "fake", "bogus", "nodata", "--methods", "echo,nope,absent")
    assert status == 0
    report = (tmp_path / "report.md").read_text()
    assert "unknown suite 'bogus': expected one of" in report
    assert "unknown method 'nope': expected one of" in report
    assert "method 'absent' is missing: absent-peer is not installed" in report
    assert "suite 'nodata' skipped: benchmark data /nowhere/fake.csv is missing" in report
    assert {r["method"] for r in read_rows(tmp_path)} == {"echo"}
    assert "warning: unknown suite 'bogus'" in capsys.readouterr().err
    # nothing runnable at all: exit status 2
    assert run(tmp_path / "x", "bogus", "--methods", "echo") == 2


def test_bad_settings_are_configuration_errors(tmp_path, registered, capsys):
    assert harness.main(["fake", "--particles", "0", "--out", str(tmp_path)]) == 2
    assert "--particles must be >= 1, got 0" in capsys.readouterr().err
    assert harness.main(["fake", "--ess-threshold", "2", "--out", str(tmp_path)]) == 2
    with pytest.raises(SystemExit):
        harness.main([])


def test_plots_are_written(tmp_path, registered):
    parser = harness.add_arguments(__import__("argparse").ArgumentParser())
    args = parser.parse_args(["fake", "--methods", "echo,slow,crashy", "--out", str(tmp_path)])
    assert harness.run(args, lm=toy_lm()) == 0
    pngs = sorted(p.name for p in (tmp_path / "plots").glob("*.png"))
    assert pngs == ["fake_cost.png", "fake_score.png", "fake_tradeoff.png"]
    assert all((tmp_path / "plots" / p).stat().st_size > 1000 for p in pngs)
    assert "![fake_score](plots/fake_score.png)" in (tmp_path / "report.md").read_text()


class ToyRegexSuite(Suite):
    """Regex tasks on the toy vocabulary, with awrs's own Regex constraint."""

    name = "toyregex"
    metric = "match"

    def items(self, limit=None):
        pats = ["(ab|c)+", "a(b|c)*d", "c{2,3}"]
        return [
            Item(f"r{i}", ({"role": "user", "content": "go"},), {"pattern": p})
            for i, p in enumerate(pats)
        ][:limit]

    def constraint(self, item):
        import awrs

        return awrs.Regex(item.data["pattern"])

    def spec(self, item, constraint=None):
        return Spec("regex", item.data["pattern"], constraint)

    def score(self, item, text):
        import regex

        ok = regex.fullmatch(item.data["pattern"], text) is not None
        return Score(ok, float(ok))


def test_awrs_methods_run_through_the_harness(tmp_path, monkeypatch):
    monkeypatch.setitem(suites.EXTRA, "toyregex", ToyRegexSuite())
    # EOS is likely enough that sequences end within the budget
    lm = ToyLM(
        VOCAB,
        0,
        lambda ctx: {i: (0.2 if i == 0 else 0.8 / (len(VOCAB) - 1)) for i in range(len(VOCAB))},
    )
    assert (
        run(
            tmp_path,
            "toyregex",
            "--methods",
            "direct,mask,awrs,smc,rerank",
            "--particles",
            "4",
            "--max-tokens",
            "12",
            "--repeats",
            "3",
            lm=lm,
        )
        == 0
    )
    rows = read_rows(tmp_path)
    assert len(rows) == 3 * 5 * 3 and all(r["status"] == "ok" for r in rows)
    for r in rows:
        if r["method"] in ("mask", "awrs", "smc") and r["finished"] == "1":
            assert r["valid"] == "1", r  # finished constrained outputs satisfy the constraint
        assert int(r["tokens"]) >= 1
    mask = [float(r["evals"]) / int(r["tokens"]) for r in rows if r["method"] == "mask"]
    awrs_ = [float(r["evals"]) / int(r["tokens"]) for r in rows if r["method"] == "awrs"]
    assert min(mask) > max(awrs_) >= 1  # masking checks (nearly) every token; awrs a few
    assert all(r["evals"] in ("", "0", "0.0") for r in rows if r["method"] == "direct")
    report = (tmp_path / "report.md").read_text()
    assert "validity:" in report and "evaluations: `mask` ÷ `awrs` per token:" in report


def test_overhead_suite_runs_present_modules_and_reports_missing_ones(tmp_path, monkeypatch):
    import sys
    import types

    from bench.suites import overhead

    fake = types.ModuleType("bench.fakebench")
    calls = []

    def main(argv):
        calls.append(argv)
        print("| metric | value |\n|---|---|\n| speed | 42 |")

    fake.main = main
    monkeypatch.setitem(sys.modules, "bench.fakebench", fake)
    (tmp_path / "fakebench.py").write_text("# stands for a benchmark script\n")
    (tmp_path / "nomain.py").write_text("# a script without main\n")
    monkeypatch.setitem(sys.modules, "bench.nomain", types.ModuleType("bench.nomain"))
    monkeypatch.setattr(overhead, "BENCH", tmp_path)
    monkeypatch.setattr(
        overhead,
        "MODULES",
        {
            "fakebench": ("a fake micro-benchmark", ["--quick"]),
            "nomain": ("a script without main", []),
            "notyet": ("a benchmark nobody wrote", []),
        },
    )
    out = tmp_path / "out"
    assert run(out, "overhead", "--limit", "1") == 0  # --limit: the quick arguments
    assert calls == [["--quick"]]
    report = (out / "report.md").read_text()
    assert "| speed | 42 |" in report
    assert "bench/notyet.py is missing (a benchmark nobody wrote)" in report
    assert "AttributeError: bench.nomain has no main(argv) function" in report
    run(out, "overhead", "--limit", "1")  # resumed: not run again
    assert calls == [["--quick"]]
    run(out, "overhead")  # the full setting is another run
    assert calls == [["--quick"], []]


def test_timeout_and_slow_limit(tmp_path, registered):
    assert (
        run(tmp_path, "fake", "--methods", "sleepy,echo", "--timeout", "0.5", "--slow-limit", "2")
        == 0
    )
    rows = {(r["method"], r["item"]): r for r in read_rows(tmp_path)}
    assert rows[("sleepy", "a")]["status"] == "failed"
    assert "longer than --timeout 0.5 s" in rows[("sleepy", "a")]["reason"]
    assert rows[("sleepy", "b")]["status"] == "ok"
    assert ("sleepy", "c") not in rows  # past --slow-limit
    assert all(rows[("echo", i)]["status"] == "ok" for i in "abc")


def test_runs_without_output_are_split_by_how_their_particles_ended():
    from bench.report import ending
    from bench.store import Row

    def row(**m):
        return Row("s", "smc", "i", 0, "h", metrics=m)

    assert ending(row(dead=3, out_of_budget=1, budget_dead=0)) == "all particles dead"
    assert ending(row(dead=0, out_of_budget=4, budget_dead=2)) == "out of budget"
    assert ending(row(dead=1, out_of_budget=0, budget_dead=5)) == "pruned to completion"
    assert ending(row()) == "other"


def test_budget_unaware_variants_run_and_hash_apart():
    from bench.methods import RunConfig, get_method

    on, off = get_method("smc"), get_method("smc-nobudget")
    cfg = RunConfig()
    assert on.settings(cfg)["budget"] is True and off.settings(cfg)["budget"] is False
    assert off.uses_particles and off.base == "smc" and "budget-unaware" in off.describe()
    assert "budget" not in get_method("mask").settings(cfg)
    assert on._budget_options() == {} and off._budget_options() == {
        "budget": False,
        "budget_twist": False,
    }
    assert on.settings(cfg)["budget_twist"] is True  # generate's default for smc
    tw = get_method("smc-notwist")
    assert tw.base == "smc" and tw.settings(cfg)["budget_twist"] is False
    assert tw._budget_options() == {"budget": True, "budget_twist": False}
    assert "without the budget twist" in tw.describe()
    assert get_method("awrs-nobudget")._budget_options() == {"budget": False}


def test_each_prompt_is_run_through_the_model_once_before_the_timed_runs(tmp_path, registered):
    class Counting(ToyLM):
        prompts: list = []

        def next_token_logprobs(self, contexts, temperature=1.0):
            type(self).prompts.extend(tuple(c) for c in contexts)
            return super().next_token_logprobs(contexts, temperature)

    counting = Counting(VOCAB, 0, lambda ctx: {i: 1 / len(VOCAB) for i in range(len(VOCAB))})
    run(tmp_path, "fake", "--methods", "echo,slow", lm=counting)
    prompts = [tuple(counting.chat(list(i.messages))) for i in suites.EXTRA["fake"].items(None)]
    # one untimed forward per item, before its methods run (echo and slow never call the model)
    assert [p for p in Counting.prompts if p in prompts] == prompts


def test_the_per_model_tables_are_built_with_the_constraint_and_timed_as_build(
    tmp_path, monkeypatch
):
    from awrs.sampling.tables import ATTRIBUTE
    from bench.methods import ItemContext

    suite = ToyRegexSuite()
    item = suite.items(None)[0]
    lm = ToyLM(VOCAB, 0, lambda ctx: {i: 1 / len(VOCAB) for i in range(len(VOCAB))})
    ctx = ItemContext(suite, item)
    c = ctx.constraint_for(None)
    built = ctx.build_s
    assert not hasattr(c, ATTRIBUTE)  # not prepared yet: a run would pay for it
    assert ctx.prepared(lm) is c and lm in getattr(c, ATTRIBUTE)
    assert ctx.build_s > built  # the preparation is counted as build time
    after = ctx.build_s
    assert ctx.prepared(lm) is c and ctx.build_s == after  # once per item
