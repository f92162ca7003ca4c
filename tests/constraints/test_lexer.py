"""The byte-level lexer automaton against Python's ``re``: leftmost-first matches, UTF-8 sets."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from awrs.constraints.lexer import DEAD, LazyDFA, Program, utf8_sequences
from awrs.errors import ConstraintError, UnsupportedFeatureError


def match_len(pattern: str, text: str, flags: int = 0) -> int | None:
    """Bytes of the match the automaton decides at position 0 (None: no match)."""
    prog = Program()
    pc = prog.add_dispatch([prog.add_terminal(0, "T", pattern, flags)])
    dfa = LazyDFA(prog)
    sid, best = dfa.state(pc, at_start=True), None
    data = text.encode()
    for i, b in enumerate(data):
        sid, m = dfa.step(sid, b)
        if m >= 0:
            best = i
        if sid == DEAD:
            return best
    return len(data) if dfa.eof(sid) >= 0 else best


def re_len(pattern: str, text: str, flags: int = 0) -> int | None:
    m = re.match(pattern, text, flags)
    return None if m is None else len(m.group(0).encode())


atoms = st.sampled_from(
    [
        "a",
        "b",
        "é",
        "😀",
        "[ab]",
        ".",
        r"\d",
        r"\w",
        "[^a]",
        "(?i:A)",
        "x",
        r"\s",
        "[é-ü]",
        r"(?s:.)",
    ]
)


def _regex(children):
    return st.one_of(
        st.tuples(children, children).map("".join),
        st.tuples(children, children).map(lambda p: f"(?:{p[0]}|{p[1]})"),
        st.tuples(
            children,
            st.sampled_from(["*", "+", "?", "{1,2}", "{0,3}", "{2}"]),
            st.sampled_from(["", "?"]),
        ).map(lambda p: f"(?:{p[0]}){p[1]}{p[2]}"),
    )


@settings(max_examples=200, deadline=None)
@given(
    pattern=st.recursive(atoms, _regex, max_leaves=8),
    texts=st.lists(st.text(alphabet="ab1é\nxA 😀ü", max_size=7), min_size=1, max_size=4),
)
def test_leftmost_first_match_equals_re(pattern, texts):
    try:
        match_len(pattern, "")
    except UnsupportedFeatureError:
        assume(False)  # quantified groups that can match empty: refused, not mimicked
    for t in texts:
        assert match_len(pattern, t) == re_len(pattern, t), (pattern, t)


@pytest.mark.parametrize(
    "pattern, text",
    [
        (r"a(bc)?", "abx"),
        (r"\d+?", "12"),
        (r"a|ab", "ab"),
        (r'".*?(?<!\\)(\\\\)*?"', r'"a\"b" '),
        (r"/\*(.|\n)*?\*/", "/* a */ */"),
        (r"(?i:select)", "ſELECT"),
        (r"(?i)k", "\u212a"),
        (r"\w+", "日本語 x"),
        (r"(?a:\w+\b)", "ab+"),
        (r"(?m:a$)", "a\n"),
        (r"a\Z", "a"),
        (r"^a", "a"),
        (r"(?<=a)b|a", "ab"),
    ],
)
def test_tricky_patterns_equal_re(pattern, text):
    assert match_len(pattern, text) == re_len(pattern, text)


@settings(max_examples=100, deadline=None)
@given(lo=st.integers(0, 0x10FFFF), span=st.integers(0, 0x3000), data=st.data())
def test_utf8_sequences_encode_exactly_the_range(lo, span, data):
    hi = min(lo + span, 0x10FFFF)
    seqs = utf8_sequences([(lo, hi)])
    cps = data.draw(st.lists(st.integers(max(0, lo - 3), min(0x10FFFF, hi + 3)), max_size=30))
    for cp in cps:
        if 0xD800 <= cp <= 0xDFFF:
            continue
        enc = chr(cp).encode()
        inside = any(
            len(s) == len(enc) and all(a <= b <= z for b, (a, z) in zip(enc, s, strict=True))
            for s in seqs
        )
        assert inside == (lo <= cp <= hi)


@pytest.mark.parametrize(
    "pattern, what",
    [
        (r"a(?=b)", "look-ahead"),
        (r"(a)\1", "back-reference"),
        (r"(?>ab)", "atomic"),
        (r"a++", "possessive"),
        (r"a$", r"\$"),
        (r"\bx", r"\\b"),
        (r"(a?)*", "empty"),
    ],
)
def test_unsupported_syntax_is_refused(pattern, what):
    with pytest.raises(UnsupportedFeatureError, match=what):
        Program().add_terminal(0, "T", pattern)


def test_malformed_terminal_regex():
    with pytest.raises(ConstraintError, match="missing"):
        Program().add_terminal(0, "T", r"(ab")
    with pytest.raises(UnsupportedFeatureError, match="variable-width"):
        Program().add_terminal(0, "T", r"(?<=a+)b")
