"""The molecules suite: seeded few-shot items, RDKit scoring, the SMILES grammar of the peers,
distinct outputs per item, the smc-critic method (RDKit: native pass of make test only)."""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

pytest.importorskip("rdkit")
pytestmark = pytest.mark.one_pass

from awrs.errors import ConfigurationError  # noqa: E402
from awrs.models.toy import ToyLM  # noqa: E402
from bench import harness, report, suites  # noqa: E402
from bench.methods import AwrsMethod, ItemContext, RunConfig, Unsupported, get_method  # noqa: E402
from bench.store import Row  # noqa: E402
from bench.suites.molecules import GRAMMAR, MoleculesSuite, pool  # noqa: E402

FIXTURE = Path(__file__).with_name("molecules_fixture.smi")
VALID = [s for s in FIXTURE.read_text().split() if "." not in s and "*" not in s]
#: not SMILES syntax (the grammar rejects them too), then chemically invalid (RDKit's call)
SYNTAX_ERRORS = ["", "C.C", "*C", "C(", "C)", "[C", "Xx", "C C", "CC\n\n", "C%1", "C=(C)"]
INVALID = [*SYNTAX_ERRORS, "C1CC", "c1ccc", "C(C)(C)(C)(C)C"]


def suite(n_items: int = 6) -> MoleculesSuite:
    return MoleculesSuite(FIXTURE, shots=5, n_items=n_items)


def test_items_are_seeded_per_item_and_hold_clean_molecules():
    from rdkit import Chem

    a, b = suite().items(), suite().items()
    assert [i.id for i in a] == ["m000", "m001", "m002", "m003", "m004", "m005"]
    assert [i.data for i in a] == [i.data for i in b]  # deterministic
    assert [i.data for i in suite().items(3)] == [i.data for i in a[:3]]  # limit: a prefix
    assert len({i.data["molecules"] for i in a}) == len(a)  # a fresh draw per item
    for item in a:
        mols = item.data["molecules"]
        assert len(mols) == 5 and len(set(mols)) == 5
        for smiles in mols:
            assert "." not in smiles and "*" not in smiles
            assert Chem.MolFromSmiles(smiles) is not None
        roles = [m["role"] for m in item.messages]
        assert roles == ["system", "user", "assistant", "user", "assistant", "user"]
        assert "\n".join(mols[:3]) in item.messages[1]["content"]
        assert "one more molecule" in item.messages[1]["content"]
        assert [item.messages[2]["content"], item.messages[4]["content"]] == list(mols[3:])
    assert set(pool(str(FIXTURE))) == set(VALID)


def test_an_unparseable_prompt_molecule_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.smi"
    path.write_text("CCO\nC1CC\nCCN\n")
    with pytest.raises(ConfigurationError, match=r"prompt molecule 'C1CC' in .*bad\.smi"):
        MoleculesSuite(path, shots=3).items(1)
    with pytest.raises(ConfigurationError, match="3 usable molecules for 5 shots"):
        MoleculesSuite(path, shots=5).items(1)


def test_scores_validity_qed_and_canonical_smiles():
    s = suite()
    item = s.items(1)[0]
    ok = s.score(item, "OC1=CC=CC=C1\n")  # the end of the answer's line is allowed
    assert ok.valid and 0 < ok.score < 1
    assert ok.metrics["canonical"] == "Oc1ccccc1"
    assert s.score(item, "c1ccccc1O").metrics["canonical"] == "Oc1ccccc1"
    for text in INVALID:
        sc = s.score(item, text)
        assert (sc.valid, sc.score) == (False, 0.0), text
        assert "canonical" not in sc.metrics and sc.metrics["error"]


def test_distinct_outputs_per_item_by_canonical_smiles():
    def row(item, seed, canonical=None):
        r = Row("molecules", "m", item, seed, "h", has_output=canonical is not None)
        r.valid = canonical is not None
        r.metrics = {"canonical": canonical} if canonical else {}
        return r

    rows = [row("a", 0, "CCO"), row("a", 1, "CCO"), row("a", 2, "CCN")]  # 2 distinct of 3
    rows += [row("b", 0, "CCO"), row("b", 1), row("b", 2)]  # 1 valid: no share
    rows += [row("c", 0, "C"), row("c", 1, "C")]  # 1 distinct of 2
    table = report.distinct_table("canonical", {"m": report.Summary("m", rows)})
    cells = [c.strip() for c in table.splitlines()[2].strip("|").split("|")]
    assert cells[:2] == ["m", "3"]
    assert cells[2].startswith(f"{(2 + 1 + 1) / 3:.2f}")
    assert cells[3] == "2" and cells[4].startswith(f"{(2 / 3 + 1 / 2) / 2:.2f}")


