"""Regular-expression constraints: :class:`Regex` (byte-level DFA) and :class:`Pattern`."""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence

import numpy as np

from ...errors import ConfigurationError, ConstraintError, ConstraintEvaluationError
from ...kernels import dfa as _dfa
from ..base import Completion, Constraint, IncrementalConstraint
from .dfa import DEFAULT_MAX_STATES, DFA, compile_dfa
from .extended import compile_extended, universe
from .syntax import check_expansion

__all__ = ["Regex", "Pattern", "DFA", "compile_dfa", "DEFAULT_MAX_STATES"]


class Regex(IncrementalConstraint, Completion):
    """Text that fully matches a Python ``re`` pattern, checked by a byte-level DFA.

    ``accepts(s) == (re.fullmatch(pattern, s, flags) is not None)`` for every ``str`` s, and
    ``accepts_prefix`` is exact: the DFA's dead state is reached exactly when no extension
    can match (invalid UTF-8 included). The state is an ``int`` DFA state.

    Supported: literals, escapes, ``.``, classes (negated, ranges, ``\\d \\w \\s`` and their
    negations with Python's Unicode or ASCII meaning), quantifiers (greedy or lazy),
    alternation, groups (capturing, named, non-capturing, scoped flags), anchors and word
    boundaries anywhere (``^ $ \\A \\Z \\b \\B``), look-aheads at the start of the text
    (``(?!(in|if)$)\\w+``: exact products of automata, see :mod:`.lookahead`), flags
    IGNORECASE, DOTALL, MULTILINE, VERBOSE, ASCII.

    Args:
        pattern: a ``str`` pattern in Python ``re`` syntax (or a compiled ``re.Pattern``).
        flags: ``re`` flags.
        max_states: the most DFA states allowed (1 KiB of table each).

    Raises:
        ConstraintError: the pattern is malformed (the message names the offset).
        UnsupportedFeatureError: back-references, look-behinds, look-aheads after the first
            character, conditional groups, atomic groups, possessive quantifiers — use
            :class:`Pattern` for those.
        ConstraintSizeError: the DFA would exceed ``max_states``.
    """

    def __init__(
        self, pattern: str | re.Pattern, *, flags: int = 0, max_states: int = DEFAULT_MAX_STATES
    ):
        self.dfa: DFA = compile_dfa(pattern, flags, max_states=max_states)
        if isinstance(pattern, re.Pattern):
            flags |= pattern.flags
            pattern = pattern.pattern
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
        from .shortest import dfa_bound

        bound = dfa_bound(self.dfa, tokens)
        return super().completion_bound(tokens) if bound is None else bound

    def token_mask(self, state: int, trie) -> np.ndarray:
        """Boolean (V,) mask of the tokens ``advance`` accepts from ``state``, in one
        compiled pass over the vocabulary trie that prunes dead subtrees."""
        return _dfa.dfa_token_mask(
            self._table,
            state,
            trie.byte,
            trie.depth,
            trie.skip,
            trie.tok_ptr,
            trie.tok_ids,
            trie.vocab_size,
        )

    def advance_batch(
        self, states: Sequence[int] | np.ndarray, tokens: Sequence[bytes]
    ) -> np.ndarray:
        """``advance`` for many (state, token) pairs at once.

        Returns:
            (B,) int32 next states, 0 where the token is rejected (``advance`` gives None).
        """
        return _dfa.dfa_run_batch(self._table, np.asarray(states, dtype=np.int32), list(tokens))


