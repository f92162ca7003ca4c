"""Regular-expression constraints: :class:`Regex` (byte-level DFA) and :class:`Pattern`."""

from __future__ import annotations

import codecs
import re
from typing import Sequence

import numpy as np

from ...kernels import dfa as _dfa
from ...errors import ConfigurationError, ConstraintError, ConstraintEvaluationError
from .dfa import DEFAULT_MAX_STATES, DFA, compile_dfa
from ..base import Constraint, IncrementalConstraint

__all__ = ["Regex", "Pattern", "DFA", "compile_dfa", "DEFAULT_MAX_STATES"]


class Regex(IncrementalConstraint):
    """Text that fully matches a Python ``re`` pattern, checked by a byte-level DFA.

    ``accepts(s) == (re.fullmatch(pattern, s, flags) is not None)`` for every ``str`` s, and
    ``accepts_prefix`` is exact: the DFA's dead state is reached exactly when no extension
    can match (invalid UTF-8 included). The state is an ``int`` DFA state.

    Supported: literals, escapes, ``.``, classes (negated, ranges, ``\\d \\w \\s`` and their
    negations with Python's Unicode or ASCII meaning), quantifiers (greedy or lazy),
    alternation, groups (capturing, named, non-capturing, scoped flags), anchors and word
    boundaries anywhere (``^ $ \\A \\Z \\b \\B``), flags IGNORECASE, DOTALL, MULTILINE,
    VERBOSE, ASCII.

    Args:
        pattern: a ``str`` pattern in Python ``re`` syntax (or a compiled ``re.Pattern``).
        flags: ``re`` flags.
        max_states: the most DFA states allowed (1 KiB of table each).

    Raises:
        ConstraintError: the pattern is malformed (the message names the offset).
        UnsupportedFeatureError: back-references, look-arounds, conditional groups, atomic
            groups, possessive quantifiers — use :class:`Pattern` for those.
        ConstraintSizeError: the DFA would exceed ``max_states``.
    """

    def __init__(self, pattern: str | re.Pattern, *, flags: int = 0,
                 max_states: int = DEFAULT_MAX_STATES):
        self.dfa: DFA = compile_dfa(pattern, flags, max_states=max_states)
        if isinstance(pattern, re.Pattern):
            pattern, flags = pattern.pattern, flags | pattern.flags
        self.pattern, self.flags = pattern, int(flags)
        self._table, self._accept = self.dfa.table, self.dfa.accept
        self._alphabet = self.dfa.alphabet()

    def __repr__(self) -> str:
        return f"Regex({self.pattern!r}, n_states={self.dfa.n_states})"

    def start(self) -> int:
        return self.dfa.start

    def advance(self, state: int, token: bytes) -> int | None:
        s = _dfa.dfa_run(self._table, state, token)
        return s or None

    def is_complete(self, state: int) -> bool:
        return bool(self._accept[state])

    def prefix_ok(self, b: bytes) -> bool:
        return _dfa.dfa_run(self._table, self.dfa.start, b) != 0

    def complete_ok(self, b: bytes) -> bool:
        return bool(self._accept[_dfa.dfa_run(self._table, self.dfa.start, b)])

    def alphabet(self) -> frozenset[int]:
        return self._alphabet

    def completion_bound(self, tokens):
        """Exact: the fewest tokens from each DFA state to acceptance (see ``shortest.py``);
        the 0/1 bound when that table would cost too much to build."""
        from .shortest import affordable, dfa_bound

        if not affordable(self.dfa.n_states, len(tokens)):
            return super().completion_bound(tokens)
        return dfa_bound(self.dfa, tokens)

    def token_mask(self, state: int, trie) -> np.ndarray:
        """Boolean (V,) mask of the tokens ``advance`` accepts from ``state``, in one
        compiled pass over the vocabulary trie that prunes dead subtrees."""
        return _dfa.dfa_token_mask(self._table, state, trie.byte, trie.depth, trie.skip,
                                   trie.tok_ptr, trie.tok_ids, trie.vocab_size)

    def advance_batch(self, states: Sequence[int] | np.ndarray,
                      tokens: Sequence[bytes]) -> np.ndarray:
        """``advance`` for many (state, token) pairs at once.

        Returns:
            (B,) int32 next states, 0 where the token is rejected (``advance`` gives None).
        """
        return _dfa.dfa_run_batch(self._table, np.asarray(states, dtype=np.int32),
                                  list(tokens))


