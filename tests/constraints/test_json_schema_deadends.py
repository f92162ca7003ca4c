"""No dead ends in JSONSchema: an accepted prefix always has a completion (escapes included).

The completion search is bounded to one step at a time: an accepted prefix is complete or some
character (from a broad candidate set: printable ASCII, whitespace, non-ASCII characters of
1-4 UTF-8 bytes) keeps it accepted. Iterated, and with every prefix of a valid document
accepted, this is the property ``accepts_prefix(p) => a completion exists``.
"""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from awrs.constraints.json_schema import JSONSchema
from awrs.constraints.json_schema.lexing import escape_ranges
from awrs.errors import ConstraintError

CANDIDATES = (
    [chr(c).encode() for c in range(0x20, 0x7F)]
    + [x.encode() for x in ("\n", "\t", "é", "中", "😀", "\u2028")]
    + [bytes([b]) for b in range(0x80, 0xC0)]
)  # continuation bytes, after a split character
HEX = "0123456789abcdefABCDEF"


def one_step_alive(c: JSONSchema, state) -> bool:
    """Whether the prefix of ``state`` is complete or some candidate character extends it."""
    if c.is_complete(state):
        return True
    return any(c.advance(state, ch) is not None for ch in CANDIDATES)


def escape_every_char(text: str, rng: random.Random, share: float = 0.3) -> str:
    """``text`` (JSON) with some characters inside strings written as ``\\uXXXX`` escapes."""
    out, in_str, esc = [], False, False
    for ch in text:
        if in_str and not esc and ch not in '"\\' and rng.random() < share:
            cp = ord(ch)
            if cp > 0xFFFF:
                v = cp - 0x10000
                out.append(f"\\u{0xD800 + (v >> 10):04x}\\u{0xDC00 + (v & 0x3FF):04x}")
            else:
                out.append(f"\\u{cp:04x}")
            continue
        out.append(ch)
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
    return "".join(out)


def check_document(c: JSONSchema, text: str, rng: random.Random, probes: int = 6) -> None:
    """Every prefix of the accepted ``text`` is accepted; at a few cut points inside strings,
    unfinished escapes that are accepted can be continued."""
    b = text.encode()
    s = c.start()
    states = [s]
    for k in range(len(b)):
        s = c.advance(s, b[k : k + 1])
        assert s is not None, (text, b[: k + 1])
        states.append(s)
    assert c.is_complete(s), text
    cuts = rng.sample(range(len(b) + 1), min(probes, len(b) + 1))
    for k in cuts:
        st0 = states[k]
        assert one_step_alive(c, st0), (text, b[:k])
        for esc in (
            "\\",
            "\\u",
            "\\u0",
            "\\u00",
            "\\u006",
            "\\ud83d",
            "\\ud83d\\u",
            "\\ud83d\\ude0",
            "\\u" + rng.choice(HEX) + rng.choice(HEX),
        ):
            se = c.advance(st0, esc.encode())
            if se is not None:
                alive = any(
                    c.advance(se, h.encode()) is not None for h in [*HEX, "\\", "u", *'"/bfnrt']
                )
                assert alive, (text, b[:k], esc)


# -- the cases seen ---------------------------------------------------------------------------
INPUTS = {
    "type": "object",
    "properties": {
        "inputs": {
            "type": "object",
            "properties": {"intensity": {"type": "number"}, "color": {}},
            "additionalProperties": False,
        }
    },
}


@pytest.mark.parametrize(
    "schema, prefix, ok",
    [
        (INPUTS, '{"inputs":{"intensi\\u034', False),  # no U+034x continues a declared key
        (INPUTS, '{"inputs":{"intensi\\u007', True),  # U+0074 't'
        (INPUTS, '{"inputs":{"\\u0063olor', True),
        ({"enum": ["abc"]}, '"a\\u12', False),
        ({"enum": ["abc"]}, '"a\\u006', True),
        ({"enum": ["abc"]}, '"a\\', True),
        ({"const": "😀"}, '"\\ud83d\\ude0', True),
        ({"const": "😀"}, '"\\ud83d\\udc', False),
        ({"const": "😀"}, '"\\ud83c', False),
        ({"type": "string", "pattern": "^[a-z]+$"}, '"ab\\u00', True),
        ({"type": "string", "pattern": "^[a-z]+$"}, '"ab\\u01', False),
        ({"type": "string", "pattern": "^[a-z]+$"}, '"ab\\u007b', False),
        ({"type": "string", "format": "date"}, '"2024-0\\u003', True),
        ({"type": "string", "format": "date"}, '"2024-0\\u004', False),
        ({"type": "string", "maxLength": 1}, '"a\\u', False),
        ({"propertyNames": {"pattern": "^x"}}, '{"\\u0079', False),
        ({"propertyNames": {"pattern": "^x"}}, '{"\\u0078', True),
        (
            {"patternProperties": {"^k[0-9]$": {}}, "additionalProperties": False},
            '{"k\\u004',
            False,
        ),
        ({"patternProperties": {"^k[0-9]$": {}}, "additionalProperties": False}, '{"k\\u003', True),
    ],
)
def test_unfinished_escapes_are_checked(schema, prefix, ok):
    c = JSONSchema(schema, strict=False)  # the full language: escaped keys included
    assert c.accepts_prefix(prefix) is ok
    if ok:
        s = c.advance(c.start(), prefix.encode())
        assert any(c.advance(s, h.encode()) is not None for h in HEX + '"\\u')


