"""Thompson NFA over code-point sets, built from the AST of Python's own regex parser."""

from __future__ import annotations

import re
import re._constants as C
import re._parser as P

from ...errors import ConstraintSizeError, UnsupportedFeatureError
from . import charset as cs

# Zero-width assertions (resolved for the flags in scope).
A_START, A_LINE_START, A_END_STRING, A_END, A_LINE_END = range(5)
A_BOUND_U, A_NBOUND_U, A_BOUND_A, A_NBOUND_A = range(5, 9)
LOOKBEHIND = {A_LINE_START, A_BOUND_U, A_NBOUND_U, A_BOUND_A, A_NBOUND_A}

_UNSUPPORTED = {
    C.GROUPREF: "back-references",
    C.GROUPREF_EXISTS: "conditional groups (?(id)yes|no)",
    C.ATOMIC_GROUP: "atomic groups (?>...)",
    C.POSSESSIVE_REPEAT: "possessive quantifiers (*+, ++, ?+, {m,n}+)",
}


class NFA:
    """States ``0..n-1``; per state: epsilon targets, ``(assertion, target)`` and
    ``(charset id, target)`` edges. ``charsets`` holds the interned code-point sets."""

    __slots__ = ("eps", "asrt", "edges", "charsets", "start", "final", "_ids", "_limit")

    def __init__(self, limit: int):
        self.eps: list[list[int]] = []
        self.asrt: list[list[tuple[int, int]]] = []
        self.edges: list[list[tuple[int, int]]] = []
        self.charsets: list[cs.Ranges] = []
        self._ids: dict[cs.Ranges, int] = {}
        self._limit = limit
        self.start = self.final = 0

    def new(self) -> int:
        if len(self.eps) >= self._limit:
            raise ConstraintSizeError(
                f"the regular expression expands to more than {self._limit} NFA states "
                f"(large repetition counts); raise max_states or simplify the pattern"
            )
        self.eps.append([])
        self.asrt.append([])
        self.edges.append([])
        return len(self.eps) - 1

    def charset_id(self, s: cs.Ranges) -> int:
        i = self._ids.get(s)
        if i is None:
            valid = s
            if any(lo <= 0xDFFF and hi >= 0xD800 for lo, hi in s):
                valid = cs.intersect(s, cs.VALID)  # surrogates never occur in UTF-8
            i = self._ids[s] = len(self.charsets)
            self.charsets.append(valid)
        return i

    @property
    def assertions(self) -> set[int]:
        return {a for lst in self.asrt for a, _ in lst}


def parse(pattern: str, flags: int):
    """The parser's AST and the global flags (inline ``(?i)`` etc. folded in)."""
    tree = P.parse(pattern, flags)
    return tree, tree.state.flags


def build(pattern: str, flags: int, limit: int) -> NFA:
    """The NFA of ``pattern`` (already known to compile with ``re``).

    Raises:
        UnsupportedFeatureError: for syntax a finite automaton cannot express exactly.
        ConstraintSizeError: when the expansion exceeds ``limit`` states.
    """
    tree, gflags = parse(pattern, flags)
    if _size(tree) > limit:
        raise ConstraintSizeError(
            f"the regular expression {pattern!r} expands to more than {limit} NFA states "
            f"(large repetition counts); raise max_states or simplify the pattern"
        )
    nfa = NFA(limit)
    nfa.start, nfa.final = _seq(nfa, tree, gflags, pattern)
    return nfa


def _size(items) -> int:
    """An upper bound on the NFA states :func:`_seq` creates for ``items``."""
    total = 1
    for op, av in items:
        if op is C.SUBPATTERN:
            total += _size(av[3])
        elif op is C.BRANCH:
            total += 2 + sum(_size(alt) for alt in av[1])
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
            lo, hi, sub = av
            copies = lo + 1 if hi == C.MAXREPEAT else hi
            total += 2 + copies * _size(sub)
        else:
            total += 2
    return total


