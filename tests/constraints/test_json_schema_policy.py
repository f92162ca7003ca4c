"""JSONSchema's generation policy: natural bounded layout and declared properties by default."""

from __future__ import annotations

import json

import jsonschema
import pytest

from awrs.constraints.json_schema import JSONSchema
from awrs.errors import ConfigurationError

FRUITS = {"type": "array", "items": {"type": "string"}, "minItems": 3, "maxItems": 3}
LOOSE = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name"],
}


@pytest.mark.parametrize(
    "text",
    [
        '["Banana", "Mango", "Orange"]',
        '["Banana","Mango","Orange"]',
        '[\n  "Banana",\n  "Mango",\n  "Orange"\n]',
        '[\n    "Banana",\n    "Mango",\n    "Orange"\n]',
        '[\r\n\t"Banana",\r\n\t"Mango",\r\n\t"Orange"\r\n]',
        '\n["Banana", "Mango", "Orange"]\n',
    ],
)
def test_natural_layout_is_the_default(text):
    assert JSONSchema(FRUITS).accepts(text)
    assert (
        not JSONSchema(FRUITS, whitespace="compact").accepts(text)
        or " " not in text
        and "\n" not in text
    )


@pytest.mark.parametrize(
    "text",
    [
        '["Banana",  "Mango", "Orange"]',  # two spaces
        '["Banana", \n"Mango", "Orange"]',  # a space before the newline
        '["Banana",\n\n"Mango", "Orange"]',  # a blank line
        '[\n      "Banana", "Mango", "Orange"]',  # more than 4 spaces per open container
        '["Banana",\r "Mango", "Orange"]',  # a lone carriage return
    ],
)
def test_natural_whitespace_runs_are_bounded(text):
    assert not JSONSchema(FRUITS).accepts_prefix(text)


def test_indentation_bound_grows_with_depth():
    c = JSONSchema({"type": "object"})
    doc = {"a": {"b": {"c": [1, 2]}}}
    assert c.accepts(json.dumps(doc, indent=4))
    assert c.accepts(json.dumps(doc, indent=2))
    assert not c.accepts_prefix("{\n" + " " * 5)
    assert c.accepts_prefix('{"a": {\n' + " " * 8)
    assert not c.accepts_prefix('{"a": {\n' + " " * 9)


def test_integer_and_compact_layouts():
    c = JSONSchema(FRUITS, whitespace=2)
    assert c.accepts('[ "a",  "b" ,"c"]') and not c.accepts_prefix("[   ")
    assert JSONSchema(FRUITS, whitespace=None).accepts('["a","b","c"]')
    with pytest.raises(ConfigurationError, match="whitespace"):
        JSONSchema(FRUITS, whitespace="loose")
    with pytest.raises(ConfigurationError, match="strict"):
        JSONSchema(FRUITS, strict="yes")
    with pytest.raises(ConfigurationError, match="max_depth"):
        JSONSchema(FRUITS, max_depth=0)


def test_declared_properties_only_by_default():
    strict, full = JSONSchema(LOOSE), JSONSchema(LOOSE, strict=False)
    assert not strict.accepts_prefix('{"foo')
    assert not strict.accepts('{"name": "x", "foo": 1}')
    assert full.accepts('{"name": "x", "foo": 1}')
    for c in (strict, full):
        assert c.accepts('{"name": "x", "age": 3}')
    # the schema's own word: additionalProperties given keeps the object open
    opened = JSONSchema({**LOOSE, "additionalProperties": {"type": "integer"}})
    assert opened.accepts('{"name": "x", "foo": 1}')
    assert not JSONSchema({**LOOSE, "unevaluatedProperties": False}).accepts('{"name":"x","f":1}')


def test_strict_names_are_joined_over_the_same_instance():
    # names declared by siblings (allOf), required or dependentRequired stay reachable
    s = {
        "allOf": [{"properties": {"a": {}}}, {"properties": {"b": {}}}],
        "required": ["a", "b", "c"],
        "dependentRequired": {"a": ["d"]},
    }
    c = JSONSchema(s)
    assert c.accepts('{"a": 1, "b": 2, "c": 3, "d": 4}')
    assert not c.accepts_prefix('{"e')
    base = {
        "$defs": {"base": {"properties": {"a": {"type": "integer"}}}},
        "allOf": [{"$ref": "#/$defs/base"}],
        "properties": {"extra": {}},
        "unevaluatedProperties": False,
    }
    assert JSONSchema(base).accepts('{"a": 1, "extra": 2}')
    # too few names for minProperties: the object stays open rather than dead
    c = JSONSchema({"properties": {"a": {}}, "minProperties": 2})
    assert c.accepts('{"a": 1, "b": 2}')
    # nothing declared: open
    assert JSONSchema({"type": "object"}).accepts('{"anything": 1}')


def test_every_strict_document_is_valid_under_the_schema():
    schemas = [
        LOOSE,
        FRUITS,
        {"properties": {"a": {"properties": {"b": {"type": "string"}}}}},
        {"patternProperties": {"^x-": {"type": "integer"}}, "properties": {"y": {}}},
    ]
    docs = [
        '{"name": "x"}',
        '["a", "b", "c"]',
        '{"a": {"b": "c"}}',
        '{"x-1": 2, "y": null}',
        '{"y": 1, "x-": 3}',
        '{"a": {}}',
    ]
    for s in schemas:
        c = JSONSchema(s)
        for d in docs:
            if c.accepts(d):
                assert jsonschema.Draft202012Validator(s).is_valid(json.loads(d)), (s, d)
    assert JSONSchema(schemas[3]).accepts('{"x-1": 2, "y": null}')
    assert not JSONSchema(schemas[3]).accepts_prefix('{"z')


def test_repr_names_the_policy():
    r = repr(JSONSchema(LOOSE))
    assert "whitespace='natural'" in r and "strict=True" in r


@pytest.mark.slow
def test_fruits_with_smc_returns_a_list(default_lm):
    """The case seen by a new user: compact JSON made SMC return nothing for seeds 0-2."""
    import awrs

    lm = default_lm
    prompt = lm.chat([{"role": "user", "content": "List three fruits as a JSON array of strings."}])
    r = awrs.generate(
        lm, prompt, JSONSchema(FRUITS), method="smc", n_particles=8, max_tokens=40, seed=0
    )
    assert r.text is not None, [s.text for s in r.samples]
    assert jsonschema.Draft202012Validator(FRUITS).is_valid(json.loads(r.text))
