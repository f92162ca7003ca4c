"""QED, RDKit's drug-likeness in [0, 1]: a reward for best-of-k and a tilt for SMC.

As a best-of-k reward, :class:`QED` scores complete texts (0 for an invalid molecule). As an SMC
critic (:func:`qed_tilt`), it tilts the target on purpose, to ``p(x | constraint) *
exp(QED(x) / T)``; on an unfinished prefix, whose own QED would be 0, it is evaluated on the
prefix's known closing completion (:meth:`awrs.SMILES.close`). That value is a twist: SMC swaps
each particle's previous twist for the new one, so it shapes the proposal's weights on the way
and cancels at completion, where the closing completion of a complete molecule is itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from .critics import Critic
from .reward import Reward

#: the default tilt temperature T of :func:`qed_tilt`: QED spans [0, 1], so the tilt
#: ``exp(QED / 0.1)`` weighs the best molecules up to e^10 times the worst
QED_TEMPERATURE = 0.1


class QED(Reward):
    """RDKit's QED of each text (spaces and a final newline stripped); 0 when the text is not
    a valid molecule.

    Args:
        constraint: an :class:`awrs.SMILES` (or anything with ``close(text) -> str | None``):
            texts that are not complete molecules are scored on their known closing
            completion instead of 0 (the critic of :func:`qed_tilt`).

    Raises:
        ConfigurationError: when RDKit is missing (extra ``awrs[chem]``).
    """

    def __init__(self, constraint=None):
        from ..constraints.smiles import _chem

        _, self._chem, self._rdbase = _chem()
        from rdkit.Chem import QED as _QED

        self._qed = _QED.qed
        self.constraint = constraint

    def __repr__(self) -> str:
        return "QED()" if self.constraint is None else f"QED(constraint={self.constraint!r})"

    def score(self, texts: Sequence[str], prompt: str = "") -> list[float]:
        return [self._one(t) for t in texts]

    def _one(self, text: str) -> float:
        body = text.strip()
        value = self._of(body)
        if value is None and self.constraint is not None:
            closed = self.constraint.close(body)
            value = None if closed is None else self._of(closed)
        return 0.0 if value is None else value

    def _of(self, smiles: str) -> float | None:
        if not smiles:
            return None
        with self._rdbase.BlockLogs():
            mol = self._chem.MolFromSmiles(smiles)
            return None if mol is None else float(self._qed(mol))


def qed_tilt(constraint, temperature: float = QED_TEMPERATURE) -> Critic:
    """A critic for ``awrs.generate(method="smc", critic=...)`` whose target is
    ``p(x | constraint) * exp(QED(x) / temperature)``; prefixes are twisted by the QED of their
    closing completion under ``constraint`` (an :class:`awrs.SMILES`)."""
    return Critic(QED(constraint), temperature=temperature)
