"""awrs.JSONSchema: prefix checks per keyword, completion checks, options, refusals, contract."""

from __future__ import annotations

import json

import jsonschema
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import awrs
from awrs.constraints.json_schema import JSONSchema
from awrs.constraints.testing import check_prefix_monotone
from awrs.constraints.trie import VocabTrie
from awrs.errors import ConfigurationError, ConstraintError, UnsupportedFeatureError

PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 5},
        "age": {"type": "integer", "minimum": 0, "maximum": 150},
        "tags": {"type": "array", "items": {"enum": ["a", "bb"]}, "maxItems": 2},
    },
    "required": ["name"],
    "additionalProperties": False,
}


def longest_prefix(c: JSONSchema, text: str) -> str:
    """The longest prefix of ``text`` that ``c`` accepts as a prefix."""
    b = text.encode()
    s = c.start()
    for k in range(len(b)):
        s = c.advance(s, b[k : k + 1])
        if s is None:
            return b[:k].decode("utf-8", "replace")
    return text


def test_exported_from_package():
    assert awrs.JSONSchema is JSONSchema
    assert isinstance(JSONSchema({}), awrs.IncrementalConstraint)


@pytest.mark.parametrize(
    "text, prefix, complete",
    [
        ('{"name":"bob","age":42,"tags":["a","bb"]}', True, True),
        ('{"name":"bob"}', True, True),
        ('{"name":"bobbyx"}', False, False),  # maxLength, rejected at the 6th character
        ('{"nam', True, False),
        ('{"foo', False, False),  # no property starts with "foo"
        ('{"name":"x","age":151', False, False),  # no completion of 151 is <= 150 and integral
        ('{"name":"x","age":1e2}', True, True),  # 1e2 is the integer 100
        ('{"name":"x","age":1.5', True, False),  # 1.5e1 would still be an integer
        ('{"name":"x","age":1.5}', False, False),
        ('{"name":"x","tags":["b"', False, False),  # enum, rejected as typed
        ('{"name":"x","tags":["a","a","a"', False, False),  # maxItems, rejected at the comma
        ('{"age":3}', False, False),  # schema order: "name" is required first
        ("{}", False, False),  # required checked at the brace
        ('{"name":"x"} ', True, True),  # natural layout: one space at the end
        ('{"name":"x"}  ', False, False),  # ... but not two
        ('{ "name": "x" }', True, True),
        ('{"name" :  "x"}', False, False),  # a gap holds one space at most
    ],
)
def test_person(text, prefix, complete):
    c = JSONSchema(PERSON)
    assert c.accepts_prefix(text) is prefix
    assert c.accepts(text) is complete


def test_rejected_at_the_first_bad_byte():
    c = JSONSchema(PERSON)
    assert longest_prefix(c, '{"name":"bobbyx"}') == '{"name":"bobby'
    assert longest_prefix(c, '{"nope":1}') == '{"n'
    assert longest_prefix(c, '{"name":"x","age":-1}') == '{"name":"x","age":-'  # -0 is 0
    # 1000 is still viable: 1000e-1 is the integer 100
    assert longest_prefix(c, '{"name":"x","age":1000.5}') == '{"name":"x","age":1000.'


def test_property_order_any():
    c = JSONSchema(PERSON, property_order="any")
    assert c.accepts('{"age":3,"name":"x"}')
    assert not c.accepts('{"age":3,"name":"x","age":4}')  # duplicate keys are rejected
    assert not JSONSchema(PERSON).accepts('{"age":3,"name":"x"}')


def test_whitespace_is_bounded():
    c = JSONSchema(PERSON, whitespace=2)
    assert c.accepts('{ "name" : "x" ,\n "age": 3 }')
    assert c.accepts(' {"name":"x"}\n')
    assert not c.accepts_prefix('{   "name"')
    assert not JSONSchema(PERSON, whitespace="compact").accepts_prefix("{ ")
    assert 0x20 in c.alphabet() and 0x0A in c.alphabet()
    assert 0x0A not in JSONSchema(PERSON, whitespace=None).alphabet()


