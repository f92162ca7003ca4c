"""QED as a reward and as SMC's tilt, and exactness of SMC under awrs.SMILES on a toy model:
the target is p(x | SMILES) without a critic and p(x | SMILES)·exp(QED(x)/T) with the QED
tilt, whose prefixes are twisted by their closing completion's QED (cancelled at the end)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

pytest.importorskip("partialsmiles")
Chem = pytest.importorskip("rdkit.Chem")
from rdkit.Chem import QED as RDKIT_QED  # noqa: E402

import awrs  # noqa: E402
from awrs.models.toy import ToyLM  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "sampling"))
from sampling_helpers import exact_posterior, pooled, tv  # noqa: E402

pytestmark = pytest.mark.one_pass  # RDKit tests run in one pass of make test

VOCAB = [b"<eos>", b"C", b"O", b"=", b"(", b")", b"N"]
T_MAX, RUNS, N = 5, 40, 64


def _table(ctx):
    """Context-dependent: stopping grows with length, `=` is likely after O."""
    n = len(ctx) - 1
    last = ctx[-1] if n else None
    stop = 0.05 + 0.15 * n
    rest = {1: 0.35, 2: 0.25, 3: 0.15 if last != 2 else 0.4, 4: 0.1, 5: 0.1, 6: 0.15}
    total = sum(rest.values())
    out = {t: (1 - stop) * p / total for t, p in rest.items()}
    out[0] = stop
    return out


def _lm():
    return ToyLM(VOCAB, 0, _table)


def _qed(text: str) -> float:
    mol = Chem.MolFromSmiles(text)
    return 0.0 if mol is None else RDKIT_QED.qed(mol)


def test_qed_scores_like_rdkit_and_zero_when_invalid():
    r = awrs.rewards.QED()
    texts = ["CCO", "CC(=O)Oc1ccccc1C(=O)O\n", "CC(", "", "xyz"]
    assert r.score(texts) == pytest.approx([_qed("CCO"), _qed("CC(=O)Oc1ccccc1C(=O)O"), 0, 0, 0])
    closed = awrs.rewards.QED(awrs.SMILES())
    assert closed("CC(") == pytest.approx(_qed(awrs.SMILES().close("CC(")))
    assert closed("CC(") > 0 and closed("CCO") == pytest.approx(_qed("CCO"))


def _runs(critic=None):
    lm, c = _lm(), awrs.SMILES()
    return [
        awrs.generate(
            lm, [1], c, n_particles=N, max_tokens=T_MAX, seed=700 + s, critic=critic, guide=False
        )
        for s in range(RUNS)
    ]


def _within(post, se, exact) -> bool:
    return set(post) <= set(exact) and all(
        abs(post.get(x, 0.0) - exact[x]) <= 4 * se.get(x, 0.0) + 2e-3 for x in exact
    )


@pytest.fixture(scope="module")
def exact():
    return exact_posterior(_lm(), [1], awrs.SMILES().complete_ok, T_MAX)[0]


def test_smc_under_smiles_targets_the_exact_posterior(exact):
    assert len(exact) >= 5 and all(Chem.MolFromSmiles(x.strip()) is not None for x in exact)
    post, se, _ = pooled(_runs())
    assert _within(post, se, exact), (post, exact)


def _tilted(exact, temperature):
    un = {x: p * math.exp(_qed(x.strip()) / temperature) for x, p in exact.items()}
    return {x: v / sum(un.values()) for x, v in un.items()}


def test_the_qed_tilt_targets_the_tilted_posterior(exact):
    t = 0.05
    tilted = _tilted(exact, t)
    assert tv(tilted, exact) > 0.05  # the tilt matters on this toy
    post, se, _ = pooled(_runs(awrs.rewards.qed_tilt(awrs.SMILES(), temperature=t)))
    assert _within(post, se, tilted), (post, tilted)
    assert not _within(post, se, exact)
