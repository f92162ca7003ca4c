"""Scoring given token ids by teacher forcing: batched next-token log-probabilities, one forward
per depth."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

import numpy as np
import torch

from ..models.base import LanguageModel

Key = tuple[int, tuple[int, ...]]  # (base index, continuation prefix)


def forced_logprobs(
    lm: LanguageModel,
    bases: Sequence[Sequence[int]],
    wanted: Mapping[Key, Sequence[int]],
    batch_size: int = 64,
) -> dict[Key, np.ndarray]:
    """Log-probabilities of chosen next tokens after ``bases[i] + prefix``.

    Requests are grouped by prefix length and sent shortest first, so each call extends the
    contexts of the previous one (one incremental forward on a KV-cached backend).

    Args:
        lm: the model.
        bases: context token ids (prompts), indexed by the first element of each key.
        wanted: ``{(i, prefix): token ids}``: which next-token log-probabilities to return.
        batch_size: most contexts per call.

    Returns:
        ``{(i, prefix): float64 array}`` aligned with the requested token ids.
    """
    levels: dict[int, list[Key]] = defaultdict(list)
    for key in wanted:
        levels[len(key[1])].append(key)
    out: dict[Key, np.ndarray] = {}
    for depth in sorted(levels):
        keys = levels[depth]
        for start in range(0, len(keys), batch_size):
            chunk = keys[start : start + batch_size]
            contexts = [list(bases[i]) + list(prefix) for i, prefix in chunk]
            rows = lm.next_token_logprobs(contexts)  # (B, V) log-probabilities
            for row, key in zip(rows, chunk, strict=True):
                ids = torch.as_tensor(list(wanted[key]), dtype=torch.long)
                out[key] = row[ids].double().numpy() if len(ids) else np.empty(0)
    return out