@pytest.mark.parametrize(
    "schema, good, bad_prefix",
    [
        ({"type": "string", "pattern": "^[a-z]+$"}, '"abc"', '"ab1'),
        ({"type": "string", "minLength": 2, "maxLength": 3}, '"abc"', '"abcd'),
        ({"const": "hello"}, '"hello"', '"help'),
        ({"enum": [1, "x", None, [1, 2], {"a": True}]}, '{"a":true}', '{"b'),
        ({"enum": [[1, 2]]}, "[1,2]", "[2"),
        ({"type": "number", "exclusiveMaximum": 10}, "9.99", "1e1"),
        ({"type": "integer", "exclusiveMaximum": 10}, "9", "11"),
        ({"type": "integer", "minimum": -5}, "-5", "-6"),
        ({"type": "boolean"}, "false", "fx"),
        ({"type": ["null", "array"], "items": {"type": "integer"}}, "[1,2.0]", "[1,2.5e-"),
        ({"prefixItems": [{"type": "string"}], "items": False}, '["a"]', '["a",'),
        ({"properties": {"a": False}}, '{"b":1}', '{"a"'),
        (
            {"patternProperties": {"^x-": {"type": "integer"}}, "additionalProperties": False},
            '{"x-a":1}',
            '{"y',
        ),
        ({"propertyNames": {"maxLength": 2}}, '{"ab":1}', '{"abc'),
        ({"propertyNames": {"enum": ["kk"]}}, '{"kk":1}', '{"kx'),
        ({"type": "object", "maxProperties": 1}, '{"a":1}', '{"a":1,'),
        ({"anyOf": [{"type": "string"}, {"type": "integer"}]}, "12", "1.5e-"),
        ({"allOf": [{"type": "string"}, {"maxLength": 2}]}, '"ab"', '"abc'),
        ({"format": "date"}, '"2024-02-29"', '"2024-13'),
        ({"format": "uuid"}, '"123e4567-e89b-12d3-a456-426614174000"', '"123g'),
        ({"format": "ipv4"}, '"10.0.0.1"', '"10.0.0.256'),
        ({"$defs": {"n": {"type": "integer"}}, "items": {"$ref": "#/$defs/n"}}, "[1,2]", '[1,"'),
    ],
)
def test_prefix_rejection(schema, good, bad_prefix):
    c = JSONSchema(schema, property_order="any", strict=False)
    assert c.accepts(good)
    assert c.accepts_prefix(bad_prefix[:-1])
    assert not c.accepts_prefix(bad_prefix)


def test_formats_assert_by_default_and_annotate_on_request():
    assert not JSONSchema({"format": "date"}).accepts('"2023-02-29"')  # not a leap year
    assert JSONSchema({"format": "date"}, formats="annotate").accepts('"2023-02-29"')
    assert not JSONSchema({"format": "email"}).accepts('"a@@b"')
    assert JSONSchema({"format": "no-such-format"}).accepts('"anything"')  # an annotation
    assert not JSONSchema({"format": "date-time"}).accepts_prefix('"2024-01-01X')


@pytest.mark.parametrize(
    "schema, valid, invalid",
    [
        ({"uniqueItems": True}, "[1,2]", "[1,1]"),
        ({"multipleOf": 3}, "9", "10"),
        ({"not": {"type": "string"}}, "1", '"a"'),
        ({"if": {"minimum": 10}, "then": {"multipleOf": 2}}, "12", "11"),
        ({"dependentRequired": {"a": ["b"]}}, '{"a":1,"b":2}', '{"a":1}'),
        ({"contains": {"const": 2}, "maxContains": 1}, "[1,2]", "[2,2]"),
        ({"oneOf": [{"minimum": 0}, {"maximum": 10}]}, "20", "5"),
        (
            {"properties": {"a": {"type": "integer"}}, "unevaluatedProperties": False},
            '{"a":1}',
            '{"b":1}',
        ),
    ],
)
def test_undecidable_keywords_checked_on_completed_values(schema, valid, invalid):
    c = JSONSchema(schema)
    assert c.accepts(valid) and not c.accepts(invalid)
    # nested: the sub-value is rejected the moment it completes, before the document ends
    outer = JSONSchema({"type": "array", "items": schema})
    assert outer.accepts_prefix("[" + valid + ",")
    assert not outer.accepts_prefix("[" + invalid + ",")


