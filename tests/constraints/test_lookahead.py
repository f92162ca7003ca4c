"""Look-aheads at the start of the text, compiled exactly (awrs.constraints.regex.lookahead):
a prefix is accepted iff some completion matches, for ``Regex`` (Python ``re``), ``Pattern``
(the ``regex`` package) and JSON Schema ``pattern``/``patternProperties`` (search
semantics); ``\\p{..}`` keys of ``patternProperties``; bounds on hostile patterns."""

from __future__ import annotations

import itertools
import json
import re
import time

import pytest
import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from awrs.constraints.json_schema import JSONSchema
from awrs.constraints.json_schema.patterns import matcher
from awrs.constraints.regex import Pattern, Regex
from awrs.errors import ConstraintError, ConstraintSizeError, UnsupportedFeatureError

KEYWORDS = r"^(?!(in|if|is)$)[a-zA-Z_]\w*$"
SCHEMA = {
    "type": "object",
    "patternProperties": {KEYWORDS: {"type": "integer"}},
    "additionalProperties": False,
}


def _prefix_ok(c, text: str | bytes) -> bool:
    """Whether ``c`` accepts ``text`` fed one byte at a time."""
    b = text.encode() if isinstance(text, str) else text
    s = c.start()
    for i in range(len(b)):
        s = c.advance(s, b[i : i + 1])
        if s is None:
            return False
    return True


# -- the held-out case ------------------------------------------------------------------------


def test_excluded_keyword_prefix_is_alive_as_a_key():
    c = JSONSchema(SCHEMA)
    assert _prefix_ok(c, '{"in')  # it can still become "integer_var"
    assert _prefix_ok(c, '{"integer_var": 1}') and c.accepts('{"integer_var": 1}')
    assert _prefix_ok(c, '{"int": 2, "i": 3}') and c.accepts('{"int": 2, "i": 3}')
    assert not c.accepts('{"in": 1}') and not c.accepts('{"is": 1}')
    assert not _prefix_ok(c, '{"in"') and not _prefix_ok(c, '{"in":')
    assert not _prefix_ok(c, '{"9')  # no completion starts with a digit


def test_excluded_keyword_in_string_pattern():
    c = JSONSchema({"type": "string", "pattern": KEYWORDS})
    assert _prefix_ok(c, '"in') and c.accepts('"integer_var"') and c.accepts('"i"')
    assert not c.accepts('"in"') and not _prefix_ok(c, '"in"')
    assert not c.accepts('"in\\n"')  # "$" also matches before a final newline


@pytest.mark.parametrize(
    "pattern", [KEYWORDS, r"^(?=[a-z])(?!.*__)\w+$", r"(?:^(?!x)|y)z", r"\A(?!(?!a)b)[ab]+\Z"]
)
def test_matcher_is_a_dfa(pattern):
    assert matcher(pattern).regular


# -- brute force: prefixes accepted iff a completion matches -----------------------------------

#: (pattern, alphabet): every live prefix of at most PREFIX characters has a matching completion
#: of at most TAIL characters over the alphabet.
CASES = [
    (KEYWORDS, "inf1"),
    (r"(?!(in|if|is)$)[a-z_]\w*", "isf"),
    (r"(?!ab)[ab]+", "ab"),
    (r"(?=a*b)[ab]{1,3}", "ab"),
    (r"\A(?!.*aa)[ab]*b", "ab"),
    (r"(?!a|b$)(?=.{2})[abc]*", "abc"),
    (r"(?:(?!aa)|b)a[ab]*", "ab"),
    (r"^(?=(a|b)c)\w+$|^c", "abc"),
    (r"(?!(?=a)[ab]b)[ab]+", "ab"),  # nested: the inner one is at position 0 too
    (r"(?=.*c)(?!.*cc)[abc]{0,4}", "abc"),
    (r"(?m:^)(?!b)[ab]*", "ab"),  # (?m:^) is position 0 in a full match too
    (r"(?!\b)[ab ]+", "ab "),
    (r"(?s)(?!.*\n)[a\n]*", "a\n"),
]
PREFIX, TAIL = 4, 3


