"""Length-normalised log-likelihood of a response under a language model, as a reward."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..models.base import LanguageModel
from .reward import Reward
from .scoring import forced_logprobs


class LogProb(Reward):
    """Mean per-token log-probability of the response given the prompt.

    The response is re-tokenised with ``lm.encode`` and scored by teacher forcing, one batched
    forward per token position. With ``include_eos`` the end-of-sequence token counts as one
    more token (its probability is the total over the model's EOS ids), so an empty response
    scores ``log P(EOS)``; without it an empty response scores ``-inf`` (nothing to score).

    Args:
        lm: the scoring model (the generator or another one sharing nothing with it).
        raw: score after the raw prompt text instead of the chat template.
        include_eos: also score the end of the response.
    """

    def __init__(self, lm: LanguageModel, *, raw: bool = False, include_eos: bool = True):
        self.lm, self.raw, self.include_eos = lm, raw, include_eos

    def _base(self, prompt: str) -> list[int]:
        ids = self.lm.prompt_ids(prompt, raw=self.raw)
        # an unconditional score needs some context: EOS doubles as BOS, as in GPT-2
        return ids or [min(self.lm.eos_token_ids)]

    def score(self, texts: Sequence[str], prompt: str = "") -> list[float]:
        base = self._base(prompt)
        eos = sorted(self.lm.eos_token_ids)
        seqs = [self.lm.encode(t) for t in texts]
        needed: dict[tuple[int, tuple[int, ...]], set[int]] = {}
        for seq in seqs:
            for j, tok in enumerate(seq):
                needed.setdefault((0, tuple(seq[:j])), set()).add(tok)
            if self.include_eos:
                needed.setdefault((0, tuple(seq)), set()).update(eos)
        wanted = {key: sorted(ids) for key, ids in needed.items()}
        got = forced_logprobs(self.lm, [base], wanted) if wanted else {}
        out = []
        for seq in seqs:
            terms = [_pick(got, wanted, seq[:j], [tok]) for j, tok in enumerate(seq)]
            if self.include_eos:
                terms.append(_pick(got, wanted, seq, eos))
            out.append(float(np.mean(terms)) if terms else -math.inf)
        return out

    def __repr__(self) -> str:
        return f"LogProb({getattr(self.lm, 'name', type(self.lm).__name__) or 'lm'})"


def _pick(got, wanted, prefix, ids) -> float:
    key = (0, tuple(prefix))
    lp = got[key][np.searchsorted(wanted[key], ids)]
    return float(np.logaddexp.reduce(lp))