def test_recursive_schema():
    tree = {
        "type": "object",
        "properties": {"v": {"type": "integer"}, "next": {"$ref": "#"}},
        "additionalProperties": False,
    }
    c = JSONSchema(tree)
    assert c.accepts('{"v":1,"next":{"v":2,"next":{}}}')
    assert not c.accepts_prefix('{"v":1,"next":{"v":"')
    with pytest.raises(ConstraintError, match="without consuming input"):
        JSONSchema({"$ref": "#"})  # no finite instance: refused with its pointer


def test_string_escapes_and_utf8():
    c = JSONSchema({"type": "string", "maxLength": 2})
    assert c.accepts('"\\ud83d\\ude00a"')  # a surrogate pair is one code point
    assert not c.accepts_prefix('"\\ud83d\\ude00ab')
    assert not c.accepts_prefix('"\\ud83d"')  # a lone surrogate
    assert not c.accepts_prefix('"\\q')
    assert c.accepts('"\\n\\t"') and c.accepts('"é€"')
    s = c.advance(c.start(), b'"\xe2')  # a character split across tokens
    assert s is not None and c.advance(s, b"\x82\xac") is not None
    assert c.advance(c.start(), b'"\xff') is None
    full = c.advance(c.start(), b'"ab')
    assert c.advance(full, b"\xe2") is None  # no third character fits
    assert not c.accepts_prefix(b"\xe2")  # non-ASCII outside a string


def test_enum_utf8_prefix():
    c = JSONSchema({"enum": ["é", "x"]})
    assert c.accepts_prefix(b'"\xc3')
    assert not c.accepts_prefix(b'"\xc4')


def test_schema_as_json_text_and_options_checked():
    assert JSONSchema('{"type": "integer"}').accepts("7")
    with pytest.raises(ConstraintError, match="line 1 column"):
        JSONSchema('{"type": ')
    with pytest.raises(ConstraintError, match="expected a schema"):
        JSONSchema(42)
    with pytest.raises(ConfigurationError, match="formats"):
        JSONSchema({}, formats="strict")
    with pytest.raises(ConfigurationError, match="whitespace"):
        JSONSchema({}, whitespace=-1)
    with pytest.raises(ConfigurationError, match="property_order"):
        JSONSchema({}, property_order="sorted")


@pytest.mark.parametrize(
    "schema, error, match",
    [
        ({"type": "strng"}, ConstraintError, r"'type' at /type"),
        ({"properties": {"a": {"minLength": -1}}}, ConstraintError, "/properties/a/minLength"),
        ({"properties": {"a": 3}}, ConstraintError, "/properties/a"),
        (
            {"$schema": "http://json-schema.org/draft-07/schema#", "prefixItems": [{}]},
            UnsupportedFeatureError,
            "'prefixItems' at /",
        ),
        (
            {"additionalItems": False, "prefixItems": [{}]},
            UnsupportedFeatureError,
            "additionalItems",
        ),
        ({"items": [{}], "$defs": {}}, UnsupportedFeatureError, "array-form 'items' at /items"),
        ({"$ref": "https://example.com/missing.json"}, UnsupportedFeatureError, "registry="),
        ({"$ref": "#/$defs/missing"}, UnsupportedFeatureError, "#/\\$defs/missing"),
        (
            {"patternProperties": {"\\p{L}": {}}, "unevaluatedProperties": False},
            UnsupportedFeatureError,
            "/patternProperties",
        ),
        ({"patternProperties": {"a(": {}}}, UnsupportedFeatureError, "/patternProperties/a"),
        (
            {"$schema": "http://json-schema.org/draft-03/schema#"},
            UnsupportedFeatureError,
            "dialect",
        ),
    ],
)
def test_refusals_name_keyword_and_pointer(schema, error, match):
    with pytest.raises(error, match=match):
        JSONSchema(schema)


def test_ecma_property_escapes_in_pattern():
    c = JSONSchema({"type": "string", "pattern": "^\\p{L}+$"})
    assert c.accepts('"\u00e9t\u00e9"') and not c.accepts_prefix('"a1')


