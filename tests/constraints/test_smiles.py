"""awrs.SMILES against RDKit: prefixes of real molecules accepted, invalid texts never
complete, the prompt conventions, the completion search, and the missing extra."""

from __future__ import annotations

import builtins

import pytest

pytest.importorskip("partialsmiles")
Chem = pytest.importorskip("rdkit.Chem")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from rdkit import rdBase  # noqa: E402

import awrs  # noqa: E402
from awrs.errors import ConfigurationError  # noqa: E402

pytestmark = pytest.mark.one_pass  # RDKit tests run in one pass of make test

#: a hand-written fixture: aromatics, charges, stereo, bracket atoms, %nn labels, branches
FIXTURE = (
    "CCO",
    "CC(=O)Oc1ccccc1C(=O)O",
    "c1ccc2ccccc2c1",
    "C[N+](=O)[O-]",
    "N#Cc1ccncc1",
    "O=C(O)C[C@@H](N)C(=O)O",
    "C/C=C/Cl",
    "FC(F)(F)c1ccc(Br)cc1",
    "C%12CCCCC%12",
    "c1cc[nH]c1",
    "CS(=O)(=O)N",
    "[2H]C([2H])([2H])I",
    "OC1CCN(Cc2ccccc2)CC1",
    "C1=CC=CC=C1",
)


def _rdkit_ok(text: str) -> bool:
    with rdBase.BlockLogs():
        return bool(text) and Chem.MolFromSmiles(text) is not None


@pytest.fixture(scope="module")
def smiles():
    return awrs.SMILES()


@pytest.mark.parametrize("mol", FIXTURE)
def test_every_prefix_of_a_valid_molecule_is_accepted(smiles, mol):
    state = smiles.start()
    for i, ch in enumerate(mol):
        state = smiles.advance(state, ch.encode())
        assert state is not None, f"{mol[: i + 1]!r} refused"
    assert smiles.is_complete(state) and smiles.accepts(mol) and smiles.accepts(mol + "\n")


def test_tokens_advance_like_their_bytes(smiles):
    mol = "CC(=O)Oc1ccccc1C(=O)O"
    chunks = ["CC", "(=", "O)", "Oc1", "cccc", "c1", "C(=O)O\n"]
    state = smiles.start()
    for chunk in chunks:
        state = smiles.advance(state, chunk.encode())
    assert state == (mol, True, False)
    assert smiles.advance(state, b"C") is None  # nothing after the end of the line


@pytest.mark.parametrize(
    ("text", "prefix", "complete"),
    [
        ("CC.O", False, False),  # one molecule unless fragments=True
        ("C*", False, False),  # no dummy atoms unless asked for
        ("CC(", True, False),
        ("C1CC", True, False),
        ("C(C)(C)(C)(C)C", False, False),  # carbon with five bonds
        ("c1cccc1", True, False),  # not kekulizable (yet: its last atom may still bond)
        ("C%@", False, False),  # `%` takes two digits
        ("C%1", True, False),
        ("C[N+1%", False, False),  # no ring label inside a bracket atom
        ("C[N+1%2", False, False),
        ("CC[N+]=[O-1", False, False),  # a bracket atom no `]` can close validly
        ("C[K-1", False, False),
        ("CC(=O)[O-", True, False),
        ("c1cc[", True, False),
        ("CCO\n\n", False, False),
        (" CCO", False, False),  # no leading space unless leading_space=True
        ("CCO\n", True, True),
    ],
)
def test_refusals_and_unfinished_texts(smiles, text, prefix, complete):
    assert smiles.accepts_prefix(text) is prefix
    assert smiles.accepts(text) is complete


def test_options_allow_fragments_dummy_atoms_and_a_leading_space():
    c = awrs.SMILES(fragments=True, dummy_atoms=True, leading_space=True, newline=False)
    assert c.accepts("CC.O") and c.accepts("C*") and c.accepts(" CCO")
    assert not c.accepts("  CCO") and not c.accepts("CCO\n")
    assert ord(".") in c.alphabet() and ord("\n") not in c.alphabet()
    assert ord(".") not in awrs.SMILES().alphabet()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet="CcNnOo()[]=#123%+-H@Bl", min_size=1, max_size=14))
def test_no_invalid_text_is_complete_and_rejection_is_final(text):
    c = awrs.SMILES()
    if c.accepts(text):
        assert _rdkit_ok(text), text
    if not _rdkit_ok(text):
        assert not c.accepts(text)
    if not c.accepts_prefix(text):  # prefix monotonicity, as samplers rely on it
        assert not c.accepts_prefix(text + "C") and not c.accepts(text + "C")


@pytest.mark.parametrize("mol", FIXTURE)
def test_the_completion_search_closes_every_prefix(smiles, mol):
    for i in range(1, len(mol)):
        done = smiles.close(mol[:i])
        assert done is not None and done.startswith(mol[:i]), mol[:i]
        assert smiles.accepts(done) and _rdkit_ok(done)
        (hint,) = smiles.closing_hints(smiles.advance(smiles.start(), mol[:i].encode()))
        assert mol[:i] + hint.decode() == done


def test_canonical_smiles_and_invalid_texts(smiles):
    assert smiles.canonical("OCC\n") == Chem.MolToSmiles(Chem.MolFromSmiles("CCO"))
    assert smiles.canonical("CC(") is None


def test_open_molecules_accepted_where_both_parsers_accept(data_dir):
    import partialsmiles

    lines = (data_dir / "molecules" / "molecules-open.smi").read_text().split()
    c, checked = awrs.SMILES(), 0
    for mol in lines:
        if "." in mol or "*" in mol or not _rdkit_ok(mol):
            continue
        try:
            partialsmiles.ParseSmiles(mol, partial=False)
        except partialsmiles.Error:
            continue
        checked += 1
        assert all(c.accepts_prefix(mol[:i]) for i in range(1, len(mol))), mol
        assert c.accepts(mol), mol
    assert checked > 1000


def test_a_missing_extra_is_a_configuration_error(monkeypatch):
    real = builtins.__import__

    def no_rdkit(name, *args, **kwargs):
        if name.startswith("rdkit"):
            raise ImportError(name=name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_rdkit)
    with pytest.raises(ConfigurationError, match=r"awrs\[chem\]"):
        awrs.SMILES()
    with pytest.raises(ConfigurationError, match=r"awrs\[chem\]"):
        awrs.rewards.QED()