class Pattern(Constraint):
    """Text that fully matches a pattern of the ``regex`` package, checked as a black box.

    For what a finite automaton cannot express: back-references, look-arounds, recursion,
    possessive/atomic groups, Unicode properties. ``prefix_ok`` asks
    ``regex.fullmatch(pattern, text, partial=True)``, ``complete_ok`` asks
    ``regex.fullmatch(pattern, text)``. Bytes are decoded as UTF-8; invalid UTF-8 is
    rejected, and a trailing incomplete character is held back (checked only for being a
    valid start of a UTF-8 sequence) until it completes.

    Known limitations (see the tests): a prefix check is as exact as the ``regex`` package's
    partial matching. It never rejected a viable prefix in our brute-force checks (the
    paper's 227 patterns, all strings up to 3 characters over small alphabets), but it can
    accept prefixes that no completion matches around look-aheads, atomic groups and
    possessive quantifiers: ``(?>a+)a`` and ``(?=.*x)abc`` match nothing, yet every prefix
    made of their letters passes. Complete strings are always checked exactly, so such a
    prefix is never accepted as finished; a sampler may only waste steps on it. A trailing
    incomplete UTF-8 character is checked only for being a valid start of one. Each check
    re-matches from the start (cost grows with the prefix); prefer :class:`Regex` when the
    pattern allows it.

    Args:
        pattern: a pattern in the ``regex`` package's syntax.
        flags: ``regex`` flags (e.g. ``regex.V1`` for set operations).
        timeout: seconds allowed per match call (``None``: unbounded); a timeout raises
            :class:`~awrs.errors.ConstraintEvaluationError` naming the prefix.

    Raises:
        ConstraintError: the pattern is malformed (the message names the offset).
    """

    def __init__(self, pattern: str, *, flags: int = 0, timeout: float | None = None):
        import regex

        if not isinstance(pattern, str):
            raise ConstraintError(f"expected a str pattern, but got {type(pattern).__name__}")
        if timeout is not None and not timeout > 0:
            raise ConfigurationError(f"expected timeout > 0 or None, but got {timeout!r}")
        try:
            self._rx = regex.compile(pattern, flags)
        except regex.error as exc:
            where = f" at offset {exc.pos}" if exc.pos is not None else ""
            raise ConstraintError(f"malformed regular expression {pattern!r}{where}: "
                                  f"{exc.msg}") from exc
        self.pattern, self.flags, self.timeout = pattern, flags, timeout

    def __repr__(self) -> str:
        return f"Pattern({self.pattern!r})"

    def _match(self, text: str, partial: bool, b: bytes) -> bool:
        try:
            return self._rx.fullmatch(text, partial=partial, timeout=self.timeout) is not None
        except TimeoutError as exc:
            raise ConstraintEvaluationError(
                f"Pattern {self.pattern!r} timed out after {self.timeout} s on prefix {b!r}",
                b) from exc

    def prefix_ok(self, b: bytes) -> bool:
        try:
            text = codecs.getincrementaldecoder("utf-8")().decode(b, final=False)
        except UnicodeDecodeError:
            return False
        tail = b[len(text.encode("utf-8")):]
        return _utf8_tail_ok(tail) and self._match(text, True, b)

    def complete_ok(self, b: bytes) -> bool:
        try:
            text = b.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return self._match(text, False, b)


# Second-byte ranges for the lead bytes whose continuation is restricted.
_SECOND = {0xE0: (0xA0, 0xBF), 0xED: (0x80, 0x9F), 0xF0: (0x90, 0xBF), 0xF4: (0x80, 0x8F)}


def _utf8_tail_ok(tail: bytes) -> bool:
    """Whether an incomplete trailing UTF-8 sequence (after a valid prefix) can complete."""
    if len(tail) >= 2:
        lo, hi = _SECOND.get(tail[0], (0x80, 0xBF))
        return lo <= tail[1] <= hi
    return True
