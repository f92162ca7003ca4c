"""The regular part of the ``regex`` package's syntax, compiled to the byte DFA.

The pattern is parsed by the ``regex`` package itself, so every construct means what it
means there. Each one-character item (literal, ``\\p{…}``, ``\\N{…}``, POSIX class, nested
set with ``&& -- || ~~``, ``.``) becomes the exact code-point set it matches, read off by
running that item alone over every code point (cached per item). Atomic groups and
possessive quantifiers are compiled only when they provably keep the language (see
:meth:`_Builder.forced`); look-behinds before the first character and look-aheads after
the last are decided (they see the empty string), look-aheads before the first character are
compiled as products of automata (:mod:`.lookahead`), and a back-reference to a group of at most
``MAX_REF_VALUES`` values is expanded. Other back-references, recursion, conditionals,
look-arounds, fuzzy matching and full case folding raise :class:`UnsupportedFeatureError`.
"""

from __future__ import annotations

import functools

from ...errors import ConstraintError, ConstraintSizeError, UnsupportedFeatureError
from . import charset as cs
from . import lookahead as _la
from . import nfa as _nfa
from .dfa import DFA, lower
from .subset import determinise
from .syntax import char_types, core, parse, replace, run_set, subst, walk

__all__ = ["compile_extended", "universe"]


def _unsupported(what: str, pattern: str) -> UnsupportedFeatureError:
    return UnsupportedFeatureError(f"{what} in {pattern!r} is not regular (or not provably so)")


class _Hidden:
    """A node kept out of :func:`.syntax.walk` and :func:`.syntax.rebuild`."""

    __slots__ = ("node",)

    def __init__(self, node):
        self.node = node


@functools.lru_cache(maxsize=1)
def _fixed_group():
    """The class of an expanded group's value whose pattern has atomic groups or possessive
    quantifiers: the literal, built only where the pattern, committing as the regex package
    does, matches that literal (see :meth:`_Builder.node`)."""
    _, R = core()

    class FixedGroup(R.String):  # type: ignore[name-defined]  # regex's untyped internals
        def __init__(self, w, sub):
            super().__init__(w)
            self.sub = _Hidden(sub)

    return FixedGroup