class Pattern(Constraint, Completion):
    """Text that fully matches a pattern of the ``regex`` package.

    Where the pattern is regular — ``\\p{…}``/``\\P{…}``, ``\\N{…}``, POSIX classes, set
    operations, inline flags, atomic groups or possessive quantifiers that provably keep the
    language, look-behinds at the start and look-aheads at either end of the text, references
    to a group of at most 64 values — it is compiled to the byte DFA (:mod:`.extended`), and every
    check is
    exact: ``prefix_ok`` is false as soon as no completion exists, incomplete UTF-8 tails
    included (``regular`` is True). Otherwise (back-references, recursion, conditionals,
    look-arounds, fuzzy matching, or a DFA over ``max_states``) it checks prefixes with
    ``regex.fullmatch(pattern, text, partial=True)``: complete strings are checked exactly,
    but a prefix may be accepted that no completion matches (``(?=.*x)abc`` matches nothing,
    yet ``ab`` passes). An incomplete trailing UTF-8 character is accepted only if some
    character it can complete to occurs in the pattern and, when there are at most
    ``_TAIL_PROBE`` such characters, one of them keeps the partial match alive.

    Args:
        pattern: a pattern in the ``regex`` package's syntax.
        flags: ``regex`` flags (e.g. ``regex.V1`` for set operations).
        timeout: seconds allowed per match call of the matcher (``None``: unbounded); a
            timeout raises :class:`~awrs.errors.ConstraintEvaluationError` naming the prefix.
        max_states: the most DFA states tried before falling back to the matcher.

    Raises:
        ConstraintError: the pattern is malformed (the message names the offset).
    """

    def __init__(
        self, pattern: str, *, flags: int = 0, timeout: float | None = None, max_states: int = 4096
    ):
        import regex

        if not isinstance(pattern, str):
            raise ConstraintError(f"expected a str pattern, but got {type(pattern).__name__}")
        if timeout is not None and not timeout > 0:
            raise ConfigurationError(f"expected timeout > 0 or None, but got {timeout!r}")
        check_expansion(pattern, int(flags))
        try:
            self._rx = regex.compile(pattern, flags)
        except regex.error as exc:
            where = f" at offset {exc.pos}" if exc.pos is not None else ""
            raise ConstraintError(
                f"malformed regular expression {pattern!r}{where}: {exc.msg}"
            ) from exc
        except (RecursionError, OverflowError, ValueError, TypeError) as exc:
            raise ConstraintError(
                f"regular expression {pattern!r} rejected by regex: {type(exc).__name__}: {exc}"
            ) from exc
        self.pattern, self.flags, self.timeout = pattern, flags, timeout
        self.dfa: DFA | None = None
        try:
            self.dfa = compile_extended(pattern, int(flags), max_states=max_states)
        except ConstraintError:  # not regular, too large, or not parsed: use the matcher
            self._universe = universe(pattern, int(flags))
        else:
            self._table, self._accept = self.dfa.table, self.dfa.accept

    @property
    def regular(self) -> bool:
        """Whether the pattern was compiled to a DFA (every prefix check exact)."""
        return self.dfa is not None

    def __repr__(self) -> str:
        return f"Pattern({self.pattern!r}, regular={self.regular})"

    # -- DFA path (incremental, exact) ---------------------------------------------------------
    def start(self):
        return self.dfa.start if self.dfa is not None else b""

    def advance(self, state, token: bytes):
        if self.dfa is None:
            return super().advance(state, token)
        return _dfa.dfa_run(self._table, state, token) or None

    def is_complete(self, state) -> bool:
        if self.dfa is None:
            return self.complete_ok(state)
        return bool(self._accept[state])

    def alphabet(self) -> frozenset[int] | None:
        return None if self.dfa is None else self.dfa.alphabet()

    def completion_bound(self, tokens):
        """Where the pattern is regular, as :meth:`Regex.completion_bound` (exact token
        distances on the DFA); else the 0/1 bound."""
        from .shortest import dfa_bound

        bound = None if self.dfa is None else dfa_bound(self.dfa, tokens)
        return super().completion_bound(tokens) if bound is None else bound

    def token_mask(self, state, trie) -> np.ndarray:
        if self.dfa is None:
            return super().token_mask(state, trie)
        return _dfa.dfa_token_mask(
            self._table,
            state,
            trie.byte,
            trie.depth,
            trie.skip,
            trie.tok_ptr,
            trie.tok_ids,
            trie.vocab_size,
        )

    # -- checks ---------------------------------------------------------------------------------
    def _match(self, text: str, partial: bool, b: bytes) -> bool:
        try:
            return self._rx.fullmatch(text, partial=partial, timeout=self.timeout) is not None
        except TimeoutError as exc:
            raise ConstraintEvaluationError(
                f"Pattern {self.pattern!r} timed out after {self.timeout} s on prefix {b!r}", b
            ) from exc

    def prefix_ok(self, b: bytes) -> bool:
        if self.dfa is not None:
            return _dfa.dfa_run(self._table, self.dfa.start, b) != 0
        try:
            text = codecs.getincrementaldecoder("utf-8")().decode(b, final=False)
        except UnicodeDecodeError:
            return False
        tail = b[len(text.encode("utf-8")) :]
        if not tail:
            return self._match(text, True, b)
        cands = _tail_chars(tail, self._universe)
        if cands is None:
            return False
        if not self._match(text, True, b):
            return False
        if len(cands) > _TAIL_PROBE:
            return True
        return any(self._match(text + chr(c), True, b) for c in cands)

    def complete_ok(self, b: bytes) -> bool:
        if self.dfa is not None:
            return bool(self._accept[_dfa.dfa_run(self._table, self.dfa.start, b)])
        try:
            text = b.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return self._match(text, False, b)


#: the most candidate characters probed one by one for an incomplete UTF-8 tail
_TAIL_PROBE = 64
# Second-byte ranges for the lead bytes whose continuation is restricted.
_SECOND = {0xE0: (0xA0, 0xBF), 0xED: (0x80, 0x9F), 0xF0: (0x90, 0xBF), 0xF4: (0x80, 0x8F)}


def _tail_chars(tail: bytes, allowed) -> range | list[int] | None:
    """The code points an incomplete UTF-8 ``tail`` can complete to that lie in ``allowed``
    (a range set, or ``None`` for all): a list when few, a ``range`` covering them when more
    than ``_TAIL_PROBE``, ``None`` when there are none."""
    n = 2 if tail[0] < 0xE0 else 3 if tail[0] < 0xF0 else 4
    lo2, hi2 = _SECOND.get(tail[0], (0x80, 0xBF))
    if len(tail) >= 2 and not lo2 <= tail[1] <= hi2:
        return None
    second = (tail[1], tail[1]) if len(tail) >= 2 else (lo2, hi2)
    rest = n - max(len(tail), 2)
    lo_b = tail[:1] + bytes([second[0]]) + tail[2:] + b"\x80" * rest
    hi_b = tail[:1] + bytes([second[1]]) + tail[2:] + b"\xbf" * rest
    try:
        lo_cp, hi_cp = ord(lo_b.decode("utf-8")), ord(hi_b.decode("utf-8"))
    except (UnicodeDecodeError, TypeError):
        return None
    if allowed is None:
        return range(lo_cp, hi_cp + 1)
    parts = [(max(a, lo_cp), min(z, hi_cp)) for a, z in allowed if a <= hi_cp and z >= lo_cp]
    total = sum(z - a + 1 for a, z in parts)
    if not total:
        return None
    if total > _TAIL_PROBE:
        return range(lo_cp, hi_cp + 1)
    return [c for a, z in parts for c in range(a, z + 1)]