def test_unknown_keywords_and_annotations_are_accepted():
    c = JSONSchema(
        {
            "x-extension": {"type": "string"},
            "title": "t",
            "description": "d",
            "default": 1,
            "examples": [1],
            "deprecated": True,
            "readOnly": True,
            "$comment": "c",
            "contentMediaType": "application/json",
        }
    )
    assert c.accepts("1")


def test_draft_detection():
    legacy = JSONSchema({"items": [{"type": "integer"}], "additionalItems": False})
    assert legacy.draft.name == "draft-07"
    assert legacy.accepts("[1]") and not legacy.accepts_prefix("[1,")
    assert JSONSchema({"maximum": 3, "exclusiveMaximum": True}).draft.name == "draft-04"
    assert JSONSchema({"type": "integer"}).draft.name == "2020-12"
    d4 = JSONSchema({"$schema": "http://json-schema.org/draft-04/schema#", "type": "integer"})
    assert not d4.accepts_prefix("1.")  # draft-04 integers have no fraction
    assert JSONSchema({"type": "integer"}).accepts("1.0")


def test_remote_refs_through_a_registry():
    from referencing import Registry
    from referencing.jsonschema import DRAFT202012

    reg = Registry().with_resource(
        "https://example.com/int.json", DRAFT202012.create_resource({"type": "integer"})
    )
    c = JSONSchema({"items": {"$ref": "https://example.com/int.json"}}, registry=reg)
    assert c.accepts("[1]") and not c.accepts_prefix('["')


def test_states_are_immutable_and_shared():
    c = JSONSchema(PERSON)
    s = c.advance(c.start(), b'{"name":"a')
    a = c.advance(s, b'b"}')
    b = c.advance(s, b"c")
    assert a is not None and b is not None and c.is_complete(a) and not c.is_complete(b)
    assert c.is_complete(c.advance(s, b'b"}'))
    assert c.advance(s, b"") is not None


def test_contract_on_samples():
    c = JSONSchema(PERSON, whitespace=1)
    samples = [
        b'{"name":"bob","age":42,"tags":["a","bb"]}',
        b'{ "name": "x" }',
        b'{"na":1}',
        b'{"name":"x","age":-1}',
        b"[1,2]",
        b'{"name":"\\u00e9"}',
    ]
    check_prefix_monotone(c, samples, extensions=4, seed=1, alphabet=b'{}[]",:0123456789ab .-e')


def test_token_mask_agrees_with_advance():
    vocab = [
        b"{",
        b'"',
        b'"name',
        b'":"',
        b"bob",
        b'"}',
        b"}",
        b"1",
        b"2",
        b'"age":',
        b",",
        b"x",
        b" ",
        b"\xc3",
        b"\xa9",
    ]
    c = JSONSchema(PERSON)
    trie = VocabTrie(vocab)
    for prefix in [b"", b"{", b'{"name":"b', b'{"name":"bob"', b'{"name":"x","age":1']:
        s = c.advance(c.start(), prefix)
        mask = c.token_mask(s, trie)
        expect = np.array([c.advance(s, t) is not None for t in vocab])
        assert (mask == expect).all(), prefix


def test_token_mask_inside_free_strings():
    vocab = [
        b"ab",
        b"c d",
        b'"',
        b'",',
        b'"}',
        b"\\n",
        b"\\",
        b"\xc3",
        b"\xc3\xa9",
        b"\xa9",
        b"x\x01",
        b'a"}',
        b"\xe2\x82",
    ]
    c = JSONSchema(
        {
            "type": "object",
            "properties": {
                "s": {"type": "string"},
                "t": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            },
        }
    )
    trie = VocabTrie(vocab)
    for prefix in [b'{"s":"', b'{"s":"ab', b'{"t":"x', b'{"s":"\xc3', b'{"s":"\\']:
        s = c.advance(c.start(), prefix)
        expect = np.array([c.advance(s, t) is not None for t in vocab])
        assert (c.token_mask(s, trie) == expect).all(), prefix