def test_declared_keys_are_spelled_literally_under_the_strict_policy():
    strict = JSONSchema(INPUTS)
    assert not strict.accepts_prefix('{"inputs":{"intensi\\u007')
    assert not strict.accepts('{"inputs":{"\\u0063olor":1}}')
    assert strict.accepts('{"inputs":{"color":1}}')
    assert strict.accepts('{"inputs":{"color":"\\u0063"}}')  # values may still escape
    assert JSONSchema(INPUTS, strict=False).accepts('{"inputs":{"\\u0063olor":1}}')
    # a declared name that needs an escape keeps escapes allowed
    quoted = {"type": "object", "properties": {'a"b': {}}, "additionalProperties": False}
    assert JSONSchema(quoted).accepts('{"a\\"b":1}')


def test_escape_ranges():
    assert escape_ranges("\\u00") == ((0, 0xFF),)
    assert escape_ranges("\\ud8") == ((0x10000, 0x4FFFF),)  # high surrogates: a pair
    assert escape_ranges("\\ud83d\\ude0") == ((0x1F600, 0x1F60F),)
    assert escape_ranges("\\ud83d\\u0") == ()  # no low surrogate starts with 0
    assert all(not 0xD800 <= a <= 0xDFFF for a, _ in escape_ranges("\\u"))


# -- MaskBench ----------------------------------------------------------------------------------
SUBSET, SEED = 80, 9


@pytest.fixture(scope="module")
def maskbench(maskbench_sample):
    return maskbench_sample(SUBSET, SEED, max_schema_chars=6000)


@pytest.mark.parametrize("strict", [False, True])
def test_maskbench_prefixes_have_completions(maskbench, strict):
    rng = random.Random(1)
    checked = 0
    for rec in maskbench:
        try:
            c = JSONSchema(rec["schema"], strict=strict, property_order="any")
        except ConstraintError:
            continue
        for t in rec["tests"][:3]:
            if not t["valid"]:
                continue
            for text in (
                json.dumps(t["data"], ensure_ascii=False),
                escape_every_char(json.dumps(t["data"], indent=2, ensure_ascii=False), rng),
            ):
                if not strict or c.accepts(text):
                    check_document(c, text, rng, probes=4)
                    checked += 1
    assert checked > 60


# -- hypothesis ---------------------------------------------------------------------------------
names = st.sampled_from(["a", "b", "ab", "é", "k1"])
scalars = st.one_of(st.none(), st.booleans(), st.integers(-20, 20), st.text('abé😀"\\', max_size=4))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(names, inner, max_size=3)),
    max_leaves=8,
)
leaf = st.one_of(
    st.just({}),
    st.sampled_from(["string", "integer", "object", "array"]).map(lambda t: {"type": t}),
    st.builds(lambda n: {"maxLength": n}, st.integers(0, 3)),
    st.builds(lambda p: {"pattern": p}, st.sampled_from(["^a*$", "b", "^[aé]{1,2}$", "😀"])),
    st.builds(lambda v: {"enum": v}, st.lists(scalars, min_size=1, max_size=3)),
    st.builds(lambda v: {"const": v}, values),
    st.builds(lambda p: {"propertyNames": {"pattern": p}}, st.sampled_from(["^a", "b$", "é"])),
)
schemas = st.recursive(
    leaf,
    lambda inner: st.one_of(
        st.builds(
            lambda p, r, a: {"properties": p, "required": r, **a},
            st.dictionaries(names, inner, max_size=2),
            st.lists(names, max_size=2, unique=True),
            st.sampled_from(
                [{}, {"additionalProperties": False}, {"additionalProperties": {"type": "integer"}}]
            ),
        ),
        st.builds(
            lambda p: {"patternProperties": p, "additionalProperties": False},
            st.dictionaries(st.sampled_from(["^a", "1$", "^é+$"]), inner, max_size=2),
        ),
        st.builds(lambda i: {"items": i}, inner),
        st.builds(lambda xs: {"anyOf": xs}, st.lists(inner, min_size=1, max_size=2)),
    ),
    max_leaves=4,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schemas, values, st.booleans(), st.integers(0, 10**6))
def test_random_documents_prefixes_and_escapes(schema, value, strict, seed):
    import jsonschema

    rng = random.Random(seed)
    c = JSONSchema(schema, strict=strict)
    if not jsonschema.Draft202012Validator(schema).is_valid(value):
        return
    for text in (
        json.dumps(value, ensure_ascii=False),
        escape_every_char(json.dumps(value, indent=2, ensure_ascii=False), rng, 0.5),
    ):
        if not strict:
            assert c.accepts(text), text
        if c.accepts(text):
            check_document(c, text, rng, probes=3)
