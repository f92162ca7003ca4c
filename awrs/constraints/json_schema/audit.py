"""Check a schema at construction: every keyword is enforced, an annotation, or refused."""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import regex
from referencing.exceptions import Unresolvable

from ...errors import ConstraintError, UnsupportedFeatureError
from .drafts import ANNOTATIONS, ASSERTING, Draft, children, compile_pattern, escape, needs_regex

_TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})
_COUNTS = frozenset(
    {
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "minProperties",
        "maxProperties",
        "minContains",
        "maxContains",
    }
)
_NUMBERS = frozenset({"minimum", "maximum", "multipleOf"})
_SCHEMA = frozenset(
    {
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
    }
)
_LISTS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_MAPS = frozenset({"properties", "patternProperties", "dependentSchemas"})
_CONTAINERS = ("/$defs/", "/definitions/")


@dataclass
class AuditResult:
    """What the audit found.

    Attributes:
        dynamic: the schema uses dynamic references.
        names: for each schema object (keyed by ``(id, base URI)``), the property names
            declared by the schemas that apply to the same instance (joined through
            ``allOf``/``anyOf``/``oneOf``/``not``/``if``/``then``/``else``/``$ref``), or
            ``None`` when one of them sets ``additionalProperties`` or
            ``unevaluatedProperties`` to a schema other than ``false``.
    """

    dynamic: bool = False
    names: dict = field(default_factory=dict)


#: Keywords whose subschemas apply to the instance itself (they consume no input).
_SAME = (
    "/allOf/",
    "/anyOf/",
    "/oneOf/",
    "/not",
    "/if",
    "/then",
    "/else",
    "/dependentSchemas/",
    "/dependencies/",
    "/$ref",
)
_OPENING = ("additionalProperties", "unevaluatedProperties")


def audit(root, draft: Draft, resolver, max_depth: int = 128) -> AuditResult:
    """Walk every schema reachable from ``root`` (subschemas and ``$ref`` targets).

    Raises:
        UnsupportedFeatureError: a keyword of another draft, a pattern Python's ``re`` cannot
            compile, or a ``$ref`` that cannot be resolved offline; the message names the
            keyword and its JSON pointer.
        ConstraintError: a malformed keyword value or subschema, a subschema nested more than
            ``max_depth`` levels, or a cycle of references that consumes no input (named by
            its JSON pointers).
    """
    result = AuditResult()
    spec = draft.specification
    seen: set = set()
    where: dict = {}
    edges: dict = {}
    uf = _UnionFind()
    names: dict = {}
    # (schema, resolver, pointer, entered, parent key, depth)
    stack: list[tuple[Any, Any, str, bool, tuple | None, int]] = [
        (root, resolver, "", False, None, 0)
    ]
    regex_keys: list = []  # (pointer, key) of patternProperties keys re cannot compile
    unevaluated: list = []  # pointers of unevaluatedProperties
    while stack:
        s, res, ptr, entered, parent, depth = stack.pop()
        if isinstance(s, bool):
            continue
        if not isinstance(s, dict):
            raise ConstraintError(
                f"expected a schema (object or boolean) at {ptr or '/'}, got {type(s).__name__}"
            )
        if depth > max_depth:
            raise ConstraintError(
                f"schema nested more than {max_depth} levels at "
                f"{ptr[:200] or '/'}; expected at most {max_depth} "
                f"(max_depth)"
            )
        ident = "id" if draft.name == "draft-04" else "$id"
        if ident in s and not isinstance(s[ident], str):
            raise ConstraintError(
                f"malformed schema: {ident!r} at {ptr or '/'} must be a URI "
                f"reference string, got {s[ident]!r}"
            )
        if not entered:
            res = res.in_subresource(spec.create_resource(s))
        key = (id(s), getattr(res, "_base_uri", None))
        if parent is not None:
            edges.setdefault(parent, set()).add(key)
            uf.union(parent, key)
        if key in seen:
            continue
        seen.add(key)
        where[key] = ptr or "/"
        uf.find(key)
        names[key] = _declared(s)
        ref_only = draft.legacy_ref and "$ref" in s
        for k, v in s.items():
            if ref_only and k != "$ref":
                continue  # ignored by drafts 4-7 next to $ref
            if k in draft.keywords:
                _check_value(k, v, draft, f"{ptr}/{k}")
                if k == "unevaluatedProperties":
                    unevaluated.append(f"{ptr}/{k}")
                elif k == "patternProperties":
                    regex_keys.extend((f"{ptr}/{k}/{escape(p)}", p) for p in v if needs_regex(p))
            elif k in ASSERTING and k not in ANNOTATIONS:
                raise UnsupportedFeatureError(
                    f"keyword {k!r} at {ptr or '/'} is not part of JSON Schema {draft.name} (the "
                    f"schema's draft); validators would ignore it. Remove it, or declare the "
                    f"draft that defines it with $schema"
                )
        for k in ("$ref", "$dynamicRef", "$recursiveRef"):
            if k in s and (k in draft.keywords):
                if k != "$ref":
                    result.dynamic = True
                target = _lookup(res, s[k], f"{ptr}/{k}")
                stack.append((*target, key if k == "$ref" else None, depth + 1))
        if ref_only:
            continue
        for suffix, sub in children(s):
            if not suffix.startswith(_CONTAINERS):
                same = suffix.startswith(_SAME)
                stack.append((sub, res, ptr + suffix, False, key if same else None, depth + 1))
    if regex_keys and unevaluated:
        raise UnsupportedFeatureError(
            f"patternProperties key {regex_keys[0][1]!r} at {regex_keys[0][0]} needs the regex "
            f"package (ECMA 262 syntax), and the schema uses unevaluatedProperties (at "
            f"{unevaluated[0]}), whose validation matches keys with Python's re; expected "
            f"re syntax for the key (e.g. an explicit character class)"
        )
    _refuse_cycles(edges, where)
    groups: dict = {}
    for key, declared in names.items():
        root_key = uf.find(key)
        acc = groups.get(root_key, frozenset())
        groups[root_key] = None if acc is None or declared is None else acc | declared
    result.names = {key: groups[uf.find(key)] for key in names}
    return result


