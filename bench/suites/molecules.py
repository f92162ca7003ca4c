"""The molecular-synthesis suite of the AWRS paper: one more molecule like 20 examples.

Each item shows 20 molecules drawn (seeded per item) from ``molecules/molecules-open.smi`` and
asks for one more with similar properties, in SMILES on one line. awrs's methods use
``awrs.SMILES()``; the token-mask peers get one Lark grammar of SMILES syntax
(``smiles.lark``). Every output is scored by RDKit here, independently of the constraint:
validity (a single molecule RDKit sanitizes), QED (0 when invalid) and its canonical SMILES
(``metrics["canonical"]``, from which the report counts distinct molecules per item).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from awrs.errors import ConfigurationError
from bench.common import data_path

from . import Item, Score, Spec, Suite

SYSTEM = (
    "You are an expert chemist. You write molecules in SMILES notation and answer with one "
    "SMILES string only."
)
INSTRUCTION = (
    "Here are {n} molecules in SMILES notation, one per line:\n\n{molecules}\n\n"
    "Write one more molecule with similar chemical properties. Reply with its SMILES string "
    "only, on one line, without explanations."
)
#: the follow-up request of each answered turn
AGAIN = "Another one."
#: prompt molecules shown as the assistant's earlier answers (the reply format, by example)
ANSWERED = 2
#: molecules shown per prompt, as in the paper
SHOTS = 20
#: items of the suite (each a fresh draw of prompt molecules)
N_ITEMS = 100
#: tilt temperature of the suite's critic (awrs.rewards.QED_TEMPERATURE, the default)
CRITIC_TEMPERATURE = 0.1
GRAMMAR = Path(__file__).with_name("smiles.lark")


def _chem() -> tuple[Any, Any, Any]:
    """``(rdkit.Chem, rdkit.Chem.QED, rdkit.rdBase)``."""
    from rdkit import Chem, rdBase
    from rdkit.Chem import QED

    return Chem, QED, rdBase


def molecule(text: str) -> tuple[Any, str]:
    """``(RDKit molecule, "")`` of an output, or ``(None, why it is not one molecule)``.

    A final newline (the end of the answer's line) is allowed; any other whitespace, ``.``
    (several fragments) or ``*`` (dummy atoms) makes the output invalid, like the constraint.
    """
    body = text.removesuffix("\n")
    if not body:
        return None, "empty"
    if any(ch.isspace() for ch in body):
        return None, "whitespace"  # RDKit would read text after a space as the molecule's name
    if "." in body or "*" in body:
        return None, "fragments (.)" if "." in body else "dummy atom (*)"
    Chem, _, rdBase = _chem()
    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(body)
    if mol is None or mol.GetNumAtoms() == 0:
        return None, "RDKit rejects it"
    return mol, ""


def score_text(text: str) -> Score:
    """Validity, QED (0 when invalid) and canonical SMILES of one output, by RDKit."""
    mol, why = molecule(text)
    if mol is None:
        return Score(False, 0.0, {"error": why})
    Chem, QED, rdBase = _chem()
    with rdBase.BlockLogs():
        try:
            qed = float(QED.qed(mol))
        except Exception as exc:  # RDKit descriptors can fail on exotic molecules
            return Score(True, 0.0, {"canonical": Chem.MolToSmiles(mol), "error": f"qed: {exc}"})
        return Score(True, qed, {"canonical": Chem.MolToSmiles(mol)})


@lru_cache(maxsize=4)
def pool(path: str) -> tuple[str, ...]:
    """The candidate prompt molecules of a SMILES file: one per line (the first field), single
    fragments without ``*``."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    fields = (line.split()[0] for line in lines if line.strip())
    return tuple(s for s in fields if "." not in s and "*" not in s)


def check_prompt_molecule(smiles: str, source: str = "") -> None:
    """Raise ConfigurationError when RDKit cannot read a prompt molecule."""
    mol, why = molecule(smiles)
    if mol is None:
        where = f" in {source}" if source else ""
        raise ConfigurationError(f"prompt molecule {smiles!r}{where} is not valid: {why}")


def messages(molecules: Sequence[str]) -> tuple[dict[str, str], ...]:
    """Chat messages: the system prompt, the instruction listing the molecules but the last
    :data:`ANSWERED`, which follow as the assistant's answers, each asked for again (a small
    chat model then answers with a bare SMILES line, which it seldom does after the list)."""
    listed, answered = molecules[:-ANSWERED], molecules[-ANSWERED:]
    text = INSTRUCTION.format(n=len(listed), molecules="\n".join(listed))
    out = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}]
    for smiles in answered:
        out += [{"role": "assistant", "content": smiles}, {"role": "user", "content": AGAIN}]
    return tuple(out)


class MoleculesSuite(Suite):
    """``molecules/molecules-open.smi``; score: QED of a valid molecule (RDKit), else 0.

    Args:
        path: the SMILES file (default: the shared data's).
        shots: molecules per prompt.
        n_items: items in the suite.
    """

    name = "molecules"
    metric = "qed"
    version = f"2 (critic: qed_tilt T={CRITIC_TEMPERATURE:g})"
    #: the per-sample field whose distinct values per item the report counts
    distinct_field = "canonical"
    #: methods run on ``--slow-limit`` items only here (the full-vocabulary mask with the
    #: Python partialsmiles check costs seconds per token)
    slow_methods = ("mask",)

    def __init__(self, path: str | Path | None = None, shots: int = SHOTS, n_items: int = N_ITEMS):
        self.path, self.shots, self.n_items = path, shots, n_items

    def items(self, limit: int | None = None) -> list[Item]:
        path = str(self.path or data_path("molecules", "molecules-open.smi"))
        candidates = pool(path)
        if len(candidates) < self.shots or self.shots <= ANSWERED:
            raise ConfigurationError(
                f"{path} has {len(candidates)} usable molecules for {self.shots} shots (needs "
                f"more than {ANSWERED} shots, and at least as many molecules)"
            )
        n = self.n_items if limit is None else min(limit, self.n_items)
        return [self._item(k, candidates, path) for k in range(n)]

    def _item(self, k: int, candidates: Sequence[str], path: str) -> Item:
        shots = random.Random(k).sample(candidates, self.shots)
        for smiles in shots:
            check_prompt_molecule(smiles, path)
        return Item(f"m{k:03d}", messages(shots), {"molecules": tuple(shots)})

    def constraint(self, item: Item):
        import awrs

        return awrs.SMILES()

    def spec(self, item: Item, constraint=None) -> Spec:
        return Spec("lark", GRAMMAR.read_text(encoding="utf-8"), constraint)

    def score(self, item: Item, text: str) -> Score:
        return score_text(text)

    def reward(self, item: Item):
        from awrs.rewards import QED

        return QED()

    def critic(self, item: Item):
        from awrs.rewards import qed_tilt

        return qed_tilt(self.constraint(item), temperature=CRITIC_TEMPERATURE)


SUITE = MoleculesSuite()