class _Builder:
    """Builds the NFA of a parsed pattern; ``follow`` is the set of characters that may come
    right after the node being built (used to prove atomic groups harmless)."""

    def __init__(self, pattern: str, info, version: int, limit: int):
        _, self.R = core()
        self.pattern, self.flags = pattern, info.flags | version
        self.nfa = _nfa.NFA(limit)
        self.limit = limit
        self._pf: dict[int, tuple[object, bool]] = {}

    # -- character sets -----------------------------------------------------------------------
    def char_set(self, n) -> cs.Ranges | None:
        """The code points a one-character node matches (``None``: not such a node)."""
        R = self.R
        if isinstance(n, char_types()):
            if getattr(n, "zerowidth", False):
                raise _unsupported("a zero-width set", self.pattern)
            if (getattr(n, "case_flags", 0) & R.FULLIGNORECASE) == R.FULLIGNORECASE:
                raise _unsupported("full case folding (FULLCASE with IGNORECASE)", self.pattern)
            return run_set(n, self.flags)
        return None

    def _string_sets(self, n) -> list[cs.Ranges]:
        R = self.R
        if (n.case_flags & R.FULLIGNORECASE) == R.FULLIGNORECASE:
            raise _unsupported("full case folding (FULLCASE with IGNORECASE)", self.pattern)
        return [run_set(R.Character(c, case_flags=n.case_flags), self.flags) for c in n.characters]

    # -- FIRST sets -----------------------------------------------------------------------------
    def first(self, n) -> tuple[cs.Ranges, bool]:
        """(characters a match of ``n`` can start with, whether ``n`` matches the empty string)."""
        R = self.R
        s = self.char_set(n)
        if s is not None:
            return s, False
        if isinstance(n, R.String):
            sets = self._string_sets(n)
            return (sets[0], False) if sets else (cs.EMPTY, True)
        if isinstance(n, R.Sequence):
            return self._first_seq(n.items, cs.EMPTY, True)
        if isinstance(n, R.Branch) and not isinstance(n, R.StringSet):
            parts = [self.first(b) for b in n.branches]
            return cs.union(*(p[0] for p in parts)), any(p[1] for p in parts)
        if isinstance(n, R.GreedyRepeat):
            f, nl = self.first(n.subpattern)
            return f, nl or n.min_count == 0
        if isinstance(n, (R.Group, R.Atomic)):
            return self.first(n.subpattern)
        if self.assertion(n) is not None:
            return cs.EMPTY, True
        if isinstance(n, R.Failure):
            return cs.EMPTY, False
        raise _unsupported(f"the construct {type(n).__name__}", self.pattern)

    def _first_seq(self, items, follow: cs.Ranges, tail_null: bool):
        acc, null = [], True
        for it in items:
            f, nl = self.first(it)
            acc.append(f)
            if not nl:
                null = False
                break
        if null:
            acc.append(follow)
        return cs.union(*acc), null and tail_null

    def _follows(self, items, follow: cs.Ranges) -> list[cs.Ranges]:
        """For each item, the characters that may come right after it."""
        out, cur = [], follow
        for it in reversed(items):
            out.append(cur)
            f, nl = self.first(it)
            cur = cs.union(f, cur) if nl else f
        return out[::-1]

    # -- atomic groups ------------------------------------------------------------------------
    def forced(self, n, follow: cs.Ranges) -> bool:
        """Whether, wherever ``n`` can end with a character of ``follow`` (or the end of the
        text) next, that end is the first one backtracking finds — so committing to it
        (``(?>n)``, possessive) accepts the same strings."""
        R = self.R
        if self.char_set(n) is not None or isinstance(n, R.String):
            return True
        if self.assertion(n) is not None:
            return True
        if isinstance(n, R.GreedyRepeat) and not isinstance(n, R.LazyRepeat):
            # Greedy takes another round whenever one can start; each round ends in its first
            # place if it is forced, so the count is forced when no round can start where the
            # repeat may stop.
            f, nl = self.first(n.subpattern)
            if (
                not nl
                and (n.min_count == n.max_count or not cs.intersect(f, follow))
                and self.forced(n.subpattern, cs.union(f, follow))
            ):
                return True
        elif isinstance(n, R.Sequence):
            if all(
                self.forced(it, f)
                for it, f in zip(n.items, self._follows(n.items, follow), strict=True)
            ):
                return True
        elif isinstance(n, R.Branch) and not isinstance(n, R.StringSet):
            firsts = [self.first(b) for b in n.branches]
            seen: cs.Ranges = cs.EMPTY
            disjoint = True
            for f, nl in firsts:
                if nl or cs.intersect(seen, f):
                    disjoint = False
                    break
                seen = cs.union(seen, f)
            if disjoint and all(self.forced(b, follow) for b in n.branches):
                return True
        elif isinstance(n, (R.Group, R.Atomic)) and self.forced(n.subpattern, follow):
            return True
        return self.prefix_free(n)

    def prefix_free(self, n) -> bool:
        """Whether no string ``n`` matches is a proper prefix of another (so ``n`` can end in
        at most one place); needs ``n`` free of assertions."""
        key = id(n)
        if key not in self._pf:
            sub = _Builder.__new__(_Builder)
            sub.R, sub.pattern, sub.flags, sub.limit = self.R, self.pattern, self.flags, self.limit
            sub.nfa, sub._pf = _nfa.NFA(self.limit), self._pf
            try:
                sub.nfa.start, sub.nfa.final = sub.node(n, cs.EMPTY)
                if sub.nfa.assertions:
                    raise _unsupported("an assertion inside an atomic group", self.pattern)
                c = determinise(sub.nfa, 4096, self.pattern)
                ok = c.start < 0 or not bool((c.delta[c.accept] >= 0).any())
            except (UnsupportedFeatureError, ConstraintSizeError):
                ok = False
            self._pf[key] = (n, ok)  # n kept alive: its id is not reused by another node
        return self._pf[key][1]

    # -- NFA ------------------------------------------------------------------------------------
    def assertion(self, n) -> int | None:
        R = self.R
        t = type(n)
        if t is R.StartOfString or t is R.SearchAnchor:
            return _nfa.A_START
        if t is R.StartOfLine:
            return _nfa.A_LINE_START
        if t is R.EndOfString:
            return _nfa.A_END_STRING
        if t is R.EndOfStringLine:
            return _nfa.A_END
        if t is R.EndOfLine:
            return _nfa.A_LINE_END
        if t is R.Boundary:
            ascii_ = n.encoding == R.ASCII_ENCODING
            if n.positive:
                return _nfa.A_BOUND_A if ascii_ else _nfa.A_BOUND_U
            return _nfa.A_NBOUND_A if ascii_ else _nfa.A_NBOUND_U
        return None

    def node(self, n, follow: cs.Ranges) -> tuple[int, int]:
        R, nfa = self.R, self.nfa
        s = self.char_set(n)
        if s is not None:
            return _nfa._char(nfa, s)
        if isinstance(n, R.String):
            if isinstance(n, _fixed_group()):
                # The group's pattern, with its atomic groups and possessive quantifiers
                # checked against what follows here, must match the same ends as without
                # them: then where the rest matches, backtracking also captures this value.
                self._sub().node(n.sub.node, follow)
            return self._chain([_nfa._char(nfa, x) for x in self._string_sets(n)])
        if isinstance(n, R.Sequence):
            fs = self._follows(n.items, follow)
            return self._chain([self.node(it, f) for it, f in zip(n.items, fs, strict=True)])
        if isinstance(n, R.Branch) and not isinstance(n, R.StringSet):
            a, b = nfa.new(), nfa.new()
            for alt in n.branches:
                x, y = self.node(alt, follow)
                nfa.eps[a].append(x)
                nfa.eps[y].append(b)
            return a, b
        if isinstance(n, R.PossessiveRepeat):
            greedy = R.GreedyRepeat(n.subpattern, n.min_count, n.max_count)
            if not self.forced(greedy, follow):
                raise _unsupported(
                    "a possessive quantifier that changes the language", self.pattern
                )
            return self.repeat(greedy, follow)
        if isinstance(n, R.GreedyRepeat):  # lazy or greedy: same language
            return self.repeat(n, follow)
        if isinstance(n, R.Group):
            return self.node(n.subpattern, follow)
        if isinstance(n, R.Atomic):
            if not self.forced(n.subpattern, follow):
                raise _unsupported("an atomic group that changes the language", self.pattern)
            return self.node(n.subpattern, follow)
        code = self.assertion(n)
        if code is not None:
            a, b = nfa.new(), nfa.new()
            nfa.asrt[a].append((code, b))
            return a, b
        if isinstance(n, R.Failure):  # a look-around that can never hold here
            return nfa.new(), nfa.new()
        raise _unsupported(f"the construct {type(n).__name__}", self.pattern)

    # -- back-references to groups with a few possible values -----------------------------------
    def expand_refs(self, n):
        """``n`` with each back-reference to a group of at most ``MAX_REF_VALUES`` possible
        values expanded: the sequence holding the group (as a direct item, outside any
        repeat) becomes the alternation over those values, group and references fixed to
        each. Other references stay (and make the pattern non-regular). A group whose
        pattern has atomic groups or possessive quantifiers becomes a :func:`_fixed_group`:
        its values are read as if nothing followed it, so each is built only where those
        constructs, checked against what follows that value, keep the language."""
        R = self.R
        refs = [x for x in walk(n, R) if isinstance(x, R.RefGroup)]
        for g in dict.fromkeys(r.group for r in refs):
            if any(r.case_flags & R.IGNORECASE for r in refs if r.group == g):
                continue
            groups = [x for x in walk(n, R) if isinstance(x, R.Group) and x.group == g]
            if len(groups) != 1:
                continue
            seq = self._owner(n, groups[0])
            if seq is None:
                continue
            sub = groups[0].subpattern
            values = self._values(sub)
            if values is None:
                continue
            # Committing constructs in the group are checked where each value is built (their
            # values were read with nothing after the group).
            fixed = None
            if any(isinstance(x, (R.PossessiveRepeat, R.Atomic)) for x in walk(sub, R)):
                fixed = functools.partial(_fixed_group(), sub=sub)
            alts = [subst(seq, g, w, R, fixed) for w in values]
            n = replace(n, seq, R.Branch(alts) if alts else R.Failure(), R)
        return n

    def _owner(self, root, group):
        """The Sequence that has ``group`` as an item and every reference to it inside a
        later item (so each match of the sequence captures it once, before the references)."""
        R = self.R
        for seq in walk(root, R):
            if isinstance(seq, R.Sequence) and any(it is group for it in seq.items):
                i = next(k for k, it in enumerate(seq.items) if it is group)
                inside = {id(x) for it in seq.items[i + 1 :] for x in walk(it, R)}
                refs = [
                    x for x in walk(root, R) if isinstance(x, R.RefGroup) and x.group == group.group
                ]
                if all(id(r) in inside for r in refs):
                    return seq
                return None
        return None

    def _values(self, sub) -> list[tuple[int, ...]] | None:
        """Every string ``sub`` matches, when it has no assertions and at most
        ``MAX_REF_VALUES`` of them (else ``None``)."""
        b = _Builder.__new__(_Builder)
        b.R, b.pattern, b.flags, b.limit = self.R, self.pattern, self.flags, self.limit
        b.nfa, b._pf = _nfa.NFA(self.limit), self._pf
        try:
            b.nfa.start, b.nfa.final = b.node(sub, cs.EMPTY)
            if b.nfa.assertions:
                return None
            c = determinise(b.nfa, 1024, self.pattern)
        except (UnsupportedFeatureError, ConstraintSizeError):
            return None
        if c.start < 0:
            return []
        out: list[tuple[int, ...]] = []
        stack: list[tuple[int, tuple[int, ...], int]] = [(c.start, (), 0)]
        while stack:
            q, w, depth = stack.pop()
            if depth > len(c.accept):
                return None  # a cycle: infinitely many values
            if c.accept[q]:
                out.append(w)
            for lo, hi, t in c.ranges(q):
                if hi - lo + 1 + len(out) + len(stack) > MAX_REF_VALUES:
                    return None
                stack.extend(
                    (t, w + (cp,), depth + 1)
                    for cp in range(lo, hi + 1)
                    if not 0xD800 <= cp <= 0xDFFF
                )
            if len(out) > MAX_REF_VALUES:
                return None
        return out

    # -- look-arounds at the ends of the text ------------------------------------------------
    def resolve_edges(self, n):
        """``n`` with look-behinds before its first character and look-aheads after its last
        replaced by their value: a full match starts at the start of the text and ends at its
        end, so there they look at the empty string."""
        R = self.R
        if isinstance(n, R.Branch) and not isinstance(n, R.StringSet):
            return R.Branch([self.resolve_edges(b) for b in n.branches])
        if not isinstance(n, R.Sequence):
            n = R.Sequence([n])
        items = list(n.items)
        zero = [self.assertion(it) is not None or isinstance(it, R.LookAround) for it in items]
        first = next((i for i, z in enumerate(zero) if not z), len(items))
        last = max((i for i, z in enumerate(zero) if not z), default=-1)
        out = []
        for i, it in enumerate(items):
            if isinstance(it, R.LookAround) and (
                (it.behind and i < first) or (not it.behind and i > last)
            ):
                at_start = it.behind
                holds = self._matches_empty(it.subpattern, at_start) == it.positive
                out.append(R.Sequence([]) if holds else R.Failure())
            else:
                out.append(it)
        return R.Sequence(out)

    def _matches_empty(self, sub, at_start: bool) -> bool:
        if not self.first(sub)[1]:
            return False  # it must read a character
        ok = (
            {_nfa.A_START, _nfa.A_LINE_START}
            if at_start
            else {_nfa.A_END, _nfa.A_END_STRING, _nfa.A_LINE_END}
        )
        b = _Builder.__new__(_Builder)
        b.R, b.pattern, b.flags, b.limit = self.R, self.pattern, self.flags, self.limit
        b.nfa, b._pf = _nfa.NFA(self.limit), self._pf
        b.nfa.start, b.nfa.final = b.node(sub, cs.EMPTY)
        if not b.nfa.assertions <= ok:
            raise _unsupported("an assertion inside a look-around", self.pattern)
        c = determinise(b.nfa, 4096, self.pattern)
        return c.start >= 0 and bool(c.accept[c.start])

    # -- look-aheads at the start of the text (see :mod:`.lookahead`) --------------------------
    def _sub(self) -> _Builder:
        """A builder of the same pattern with an NFA of its own."""
        b = _Builder.__new__(_Builder)
        b.R, b.pattern, b.flags, b.limit = self.R, self.pattern, self.flags, self.limit
        b.nfa, b._pf = _nfa.NFA(self.limit), self._pf
        return b

    def char_dfa(self, n, max_states: int, word: cs.Ranges):
        """The minimal code-point DFA of ``n`` (full match; edge look-arounds decided)."""
        b = self._sub()
        b.nfa.start, b.nfa.final = b.node(b.resolve_edges(n), cs.EMPTY)
        return determinise(b.nfa, max_states, self.pattern, word=word, nb_empty=True)

    def classify(self, n):
        """The kind of item ``n`` is for :func:`.lookahead.alternatives`."""
        R = self.R
        if isinstance(n, R.Sequence):
            return _la.INLINE, n.items
        if isinstance(n, R.Group):
            return _la.INLINE, [n.subpattern]
        if isinstance(n, R.Branch) and not isinstance(n, R.StringSet):
            if any(isinstance(x, R.LookAround) for x in walk(n, R)):
                return _la.SPLIT, [[b] for b in n.branches]
            return _la.STOP, None
        if isinstance(n, R.LookAround):
            return (_la.ZERO, None) if n.behind else (_la.AHEAD, (n.positive, [n.subpattern]))
        code = self.assertion(n)
        if code is not None:
            return (_la.START if code == _nfa.A_START else _la.ZERO), None
        if (
            isinstance(n, R.GreedyRepeat)
            and not isinstance(n, R.PossessiveRepeat)
            and n.min_count == 0
        ):
            return _la.SKIP, None
        return _la.STOP, None

    def then_anything(self, items) -> list:
        """``items (?s:.*)``."""
        R = self.R
        return list(items) + [R.GreedyRepeat(R.AnyAll(), 0, None)]

    def _chain(self, parts: list[tuple[int, int]]) -> tuple[int, int]:
        start = cur = self.nfa.new()
        for a, b in parts:
            self.nfa.eps[cur].append(a)
            cur = b
        return start, cur

    def repeat(self, n, follow: cs.Ranges) -> tuple[int, int]:
        lo, hi, sub = n.min_count, n.max_count, n.subpattern
        nfa = self.nfa
        if (lo + (hi or 0)) > self.limit:
            raise ConstraintSizeError(
                f"repetition counts in {self.pattern!r} expand past {self.limit} NFA states"
            )
        f, _ = self.first(sub)
        inner = cs.union(f, follow)
        start = cur = nfa.new()
        for _ in range(lo):
            a, b = self.node(sub, inner)
            nfa.eps[cur].append(a)
            cur = b
        end = nfa.new()
        if hi is None:
            a, b = self.node(sub, inner)
            nfa.eps[cur].append(a)
            nfa.eps[b].append(cur)
        else:
            for _ in range(hi - lo):
                a, b = self.node(sub, inner)
                nfa.eps[cur].append(a)
                nfa.eps[cur].append(end)
                cur = b
        nfa.eps[cur].append(end)
        return start, end