def _declared(s: dict):
    """The property names ``s`` declares or requires (``None``: it opens the object)."""
    if any(k in s and s[k] is not False for k in _OPENING):
        return None
    out: set[str] = set()
    props = s.get("properties")
    if isinstance(props, dict):
        out.update(props)
    req = s.get("required")
    if isinstance(req, list):
        out.update(x for x in req if isinstance(x, str))
    for k in ("dependentRequired", "dependencies"):
        dep = s.get(k)
        if isinstance(dep, dict):
            for name, v in dep.items():
                if isinstance(v, list):
                    out.add(name)
                    out.update(x for x in v if isinstance(x, str))
    return frozenset(out)


class _UnionFind:
    __slots__ = ("parent",)

    def __init__(self):
        self.parent: dict = {}

    def find(self, x):
        p = self.parent.setdefault(x, x)
        while p != x:
            self.parent[x] = self.parent.setdefault(p, p)
            x, p = p, self.parent[p]
        return x

    def union(self, a, b) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[ra] = rb


def _refuse_cycles(edges: dict, where: dict) -> None:
    """Raise on a cycle of schemas applied to the same instance (an endless recursion)."""
    color: dict = {}
    for start in edges:
        if color.get(start):
            continue
        color[start] = 1
        path = [start]
        stack = [iter(edges.get(start, ()))]
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                color[path.pop()] = 2
                stack.pop()
                continue
            c = color.get(nxt, 0)
            if c == 1:
                cycle = path[path.index(nxt) :] + [nxt]
                chain = " -> ".join(where.get(k, "?") for k in cycle)
                raise ConstraintError(
                    f"schema refers to itself without consuming input: {chain[:400]}; expected "
                    f"every cycle of references to pass through a property or an item"
                )
            if c == 0:
                color[nxt] = 1
                path.append(nxt)
                stack.append(iter(edges.get(nxt, ())))


