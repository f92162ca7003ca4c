"""Lark grammars as constraints: agreement with lark's own parser, exact incremental prefixes."""

from __future__ import annotations

import functools
import importlib.resources
import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lark import Lark

import awrs
from awrs.constraints.base import Constraint
from awrs.constraints.grammar import Grammar
from awrs.constraints.testing import check_prefix_monotone
from awrs.constraints.trie import VocabTrie
from awrs.errors import ConfigurationError, ConstraintError, UnsupportedFeatureError

JSON_TEXT = importlib.resources.files("awrs.grammars").joinpath("json.lark").read_text()

# lark's tutorial JSON grammar: common.ESCAPED_STRING is a *lazy* regex with a look-behind
LARK_JSON = r"""
?start: value
?value: object | array | string | SIGNED_NUMBER -> number
      | "true" -> true | "false" -> false | "null" -> null
array  : "[" [value ("," value)*] "]"
object : "{" [pair ("," pair)*] "}"
pair   : string ":" value
string : ESCAPED_STRING
%import common.ESCAPED_STRING
%import common.SIGNED_NUMBER
%import common.WS
%ignore WS
"""

KEYWORDS = r"""
start: stmt (";" stmt)*
stmt: SELECT NAME ("," NAME)* (FROM NAME)? | NAME "=" NUM
SELECT: "select"i
FROM: "from"i
NAME: /[a-z_][a-z0-9_]*/i
NUM.2: /[0-9]+/
%ignore /[ \t]+/
"""

AMBIGUOUS = r"""
start: e
e: e "+" e | e "*" e | NUMBER | "(" e ")" | e e
NUMBER: /[0-9]+/
%ignore " "
"""


@functools.cache
def grammar(text: str) -> Grammar:
    return Grammar(text)


@functools.cache
def lark(text: str, parser: str = "lalr") -> Lark:
    return Lark(text, parser=parser, **({"lexer": "basic"} if parser == "earley" else {}))


def lark_ok(text: str, s: str, parser: str = "lalr") -> bool:
    try:
        lark(text, parser).parse(s)
        return True
    except Exception:
        return False


def incremental(g: Grammar, data: bytes, cuts: list[int]):
    """Advance over ``data`` cut at ``cuts``; None as soon as a piece is rejected."""
    state, prev = g.start(), 0
    for c in sorted(set(cuts)) + [len(data)]:
        state = g.advance(state, data[prev:c])
        if state is None:
            return None
        prev = c
    return state


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(blacklist_categories=("Cs",)), max_size=8),
    lambda c: (
        st.lists(c, max_size=4)
        | st.dictionaries(
            st.text(st.characters(blacklist_categories=("Cs",)), max_size=5), c, max_size=4
        )
    ),
    max_leaves=12,
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    value=json_values, ascii_=st.booleans(), indent=st.sampled_from([None, 0, 2]), data=st.data()
)
def test_valid_json_every_prefix_and_any_split(value, ascii_, indent, data):
    g = grammar(JSON_TEXT)
    text = json.dumps(value, ensure_ascii=ascii_, indent=indent)
    raw = text.encode()
    assert g.accepts(text) and lark_ok(JSON_TEXT, text)
    state = g.start()
    for i in range(len(raw)):  # byte by byte, through the middle of multi-byte characters
        state = g.advance(state, raw[i : i + 1])
        assert state is not None, raw[: i + 1]
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=6))
    split = incremental(g, raw, cuts)
    assert split == state == g.advance(g.start(), raw)  # deterministic, compositional
    assert g.is_complete(split)


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=list('{}[],:"\\ 0123456789.eE+-truefalsnu\n\t') + ["é", "😀", "\x01"], max_size=12
    )
)
def test_json_grammar_agrees_with_lark(s):
    assert grammar(JSON_TEXT).accepts(s) == lark_ok(JSON_TEXT, s)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=list('{}[],:"\\ 0123456789.eE+-truefalsn\t') + ["😀"], max_size=12))