class _Bytes:
    """A byte-level tokenizer for llguidance (ids 0-255, EOS 256)."""

    eos_token_id, bos_token_id = 256, None
    tokens = [bytes([i]) for i in range(256)] + [b"<eos>"]

    def __call__(self, text):
        return list(text if isinstance(text, bytes) else text.encode())


def test_the_grammar_compiles_with_llguidance_and_accepts_smiles_syntax():
    llg = pytest.importorskip("llguidance")
    tok = llg.LLTokenizer(llg.TokenizerWrapper(_Bytes()))
    matcher = llg.LLMatcher(tok, llg.LLMatcher.grammar_from_lark(GRAMMAR.read_text()))
    assert not matcher.is_error(), matcher.get_error()

    def accepts(text: str) -> bool:
        m = matcher.deep_copy()
        return m.consume_tokens(list(text.encode())) and m.is_accepting()

    for smiles in VALID + ["C1CC%12CC1CC%12", "[13CH3-]", "C[C@@H](O)N\n", "F/C=C/F"]:
        assert accepts(smiles), smiles
    for text in SYNTAX_ERRORS:
        assert not accepts(text), text


def test_smc_critic_runs_smc_with_the_suite_critic_and_hashes_apart(monkeypatch):
    import awrs
    from awrs.rewards import Critic

    s = suite()
    item = s.items(1)[0]
    method = get_method("smc-critic")
    assert isinstance(method, AwrsMethod)
    method.prepare(None, RunConfig())
    cfg = RunConfig()
    assert method.base == "smc" and method.uses_particles and "critic" in method.describe()
    assert method.settings(cfg) != get_method("smc").settings(cfg)
    constraint, critic = method.build(s, item, ItemContext(s, item))
    assert isinstance(critic, Critic) and repr(constraint) == "SMILES()"
    seen: dict[str, Any] = {}

    def fake_generate(lm, prompt, constraint, **kw):
        seen.update(kw, constraint=constraint)
        return SimpleNamespace(text=None, posterior={}, samples=[], log_ml=math.nan, empty=True)

    monkeypatch.setattr(awrs, "generate", fake_generate)
    assert method.run((constraint, critic), [1, 2], 0, cfg).text is None
    assert seen["critic"] is critic and seen["method"] == "smc" and seen["constraint"] is constraint
    plain = suites.get_suite("patterns")  # a suite without a critic
    with pytest.raises(Unsupported, match="has no critic"):
        method.build(plain, item, ItemContext(s, item))


def test_the_suite_runs_through_the_harness_with_a_cost_and_distinct_table(tmp_path, monkeypatch):
    monkeypatch.setitem(suites.EXTRA, "molecules", suite(n_items=2))
    vocab = [b"<eos>"] + [bytes([c]) for c in range(32, 127)] + [b"\n"]
    likely = {vocab.index(bytes([c])): 1.0 for c in b"CcON1(=)"}

    def dist(ctx):
        w = {i: 0.02 for i in range(len(vocab))} | likely | {0: 1.5}
        total = sum(w.values())
        return {i: v / total for i, v in w.items()}

    argv = [
        "molecules",
        "--methods",
        "direct,awrs,smc,smc-critic,mask",
        "--particles",
        "2",
        "--max-tokens",
        "8",
        "--repeats",
        "2",
        "--slow-limit",
        "1",
        "--out",
        str(tmp_path),
        "--no-plots",
    ]
    args = harness.add_arguments(argparse.ArgumentParser()).parse_args(argv)
    assert harness.run(args, lm=ToyLM(vocab, 0, dist)) == 0
    with open(tmp_path / "samples.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert all(r["status"] == "ok" for r in rows), [r["reason"] for r in rows]
    assert {r["item"] for r in rows if r["method"] == "mask"} == {"m000"}  # slow here
    assert len(rows) == 2 * 2 * 4 + 2
    for r in rows:
        if r["method"] != "direct" and r["finished"] == "1":
            assert r["valid"] == "1", r
    text = (tmp_path / "report.md").read_text()
    assert "slow methods: mask on molecules" in text
    assert "outside-model ÷ LM time" in text and "distinct ÷ valid outputs" in text
    assert "`smc-critic` − `smc`" in text and "× faster per token" in text


def test_the_shared_data_gives_twenty_clean_molecules_per_item():
    from bench.common import DATA

    if not (DATA / "molecules" / "molecules-open.smi").exists():
        pytest.skip("shared data is absent")
    items = suites.get_suite("molecules").items(3)
    assert [len(i.data["molecules"]) for i in items] == [20, 20, 20]
    assert len({m for i in items for m in i.data["molecules"]}) > 50
