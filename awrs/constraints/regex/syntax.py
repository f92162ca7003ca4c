"""The ``regex`` package's own parse tree: parsing, walking and rewriting it, and the exact
code-point set of a one-character item."""

from __future__ import annotations

import functools

from ...errors import ConstraintSizeError
from . import charset as cs

__all__ = ["parse", "run_set", "walk", "subst", "replace", "check_expansion", "MAX_EXPANSION"]


def core():
    from regex import _regex, _regex_core

    return _regex, _regex_core


def parse(pattern: str, flags: int):
    """``(tree, info, version)`` as the ``regex`` package parses ``pattern``."""
    _, R = core()
    gflags = flags
    while True:
        try:
            source = R.Source(pattern)
            info = R.Info(gflags, source.char_type, {})
            info.guess_encoding = R.UNICODE
            source.ignore_space = bool(info.flags & R.VERBOSE)
            tree = R._parse_pattern(source, info)
            break
        except R._UnscopedFlagSet:
            gflags = info.global_flags
    version = (info.flags & R._ALL_VERSIONS) or R.DEFAULT_VERSION
    if not info.flags & R._ALL_ENCODINGS:
        info.flags |= R.UNICODE
    tree.fix_groups(pattern, False, False)
    return tree, info, version


@functools.lru_cache(maxsize=1)
def _haystack() -> str:
    return cs._all_chars()


@functools.lru_cache(maxsize=1024)
def run_set(node, flags: int) -> cs.Ranges:
    """The code points one-character ``node`` matches: the runs of ``node+`` over all of them."""
    _regex, R = core()
    code = R._flatten_code(R.GreedyRepeat(node, 1, None).compile(False) + [(R.OP.SUCCESS,)])
    rx = _regex.compile("", flags, code, {}, {}, {}, [], 0, (), 0, 0)
    return tuple((m.start(), m.end() - 1) for m in rx.finditer(_haystack()))


def char_types():
    _, R = core()
    return (R.Character, R.Property, R.Range, R.SetBase, R.Any)


def children(n, R):
    for k, v in vars(n).items():
        if k == "info":
            continue
        if isinstance(v, R.RegexBase):
            yield k, v
        elif isinstance(v, (list, tuple)) and not isinstance(n, R.SetBase):
            for x in v:
                if isinstance(x, R.RegexBase):
                    yield k, x


def walk(n, R):
    """Every node under ``n`` (``n`` included), depth first."""
    stack = [n]
    while stack:
        x = stack.pop()
        yield x
        if not isinstance(x, R.SetBase):
            stack.extend(c for _, c in children(x, R))


def rebuild(n, R, fn):
    """A copy of ``n`` with ``fn`` applied to each child (``fn`` returns the new child)."""
    import copy

    m = copy.copy(n)
    for k, v in vars(n).items():
        if k == "info" or isinstance(n, R.SetBase):
            continue
        if isinstance(v, R.RegexBase):
            setattr(m, k, fn(v))
        elif isinstance(v, (list, tuple)) and any(isinstance(x, R.RegexBase) for x in v):
            setattr(m, k, type(v)(fn(x) if isinstance(x, R.RegexBase) else x for x in v))
    return m


def subst(n, g: int, w: tuple[int, ...], R, group=None):
    """``n`` with group ``g`` and its references replaced by the literal ``w`` (the group by
    ``group(w)`` when given)."""
    if isinstance(n, R.Group) and n.group == g:
        return R.String(w) if group is None else group(w)
    if isinstance(n, R.RefGroup) and n.group == g:
        return R.String(w)
    return rebuild(n, R, lambda c: subst(c, g, w, R, group))


def replace(n, old, new, R):
    if n is old:
        return new
    return rebuild(n, R, lambda c: replace(c, old, new, R))


#: the most items a pattern may expand to (repeat counts multiplied out) before the regex
#: package is asked to compile it: its compile time grows with the expansion (~1 s a million)
MAX_EXPANSION = 2_000_000


def check_expansion(pattern: str, flags: int = 0, limit: int = MAX_EXPANSION) -> None:
    """Refuse patterns whose repeat counts multiply out past ``limit`` items.

    Raises:
        ConstraintSizeError: the expansion exceeds ``limit``. Patterns the parser rejects
            pass through (the caller's compile reports them).
    """
    _, R = core()
    try:
        tree, _, _ = parse(pattern, flags)
    except Exception:  # malformed: reported by the real compile
        return

    def size(n) -> int:
        if isinstance(n, R.GreedyRepeat):
            hi = n.max_count if n.max_count is not None else n.min_count + 1
            return max(1, hi) * size(n.subpattern)
        if isinstance(n, R.String):
            return max(1, len(n.characters))
        total = 1
        for v in vars(n).values():
            if isinstance(v, R.RegexBase):
                total += size(v)
            elif isinstance(v, (list, tuple)) and not isinstance(n, R.SetBase):
                total += sum(size(x) for x in v if isinstance(x, R.RegexBase))
        return total

    try:
        n = size(tree)
    except RecursionError as exc:
        raise ConstraintSizeError(f"the pattern {pattern!r} nests too deeply") from exc
    if n > limit:
        raise ConstraintSizeError(
            f"the pattern {pattern!r} expands to {n} items (repeat "
            f"counts multiplied out), more than {limit}; expected a "
            f"smaller pattern"
        )