def _unsupported(what: str, pattern: str) -> UnsupportedFeatureError:
    return UnsupportedFeatureError(
        f"awrs.Regex compiles to a finite automaton and does not support {what} "
        f"(in {pattern!r}); use awrs.Pattern(pattern), which checks prefixes with the "
        f"`regex` package's partial matching"
    )


def _seq(nfa: NFA, items, flags: int, pattern: str) -> tuple[int, int]:
    start = cur = nfa.new()
    for op, av in items:
        s, e = _item(nfa, op, av, flags, pattern)
        nfa.eps[cur].append(s)
        cur = e
    return start, cur


def _char(nfa: NFA, s: cs.Ranges) -> tuple[int, int]:
    a, b = nfa.new(), nfa.new()
    nfa.edges[a].append((nfa.charset_id(s), b))
    return a, b


def _item(nfa: NFA, op, av, flags: int, pattern: str) -> tuple[int, int]:
    if op is C.LITERAL:
        return _char(nfa, cs.literal(av, flags))
    if op is C.NOT_LITERAL:
        return _char(nfa, cs.complement(cs.literal(av, flags)))
    if op is C.ANY:
        return _char(nfa, cs.ANY_CP if flags & re.DOTALL else cs.complement(cs.NEWLINE))
    if op is C.IN:
        return _char(nfa, cs.char_set(av, flags))
    if op is C.CATEGORY:
        return _char(nfa, cs.category(av, flags))
    if op is C.SUBPATTERN:
        _group, add, rem, sub = av
        inner = flags
        if add & P.TYPE_FLAGS:
            inner &= ~P.TYPE_FLAGS
        return _seq(nfa, sub, (inner | add) & ~rem, pattern)
    if op is C.BRANCH:
        s, e = nfa.new(), nfa.new()
        for alt in av[1]:
            a, b = _seq(nfa, alt, flags, pattern)
            nfa.eps[s].append(a)
            nfa.eps[b].append(e)
        return s, e
    if op is C.MAX_REPEAT or op is C.MIN_REPEAT:  # laziness does not change the language
        return _repeat(nfa, av, flags, pattern)
    if op is C.AT:
        s, e = nfa.new(), nfa.new()
        nfa.asrt[s].append((_assertion(av, flags), e))
        return s, e
    if op is C.ASSERT or op is C.ASSERT_NOT:
        kind = "look-ahead" if av[0] >= 0 else "look-behind"
        raise _unsupported(f"{kind} assertions", pattern)
    if op in _UNSUPPORTED:
        raise _unsupported(_UNSUPPORTED[op], pattern)
    raise _unsupported(f"the construct {op}", pattern)


def _repeat(nfa: NFA, av, flags: int, pattern: str) -> tuple[int, int]:
    lo, hi, sub = av
    start = cur = nfa.new()
    for _ in range(lo):
        a, b = _seq(nfa, sub, flags, pattern)
        nfa.eps[cur].append(a)
        cur = b
    end = nfa.new()
    if hi == C.MAXREPEAT:
        a, b = _seq(nfa, sub, flags, pattern)
        nfa.eps[cur].append(a)
        nfa.eps[b].append(cur)
    else:
        for _ in range(hi - lo):
            a, b = _seq(nfa, sub, flags, pattern)
            nfa.eps[cur].append(a)
            nfa.eps[cur].append(end)
            cur = b
    nfa.eps[cur].append(end)
    return start, end


def _assertion(at, flags: int) -> int:
    ml, ascii_ = flags & re.MULTILINE, flags & re.ASCII
    if at is C.AT_BEGINNING_STRING:
        return A_START
    if at is C.AT_BEGINNING:
        return A_LINE_START if ml else A_START
    if at is C.AT_END_STRING:
        return A_END_STRING
    if at is C.AT_END:
        return A_LINE_END if ml else A_END
    if at is C.AT_BOUNDARY:
        return A_BOUND_A if ascii_ else A_BOUND_U
    if at is C.AT_NON_BOUNDARY:
        return A_NBOUND_A if ascii_ else A_NBOUND_U
    raise ValueError(f"unexpected assertion {at}")
