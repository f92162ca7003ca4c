"""Drafts: which keywords each JSON Schema draft defines, the draft of a schema, validators."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

import jsonschema
import regex
from jsonschema import _legacy_keywords
from referencing import jsonschema as refjs

from .patterns import search

#: Keywords that assert nothing (core identifiers, containers, annotations, content).
ANNOTATIONS = frozenset(
    {
        "$schema",
        "$id",
        "$anchor",
        "$dynamicAnchor",
        "$recursiveAnchor",
        "$comment",
        "$defs",
        "definitions",
        "$vocabulary",
        "title",
        "description",
        "default",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
        "contentMediaType",
        "contentEncoding",
        "contentSchema",
    }
)
#: Keywords decided only on a completed value (checked there with ``jsonschema``).
POST = frozenset(
    {
        "multipleOf",
        "uniqueItems",
        "not",
        "if",
        "dependentRequired",
        "dependentSchemas",
        "dependencies",
        "contains",
        "unevaluatedProperties",
        "unevaluatedItems",
        "oneOf",
        "$dynamicRef",
        "$recursiveRef",
    }
)


@dataclass(frozen=True)
class Draft:
    """A supported draft: its name, ``$schema`` URI, validator class and keywords."""

    name: str
    uri: str
    validator: type
    keywords: frozenset

    @property
    def legacy_ref(self) -> bool:
        """Whether ``$ref`` overrides its sibling keywords (drafts 4 to 7)."""
        return self.name in ("draft-04", "draft-06", "draft-07")

    @property
    def specification(self):
        return refjs.specification_with(self.uri)


def _keywords(cls, *extra: str) -> frozenset:
    return frozenset(cls.VALIDATORS) | frozenset(extra)


@cache
def compile_pattern(pattern: str):
    """A ``pattern`` value compiled with Python's ``re`` (as ``jsonschema`` does), or with the
    ``regex`` package for ECMA 262 syntax that ``re`` lacks (``\\p{L}``)."""
    try:
        return re.compile(pattern)
    except re.error:
        return regex.compile(pattern)


def needs_regex(pattern: str) -> bool:
    """Whether ``pattern`` takes the ``regex`` package (ECMA 262 syntax ``re`` lacks)."""
    return not isinstance(compile_pattern(pattern), re.Pattern)


def _pattern(validator, pattern, instance, schema):
    if validator.is_type(instance, "string") and not search(pattern, instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


def _by_search(base, matched: bool):
    """``base`` (jsonschema's ``patternProperties`` or ``additionalProperties``) where Python's
    ``re`` takes every key of ``patternProperties`` (jsonschema matches them with
    ``re.search``); else the same keyword with keys matched by :func:`.patterns.search`, as
    ``pattern`` is. ``matched``: the keyword applies to the matching keys (else to the keys
    nothing matches). ``unevaluatedProperties`` beside such keys is refused by the audit."""

    def keyword(validator, value, instance, schema):
        pats = schema.get("patternProperties")
        if not isinstance(pats, dict) or not any(needs_regex(p) for p in pats):
            yield from base(validator, value, instance, schema)
            return
        if not validator.is_type(instance, "object"):
            return
        if matched:
            for p, sub in pats.items():
                for k, v in instance.items():
                    if search(p, k):
                        yield from validator.descend(v, sub, path=k, schema_path=p)
            return
        props = schema.get("properties", {})
        extras = sorted(
            k for k in instance if k not in props and not any(search(p, k) for p in pats)
        )
        if validator.is_type(value, "object"):
            for k in extras:
                yield from validator.descend(instance[k], value, path=k)
        elif not value and extras:
            yield jsonschema.ValidationError(
                f"{', '.join(map(repr, extras))} not allowed: no property or pattern of "
                f"{sorted(pats)!r} matches"
            )

    return keyword


def _extended(cls, dependencies: bool):
    # ``pattern`` and ``patternProperties`` also take ECMA 262 property escapes; the 2019-09
    # and 2020-12 meta-schemas keep ``dependencies`` for compatibility.
    extra = {
        "pattern": _pattern,
        "patternProperties": _by_search(cls.VALIDATORS["patternProperties"], True),
        "additionalProperties": _by_search(cls.VALIDATORS["additionalProperties"], False),
    }
    if dependencies:
        extra["dependencies"] = _legacy_keywords.dependencies_draft4_draft6_draft7
    return jsonschema.validators.extend(cls, extra)


_V = jsonschema.validators
DRAFTS = {
    d.name: d
    for d in [
        Draft(
            "draft-04",
            "http://json-schema.org/draft-04/schema#",
            _extended(_V.Draft4Validator, False),
            _keywords(_V.Draft4Validator, "exclusiveMaximum", "exclusiveMinimum"),
        ),
        Draft(
            "draft-06",
            "http://json-schema.org/draft-06/schema#",
            _extended(_V.Draft6Validator, False),
            _keywords(_V.Draft6Validator),
        ),
        Draft(
            "draft-07",
            "http://json-schema.org/draft-07/schema#",
            _extended(_V.Draft7Validator, False),
            _keywords(_V.Draft7Validator, "then", "else"),
        ),
        Draft(
            "2019-09",
            "https://json-schema.org/draft/2019-09/schema",
            _extended(_V.Draft201909Validator, True),
            _keywords(
                _V.Draft201909Validator,
                "then",
                "else",
                "minContains",
                "maxContains",
                "dependencies",
            ),
        ),
        Draft(
            "2020-12",
            "https://json-schema.org/draft/2020-12/schema",
            _extended(_V.Draft202012Validator, True),
            _keywords(
                _V.Draft202012Validator,
                "then",
                "else",
                "minContains",
                "maxContains",
                "dependencies",
            ),
        ),
    ]
}
#: Every keyword that asserts something in some draft.
ASSERTING = frozenset().union(*(d.keywords for d in DRAFTS.values()))
_BY_URI = {d.uri.rstrip("#"): d for d in DRAFTS.values()}
_MODERN = frozenset(
    {
        "prefixItems",
        "$defs",
        "dependentRequired",
        "dependentSchemas",
        "unevaluatedProperties",
        "unevaluatedItems",
        "$dynamicRef",
        "$dynamicAnchor",
        "$anchor",
        "$recursiveRef",
        "minContains",
        "maxContains",
    }
)


def draft_of(schema) -> Draft | None:
    """The draft named by ``$schema``; without one, 2020-12 unless the schema only uses
    pre-2019 spellings (array-form ``items``, ``additionalItems``, ``dependencies``, boolean
    ``exclusiveMaximum``), in which case draft-07 (draft-04 for boolean exclusives).

    Returns ``None`` for an unknown ``$schema``.
    """
    if isinstance(schema, dict) and "$schema" in schema:
        uri = schema["$schema"]
        return _BY_URI.get(uri.rstrip("#")) if isinstance(uri, str) else None
    modern = legacy = bool_excl = False
    for _, sub in walk(schema, ""):
        keys = sub.keys()
        modern = modern or not _MODERN.isdisjoint(keys)
        if (
            isinstance(sub.get("items"), list)
            or "additionalItems" in keys
            or "dependencies" in keys
        ):
            legacy = True
        if isinstance(sub.get("exclusiveMaximum"), bool) or isinstance(
            sub.get("exclusiveMinimum"), bool
        ):
            legacy = bool_excl = True
    if legacy and not modern:
        return DRAFTS["draft-04" if bool_excl else "draft-07"]
    return DRAFTS["2020-12"]


_ONE, _MANY, _MAP = 1, 2, 3
_KIND = {
    k: _ONE
    for k in (
        "additionalProperties",
        "additionalItems",
        "contains",
        "propertyNames",
        "not",
        "if",
        "then",
        "else",
        "unevaluatedProperties",
        "unevaluatedItems",
        "contentSchema",
        "items",
    )
}
_KIND.update({k: _MANY for k in ("allOf", "anyOf", "oneOf", "prefixItems")})
_KIND.update(
    {
        k: _MAP
        for k in (
            "properties",
            "patternProperties",
            "$defs",
            "definitions",
            "dependentSchemas",
            "dependencies",
        )
    }
)


def children(schema: dict) -> Iterator[tuple[str, object]]:
    """The subschemas directly inside ``schema``, as ``(pointer suffix, subschema)``."""
    for k, v in schema.items():
        kind = _KIND.get(k)
        if kind is None:
            continue
        if kind == _ONE or (k == "items" and not isinstance(v, list)):
            if isinstance(v, (dict, bool)):
                yield "/" + k, v
        elif kind == _MANY or k == "items":
            if isinstance(v, list):
                for i, sub in enumerate(v):
                    if isinstance(sub, (dict, bool)):
                        yield f"/{k}/{i}", sub
        elif isinstance(v, dict):
            for name, sub in v.items():
                if isinstance(sub, (dict, bool)):
                    yield f"/{k}/{escape(name)}", sub


def walk(schema, pointer: str) -> Iterator[tuple[str, dict]]:
    """Every schema object in the tree (refs not followed), with its JSON pointer."""
    stack = [(pointer, schema)]
    while stack:
        ptr, s = stack.pop()
        if isinstance(s, dict):
            yield ptr, s
            stack.extend((ptr + suffix, sub) for suffix, sub in children(s))


def escape(token: str) -> str:
    """A JSON pointer token."""
    return token.replace("~", "~0").replace("/", "~1")