#: the most values a group may have for its back-references to be expanded
MAX_REF_VALUES = 64


_WORD: list = []


def _word_set(flags: int) -> cs.Ranges:
    """Unicode word characters as the ``regex`` package's ``\\b`` sees them."""
    if not _WORD:
        tree, info, version = parse(r"\w", 0)
        _WORD.append(
            run_set(tree.items[0] if hasattr(tree, "items") else tree, info.flags | version)
        )
    return _WORD[0]


@functools.lru_cache(maxsize=128)
def compile_extended(pattern: str, flags: int = 0, *, max_states: int = 4096) -> DFA:
    """The byte DFA of a pattern in the ``regex`` package's syntax (full-match semantics).

    Raises:
        UnsupportedFeatureError: the pattern uses a non-regular feature (or an atomic group
            or possessive quantifier not provably harmless).
        ConstraintSizeError: the automaton would need more than ``max_states`` states.
        ConstraintError: the pattern is malformed.
    """
    _, R = core()
    try:
        tree, info, version = parse(pattern, flags)
    except (R.error, RecursionError, OverflowError, ValueError) as exc:
        raise ConstraintError(f"malformed regular expression {pattern!r}: {exc}") from exc
    if info.flags & (R.REVERSE | R.POSIX | R.LOCALE) or isinstance(tree, R.Fuzzy):
        raise _unsupported("REVERSE, POSIX, LOCALE or fuzzy matching", pattern)
    b = _Builder(pattern, info, version, limit=8 * max_states + 1024)
    word = _word_set(info.flags)
    try:
        tree = b.expand_refs(tree)
        cdfa = None
        if any(isinstance(x, R.LookAround) for x in walk(tree, R)):
            cdfa = _la.compile_lifted(
                [tree],
                classify=b.classify,
                star=b.then_anything,
                max_states=max_states,
                pattern=pattern,
                build=lambda items: b.char_dfa(R.Sequence(list(items)), max_states, word),
            )
        if cdfa is None:
            cdfa = b.char_dfa(tree, max_states, word)
    except RecursionError as exc:
        raise ConstraintSizeError(
            f"the pattern {pattern!r} nests too deeply to compile to an automaton"
        ) from exc
    return lower(cdfa, max_states, pattern)


def universe(pattern: str, flags: int = 0) -> cs.Ranges | None:
    """A superset of the characters any match of ``pattern`` can contain (``None``: unknown).

    Characters of a match come from consuming items; back-references and group calls only
    repeat them. Fuzzy matching, named lists and grapheme clusters make it unknown.
    """
    _, R = core()
    try:
        tree, info, version = parse(pattern, flags)
        b = _Builder(pattern, info, version, limit=1)
        out: list[cs.Ranges] = []
        stack = [tree]
        while stack:
            n = stack.pop()
            s = b.char_set(n)
            if s is not None:
                out.append(s)
            elif isinstance(n, R.String):
                out.extend(b._string_sets(n))
            elif isinstance(n, (R.Fuzzy, R.StringSet, R.Grapheme)):
                return None
            else:
                for v in vars(n).values():
                    if isinstance(v, R.RegexBase):
                        stack.append(v)
                    elif isinstance(v, (list, tuple)):
                        stack.extend(x for x in v if isinstance(x, R.RegexBase))
        return cs.union(*out)
    except (UnsupportedFeatureError, RecursionError, R.error, ValueError):
        return None
