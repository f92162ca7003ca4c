"""Tests of awrs.Pattern: the regular subset of the regex package compiled to a DFA, checked
against the regex package itself; the matcher path's UTF-8 tails; hostile patterns."""

from __future__ import annotations

import collections
import csv
import time

import pytest
import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import awrs
from awrs.constraints.regex import Pattern

# -- the examples -------------------------------------------------------------------


@pytest.mark.parametrize(
    "pat,lead",
    [(r"[\u0061-\u007A]", b"\xc3"), (r"\p{Greek}+", b"\xe4"), (r"[\p{Greek}&&\p{Lu}]x", b"\xe4")],
)
def test_no_dead_utf8_tail(pat, lead):
    p = Pattern(pat, flags=regex.V1)
    assert p.regular
    assert not p.accepts_prefix(lead)


def test_greek_tail_that_can_complete_is_kept():
    p = Pattern(r"\p{Greek}+")
    assert p.accepts_prefix(b"\xce") and p.accepts("αβγ") and not p.accepts("αb")


@pytest.mark.parametrize(
    "pat,yes,no",
    [
        (r"[\p{IsAlphabetic}&&[\P{L}]]", "\u0345", "a"),  # V1 set intersection via inline flag
        (r"(?V1)[\p{L}--\p{Latin}]", "α", "a"),
        (r"(?V1)[[a-c]~~[b-d]]", "a", "b"),
        (r"(?V1)[[a-c]||[x]]", "x", "d"),
        (r"[[:digit:]]+", "123", "12a"),
        (r"\N{GREEK SMALL LETTER ALPHA}\N{GREEK SMALL LETTER BETA}", "αβ", "αα"),
        (r"(?i)straße", "STRAßE", "strasse"),
        (r"\d++x", "12x", "x"),
        (r"(?>one|two|three)!", "two!", "tw!"),
        (r"(?>a{2,5})bc", "aaabc", "abc"),
        (r"(?>[a-z]+)", "abc", "ab1"),
        (r"a*+b", "aab", "aa"),
        (r"\bfoo\b", "foo", "foo1"),
        (r"(?<!cat)s(?!up)", "s", "sup"),  # look-arounds at the ends see the empty string
        (r"(?<=^.{0,10})abc(?=.{0,10}$)", "abc", "xabc"),
        (r"\w+(?!ing\b)", "sing", "sing!"),
        (r"^\d{3}(-| )\d{3}\1\d{4}$", "123-456-7890", "123-456 7890"),  # finite group
        (r"(?:(a|b)\1)+", "aabb", "abab"),
    ],
)
def test_regular_subset_examples(pat, yes, no):
    p = Pattern(pat, flags=regex.V1 if "&&" in pat else 0)
    assert p.regular, pat
    rx = regex.compile(pat, regex.V1 if "&&" in pat else 0)
    assert p.accepts(yes) == bool(rx.fullmatch(yes)) == True  # noqa: E712
    assert p.accepts(no) == bool(rx.fullmatch(no)) == False  # noqa: E712


@pytest.mark.parametrize(
    "pat",
    [
        r"(?>a+)a",
        r"(?>foo|foobar)baz",
        r"^(?>a+?)b$",
        r"(?>a|ab)c",
        r"a++a",
        r"(\w)\1",
        r"a(?=b).",
        r"(?(DEFINE)(?<d>\d))(?&d)+",
        r"(a)?(?(1)b|c)",
        r"((?:a)?+)a(?:\1)",
    ],
)
def test_language_changing_or_nonregular_features_use_the_matcher(pat):
    """Atomic groups and possessive quantifiers that drop strings are not compiled (nor
    look-aheads after a character; one at the start is: see test_lookahead.py)."""
    assert not Pattern(pat).regular


# -- differential: DFA path against the regex package ----------------------------------------

ATOMS = [
    "a",
    "b",
    "1",
    "α",
    r"\d",
    r"\w",
    ".",
    "[ab]",
    r"[^a]",
    r"\p{Greek}",
    r"\p{Lu}",
    r"[[:alpha:]]",
    r"\N{GREEK SMALL LETTER ALPHA}",
    r"[\p{L}--[a-z]]",
    r"[\w&&\p{Greek}]",
    r"\s",
    r"(?i:a)",
    r"\b",
    r"\B",
    "^",
    "$",
    r"\Z",
    r"(?<=a)",
    r"(?<!\d)",
    r"(?=b)",
    r"(?!a)",
    r"(?<=^)",
    r"(?!.)",
]
QUANTS = ["", "*", "+", "?", "{1,2}", "*?", "+?", "*+", "++", "?+", "{1,2}+"]


def _patterns():
    atom = st.sampled_from(ATOMS)

    def extend(inner):
        return st.one_of(
            st.tuples(inner, inner).map("".join),
            st.tuples(inner, inner).map(lambda t: f"(?:{t[0]}|{t[1]})"),
            st.tuples(inner, st.sampled_from(QUANTS)).map(lambda t: f"(?:{t[0]}){t[1]}"),
            inner.map(lambda s: f"(?>{s})"),
            inner.map(lambda s: f"({s})"),
            # back-reference, grouped so that a following digit cannot make it "\\11"
            st.tuples(inner, inner).map(lambda t: f"({t[0]}){t[1]}(?:\\1)"),
        )

    return st.recursive(atom, extend, max_leaves=6)


