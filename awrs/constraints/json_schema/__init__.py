"""JSON Schema as an incremental byte-level constraint: every keyword enforced or refused.

Structural keywords are checked on prefixes (a string is rejected the moment it passes
``maxLength`` or leaves its ``pattern``, a key the moment it can no longer be an allowed
property name, a number the moment no completion fits its bounds). Keywords that cannot be
decided on a prefix (``uniqueItems``, ``multipleOf``, ``not``, ``if``/``then``/``else``,
``dependentRequired``, ``dependentSchemas``, ``dependencies``, ``contains``, ``oneOf``,
``unevaluated*``) are checked with ``jsonschema`` on every completed sub-value, and the
complete document is validated with ``jsonschema`` (and the format checker), so a finished
output never violates the schema.

Generation policy (chosen by measurement on the json benchmark suite, see the README): the
layout models write (``", "``, ``": "``, a newline and indentation), every whitespace run
bounded; and where a schema leaves ``additionalProperties`` and ``unevaluatedProperties``
unspecified, only the properties it declares (the OpenAI / XGrammar "strict" convention),
their keys spelled literally (no ``\\u`` escapes in known names).
All are options; ``accepts`` and ``complete_ok`` always answer for the language in force.
"""

from __future__ import annotations

import codecs
import json

import numpy as np
from jsonschema_specifications import REGISTRY as _META_SCHEMAS
from referencing import Registry

from ...errors import (
    ConfigurationError,
    ConstraintError,
    ConstraintEvaluationError,
    UnsupportedFeatureError,
)
from ..base import Completion, IncrementalConstraint, State
from .audit import audit
from .compiler import Compiler
from .drafts import DRAFTS, draft_of
from .layout import Layout
from .lexing import WHITESPACE
from .machines import DONE
from .masks import in_free_string, split_vocab

__all__ = ["JSONSchema"]

_BEFORE, _IN, _AFTER = 0, 1, 2
_MISS = object()
_MEMO_LIMIT = 100_000
_utf8 = codecs.utf_8_decode
# Bytes that can occur in JSON text: printable ASCII and valid UTF-8 lead/continuation bytes.
_ALPHABET = (
    frozenset(range(0x20, 0x80)) | frozenset(range(0x80, 0xC0)) | frozenset(range(0xC2, 0xF5))
)


class _State:
    """A prefix: the machine state ``core`` and, for the final validation, its text as a
    chain of tokens."""

    __slots__ = ("core", "prev", "token")

    def __init__(self, core, prev, token: bytes):
        self.core, self.prev, self.token = core, prev, token

    def text(self) -> bytes:
        parts = []
        s = self
        while s is not None:
            parts.append(s.token)
            s = s.prev
        return b"".join(reversed(parts))