@settings(max_examples=200, deadline=None)
@given(
    st.text("0123456789.-eE+", max_size=5),
    st.integers(-30, 30),
    st.integers(0, 40),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)
def test_number_prefixes_never_reject_a_completion(prefix, lo, width, lo_x, hi_x, integer):
    """Soundness of the bound reasoning: a prefix with a short valid completion is alive."""
    from decimal import Decimal
    from fractions import Fraction

    from awrs.constraints.json_schema.lexing import number_complete, number_prefix_ok
    from awrs.constraints.json_schema.numbers import Bounds, reachable

    if not number_prefix_ok(prefix):
        return
    b = Bounds(Fraction(lo, 4), lo_x, Fraction(lo + width, 4), hi_x, integer)
    tails = [""] + [
        a + d
        for a in ("", "0", "5", ".", ".5", "e", "e-", "e1", "e-1", "0e-")
        for d in ("", "0", "1", "5", "25")
    ]
    for tail in tails:
        s = prefix + tail
        if number_complete(s) and b.admits(Fraction(Decimal(s))):
            assert reachable(prefix, b), (prefix, s, b)
            return


# -- random schemas and values against jsonschema ----------------------------------------------
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-20, 20),
    st.floats(-50, 50, allow_nan=False).map(lambda x: round(x, 2)),
    st.text('abé\n"', max_size=4),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from("abc"), inner, max_size=3)
    ),
    max_leaves=8,
)
leaf_schemas = st.one_of(
    st.just({}),
    st.sampled_from(["null", "boolean", "integer", "number", "string", "array", "object"]).map(
        lambda t: {"type": t}
    ),
    st.builds(
        lambda lo, hi: {"minimum": lo, "maximum": hi}, st.integers(-10, 10), st.integers(-10, 30)
    ),
    st.builds(lambda n: {"maxLength": n}, st.integers(0, 3)),
    st.builds(lambda n: {"minLength": n}, st.integers(0, 3)),
    st.builds(lambda p: {"pattern": p}, st.sampled_from(["^a*$", "b", "^[ab]{1,2}$"])),
    st.builds(lambda v: {"enum": v}, st.lists(scalars, min_size=1, max_size=3)),
    st.builds(lambda v: {"const": v}, values),
    st.builds(lambda n: {"multipleOf": n}, st.sampled_from([2, 0.5])),
    st.just({"uniqueItems": True}),
)
schemas = st.recursive(
    leaf_schemas,
    lambda inner: st.one_of(
        st.builds(
            lambda p, r, a: {"properties": p, "required": r, "additionalProperties": a},
            st.dictionaries(st.sampled_from("abc"), inner, max_size=2),
            st.lists(st.sampled_from("ab"), max_size=2, unique=True),
            st.one_of(st.booleans(), inner),
        ),
        st.builds(
            lambda i, lo, hi: {"items": i, "minItems": lo, "maxItems": hi},
            inner,
            st.integers(0, 2),
            st.integers(0, 3),
        ),
        st.builds(lambda xs: {"anyOf": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda xs: {"allOf": xs}, st.lists(inner, min_size=1, max_size=2)),
        st.builds(lambda xs: {"oneOf": xs}, st.lists(inner, min_size=1, max_size=2)),
        st.builds(lambda x: {"not": x}, inner),
    ),
    max_leaves=5,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schemas, values)
def test_random_values_agree_with_jsonschema(schema, value):
    c = JSONSchema(schema, property_order="any")
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    valid = jsonschema.Draft202012Validator(schema).is_valid(value)
    assert c.accepts(text) == valid
    if valid:
        b = text.encode()
        s = c.start()
        for k in range(len(b)):
            s = c.advance(s, b[k : k + 1])
            assert s is not None, b[: k + 1]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schemas, values, st.integers(0, 10**6))
def test_random_schemas_keep_the_prefix_contract(schema, value, seed):
    c = JSONSchema(schema, whitespace=1)
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    cut = seed % (len(text) + 1)
    check_prefix_monotone(
        c,
        [text, text[:cut] + b" " + text[cut:]],
        extensions=2,
        seed=seed,
        alphabet=b'{}[]",:0123456789abe .-\\u',
    )