def test_lazy_escaped_string_and_lookbehind_follow_lark(s):
    g = grammar(LARK_JSON)
    ok = lark_ok(LARK_JSON, s)
    assert g.accepts(s) == ok
    if ok:
        assert all(g.accepts_prefix(s.encode()[:k]) for k in range(len(s.encode())))


def test_lazy_string_ends_at_first_quote():
    g = grammar(LARK_JSON)
    # a longest-match lexer would read '"a", "b"' as one string and reject the array
    assert g.accepts('["a", "b"]') and g.accepts(r'["a\"", "b"]')
    assert not g.accepts(r'["a\"]')
    assert g.accepts_prefix(r'["a\"')


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["select", "from", "SeLeCt", "x", "y1", "_", "9", ",", "=", ";", " ", "s", "fro", "ſ"]
        ),
        max_size=8,
    ).map("".join)
)
def test_case_insensitive_keywords_and_priorities_follow_lark(s):
    assert grammar(KEYWORDS).accepts(s) == lark_ok(KEYWORDS, s)


def test_keyword_is_a_name_when_it_keeps_growing():
    g = grammar(KEYWORDS)
    assert g.accepts("SELECT a, fromage") and g.accepts("selected = 1")
    assert g.accepts("select from")  # contextual lexing: FROM cannot come here, so a NAME
    assert not g.accepts("select a from") and g.accepts("select a from from")
    assert g.accepts_prefix("select a FR")


def test_non_lalr_grammar_uses_earley():
    g = grammar(AMBIGUOUS)
    assert g.parser == "earley"
    assert g.accepts("1+2*3 4") and g.accepts("(1)(2)") and not g.accepts("1+")
    assert g.accepts_prefix("1+(2") and not g.accepts_prefix("1+)")
    with pytest.raises(ConstraintError, match="LALR"):
        Grammar('start: x | y\nx: "a"\ny: "a"\n', parser="lalr")
    assert Grammar('start: x | y\nx: "a"\ny: "a"\n').parser == "earley"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=list("0123+*() "), max_size=10))
def test_earley_fallback_agrees_with_lark(s):
    g = grammar(AMBIGUOUS)
    ok = lark_ok(AMBIGUOUS, s, "earley")
    assert g.accepts(s) == ok
    if ok:
        assert all(g.accepts_prefix(s[:k]) for k in range(len(s)))


CONTEXT = r"""
start: A B*
A: /^x/ | /q/
B: /(?<=x)y|z|(?<=y)x/
%ignore /(?m:^ )/
"""


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="xyzq \n", max_size=7))
def test_anchors_and_lookbehind_see_the_text_before_the_lexeme(s):
    g = grammar(CONTEXT)
    ok = lark_ok(CONTEXT, s)
    assert g.accepts(s) == ok
    if ok:
        assert all(g.accepts_prefix(s[:k]) for k in range(len(s)))


def test_prefix_contract_on_shipped_grammars():
    check_prefix_monotone(
        grammar(JSON_TEXT),
        [b'{"k\xc3\xa9": [1, -2.5e3, "\xf0\x9f\x98\x80"]}', b"[true, null", b'"a\\u00e9"', b"01"],
    )
    check_prefix_monotone(grammar(LARK_JSON), [b'["a\\"b", 1]', b'{"x": -1.5e2}'])
    check_prefix_monotone(grammar(AMBIGUOUS), [b"1 + (2 * 3) 4", b"(("])


def test_multibyte_characters_split_anywhere():
    g = grammar(JSON_TEXT)
    raw = '["日本語", "emoji 😀🎉", {"ключ": "値"}]'.encode()
    whole = g.advance(g.start(), raw)
    rng = random.Random(0)
    for _ in range(50):
        cuts = rng.sample(range(1, len(raw)), rng.randint(1, 8))
        assert incremental(g, raw, cuts) == whole
    assert g.advance(g.start(), b'"\xf0\x9f') is not None  # half an emoji inside a string
    assert g.advance(g.start(), b'"\xf0\x28') is None  # not UTF-8
    assert g.advance(g.start(), b"\xf0") is None  # no JSON value starts with a non-ASCII char


