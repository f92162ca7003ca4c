"""Constraints inside Hugging Face ``model.generate``: :class:`ConstraintLogitsProcessor`.

This is locally constrained decoding by token masking — the ``mask`` baseline of
:func:`awrs.generate` — for code already built on ``transformers``. Each step gives every
row the model's distribution restricted to the tokens the constraint accepts and renormalised;
that is *not* the model's distribution conditioned on the constraint (it is biased towards
prefixes with many accepted continuations). For that, use ``awrs.generate(..., method="smc")``
(AWRS proposals with importance weights and resampling).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers import LogitsProcessor

from .constraints.base import Constraint
from .constraints.trie import VocabTrie
from .errors import ConfigurationError

__all__ = ["ConstraintLogitsProcessor"]


class ConstraintLogitsProcessor(LogitsProcessor):
    """Masks every token the constraint rejects; EOS only where the text is complete.

    Pass it as ``model.generate(..., logits_processor=[proc])``. Works with batches, sampling,
    ``num_return_sequences`` and beam search: each row's constraint state is found from the
    row's generated token ids (a state cache keyed by those ids), so rows that beam search
    reorders or duplicates keep the right state. The mask is exact over the whole vocabulary
    (the constraint's :meth:`~awrs.Constraint.token_mask` over a byte trie of the tokens).

    A row whose every token is rejected and whose text is not complete (a dead end, possible
    only with token-level bounds such as ``MaxWhitespace``) gets EOS as its only choice; such
    rows are counted in :attr:`dead_ends`, and their text fails the constraint. A row cut off
    by ``max_new_tokens`` is unfinished: check ``constraint.accepts(text)``.

    Args:
        constraint: any :class:`awrs.Constraint`.
        tokenizer: the model's Hugging Face tokenizer, or the vocabulary as a list of token
            bytes (id -> bytes).
        eos_token_ids: end-of-sequence ids (default: the tokenizer's ``eos_token_id``).
        vocab_size: the model's logit width when larger than the tokenizer (padded heads).
    """

    def __init__(
        self,
        constraint: Constraint,
        tokenizer,
        *,
        eos_token_ids: int | Sequence[int] | None = None,
        vocab_size: int | None = None,
    ):
        if not isinstance(constraint, Constraint):
            raise ConfigurationError(
                f"constraint must be an awrs Constraint (e.g. awrs.Regex), "
                f"got {type(constraint).__name__}"
            )
        self.constraint = constraint
        self.vocab = _vocab(tokenizer, vocab_size)
        self.eos = _eos(tokenizer, eos_token_ids, len(self.vocab))
        self.trie = VocabTrie(self.vocab, exclude=self.eos)
        self.dead_ends = 0
        self._prompt_len: int | None = None
        self._last_len = -1
        self._states: dict[tuple[int, ...], object] = {}

    def reset(self) -> None:
        """Forget the current generation (done automatically when a new one starts)."""
        self._prompt_len, self._last_len, self._states = None, -1, {}

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        width = input_ids.shape[1]
        if self._prompt_len is None or width != self._last_len + 1:  # a new generate call
            self.reset()
            self._prompt_len = width
        self._last_len = width
        allowed = torch.zeros(scores.shape, dtype=torch.bool)
        states, masks = {}, {}
        for row, ids in enumerate(input_ids[:, self._prompt_len :].tolist()):
            gen = tuple(ids)
            if any(t in self.eos for t in gen):  # finished (padding follows): leave as is
                allowed[row] = True
                continue
            if gen not in masks:
                states[gen] = self._state(gen)
                masks[gen] = self._row_mask(states[gen], scores.shape[-1])
            allowed[row] = masks[gen]
        self._states = states
        # torch types masked_fill as Tensor; transformers' signature says FloatTensor
        return scores.masked_fill(~allowed.to(scores.device), float("-inf"))  # type: ignore[return-value]

    def _state(self, gen: tuple[int, ...]):
        """The constraint state after the generated ids ``gen`` (from the parent's state)."""
        c = self.constraint
        parent = self._states.get(gen[:-1]) if gen else None
        if parent is not None:
            state = c.advance(parent, self.vocab[gen[-1]])
        else:
            state = c.advance(c.start(), b"".join(self.vocab[t] for t in gen)) if gen else c.start()
        if state is None:
            raise ConfigurationError(
                f"generated tokens {list(gen)[-8:]} are outside the constraint: was the "
                "processor added after generation started, or the tokenizer another model's?"
            )
        return state

    def _row_mask(self, state, width: int) -> torch.Tensor:
        v = min(width, len(self.vocab))
        out = torch.zeros(width, dtype=torch.bool)
        out[:v] = torch.from_numpy(self.constraint.token_mask(state, self.trie)[:v].copy())
        complete = bool(self.constraint.is_complete(state))
        dead = not complete and not bool(out.any())
        self.dead_ends += dead
        for t in self.eos:
            if t < width:
                out[t] = complete or dead
        return out


def _vocab(tokenizer, vocab_size: int | None) -> list[bytes]:
    if isinstance(tokenizer, (list, tuple)):
        if not all(isinstance(t, (bytes, bytearray)) for t in tokenizer):
            raise ConfigurationError("a vocabulary must be a list of token bytes")
        vocab = [bytes(t) for t in tokenizer]
        return vocab + [b""] * max(0, (vocab_size or 0) - len(vocab))
    if not hasattr(tokenizer, "convert_ids_to_tokens"):
        raise ConfigurationError(
            f"expected a Hugging Face tokenizer or a list of token bytes, "
            f"got {type(tokenizer).__name__}"
        )
    from .models.vocab import token_bytes

    return token_bytes(tokenizer, vocab_size)


def _eos(tokenizer, eos_token_ids, size: int) -> frozenset[int]:
    if eos_token_ids is None:
        eos_token_ids = getattr(tokenizer, "eos_token_id", None)
    if eos_token_ids is None:
        raise ConfigurationError("no end-of-sequence id: pass eos_token_ids=")
    ids = frozenset(
        [eos_token_ids] if isinstance(eos_token_ids, int) else (int(t) for t in eos_token_ids)
    )
    if not ids or any(not 0 <= t < size for t in ids):
        raise ConfigurationError(f"eos_token_ids must lie in [0, {size}), got {sorted(ids)}")
    return ids