def _strings(alphabet: str, n: int):
    for k in range(n + 1):
        for t in itertools.product(alphabet, repeat=k):
            yield "".join(t)


def _brute(full, alphabet: str, n: int = PREFIX + TAIL):
    """(matching strings, their prefixes) up to ``n`` characters."""
    matches = {s for s in _strings(alphabet, n) if full(s)}
    return matches, {m[:i] for m in matches for i in range(len(m) + 1)}


@pytest.mark.parametrize("pattern, alphabet", CASES)
def test_regex_prefixes_against_brute_force(pattern, alphabet):
    r = Regex(pattern)  # Python re semantics
    matches, prefixes = _brute(lambda s: re.fullmatch(pattern, s) is not None, alphabet)
    for s in _strings(alphabet, PREFIX):
        assert r.accepts_prefix(s) == (s in prefixes), (pattern, s)
        assert r.accepts(s) == (s in matches), (pattern, s)


@pytest.mark.parametrize("pattern, alphabet", CASES)
def test_pattern_prefixes_against_brute_force(pattern, alphabet):
    p = Pattern(pattern)  # the regex package's semantics
    assert p.regular
    matches, prefixes = _brute(lambda s: regex.fullmatch(pattern, s) is not None, alphabet)
    for s in _strings(alphabet, PREFIX):
        assert p.accepts_prefix(s) == (s in prefixes), (pattern, s)
        assert p.accepts(s) == (s in matches), (pattern, s)


@pytest.mark.parametrize(
    "pattern, alphabet",
    [
        (KEYWORDS, "inf1"),
        (r"^(?!ab)[ab]+$", "ab"),
        (r"\A(?=a*b)[ab]{1,3}\Z", "ab"),
        (r"^(?!.*aa)[ab]*b", "ab"),
        (r"(?:^(?!b)|c)a", "abc"),
    ],
)
def test_search_matcher_against_brute_force(pattern, alphabet):
    """JSON Schema search semantics: the key or string may match anywhere."""
    m = matcher(pattern)
    assert m.regular
    matches, prefixes = _brute(lambda s: re.search(pattern, s) is not None, alphabet)
    for s in _strings(alphabet, PREFIX):
        assert m.prefix_ok(s) == (s in prefixes), (pattern, s)
        assert m(s) == (s in matches), (pattern, s)


_LOOK = st.sampled_from(
    [
        "(?!a)",
        "(?=a)",
        "(?!ab)",
        "(?=.b)",
        "(?!a$)",
        "(?=[ab]*$)",
        "(?!.*bb)",
        "(?=(?!b)..)",
        r"(?!\b)",
        r"(?=\Z)",
    ]
)
_BODY = st.sampled_from(
    ["[ab]*", "a[ab]?", "(?:ab|b)+", "b*a*", ".{0,3}", r"\w*", "a|b|", "(?!b)[ab]*"]
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(_LOOK, min_size=1, max_size=2), _BODY, st.booleans())
def test_generated_lookaheads_against_re(looks, body, anchored):
    pattern = ("^" if anchored else "") + "".join(looks) + f"(?:{body})"
    r, p = Regex(pattern), Pattern(pattern)
    assert p.regular
    # "a", "b", "c" and " " tell every item apart (word or not, a, b or neither; no newline)
    matches, prefixes = _brute(lambda s: re.fullmatch(pattern, s) is not None, "abc ", 6)
    for s in _strings("abc ", 3):
        assert r.accepts(s) == p.accepts(s) == (s in matches), (pattern, s)
        assert r.accepts_prefix(s) == p.accepts_prefix(s) == (s in prefixes), (pattern, s)


# -- \p{..} keys of patternProperties ------------------------------------------------------------