class JSONSchema(IncrementalConstraint, Completion):
    """JSON documents valid under a JSON Schema.

    Args:
        schema: the schema, as a dict/bool or as JSON text.
        formats: ``"assert"`` (default) checks ``format`` for date-time, date, time, duration,
            email, hostname, ipv4, ipv6, uuid, uri, uri-reference (on prefixes where the format
            has a simple shape) and, on completion, every other format ``jsonschema``'s
            checker knows; ``"annotate"`` gives plain 2020-12 semantics (format asserts
            nothing). An unknown format name is an annotation in both modes.
        whitespace: ``"natural"`` (default): between tokens nothing, one space, or one newline
            followed by at most 4 spaces of indentation per open container (``", "``,
            ``": "``, ``json.dumps(v, indent=2)``); ``"compact"`` (or ``None``): no whitespace;
            an int ``k``: at most ``k`` whitespace characters per gap. Never unbounded.
        strict: ``True`` (default): where a schema object leaves ``additionalProperties`` and
            ``unevaluatedProperties`` unspecified and declares properties, only names declared
            for that instance (``properties``, ``required``, ``dependentRequired``, joined over
            ``allOf``/``anyOf``/``$ref``…) are generated; ``False``: any name the schema
            allows. Every strict document is valid under the schema.
        literal_keys: with ``strict``, the keys of an object whose names are all known (the
            declared ones, or ``additionalProperties: false`` without patterns) are spelled
            literally, without escapes, as the peers write them (default ``True``; the model
            otherwise likes ``\\u0065``-style keys that spend the budget); a name that needs
            an escape keeps escapes allowed. ``False``: escaped spellings too.
        property_order: ``"schema"`` (default): properties declared in ``properties`` come in
            that order (others may be interleaved); ``"any"``: any order.
        max_depth: the most containers open at once (default 64); a deeper prefix is rejected
            (a particle writing ``[[[[…`` ends there), and a schema whose subschemas nest more
            than ``2 * max_depth`` levels is refused.
        registry: a ``referencing.Registry`` with the schemas that remote ``$ref`` name;
            remote references are never fetched and are refused when missing.

    The draft is taken from ``$schema`` (2020-12, 2019-09, draft-07, -06 and -04); without
    ``$schema`` it is 2020-12, unless the schema uses only pre-2019 spellings (array-form
    ``items``, ``additionalItems``, ``dependencies``), read as draft-07. Keywords of another
    draft than the schema's are refused; unknown keywords are ignored, as the specification
    requires. Patterns are Python ``re`` patterns (as ``jsonschema`` matches them). Duplicate
    keys and lone surrogate escapes are rejected. In schemas that use ``$dynamicRef`` or
    ``$recursiveRef``, whose meaning depends on the evaluation path, those references and the
    undecidable keywords are checked on the complete document only.

    Patterns (``pattern``, ``patternProperties``, formats) that are regular run as byte DFAs:
    exact on prefixes and linear in the string; others use the ``regex`` package with a time
    limit (:class:`~awrs.errors.ConstraintEvaluationError` past it). An unfinished ``\\u``
    escape is alive only if a code point it can still become continues the value (enum,
    const, key names, patterns, formats, lengths).

    Raises:
        ConstraintError: malformed JSON text or schema (the message has the JSON pointer), a
            cycle of references that consumes no input, a schema nested too deep.
        UnsupportedFeatureError: a keyword or reference refused (named, with its pointer).
        ConfigurationError: an option outside the values above.
    """

    def __init__(
        self,
        schema,
        *,
        formats: str = "assert",
        whitespace="natural",
        strict: bool = True,
        property_order: str = "schema",
        max_depth: int = 64,
        registry: Registry | None = None,
        literal_keys: bool = True,
    ):
        if formats not in ("assert", "annotate"):
            raise ConfigurationError(f"formats must be 'assert' or 'annotate', got {formats!r}")
        self.layout = Layout(whitespace, max_depth)
        if not isinstance(strict, bool):
            raise ConfigurationError(f"strict must be True or False, got {strict!r}")
        if not isinstance(literal_keys, bool):
            raise ConfigurationError(f"literal_keys must be True or False, got {literal_keys!r}")
        if property_order not in ("schema", "any"):
            raise ConfigurationError(
                f"property_order must be 'schema' or 'any', got {property_order!r}"
            )
        self.schema = _parse(schema)
        reg = _META_SCHEMAS.combine(registry) if registry is not None else _META_SCHEMAS
        self.draft = draft_of(self.schema) or _custom_dialect(self.schema, reg)
        self.formats, self.whitespace, self.property_order = formats, whitespace, property_order
        self.strict, self.max_depth = strict, max_depth
        self._compiler = Compiler(
            self.schema,
            self.draft,
            reg,
            assert_formats=formats == "assert",
            ordered=property_order == "schema",
        )
        info = audit(self.schema, self.draft, self._compiler.root_resolver, 2 * max_depth)
        self._compiler.post_checks = not info.dynamic
        self._compiler.co_names = info.names if strict else None
        self._compiler.literal_keys = strict and literal_keys
        self.literal_keys = strict and literal_keys
        self._root = self._compiler.root(self.schema)
        self._validator = self._compiler.validator
        self._memo: dict = {}
        self._final: dict = {}
        self._start = _State((b"", _BEFORE, None, Layout.initial), None, b"")

    def __repr__(self) -> str:
        return (
            f"JSONSchema(draft={self.draft.name!r}, formats={self.formats!r}, "
            f"whitespace={self.whitespace!r}, strict={self.strict})"
        )

    # -- incremental protocol ------------------------------------------------------------------
    def start(self) -> State:
        return self._start

    def advance(self, state: State, token: bytes) -> State | None:
        key = (state.core, token)
        core = self._memo.get(key, _MISS)
        if core is _MISS:
            try:
                core = self._step(state.core, token)
            except RecursionError as exc:  # a safety net: depths are bounded at construction
                raise ConstraintEvaluationError(
                    f"JSON Schema check recursed too deep on token {token[:40]!r}; expected "
                    f"nesting within max_depth={self.max_depth}",
                    state.text() + token,
                ) from exc
            if len(self._memo) >= _MEMO_LIMIT:
                self._memo.clear()
            self._memo[key] = core
        return None if core is None else _State(core, state, token)

    def is_complete(self, state: State) -> bool:
        pending, ph, sub, lay = state.core
        if (
            pending
            or ph == _BEFORE
            or (ph == _IN and not sub[0].eof(sub))
            or not self.layout.ok_to_end(lay)
        ):
            return False
        text = state.text()
        ok = self._final.get(text)
        if ok is None:
            ok = self._validator.is_valid(json.loads(text))
            if len(self._final) < 4096:
                self._final[text] = ok
        return ok

    def token_mask(self, state: State, trie) -> np.ndarray:
        """Boolean (V,) mask of the tokens ``advance`` accepts (EOS ids left False).

        Inside a string without constraints every token of plain string characters is
        accepted without a walk; only the other tokens go through the trie.
        """
        pending, ph, sub, _ = state.core
        if pending or ph != _IN or not in_free_string(sub):
            return trie.walk(state, self.advance)
        plain, special, ids = split_vocab(trie)
        mask = plain.copy()
        mask[ids[special.walk(state, self.advance)]] = True
        return mask

    def state_key(self, state: State):
        return state.core

    def unchanged_tokens(self, state: State, trie) -> np.ndarray | None:
        """Inside a free string every plain token leaves the machine state as it is."""
        pending, ph, sub, _ = state.core
        if pending or ph != _IN or not in_free_string(sub):
            return None
        return split_vocab(trie)[0]

    def alphabet(self) -> frozenset[int]:
        if self.layout.any_whitespace:
            return _ALPHABET | frozenset(b" \t\n\r")
        return _ALPHABET

    # -- machinery -----------------------------------------------------------------------------
    def _step(self, core, token: bytes):
        pending, ph, sub, lay = core
        data = pending + token if pending else token
        try:
            text, used = _utf8(data, "strict", False)
        except UnicodeDecodeError:
            return None
        rest = data[used:]
        if text:
            lay = self.layout.scan(lay, text)
            if lay is None:
                return None
        i, n = 0, len(text)
        while i < n:
            if ph == _IN:
                r = sub[0].feed(sub, text, i)
                if r is None:
                    return None
                sub, i = r
                if sub is DONE:
                    ph, sub = _AFTER, None
                continue
            c = text[i]
            if c in WHITESPACE:  # bounded by the layout scanner
                i += 1
                continue
            if ph == _AFTER:
                return None
            sub = self._root.begin(c)
            if sub is None:
                return None
            ph = _IN
        if rest and not (ph == _IN and sub[0].partial_ok(sub, rest)):
            return None
        return rest, ph, sub, lay


