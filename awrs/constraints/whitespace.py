"""A bound on runs of whitespace, to compose with constraints whose language allows any amount."""

from __future__ import annotations

import numpy as np

from ..errors import ConfigurationError
from .base import IncrementalConstraint

_WHITESPACE = frozenset(b" \t\n\r\f\v")


class MaxWhitespace(IncrementalConstraint):
    """Byte strings with no run of more than ``k`` ASCII whitespace bytes.

    Compose it with a grammar whose ``%ignore WS`` admits unbounded whitespace, so that a model
    cannot pad a text until ``max_tokens``: ``awrs.Grammar(text) & awrs.MaxWhitespace(4)``. The
    bound applies everywhere, string literals included. The state is the length of the current
    trailing run.

    Args:
        k: the longest run allowed (>= 1).
    """

    def __init__(self, k: int):
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ConfigurationError(f"MaxWhitespace expects an integer k >= 1, got {k!r}")
        self.k = k

    def __repr__(self) -> str:
        return f"MaxWhitespace({self.k})"

    def start(self) -> int:
        return 0

    def advance(self, state: int, token: bytes) -> int | None:
        run = state
        for byte in token:
            if byte in _WHITESPACE:
                run += 1
                if run > self.k:
                    return None
            else:
                run = 0
        return run

    def is_complete(self, state: int) -> bool:
        return True

    def token_mask(self, state: int, trie) -> np.ndarray:
        """Vectorised over the vocabulary from the trie's per-token whitespace runs."""
        lead, longest = trie.whitespace_runs()
        return (lead + state <= self.k) & (longest <= self.k) & trie.members