@pytest.mark.parametrize("key", [r"^\p{Letter}+$", r"^\p{L}+$"])
def test_property_escape_keys(key):
    c = JSONSchema(
        {
            "type": "object",
            "patternProperties": {key: {"type": "number"}},
            "additionalProperties": False,
        }
    )
    for doc in ['{"π": 1}', '{"héllo": 2, "Ωmega": 3}', '{"日本": 4}', '{"abc": 5}']:
        assert c.accepts(doc) and _prefix_ok(c, doc), doc
    for doc in ['{"123": 1}', '{"a1": 1}', '{"π": "x"}', '{"": 1}']:
        assert not c.accepts(doc), doc
    assert _prefix_ok(c, '{"é') and not _prefix_ok(c, '{"1')
    assert _prefix_ok(c, '{"\\u03c0') and not _prefix_ok(c, '{"\\u0031')
    assert not _prefix_ok(c, b'{"\xe2\x80')  # U+2000..U+203F: punctuation, no letter


def test_property_escape_key_matches_pattern_path():
    """patternProperties keys and pattern values share one matcher."""
    key = r"^\P{L}\p{Lu}"
    m = matcher(key)
    assert m.regular and m("1Ab") and not m("1ab") and not m("aA")
    obj = JSONSchema({"patternProperties": {key: {"type": "string"}}}, strict=False)
    assert obj.accepts('{"1A": "x"}') and not obj.accepts('{"1A": 2}') and obj.accepts('{"1a": 2}')
    assert not _prefix_ok(obj, '{"1A": 2')
    s = JSONSchema({"type": "string", "pattern": key})
    assert s.accepts('"1Ab"') and not s.accepts('"1ab"')


def test_property_escape_key_in_post_checks():
    """A ``not``/``oneOf`` around such keys is validated with the same matcher."""
    c = JSONSchema(
        {
            "not": {
                "patternProperties": {r"^\p{L}+$": {"type": "string"}},
                "additionalProperties": False,
            }
        }
    )
    assert c.accepts('{"π": 1}') and not c.accepts('{"π": "x"}') and c.accepts('{"1": "x"}')


def test_property_escape_key_beside_unevaluated_is_refused():
    with pytest.raises(UnsupportedFeatureError, match="unevaluatedProperties"):
        JSONSchema({"patternProperties": {r"\p{L}": {}}, "unevaluatedProperties": False})


def test_json_suite_case():
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "patternProperties": {"^\\p{Letter}+$": {"type": "number"}},
    }
    c = JSONSchema(schema, strict=False, property_order="any")
    for data in [{"π": 1}, {"123": 1}]:
        text = json.dumps(data, separators=(",", ":"))
        assert c.accepts(text) and _prefix_ok(c, text)


# -- hostile patterns: bounded, clear errors ----------------------------------------------------


@pytest.mark.parametrize(
    "pattern, error",
    [
        (
            "".join(f"(?!{c})" for c in "abcdefghijklmnopqrstuvwxyz0123456789") + r"\w*",
            "look-aheads",
        ),
        ("(?:(?!a)|(?!b))" * 12 + "c", "alternatives"),
    ],
)
def test_lookahead_bounds(pattern, error):
    t = time.monotonic()
    with pytest.raises(ConstraintSizeError, match=error):
        Regex(pattern)
    assert not Pattern(pattern).regular  # the matcher takes it
    assert time.monotonic() - t < 10


def test_lookahead_product_is_bounded_by_max_states():
    pattern = r"(?!.*a.{9}$)(?!.*b.{9}$)[ab]*"
    with pytest.raises(ConstraintSizeError, match="max_states"):
        Regex(pattern, max_states=64)
    assert Regex(pattern).accepts("a" * 5)


def test_hostile_lookahead_schema_compiles_or_refuses_quickly():
    key = "^" + "(?!.*a.{12})" * 8 + "[ab]*$"
    t = time.monotonic()
    try:
        c = JSONSchema({"patternProperties": {key: {}}, "additionalProperties": False})
        assert c.accepts('{"bbb": 1}')
    except ConstraintError:
        pass
    assert time.monotonic() - t < 20


def test_lookahead_elsewhere_still_refused_by_regex():
    with pytest.raises(UnsupportedFeatureError, match="look-ahead"):
        Regex(r"a(?!b)c")
