"""Toy language models with explicit next-token tables, for exact statistical tests."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import torch

from ..errors import ConfigurationError
from .base import LanguageModel

Table = Callable[[tuple[int, ...]], Mapping[int, float]]


class ToyLM(LanguageModel):
    """A language model given by a function from context to a next-token distribution.

    Args:
        vocab: bytes of each token id.
        eos: id(s) of the end-of-sequence token.
        table: maps the context (as a tuple of ids, prompt included) to ``{token id: prob}``;
            missing ids have probability 0. A ``dict`` keyed by context tuples also works, with
            ``default`` for contexts it lacks (uniform when ``default`` is None).
    """

    def __init__(
        self,
        vocab: Sequence[bytes],
        eos: int | Sequence[int],
        table: Table | Mapping[tuple[int, ...], Mapping[int, float]],
        default: Mapping[int, float] | None = None,
    ):
        self.vocab = [bytes(b) for b in vocab]
        self.eos_token_ids = {eos} if isinstance(eos, int) else set(eos)
        self._table = table
        self._default = default
        self.calls = 0  # batched forward count, for tests

    def _dist(self, ctx: tuple[int, ...]) -> Mapping[int, float]:
        if callable(self._table):
            return self._table(ctx)
        if ctx in self._table:
            return self._table[ctx]
        if self._default is not None:
            return self._default
        n = len(self.vocab)
        return {i: 1.0 / n for i in range(n)}

    def next_token_logprobs(self, contexts, temperature=1.0):
        self.check_contexts(contexts)
        if temperature <= 0:
            raise ConfigurationError(f"temperature must be > 0, got {temperature}")
        self.calls += 1
        out = torch.full((len(contexts), len(self.vocab)), -math.inf)
        for row, ctx in enumerate(contexts):
            for tok, p in self._dist(tuple(ctx)).items():
                if p > 0:
                    out[row, tok] = math.log(p) / temperature
        return torch.log_softmax(out, dim=-1)