def test_alphabet_covers_accepted_bytes():
    g = grammar(JSON_TEXT)
    alpha = g.alphabet()
    assert set(b'{"a": [1, true, "\xc3\xa9"]} \n') <= alpha
    assert 0 not in alpha and 0x1F not in alpha


@pytest.mark.parametrize(
    "text, prefixes",
    [
        (JSON_TEXT, [b"", b'{"name": "ab', b"[1", b'{"a\xf0\x9f', b"[true, ", b"-"]),
        (LARK_JSON, [b'["a\\', b"[1e", b'{"k": "v"}']),
        (KEYWORDS, [b"sel", b"select a", b"x = 1; SELECT b "]),
        (AMBIGUOUS, [b"1 +", b"(2"]),
    ],
)
def test_token_mask_matches_the_generic_walk(text, prefixes):
    rng = random.Random(0)
    pool = [
        b"a",
        b"1",
        b" ",
        b'"',
        b"\\",
        b"e",
        b"select",
        b"ect",
        b"[",
        b"]",
        b"{",
        b"}",
        b",",
        b":",
        b"+",
        b"(",
        b")",
        b"\xc3",
        b"\xa9",
        b"\xf0\x9f\x98\x80",
        b"true",
        b"x",
        b";",
    ]
    vocab = sorted({b"".join(rng.choices(pool, k=rng.randint(1, 4))) for _ in range(600)})
    trie = VocabTrie(vocab)
    g = grammar(text)
    for pre in prefixes:
        state = g.advance(g.start(), pre)
        assert state is not None, pre
        fast = g.token_mask(state, trie)
        assert (fast == Constraint.token_mask(g, state, trie)).all(), pre
        assert fast.any()


def test_from_file_and_lazy_export(tmp_path):
    (tmp_path / "inner.lark").write_text("WORD: /[a-z]+/\n")
    path = tmp_path / "outer.lark"
    path.write_text('start: WORD ("," WORD)*\n%import .inner.WORD\n')
    g = awrs.Grammar.from_file(path)
    assert g.accepts("ab,c") and not g.accepts("ab,") and g.accepts_prefix("ab,")
    assert awrs.Grammar is Grammar


@pytest.mark.parametrize(
    "text, line",
    [
        ('start: "a" foo\n', "line 1"),
        ('start: "a"\nstart2: ( "b"\n', "line 2"),
        ('start: x\nx: "a"\nx: "b"\n', "line 3"),
        ("start: A\nA: /a**/\n", "line 2"),
        ('start: "a"\n%import nosuch.X\n', "line 2"),
    ],
)
def test_malformed_grammar_names_the_line(text, line):
    with pytest.raises(ConstraintError, match=line):
        Grammar(text)


def test_refusals():
    with pytest.raises(UnsupportedFeatureError, match="look-ahead"):
        Grammar("start: A\nA: /a(?=b)/\n")
    with pytest.raises(UnsupportedFeatureError, match="postlexer"):
        Grammar('start: A B\nA: "a"\n%declare B\n')
    with pytest.raises(ConfigurationError):
        Grammar('start: "a"\n', parser="cyk")


def test_a_grammar_whose_parse_table_is_too_large_is_refused_before_allocating(monkeypatch):
    from awrs.constraints import lalr

    monkeypatch.setattr(lalr, "MAX_TABLE_CELLS", 2_000)
    rules = 40
    text = "start: " + " | ".join(f'"k{i}" x{i}' for i in range(rules)) + "\n"
    text += "\n".join(f'x{i}: "a" x{(i + 1) % rules} "b" | "d"' for i in range(rules))
    with pytest.raises(ConstraintError, match=r"LALR table would have .* expected at most 2,000"):
        awrs.Grammar(text, parser="lalr")
    monkeypatch.setattr(lalr, "MAX_TABLE_CELLS", 1 << 24)
    assert awrs.Grammar(text, parser="lalr").accepts("k0d")
