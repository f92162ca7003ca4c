"""Look-aheads at the start of the text, compiled exactly as automaton products.

A full match starts at position 0, so a look-ahead that only zero-width items precede sees
the whole text: ``(?=X)Y`` is ``L(Y) ∩ L(X (?s:.*))`` and ``(?!X)Y`` is
``L(Y) \\ L(X (?s:.*))`` — the anchors inside ``X`` keep their meaning, because ``X (?s:.*)``
is matched against the same text (``(?!(in|if)$)\\w+`` leaves out ``in`` and ``if`` but not
``int``, whose prefix ``in`` stays alive). Items before a start-of-text anchor that can match
the empty string must match it there, so a search wrapper ``(?s:.*)^(?!X)Y(?s:.*)`` is lifted
too.

The pattern is first rewritten into alternatives whose leading items are exposed: groups and
sequences are inlined and alternations holding a look-around are split (at most
:data:`MAX_ALTERNATIVES`). Each alternative's lifted look-aheads are compiled recursively (a
look-ahead may begin with one) and combined with :func:`~.subset.combine`; the alternatives
are joined by union. The two parsers (Python's ``re`` and the ``regex`` package) plug in
through ``classify``, ``build`` and ``star``; anything else (a look-ahead after a character,
a look-behind) is left in place for the builder to compile or refuse.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ...errors import ConstraintSizeError
from .subset import AND, MINUS, OR, CharDFA, combine

#: Item kinds returned by ``classify``.
START = "start"  # zero-width, holds only at position 0 (``\A``, ``^`` without MULTILINE)
ZERO = "zero"  # any other zero-width assertion (look-behinds included)
AHEAD = "ahead"  # a look-ahead: the argument is ``(positive, body items)``
SKIP = "skip"  # may match the empty string without assertions (``x*``, ``x{0,n}``)
INLINE = "inline"  # a group or sequence: the argument is its items
SPLIT = "split"  # an alternation holding a look-around: the argument is its branches
STOP = "stop"  # anything else

#: the most alternatives a pattern is split into to expose its leading look-aheads
MAX_ALTERNATIVES = 32
#: the most look-aheads lifted (nested ones and every alternative's counted)
MAX_LOOKAHEADS = 32


class _Budget:
    __slots__ = ("left",)

    def __init__(self):
        self.left = MAX_LOOKAHEADS


def alternatives(items: Sequence, classify: Callable, pattern: str):
    """``[(rest, lookaheads)]`` whose union is the language of ``items`` (a full match), each
    ``lookaheads`` a list of ``(positive, body)`` that hold at position 0; ``None`` when no
    look-ahead can be lifted (the caller compiles ``items`` as they are).

    Raises:
        ConstraintSizeError: more than :data:`MAX_ALTERNATIVES` alternatives.
    """
    done: list[tuple[list, list]] = []
    lifted = False
    work = [(list(items), 0)]
    while work:
        its, i = work.pop()
        while i < len(its):
            kind, arg = classify(its[i])
            if kind == INLINE:
                its[i : i + 1] = list(arg)
                continue
            if kind == SPLIT:
                if len(done) + len(work) + len(arg) > MAX_ALTERNATIVES:
                    raise ConstraintSizeError(
                        f"exposing the look-aheads of {pattern!r} splits it into more than "
                        f"{MAX_ALTERNATIVES} alternatives; expected fewer alternations "
                        f"holding look-arounds"
                    )
                for alt in list(arg)[:0:-1]:
                    work.append((its[:i] + list(alt) + its[i + 1 :], i))
                its[i : i + 1] = list(arg[0])
                continue
            if kind == STOP:
                break
            i += 1
        rest, looks = _lift(its, i, classify)
        lifted = lifted or bool(looks)
        done.append((rest, looks))
    return done if lifted else None


def _lift(its: list, lead: int, classify: Callable):
    """Split the look-aheads at position 0 off ``its`` (whose first ``lead`` items are
    zero-width or may match the empty string)."""
    kinds = [classify(x) for x in its[:lead]]
    anchor = max((k for k, (kind, _) in enumerate(kinds) if kind == START), default=-1)
    # before a start anchor, items that may match the empty string must match it
    keep = [k for k in range(len(its)) if not (k < anchor and kinds[k][0] == SKIP)]
    rest, looks, at_zero = [], [], True
    for k in keep:
        kind, arg = kinds[k] if k < lead else (STOP, None)
        if kind in (SKIP, STOP):
            at_zero = False
        if at_zero and kind == AHEAD:
            looks.append(arg)
        else:
            rest.append(its[k])
    return rest, looks


def compile_lifted(
    items: Sequence,
    *,
    classify: Callable,
    build: Callable,
    star: Callable,
    max_states: int,
    pattern: str,
    _budget: _Budget | None = None,
) -> CharDFA | None:
    """The minimal DFA of ``items`` (a full match) with its leading look-aheads lifted, or
    ``None`` when there is none to lift.

    ``build(items)`` compiles items without lifting; ``star(body)`` is ``body (?s:.*)``.

    Raises:
        ConstraintSizeError: too many alternatives, look-aheads, or product states.
    """
    budget = _budget or _Budget()
    alts = alternatives(items, classify, pattern)
    if alts is None:
        return None
    result = None
    for rest, looks in alts:
        d = build(rest)
        for positive, body in looks:
            if d.start < 0:
                break
            budget.left -= 1
            if budget.left < 0:
                raise ConstraintSizeError(
                    f"{pattern!r} has more than {MAX_LOOKAHEADS} look-aheads at the start of "
                    f"the text; expected fewer"
                )
            tail = star(body)
            x = compile_lifted(
                tail,
                classify=classify,
                build=build,
                star=star,
                max_states=max_states,
                pattern=pattern,
                _budget=budget,
            )
            if x is None:
                x = build(tail)
            d = combine(d, x, AND if positive else MINUS, max_states, pattern)
        result = d if result is None else combine(result, d, OR, max_states, pattern)
    return result
