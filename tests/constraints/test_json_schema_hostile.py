"""Hostile schemas and documents: deep nesting, reference cycles, backtracking patterns, fuzz."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import awrs
from awrs.constraints.json_schema import JSONSchema, patterns
from awrs.errors import ConstraintError, ConstraintEvaluationError


def test_deep_documents_end_the_prefix_not_the_run():
    c = JSONSchema({"type": "array"})
    t0 = time.perf_counter()
    assert not c.accepts("[" * 100000 + "]" * 100000)
    assert not c.accepts_prefix("[" * 100000)
    assert time.perf_counter() - t0 < 5
    assert c.accepts("[" * 64 + "]" * 64) and not c.accepts_prefix("[" * 65)
    s = c.advance(c.start(), b"[" * 64)
    assert s is not None and c.advance(s, b"[") is None and c.advance(s, b"]") is not None
    shallow = JSONSchema({}, max_depth=3)
    assert shallow.accepts('{"a": [[1]]}') and not shallow.accepts_prefix('{"a": [[[')
    # brackets inside strings do not count
    assert shallow.accepts('["[[[[{{{{"]')


def test_deep_schemas_are_refused_with_a_typed_error():
    text = '{"items":' * 2000 + "{}" + "}" * 2000
    with pytest.raises(ConstraintError):
        JSONSchema(text)
    deep: dict = {}
    for _ in range(2000):
        deep = {"allOf": [deep]}
    with pytest.raises(ConstraintError, match="nested more than"):
        JSONSchema(deep)
    nested: dict = {"type": "integer"}
    for _ in range(30):
        nested = {"items": nested}
    assert JSONSchema(nested).accepts("[" * 30 + "1" + "]" * 30)


@pytest.mark.parametrize(
    "schema, pointer",
    [
        (
            {
                "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}},
                "$ref": "#/$defs/a",
            },
            "#/$defs/a",
        ),
        ({"anyOf": [{"type": "null"}, {"$ref": "#"}]}, "/anyOf/1 -> /"),
        (
            {"$defs": {"a": {"allOf": [{"$ref": "#/$defs/a"}]}}, "items": {"$ref": "#/$defs/a"}},
            "#/$defs/a",
        ),
        ({"not": {"$ref": "#"}}, "/not -> /"),
    ],
)
def test_reference_cycles_without_input_are_refused(schema, pointer):
    with pytest.raises(ConstraintError, match="without consuming input") as info:
        JSONSchema(schema)
    assert pointer in str(info.value)


def test_recursion_through_input_is_fine():
    tree = {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#"}}}}
    assert JSONSchema(tree).accepts('{"kids": [{"kids": []}, {}]}')


@pytest.mark.parametrize("pattern", ["^(a+)+$", "(a|a)*b", "^(a|aa)*$", "(x+x+)+y"])
def test_backtracking_patterns_are_linear(pattern):
    c = JSONSchema({"type": "string", "pattern": pattern})
    t0 = time.perf_counter()
    text = '"' + "a" * 40 + "b" + '"'
    c.accepts(text)
    c.accepts_prefix(text[:-1])
    obj = JSONSchema({"patternProperties": {pattern: {}}, "additionalProperties": False})
    obj.accepts_prefix('{"' + "a" * 40 + "b")
    assert time.perf_counter() - t0 < 2
    assert patterns.matcher(pattern).regular


def test_non_regular_patterns_are_bounded(monkeypatch):
    monkeypatch.setattr(patterns, "TIMEOUT", 0.05)
    pattern = "^(a|aa)+\\1$"  # a back-reference: not regular
    assert not patterns.Matcher(pattern).regular
    c = JSONSchema({"type": "string", "pattern": pattern})
    assert c.accepts('"aa"')
    t0 = time.perf_counter()
    try:
        c.accepts('"' + "a" * 40 + "b" + '"')
    except ConstraintEvaluationError as exc:
        assert "not regular" in str(exc)
    assert time.perf_counter() - t0 < 5


def test_patterns_keep_search_semantics():
    m = patterns.matcher("b")
    assert m("abc") and not m("ac") and m.prefix_ok("a")
    m = patterns.matcher("^a$")
    assert m("a") and m("a\n") and not m("ba") and not m.prefix_ok("b")
    m = patterns.matcher("x$")
    assert m.prefix_ok("xy")  # "xy...x" can still end in x


# -- fuzz: only awrs errors escape, each case under a time bound --------------------------------
keywords = st.sampled_from(
    [
        "type",
        "properties",
        "items",
        "prefixItems",
        "additionalProperties",
        "required",
        "enum",
        "const",
        "pattern",
        "patternProperties",
        "propertyNames",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "allOf",
        "anyOf",
        "oneOf",
        "not",
        "$ref",
        "$defs",
        "format",
        "minItems",
        "maxItems",
        "if",
        "then",
        "else",
        "multipleOf",
        "uniqueItems",
        "x",
    ]
)
junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 5),
    st.floats(allow_nan=True),
    st.sampled_from(
        [
            "string",
            "object",
            "#",
            "#/$defs/a",
            "(a+)+$",
            "[",
            "date",
            "\\p{L}",
            "^a",
            "é",
            "#/properties/a",
        ]
    ),
)
fuzz_schemas = st.recursive(
    st.one_of(junk, st.dictionaries(keywords, junk, max_size=3)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(keywords, st.just("a")), inner, max_size=4),
    ),
    max_leaves=12,
)
fuzz_docs = st.one_of(
    st.text(alphabet='{}[]",:0123456789-.eEtrufalsn \n\\u\x00é😀a', max_size=40),
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5)),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)
        ),
        max_leaves=10,
    ).map(lambda v: json.dumps(v)),
)


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
@given(fuzz_schemas, fuzz_docs, st.booleans())
def test_fuzz_only_awrs_errors_escape(schema, doc, strict):
    t0 = time.perf_counter()
    try:
        c = JSONSchema(schema, strict=strict)
        c.accepts_prefix(doc)
        c.accepts(doc)
        s = c.start()
        for k in range(0, len(doc), 3):
            s = c.advance(s, doc[k : k + 3].encode())
            if s is None:
                break
    except awrs.AwrsError:
        pass
    assert time.perf_counter() - t0 < 5


def test_non_schema_array_items_raise_a_typed_error():
    # found by the fuzz: a list of non-schemas under "items" reached the reference resolver
    with pytest.raises(
        awrs.AwrsError, match=r"expected a schema \(object or boolean\) at /items/0"
    ):
        awrs.JSONSchema({"items": [None]}, strict=False).accepts("0")
