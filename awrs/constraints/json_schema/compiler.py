"""Compile a JSON Schema into a graph of value-machine nodes (lazily, refs included)."""

from __future__ import annotations

from jsonschema._utils import equal
from referencing import Registry
from referencing.exceptions import Unresolvable

from ...errors import ConstraintError
from .containers import ArrM, ObjM
from .drafts import POST, Draft, escape
from .formats import format_checker, get_format
from .machines import AllNode, AnyNode, LazyNode, LitM, Node, NumM, PostNode, StrM, TypedNode
from .numbers import Bounds, to_fraction
from .patterns import matcher

_TYPES = ("object", "array", "string", "number", "integer", "boolean", "null")


class Compiler:
    """Builds nodes for the subschemas of one root schema.

    Args:
        root: the schema (dict or bool).
        draft: its :class:`~.drafts.Draft`.
        registry: a ``referencing.Registry`` with the resources ``$ref`` may name (merged
            with the JSON Schema meta-schemas).
        assert_formats: assert ``format`` (see :mod:`.formats`).
        ordered: declared properties must come in the order of ``properties``.
        post_checks: check undecidable keywords on every completed sub-value.

    ``co_names`` (set after the audit, ``None`` for the full language): per schema object,
    the property names generated where ``additionalProperties`` is left unspecified (see
    :class:`~.audit.AuditResult`).
    """

    def __init__(
        self,
        root,
        draft: Draft,
        registry: Registry,
        *,
        assert_formats: bool,
        ordered: bool,
        post_checks: bool = True,
    ):
        self.draft, self.spec = draft, draft.specification
        self.assert_formats, self.ordered = assert_formats, ordered
        self.post_checks = post_checks
        self.co_names: dict | None = None
        self.literal_keys = False  # set with co_names: keys of known-name objects unescaped
        self.registry = registry
        self.root_resolver = registry.resolver_with_root(self.spec.create_resource(root))
        self.validator = draft.validator(
            root, registry=registry, format_checker=format_checker() if assert_formats else None
        )
        self._cache: dict = {}
        self.FALSE = TypedNode()
        self.TRUE = TypedNode(is_true=True)
        self.g_str, self.g_num = StrM(), NumM()
        self.g_lit = LitM({"true", "false", "null"})
        self.g_obj = ObjM([], [], self.TRUE, None, (), 0, None, ordered)
        self.g_arr = ArrM([], self.TRUE, 0, None)
        t = self.TRUE
        t.obj, t.arr, t.str, t.num, t.lit = (
            self.g_obj,
            self.g_arr,
            self.g_str,
            self.g_num,
            self.g_lit,
        )
        t.is_false = False

    def root(self, schema) -> Node:
        """The node of the root schema."""
        return self.node(schema, self.root_resolver, "")

    def node(self, schema, resolver, ptr: str, entered: bool = False) -> Node:
        """The (lazy, shared) node of ``schema`` found at ``ptr`` under ``resolver``.

        ``entered``: ``resolver`` is already the one of ``schema``'s own resource (a ``$ref``
        target), as opposed to its parent's.
        """
        if schema is True:
            return self.TRUE
        if schema is False:
            return self.FALSE
        if not isinstance(schema, dict):
            raise ConstraintError(
                f"expected a schema (object or boolean) at {ptr or '/'}, got "
                f"{type(schema).__name__}"
            )
        if not entered:
            resolver = resolver.in_subresource(self.spec.create_resource(schema))
        key = (id(schema), getattr(resolver, "_base_uri", None))
        hit = self._cache.get(key)
        if hit is None:
            hit = LazyNode(lambda: self._build(schema, resolver, ptr))
            self._cache[key] = (hit, schema)  # keep the schema alive with its id
            return hit
        return hit[0]

    # -- one schema object -------------------------------------------------------------------
    def _build(self, s: dict, resolver, ptr: str) -> Node:
        if self.draft.legacy_ref and "$ref" in s:
            return self._ref(s["$ref"], resolver, ptr + "/$ref")
        parts: list[Node] = []
        enum = self._enum_values(s)
        containers = enum is not None and any(isinstance(v, (dict, list)) for v in enum)
        parts.append(self._typed(s, resolver, ptr, None if containers else enum))
        if containers:
            parts.append(self._enum_node(enum))
        for i, sub in enumerate(s.get("allOf", ())):
            parts.append(self.node(sub, resolver, f"{ptr}/allOf/{i}"))
        for k in ("anyOf", "oneOf"):
            if k in s:
                parts.append(
                    self._any(
                        [self.node(sub, resolver, f"{ptr}/{k}/{i}") for i, sub in enumerate(s[k])]
                    )
                )
        if "$ref" in s:
            parts.append(self._ref(s["$ref"], resolver, ptr + "/$ref"))
        if "if" in s and "if" in self.draft.keywords and ("then" in s or "else" in s):
            # A valid value satisfies (if and then) or else: sound on prefixes.
            cond = self.node(s["if"], resolver, ptr + "/if")
            then = self.node(s.get("then", True), resolver, ptr + "/then")
            other = self.node(s.get("else", True), resolver, ptr + "/else")
            parts.append(self._any([self._all([cond, then]), other]))
        # $dynamicRef / $recursiveRef depend on the evaluation path: they constrain nothing on
        # prefixes and are checked with the complete document.
        node = self._all(parts)
        if self.post_checks and not node.is_false and not POST.isdisjoint(s.keys()):
            node = PostNode(node, self._validator_at(s, resolver).is_valid)
        return node

    def _validator_at(self, s: dict, resolver):
        """A validator of ``s`` at its location (the draft's class even if ``s`` has its own
        ``$schema``: ``evolve`` would switch to the unextended class)."""
        v = self.validator
        return type(v)(
            s, registry=self.registry, format_checker=v.format_checker, _resolver=resolver
        )

    def _ref(self, ref: str, resolver, ptr: str) -> Node:
        try:
            resolved = resolver.lookup(ref)
        except Unresolvable as exc:  # audited at construction; kept for safety
            raise ConstraintError(f"cannot resolve $ref {ref!r} at {ptr or '/'}: {exc}") from exc
        return self.node(resolved.contents, resolved.resolver, ref, entered=True)

    def _all(self, parts: list[Node]) -> Node:
        out = []
        for p in parts:
            if isinstance(p, TypedNode):
                if p.is_false:
                    return self.FALSE
                if p.is_true:
                    continue
            out.append(p)
        if not out:
            return self.TRUE
        return out[0] if len(out) == 1 else AllNode(out)

    def _any(self, alts: list[Node]) -> Node:
        out = []
        for a in alts:
            if isinstance(a, TypedNode):
                if a.is_true:
                    return self.TRUE
                if a.is_false:
                    continue
            out.append(a)
        if not out:
            return self.FALSE
        return out[0] if len(out) == 1 else AnyNode(out)

    # -- enum / const ------------------------------------------------------------------------
    def _enum_values(self, s: dict):
        vals = None
        if "enum" in s and "enum" in self.draft.keywords:
            vals = list(s["enum"])
        if "const" in s and "const" in self.draft.keywords:
            c = s["const"]
            vals = [c] if vals is None else [v for v in vals if equal(v, c)]
        return vals

    def _enum_node(self, values: list) -> Node:
        scalars = [v for v in values if not isinstance(v, (dict, list))]
        alts = [self._const(v) for v in values if isinstance(v, (dict, list))]
        if scalars:
            alts.append(self._typed({}, None, "", scalars))
        return self._any(alts)

    def _const(self, v) -> Node:
        if isinstance(v, dict):
            props = [(k, self._const(x)) for k, x in v.items()]
            obj = ObjM(props, [], self.FALSE, None, list(v), 0, None, self.ordered)
            return TypedNode(obj=obj)
        if isinstance(v, list):
            arr = ArrM([self._const(x) for x in v], self.FALSE, len(v), len(v))
            return TypedNode(arr=arr)
        return self._typed({}, None, "", [v])

    # -- the type-specific keywords ----------------------------------------------------------
    def _typed(self, s: dict, resolver, ptr: str, enum) -> Node:
        t = s.get("type") if "type" in self.draft.keywords else None
        types = set(_TYPES) if t is None else {t} if isinstance(t, str) else set(t)
        if "number" in types:
            types.add("integer")
        strs = nums = words = None
        if enum is not None:
            strs = [v for v in enum if isinstance(v, str)]
            nums = [v for v in enum if isinstance(v, (int, float)) and not isinstance(v, bool)]
            words = {w for v, w in ((True, "true"), (False, "false")) if any(x is v for x in enum)}
            if any(v is None for v in enum):
                words.add("null")
            if not strs:
                types.discard("string")
            if not nums:
                types -= {"number", "integer"}
            types -= {"object", "array"}
        else:
            words = {"true", "false", "null"}
        if "boolean" not in types:
            words -= {"true", "false"}
        if "null" not in types:
            words.discard("null")
        obj = self._object(s, resolver, ptr) if "object" in types else None
        arr = self._array(s, resolver, ptr) if "array" in types else None
        st = self._string(s, ptr, strs) if "string" in types else None
        num = None
        if "integer" in types:
            num = self._number(s, "number" not in types, nums)
        lit = None
        if words:
            lit = self.g_lit if len(words) == 3 else LitM(words)
        if (
            obj is self.g_obj
            and arr is self.g_arr
            and st is self.g_str
            and num is self.g_num
            and lit is self.g_lit
        ):
            return self.TRUE
        return TypedNode(obj, arr, st, num, lit)

    def _has(self, s: dict, *keys: str) -> bool:
        return any(k in s and k in self.draft.keywords for k in keys)

    def _object(self, s: dict, resolver, ptr: str):
        if not self._has(
            s,
            "properties",
            "patternProperties",
            "additionalProperties",
            "required",
            "propertyNames",
            "minProperties",
            "maxProperties",
        ):
            return self.g_obj
        kw = self.draft.keywords
        props = [
            (k, self.node(sub, resolver, f"{ptr}/properties/{escape(k)}"))
            for k, sub in s.get("properties", {}).items()
        ]
        patterns = [
            (
                matcher(p),
                matcher(p),
                self.node(sub, resolver, f"{ptr}/patternProperties/{escape(p)}"),
            )
            for p, sub in s.get("patternProperties", {}).items()
        ]
        additional = self.node(
            s.get("additionalProperties", True), resolver, ptr + "/additionalProperties"
        )
        pnames = None
        if "propertyNames" in s and "propertyNames" in kw:
            pnames = self.node(s["propertyNames"], resolver, ptr + "/propertyNames")
        required = s.get("required", ())
        if not isinstance(required, list):
            required = ()
        max_props = s.get("maxProperties")
        min_props = int(s.get("minProperties", 0))
        extra = self._extra_names(s, resolver, props, patterns, min_props)
        # declared-properties policy: keys spelled literally, as every peer writes them
        names = [k for k, _ in props] + sorted(extra or ())
        literal = (
            self.literal_keys
            and self.co_names is not None
            and not patterns
            and (extra is not None or additional is self.FALSE)
            and all(_plain(k) for k in names)
        )
        return ObjM(
            props,
            patterns,
            additional,
            pnames,
            required,
            min_props,
            None if max_props is None else int(max_props),
            self.ordered,
            extra,
            literal=literal,
        )

    def _extra_names(self, s: dict, resolver, props, patterns, min_props: int):
        """The undeclared names generated under the declared-properties policy (``None``:
        any name, as the schema allows)."""
        if self.co_names is None or "additionalProperties" in s or "unevaluatedProperties" in s:
            return None
        names = self.co_names.get((id(s), getattr(resolver, "_base_uri", None)))
        if names is None or not (props or patterns or names):
            return None  # nothing declared: keep the object open
        if not patterns and len(names | {k for k, _ in props}) < min_props:
            return None  # too few names to reach minProperties
        return names

    def _array(self, s: dict, resolver, ptr: str):
        if not self._has(s, "items", "prefixItems", "additionalItems", "minItems", "maxItems"):
            return self.g_arr
        prefix: list[Node] = []
        rest: Node = self.TRUE
        items = s.get("items", True)
        if "prefixItems" in self.draft.keywords:
            prefix = [
                self.node(x, resolver, f"{ptr}/prefixItems/{i}")
                for i, x in enumerate(s.get("prefixItems", ()))
            ]
            rest = self.node(items, resolver, ptr + "/items")
        elif isinstance(items, list):
            prefix = [self.node(x, resolver, f"{ptr}/items/{i}") for i, x in enumerate(items)]
            rest = self.node(s.get("additionalItems", True), resolver, ptr + "/additionalItems")
        else:
            rest = self.node(items, resolver, ptr + "/items")
        max_items = s.get("maxItems")
        return ArrM(
            prefix, rest, int(s.get("minItems", 0)), None if max_items is None else int(max_items)
        )

    def _string(self, s: dict, ptr: str, allowed):
        fmt = None
        if self.assert_formats and isinstance(s.get("format"), str):
            fmt = get_format(s["format"])
        pattern = s.get("pattern") if "pattern" in s else None
        max_len = s.get("maxLength")
        min_len = int(s.get("minLength", 0))
        if fmt is None and pattern is None and max_len is None and not min_len and allowed is None:
            return self.g_str
        matchers = [] if pattern is None else [matcher(pattern)]
        if fmt is not None and fmt.matcher is not None:
            matchers.append(fmt.matcher)
        return StrM(min_len, None if max_len is None else int(max_len), matchers, fmt, allowed)

    def _number(self, s: dict, integer: bool, allowed):
        lo = hi = None
        lo_x = hi_x = False
        if "minimum" in s:
            lo = s["minimum"]
            lo_x = s.get("exclusiveMinimum") is True
        if "maximum" in s:
            hi = s["maximum"]
            hi_x = s.get("exclusiveMaximum") is True
        xlo, xhi = s.get("exclusiveMinimum"), s.get("exclusiveMaximum")
        if _is_num(xlo) and (lo is None or xlo >= lo):
            lo, lo_x = xlo, True
        if _is_num(xhi) and (hi is None or xhi <= hi):
            hi, hi_x = xhi, True
        if lo is None and hi is None and not integer and allowed is None:
            return self.g_num
        flo = None if lo is None else to_fraction(lo)
        fhi = None if hi is None else to_fraction(hi)
        bounds = None
        if flo is not None or fhi is not None or integer:
            bounds = Bounds(flo, lo_x, fhi, hi_x, integer)
        raw = None if lo is None and hi is None else (lo, lo_x, hi, hi_x)
        return NumM(bounds, raw, integer, integer and self.draft.name == "draft-04", allowed)


def _is_num(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _plain(name: str) -> bool:
    """Whether a property name is written without escapes in JSON (no quote, backslash or
    control character)."""
    return not any(c in '"\\' or ord(c) < 0x20 for c in name)
