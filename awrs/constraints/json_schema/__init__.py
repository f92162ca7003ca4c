"""JSON Schema as an incremental byte-level constraint: every keyword enforced or refused.

Structural keywords are checked on prefixes (a string is rejected the moment it passes
``maxLength`` or leaves its ``pattern``, a key the moment it can no longer be an allowed
property name, a number the moment no completion fits its bounds). Keywords that cannot be
decided on a prefix (``uniqueItems``, ``multipleOf``, ``not``, ``if``/``then``/``else``,
``dependentRequired``, ``dependentSchemas``, ``dependencies``, ``contains``, ``oneOf``,
``unevaluated*``) are checked with ``jsonschema`` on every completed sub-value, and the
complete document is validated with ``jsonschema`` (and the format checker), so a finished
output never violates the schema.
"""

from __future__ import annotations

import codecs
import json

import numpy as np
from jsonschema_specifications import REGISTRY as _META_SCHEMAS
from referencing import Registry

from ...errors import ConfigurationError, ConstraintError, UnsupportedFeatureError
from ..base import IncrementalConstraint, State
from .audit import audit
from .compiler import Compiler
from .drafts import DRAFTS, draft_of
from .lexing import WHITESPACE
from .machines import DONE
from .masks import in_free_string, split_vocab

__all__ = ["JSONSchema"]

_BEFORE, _IN, _AFTER = 0, 1, 2
_MISS = object()
_MEMO_LIMIT = 100_000
_utf8 = codecs.utf_8_decode
# Bytes that can occur in JSON text: printable ASCII and valid UTF-8 lead/continuation bytes.
_ALPHABET = frozenset(range(0x20, 0x80)) | frozenset(range(0x80, 0xC0)) | \
    frozenset(range(0xC2, 0xF5))


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


class JSONSchema(IncrementalConstraint):
    """JSON documents valid under a JSON Schema.

    Args:
        schema: the schema, as a dict/bool or as JSON text.
        formats: ``"assert"`` (default) checks ``format`` for date-time, date, time, duration,
            email, hostname, ipv4, ipv6, uuid, uri, uri-reference (on prefixes where the format
            has a simple shape) and, on completion, every other format ``jsonschema``'s
            checker knows; ``"annotate"`` gives plain 2020-12 semantics (format asserts
            nothing). An unknown format name is an annotation in both modes.
        whitespace: ``None`` (default) for compact JSON; an int ``k`` allows at most ``k``
            whitespace characters between tokens (never unbounded).
        property_order: ``"schema"`` (default): properties declared in ``properties`` come in
            that order (others may be interleaved); ``"any"``: any order.
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

    Raises:
        ConstraintError: malformed JSON text or schema (the message has the JSON pointer).
        UnsupportedFeatureError: a keyword or reference refused (named, with its pointer).
        ConfigurationError: an option outside the values above.
    """

    def __init__(self, schema, *, formats: str = "assert", whitespace: int | None = None,
                 property_order: str = "schema", registry: Registry | None = None):
        if formats not in ("assert", "annotate"):
            raise ConfigurationError(f"formats must be 'assert' or 'annotate', got {formats!r}")
        if whitespace is not None and (isinstance(whitespace, bool) or
                                       not isinstance(whitespace, int) or whitespace < 0):
            raise ConfigurationError(
                f"whitespace must be None or a non-negative int bound, got {whitespace!r}")
        if property_order not in ("schema", "any"):
            raise ConfigurationError(
                f"property_order must be 'schema' or 'any', got {property_order!r}")
        self.schema = _parse(schema)
        reg = _META_SCHEMAS.combine(registry) if registry is not None else _META_SCHEMAS
        self.draft = draft_of(self.schema) or _custom_dialect(self.schema, reg)
        self.formats, self.whitespace, self.property_order = formats, whitespace, property_order
        self._compiler = Compiler(self.schema, self.draft, reg, assert_formats=formats == "assert",
                                  ws_max=whitespace, ordered=property_order == "schema")
        info = audit(self.schema, self.draft, self._compiler.root_resolver)
        self._compiler.post_checks = not info.dynamic
        self._root = self._compiler.root(self.schema)
        self._validator = self._compiler.validator
        self._memo: dict = {}
        self._final: dict = {}
        self._start = _State((b"", _BEFORE, None, 0), None, b"")

    def __repr__(self) -> str:
        return f"JSONSchema(draft={self.draft.name!r}, formats={self.formats!r})"

    # -- incremental protocol ------------------------------------------------------------------
    def start(self) -> State:
        return self._start

    def advance(self, state: State, token: bytes) -> State | None:
        key = (state.core, token)
        core = self._memo.get(key, _MISS)
        if core is _MISS:
            core = self._step(state.core, token)
            if len(self._memo) >= _MEMO_LIMIT:
                self._memo.clear()
            self._memo[key] = core
        return None if core is None else _State(core, state, token)

    def is_complete(self, state: State) -> bool:
        pending, ph, sub, _ = state.core
        if pending or ph == _BEFORE or (ph == _IN and not sub[0].eof(sub)):
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

    def alphabet(self) -> frozenset[int]:
        if self.whitespace:
            return _ALPHABET | frozenset(b" \t\n\r")
        return _ALPHABET

    # -- machinery -----------------------------------------------------------------------------
    def _step(self, core, token: bytes):
        pending, ph, sub, ws = core
        data = pending + token if pending else token
        try:
            text, used = _utf8(data, "strict", False)
        except UnicodeDecodeError:
            return None
        rest = data[used:]
        ws_max = self.whitespace
        i, n = 0, len(text)
        while i < n:
            if ph == _IN:
                r = sub[0].feed(sub, text, i)
                if r is None:
                    return None
                sub, i = r
                if sub is DONE:
                    ph, sub, ws = _AFTER, None, 0
                continue
            c = text[i]
            if c in WHITESPACE:
                if ws_max is None or ws >= ws_max:
                    return None
                ws += 1
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
        return rest, ph, sub, ws


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
            f"one of them")
    return draft


def _parse(schema):
    if isinstance(schema, (bytes, bytearray)):
        schema = bytes(schema).decode("utf-8")
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except json.JSONDecodeError as exc:
            raise ConstraintError(f"schema is not valid JSON: {exc.msg} at line {exc.lineno} "
                                  f"column {exc.colno}") from exc
    if not isinstance(schema, (dict, bool)):
        raise ConstraintError(
            f"expected a schema (a dict, a bool, or JSON text), got {type(schema).__name__}")
    return schema