TEXT = st.text(alphabet="ab1αΑA \n_", max_size=6)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(_patterns(), st.lists(TEXT, min_size=4, max_size=8))
def test_differential_against_regex_package(pat, texts):
    p = Pattern(pat, flags=regex.V1)
    if not p.regular:
        return
    rx = regex.compile(pat, regex.V1)
    for s in texts:
        assert p.accepts(s) == (rx.fullmatch(s) is not None), (pat, s)
        if rx.fullmatch(s):
            b = s.encode()
            assert all(p.accepts_prefix(b[:i]) for i in range(len(b) + 1)), (pat, s)


def _completion(dfa, state: int, limit: int = 64) -> bytes | None:
    """A shortest byte string leading from ``state`` to acceptance (BFS over the table)."""
    seen, queue = {state: b""}, collections.deque([state])
    while queue:
        q = queue.popleft()
        if dfa.accept[q]:
            return seen[q]
        if len(seen[q]) >= limit:
            continue
        for byte in range(256):
            r = int(dfa.table[q, byte])
            if r and r not in seen:
                seen[r] = seen[q] + bytes([byte])
                queue.append(r)
    return None


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(_patterns(), st.binary(max_size=6), st.lists(TEXT, max_size=3))
def test_accepted_prefix_has_a_completion(pat, raw, texts):
    """``accepts_prefix(p)`` implies a completion exists, and the regex package agrees."""
    p = Pattern(pat, flags=regex.V1)
    if not p.regular:
        return
    rx = regex.compile(pat, regex.V1)
    for b in [raw, *(t.encode() for t in texts), *(t.encode()[:-1] for t in texts)]:
        if p.accepts_prefix(b):
            tail = _completion(p.dfa, p.dfa.step(p.dfa.start, b))
            assert tail is not None, (pat, b)
            full = (b + tail).decode("utf-8")
            assert rx.fullmatch(full) is not None, (pat, b, tail)


RE_ATOMS = [
    "a",
    "b",
    "1",
    "α",
    r"\d",
    r"\w",
    ".",
    "[ab]",
    r"[^a]",
    r"\s",
    r"(?i:a)",
    r"\b",
    "^",
    "$",
]


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.recursive(
        st.sampled_from(RE_ATOMS),
        lambda inner: st.one_of(
            st.tuples(inner, inner).map("".join),
            st.tuples(inner, inner).map(lambda t: f"(?:{t[0]}|{t[1]})"),
            st.tuples(inner, st.sampled_from(["*", "+", "?", "{1,2}", "*?"])).map(
                lambda t: f"(?:{t[0]}){t[1]}"
            ),
        ),
        max_leaves=6,
    ),
    st.binary(max_size=5),
    st.lists(TEXT, max_size=3),
)
def test_regex_accepted_prefix_has_a_completion(pat, raw, texts):
    """The same property for :class:`awrs.Regex` (Python ``re`` syntax)."""
    import re

    r = awrs.Regex(pat)
    for b in [raw, *(t.encode() for t in texts)]:
        if r.accepts_prefix(b):
            tail = _completion(r.dfa, r.dfa.step(r.dfa.start, b))
            assert tail is not None and re.fullmatch(pat, (b + tail).decode()), (pat, b)
        for t in texts:
            if re.fullmatch(pat, t):
                e = t.encode()
                assert all(r.accepts_prefix(e[:i]) for i in range(len(e) + 1)), (pat, t)


# -- the patterns suite ---------------------------------------------------------------------


def test_suite_regular_share_and_matcher_tails(data_dir):
    path = data_dir / "patterns" / "patterns-open.csv"
    with open(path, newline="", encoding="utf-8") as f:
        pats = [row["regex"] for row in csv.DictReader(f)]
    t0 = time.perf_counter()
    cons = [Pattern(p) for p in pats]
    assert time.perf_counter() - t0 < 60
    regular = sum(c.regular for c in cons)
    assert regular >= 100, regular  # 106 of 227 when written
    for c in cons:  # a lead byte no character of the pattern can complete is refused
        wide = (r"\p", r"\P", r"\w", r"\W", r"\S", r"\D", ".", "[^", r"\X", r"\N")
        if not c.regular and c.pattern.isascii() and not any(w in c.pattern for w in wide):
            assert not c.accepts_prefix(b"\xe4"), c.pattern


def test_matcher_tail_probes_characters():
    p = Pattern(r"(a+)\1中")
    assert not p.regular
    assert p.accepts_prefix(b"aa\xe4") and p.accepts_prefix(b"aa\xe4\xb8")
    assert not p.accepts_prefix(b"aa\xe5")  # no candidate continues the match
    assert not p.accepts_prefix(b"aa\xc3")


# -- hostile input ----------------------------------------------------------------------------

HOSTILE = st.one_of(
    st.text(alphabet=r"ab()[]{}|*+?^$\.-&~:=!<>PpNdwsb0123,xu", max_size=40),
    st.text(max_size=20),
    st.integers(1, 3000).map(lambda n: "(" * n + "a" + ")" * n),
    st.integers(1, 100000).map(lambda n: f"(a{{{n}}}){{{n}}}"),
    st.integers(1, 60).map(lambda n: "(?:a|b)*a" + "(?:a|b)" * n),
)


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(HOSTILE, st.sampled_from([0, regex.V1, regex.IGNORECASE]))
def test_hostile_patterns_answer_or_raise_typed_errors_in_bounded_time(pat, flags):
    t0 = time.perf_counter()
    try:
        p = Pattern(pat, flags=flags, timeout=0.5)
        p.accepts_prefix(b"ab(")
        p.accepts("aab")
    except awrs.AwrsError:
        pass
    try:
        r = awrs.Regex(pat, flags=flags & regex.IGNORECASE)
        r.accepts_prefix(b"ab(")
    except awrs.AwrsError:
        pass
    assert time.perf_counter() - t0 < 10, pat