def _custom_dialect(schema: dict, registry: Registry):
    """The draft of a custom meta-schema found in ``registry`` (its own ``$schema``)."""
    uri = schema["$schema"]
    try:
        meta = registry.contents(uri.rstrip("#")) if isinstance(uri, str) else None
    except LookupError:  # referencing's NoSuchResource / Unretrievable
        meta = None
    draft = draft_of(meta) if isinstance(meta, dict) and "$schema" in meta else None
    if draft is None:
        raise UnsupportedFeatureError(
            f"$schema {uri!r} is not a supported dialect; expected one of "
            f"{sorted(d.uri for d in DRAFTS.values())}, or a meta-schema in registry= built on "
            f"one of them"
        )
    return draft


def _parse(schema):
    if isinstance(schema, (bytes, bytearray)):
        schema = bytes(schema).decode("utf-8")
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except json.JSONDecodeError as exc:
            raise ConstraintError(
                f"schema is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
            ) from exc
        except RecursionError as exc:
            raise ConstraintError(
                "schema text nests too deep for the JSON parser; expected "
                "a schema nested at most a few hundred levels"
            ) from exc
    if not isinstance(schema, (dict, bool)):
        raise ConstraintError(
            f"expected a schema (a dict, a bool, or JSON text), got {type(schema).__name__}"
        )
    return schema