def _lookup(resolver, ref, ptr: str):
    if not isinstance(ref, str):
        raise ConstraintError(f"expected a URI reference string at {ptr}, got {ref!r}")
    try:
        resolved = resolver.lookup(ref)
    except Unresolvable as exc:
        raise UnsupportedFeatureError(
            f"cannot resolve {ref!r} at {ptr}: {exc}. Remote references are not fetched; pass "
            f"registry= (a referencing.Registry) holding the referenced schemas"
        ) from exc
    return resolved.contents, resolved.resolver, ref, True


def _check_value(k: str, v, draft: Draft, ptr: str) -> None:
    """Raise on a malformed keyword value (a light form of meta-schema validation)."""
    bad = None
    if k == "type":
        names = [v] if isinstance(v, str) else v if isinstance(v, list) else None
        if not names or not all(isinstance(t, str) and t in _TYPES for t in names):
            bad = "a type name or a list of them"
    elif k in _COUNTS:
        if not _count(v):
            bad = "a non-negative integer"
    elif k in _NUMBERS:
        if not _number(v) or (k == "multipleOf" and v <= 0):
            bad = "a positive number" if k == "multipleOf" else "a number"
    elif k in ("exclusiveMinimum", "exclusiveMaximum"):
        ok = isinstance(v, bool) if draft.name == "draft-04" else _number(v)
        if not ok:
            bad = "a boolean" if draft.name == "draft-04" else "a number"
    elif k == "enum":
        if not isinstance(v, list):
            bad = "an array"
    elif k == "required":
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            bad = "an array of strings"
    elif k == "pattern":
        bad = _pattern(v, ptr)
    elif k == "patternProperties":
        if not isinstance(v, dict):
            bad = "an object"
        else:
            for p, x in v.items():
                _pattern(p, f"{ptr}/{escape(p)}")
                _check_schema(x, f"{ptr}/{escape(p)}")
    elif k in _MAPS:
        if not isinstance(v, dict):
            bad = "an object of schemas"
        else:
            for name, x in v.items():
                _check_schema(x, f"{ptr}/{escape(name)}")
    elif k == "dependentRequired" or k == "dependencies":
        if not isinstance(v, dict):
            bad = "an object"
    elif k in _SCHEMA:
        if not isinstance(v, (dict, bool)):
            bad = "a schema (object or boolean)"
    elif k in _LISTS:
        if not isinstance(v, list) or not v:
            bad = "a non-empty array of schemas"
        else:
            for i, x in enumerate(v):
                _check_schema(x, f"{ptr}/{i}")
    elif k == "items":
        if isinstance(v, list) and "prefixItems" in draft.keywords:
            raise UnsupportedFeatureError(
                f"array-form 'items' at {ptr} is a draft-07 spelling; in {draft.name} use "
                f"'prefixItems' (or declare $schema draft-07)"
            )
        if not isinstance(v, (dict, bool, list)):
            bad = "a schema or an array of schemas"
    elif k == "format":
        if not isinstance(v, str):
            bad = "a string"
    elif k == "uniqueItems" and not isinstance(v, bool):
        bad = "a boolean"
    if bad is not None:
        raise ConstraintError(f"malformed schema: {k!r} at {ptr} must be {bad}, got {v!r}")


def _check_schema(x, ptr: str) -> None:
    if not isinstance(x, (dict, bool)):
        raise ConstraintError(
            f"malformed schema: expected a schema (object or boolean) at {ptr}, got {x!r}"
        )


def _count(v) -> bool:
    return _number(v) and v >= 0 and float(v).is_integer()


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v  # not NaN


def _pattern(p, ptr: str) -> str | None:
    """Patterns (``pattern`` values and ``patternProperties`` keys) are Python ``re``
    patterns, or may use the ECMA 262 property escapes of the ``regex`` package
    (``\\p{L}``)."""
    if not isinstance(p, str):
        return "a regular expression string"
    try:
        re.compile(p)
    except re.error as exc:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                compile_pattern(p)
            return None
        except regex.error:
            pass
        raise UnsupportedFeatureError(
            f"pattern {p!r} at {ptr} is not a Python regular expression ({exc}); JSON Schema "
            f"patterns are matched as jsonschema matches them, with Python's re"
        ) from exc
    return None
