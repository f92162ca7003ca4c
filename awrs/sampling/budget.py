"""Budget feasibility: propose a token only if the text can still finish within ``max_tokens``.

A token drawn with ``remaining`` tokens left (this one included) leaves ``remaining - 1``, of
which the last must be the end of sequence; so it is feasible iff its state can be completed
in ``remaining - 2`` tokens. Two tests, both on the state after the token:

- *sound pruning*: the constraint's :class:`~awrs.constraints.shortest.CompletionBound` is a
  lower bound on the tokens any completion needs (exact for byte DFAs; one token before the
  end a bounded walk of the vocabulary trie decides whether a single token completes the
  state). A token it prunes can never finish in time.
- *closing* (``close``, on by default, for constraints without an exact bound: JSON Schema,
  grammars, SQL): :class:`~awrs.constraints.closing.Closing` knows one short completion of the
  state and its cost in tokens; a token after which that completion no longer fits is pruned
  too. Every particle keeps a known way to finish, so a text that wanders (a long string, a
  growing list) is closed in time instead of ending with nothing. The cost is an upper bound on
  the shortest completion, so this may prune a token after which only some cleverer completion
  would fit: the target is then the model conditioned on the constraint and on its known
  completion fitting the budget at every step (``stats.budget_forced`` counts these prunings).

  A particle whose state has a known completion keeps one: a token is kept only if the state
  after it has a known completion that fits, found by its own search (each particle-step has a
  pool of :data:`CLOSE_ADVANCES` transitions) or the rest of the parent's, spelled in the
  fewest tokens. A token after which the search finds none (e.g. a name no table has), or that
  the spent pool leaves unverified, is pruned; the completion's first token always remains, so
  closing acts from the first token on, while the completion still fits with room to spare,
  not only once the budget proves a text cannot finish. A particle whose state has no known
  completion (its search failed at the start, or it came from a state that had none) is not
  pruned by closing and searches again after 1, 4, 16, 64, ... tokens (with a pool of
  :data:`RETRY_ADVANCES`), until it finds one.

Pruned tokens count as rejected, so the AWRS weight is the mass of the tokens that are both
accepted and feasible, and SMC targets the budget-conditioned distribution with proper weights.
When the rejection kernel falls back to an exact mask, the mask is that of the feasible
accepted tokens.

A sampler asks all of this of one object, the run's :class:`BudgetPolicy` (``run.budget``):
:class:`Budget` where budget feasibility is on (``budget=True`` or ``"sound"``), the base
class, which changes nothing, where it is off.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import cast

import numpy as np

from ..constraints.base import completion
from ..constraints.closing import Closing
from ..constraints.shortest import CompletionBound, one_token_completion
from .tables import ModelTables
from .token import FALLBACK_AFTER_KNOWN, Binding, Checker

#: verdicts of :meth:`Budget.verdict`: kept, pruned by the sound bound, pruned by closing
KEEP, PRUNED, CLOSING = 0, 1, 2
#: trie advances allowed per exact one-token search (beyond it the token is kept)
SEARCH_LIMIT = 1024
#: trie advances allowed to all one-token searches of one step together
STEP_SEARCH_LIMIT = 4096
#: completion-search transitions (:class:`~awrs.constraints.closing.Closing`) allowed to one
#: particle's step; past it, a state without a known completion is pruned unless the rest of
#: its parent's completion completes it (a fixed count, not a time, so that seeds reproduce)
CLOSE_ADVANCES = 4_000
#: what a search that finds nothing costs the pool at least: a particle-step runs at most
#: ``CLOSE_ADVANCES / FAILED_SEARCH`` of them (a model that keeps proposing names no table has
#: would otherwise pay a search for each, hints cost more than their transitions)
FAILED_SEARCH = 500
#: completion-search transitions allowed to the search of a state that came from one without a
#: known completion (searched again after 1, 4, 16, ... tokens: :meth:`Budget.descend`)
RETRY_ADVANCES = 1_000
#: closing stops for the rest of a run when, after this many searches of the states particles
#: reached, most found no completion (e.g. a pattern whose look-arounds the search cannot
#: satisfy): it would cost searches and prune nothing
CLOSE_PROBE = 24
#: how a state's known completion was learnt (:meth:`Budget._known`): searched, or the rest of
#: the parent's (known); searched in vain, or not searched for the pool was spent, from a
#: state with a known completion (unknown); nothing to go on (none)
KNOWN, UNKNOWN, NONE = range(3)
#: rejections tolerated per token at steps where the budget prunes with an inexact bound:
#: near the end most of the vocabulary may be infeasible, and scanning it all costs seconds;
#: beyond this the particle dies (``max_rejects``: the weights stay proper)
MAX_REJECTS = 512

#: a verdict cached without checking the token (:meth:`Budget.bind`: the search pool is spent)
UNCHECKED = -1

#: log twist of a state without a known completion (budget twist with closing)
UNKNOWN_TWIST = math.log(0.05)


def completion_bound(constraint, lm) -> CompletionBound:
    """The constraint's completion bound over the model's tokens (EOS excluded), computed once
    per (constraint, model) pair (:class:`~awrs.sampling.tables.ModelTables`)."""
    return ModelTables.of(lm).completion_bound(constraint)


def _never(n_checks: int) -> bool:
    return False


class BudgetPolicy:
    """How a run treats ``max_tokens``: what its sampler asks about the budget.

    This base class is the policy of a run without budget feasibility (``budget=False``,
    unconstrained text, or a method that ignores the budget): it binds the constraint's own
    check, prunes nothing and twists nothing. :class:`Budget` is the policy of the others.

    Attributes:
        mode: ``"on"`` (sound pruning and closing), ``"sound"`` (sound pruning only) or
            ``"off"``.
        twist: whether :meth:`retwist` tilts SMC's weights (the budget twist).
    """

    __slots__ = ()

    mode = "off"
    twist = False

    def bind_step(
        self, checker: Checker, state, ids: Sequence[int], remaining: int, max_rejects: int
    ):
        """The kernel's check for a particle at ``state`` (prefix ``ids``) with ``remaining``
        tokens left (this one included), restricted to the tokens the budget allows.

        Returns:
            ``(check, memo, max_rejects, gave_up)``: the check and its memo
            (:meth:`Checker.bind`), this step's rejection bound, and ``gave_up(n_checks)``:
            whether a step whose every candidate was rejected is the budget's doing (see
            :meth:`pruned_out`).
        """
        check, memo = checker.bind(state, ids)
        return check, memo, max_rejects, _never

    def pruned_out(self, gave_up: Callable[[int], bool], n_checks: int) -> bool:
        """Whether a particle whose every candidate was rejected after ``n_checks`` checks was
        pruned to completion by the budget (counted in ``stats.budget_dead``) rather than
        stopped at a dead end of the constraint."""
        return False

    def descend(self, parent, child) -> bool:
        """Note that a particle went from state ``parent`` to ``child`` (see
        :meth:`Budget.descend`)."""
        return False

    def retwist(self, checker: Checker, p, left: int) -> None:
        """Swap particle ``p``'s budget twist for its value at its new state (``left`` tokens
        left); nothing without the twist."""

    def untwist(self, p) -> float:
        """Remove particle ``p``'s budget twist (it cancels when the particle finishes) and
        return it, for the caller to take out of the weight."""
        twist, p.budget_twist = p.budget_twist, 0.0
        return twist

    def flush(self) -> None:
        """Settle the counts of the step that ended."""


class Budget(BudgetPolicy):
    """The budget policy of a run with budget feasibility: its checks, its state and its
    statistics (``stats.budget_*``), and the optional budget twist.

    Args:
        constraint, lm: the run's.
        stats: the run's :class:`~awrs.sampling.population.Stats`.
        twist: apply the budget twist (:meth:`log_twist`, SMC).
        search: run the exact one-token search where the bound is not exact.
        close: closing (mode ``"on"``); ``False``: sound pruning only (``"sound"``).
        tables: the model's :class:`~awrs.sampling.tables.ModelTables` (``None``: its own).

    Attributes:
        bound: the constraint's completion bound over the model's vocabulary.
        search: whether to run the exact one-token search where the bound is not exact.
        closing: the known completions used for closing (``None``: off, or the bound is
            exact).
    """

    __slots__ = (
        "constraint",
        "lm",
        "stats",
        "mode",
        "twist",
        "tables",
        "bound",
        "search",
        "closing",
        "eos",
        "_completion",
        "_cache",
        "_cache_key",
        "_search_left",
        "_dfa_seen",
        "_close_until",
        "_streak",
        "_reached",
    )

    def __init__(
        self,
        constraint,
        lm,
        stats,
        *,
        twist: bool = False,
        search: bool = True,
        close: bool = True,
        tables: ModelTables | None = None,
    ):
        self.constraint = constraint
        self.lm = lm
        self.stats = stats
        self.mode = "on" if close else "sound"
        self.twist = twist
        self.tables = tables if tables is not None else ModelTables.of(lm)
        self._completion = completion(constraint)
        self.bound = self.tables.completion_bound(constraint)
        self.search = search and not self.bound.exact
        # a fresh one per run: what a run computes does not depend on earlier runs
        self.closing = (
            Closing(constraint, self.tables.tokens) if close and not self.bound.exact else None
        )
        self.eos = frozenset(lm.eos_token_ids)
        #: this step's verdicts: (id(state), token) -> 1 kept, 0 pruned, UNCHECKED
        self._cache: dict[tuple[int, int], int] = {}
        self._cache_key: int | None = None
        self._search_left = STEP_SEARCH_LIMIT
        self._dfa_seen: dict[int, _DfaPruned] = {}
        self._close_until = CLOSE_ADVANCES
        #: closing key -> tokens since the particle's last state with a known completion
        self._streak: dict = {}
        #: searches of the states particles reached, and those that found nothing
        self._reached = [0, 0]

    @property
    def dfa_min_tokens(self):
        """(n_states,) int32 exact token distances of a byte-DFA constraint (``int32 max``:
        never completes), for kernels that check feasibility themselves; else ``None``."""
        return getattr(self.bound, "table", None)

    def active(self, remaining: int) -> bool:
        """Whether any token can be pruned with ``remaining`` tokens left (this one included)."""
        return self.closing is not None or self.provable(remaining)

    def provable(self, remaining: int) -> bool:
        """Whether the sound bound (or the one-token search) can prune a token with
        ``remaining`` tokens left (this one included)."""
        return remaining - 2 < self.bound.horizon + (1 if self.search else 0)

    def verdict(self, state, remaining: int, parent=None, token: bytes = b"") -> int:
        """:data:`KEEP`, :data:`PRUNED` (proven unable to finish in time) or :data:`CLOSING`
        (its known completion no longer fits, or it lost the parent's known completion) for
        ``state``, reached from ``parent`` by ``token`` with ``remaining`` tokens left (this one
        included)."""
        k = remaining - 2  # tokens that may come before the end of sequence
        lb = self.bound.min_tokens(state)
        if lb > k:
            return PRUNED
        if self.closing is not None:
            known, how = self._known(state, parent, token)
            if how == KNOWN:
                return KEEP if cast(int, known) <= k else CLOSING
            if how == UNKNOWN:
                return CLOSING
        if self.search and k == 1 and lb == 1 and self._search_left > 0:
            limit = min(SEARCH_LIMIT, self._search_left)
            self._search_left -= limit  # charged in full: a failed search walks its limit
            trie = self.tables.trie
            found = one_token_completion(self.constraint, state, trie, limit)
            return PRUNED if found is False else KEEP
        return KEEP

    def _known(self, state, parent, token: bytes) -> tuple[int | None, int]:
        """``(tokens, how)``: a known completion of ``state`` and how it was learnt
        (:data:`KNOWN`, :data:`UNKNOWN` or :data:`NONE`): the rest of the parent's completion
        when ``token`` begins it, else searched while the particle-step's pool lasts. A child
        of a state without a known completion is searched on the schedule of
        :meth:`descend`."""
        cl = cast(Closing, self.closing)  # called with closing on
        if parent is not None and self.descend(parent, state):
            return None, NONE
        up = cl.cached(parent) if parent is not None else None
        if up is not None and up[1] is not None and up[1].startswith(token):
            # the rest of the parent's completion: known, no search needed
            n = cl.learn(state, up[1][len(token) :])[0]
            if n is not None:
                return n, KNOWN
        hit = self._lookup(state)
        if hit is not None and hit[0] is not None:
            return hit[0], KNOWN
        if up is None or up[1] is None:
            return None, NONE  # the parent had no known completion either
        # searched in vain (whatever the token began cannot be closed), or not verified
        return None, UNKNOWN

    def descend(self, parent, child) -> bool:
        """Note that a particle went from ``parent`` to ``child`` (or may: a candidate);
        whether the child's search is put off. After a state without a known completion the
        search is retried after 1, 4, 16, 64, ... tokens (a failed search walks its whole
        limit, and a dead end's children are mostly dead ends too), not given up."""
        cl = self.closing
        if cl is None:
            return False
        up, pkey = cl.cached(parent), cl.key(parent)
        if up is None and pkey in self._streak:
            up = (None, None)  # its search was put off: no completion known either
        if up is None or up[0] is not None or cl.cached(child) is not None:
            return False
        key = cl.key(child)
        if key is None:
            return False
        n = self._streak.get(pkey, 0) + 1
        if len(self._streak) >= 100_000:
            self._streak.clear()
        self._streak[key] = n
        return not _power_of_4(n)

    def _lookup(self, state, reached: bool = False):
        """The state's cached ``(tokens, completion)``, else searched while the particle-step's
        pool lasts (``None``: past it; :data:`RETRY_ADVANCES` at most for a retry);
        ``reached``: a particle's own state (counted for :data:`CLOSE_PROBE`)."""
        cl = cast(Closing, self.closing)  # called with closing on
        left = self._close_until - cl.advances
        if left <= 0:
            return cl.cached(state)
        if reached and cl.key(state) in self._streak:
            left = min(left, RETRY_ADVANCES)
        searched = cl.searches
        hit = cl.entry(state, left)
        if cl.searches > searched and hit[0] is None:
            self._close_until -= FAILED_SEARCH  # (however few transitions it tried)
        if reached and cl.searches > searched:
            self._reached[0] += 1
            self._reached[1] += hit[0] is None
            n, failed = self._reached
            if n >= CLOSE_PROBE and 2 * failed > n:
                self.closing = None  # mostly unknown: closing is off for the rest of the run
        return hit

    def max_rejects(self, remaining: int, max_rejects: int, has_mask: bool = False) -> int:
        """The rejection bound for a step (``0``: none): :data:`MAX_REJECTS` where the budget
        may prune with an inexact bound and no exact mask of the feasible tokens bounds the
        work (``has_mask``), else ``max_rejects`` unchanged."""
        if self.bound.exact or not self.active(remaining) or has_mask:
            return max_rejects
        return min(max_rejects, MAX_REJECTS) if max_rejects else MAX_REJECTS

    def bind(
        self, checker: Checker, state, ids: Sequence[int], remaining: int
    ) -> tuple[Callable[[int], bool], dict, list[int] | _DfaPruned | None]:
        """:meth:`Checker.bind` with infeasible tokens rejected too.

        Returns:
            ``(check, memo, pruned)``: ``pruned[0]`` counts this particle's candidates
            rejected only for the budget (``None`` when no token can be pruned this step).
        """
        if not self.active(remaining):
            check, memo = checker.bind(state, ids)
            return check, memo, None
        if self._cache_key != remaining:  # a new step: states of the last one are gone
            self.flush()
            self._cache, self._cache_key = {}, remaining
            self._search_left = STEP_SEARCH_LIMIT
        if self.closing is not None:  # each particle-step searches with a pool of its own
            self._close_until = self.closing.advances + CLOSE_ADVANCES
        table = self.dfa_min_tokens
        if remaining < 2 and table is None:  # the last token: only the end of sequence
            return self._bind_final(checker, state, ids)
        if table is not None and checker.dfa_state(state):
            # exact distances checked inside the kernel (masks included): k = remaining - 2
            # tokens may come before the end of sequence
            checker.min_tokens = table
            check, memo = checker.bind(state, ids, remaining=remaining - 2)
            dfa_pruned = _DfaPruned(memo, table, remaining - 2, checker.eos_mask())
            self._dfa_seen[state] = dfa_pruned
            return check, memo, dfa_pruned
        binding, memo = checker.bind(state, ids)
        check = getattr(binding, "fn", binding)
        known = self._entry(checker, state, ids)
        if known is not None and known[0] > remaining - 2:  # no token to spare
            follow = self._follow(known, remaining)
            if follow:
                return self._bind_follow(checker, check, memo, follow, binding)
            # (its completion no longer fits: each token is judged by its own, below)
        if known is None and not self.provable(remaining):
            # no completion to close along and nothing provable: no pruning, no extra work
            return binding, memo, None
        cache, eos, pruned = self._cache, self.eos, [0]
        key0, vocab = id(state), checker.vocab
        tail = known[1] if known is not None else None

        def feasible_check(tok: int) -> bool:
            ok = cache.get((key0, tok))
            if (
                ok is None
                and tail is not None
                and tok not in eos
                and self._spent()
                and not tail.startswith(vocab[tok])
            ):
                # the pool is spent: a token off the known completion cannot be verified;
                # pruned unchecked (its state would cost a transition, on every token of a mask)
                ok = cache[key0, tok] = UNCHECKED
            if ok == UNCHECKED:
                pruned[0] += 1
                return False
            if not check(tok):
                return False
            if tok in eos:
                return True
            if ok is None:
                v = self._timed(checker, Checker.result(memo, tok), ids, tok, remaining, state)
                ok = cache[key0, tok] = int(v == KEEP)
                self._count(v, 1)
            pruned[0] += not ok
            return bool(ok)

        if known is None or getattr(binding, "get_mask", None) is None:
            # no exact mask (a mask of unknown states costs a check per accepted token, seconds
            # on SQL): bounded by MAX_REJECTS
            return feasible_check, memo, pruned

        def get_mask() -> np.ndarray:
            if self._spent():  # only tokens already judged, or following the completion, pass
                out = np.zeros(len(vocab), dtype=bool)
                ids_of, t = self.tables.token_ids, cast(bytes, tail)
                kept = [tok for (k, tok), ok in cache.items() if k == key0 and ok == 1]
                follow = [ids_of[t[:j]] for j in range(1, len(t) + 1) if t[:j] in ids_of]
                for tok in (*kept, *follow, *eos):
                    out[tok] = feasible_check(tok)
                return out
            return self._feasible_mask(
                checker, state, ids, binding.get_mask(), remaining, feasible_check, pruned
            )

        return Binding(feasible_check, binding.after, get_mask, checker), memo, pruned

    def _entry(self, checker: Checker, state, ids):
        """The state's known ``(tokens, completion)``, searched while the particle-step's pool
        lasts; ``None`` when unknown or closing is off."""
        if self.closing is None:
            return None
        t0 = time.perf_counter()
        try:
            hit = None if self._deferred(state) else self._lookup(state, reached=True)
        except Exception as exc:
            raise checker.fail(exc, ids, None, "(bounding its shortest completion)") from exc
        finally:
            checker.seconds += time.perf_counter() - t0
        if self.closing is None:  # just turned off
            return None
        return None if hit is None or hit[0] is None else hit

    def _spent(self) -> bool:
        """Whether the particle-step's search pool is spent."""
        cl = self.closing
        return cl is not None and cl.advances >= self._close_until

    def _deferred(self, state) -> bool:
        """Whether the search of a particle's state is put off (:meth:`descend`)."""
        cl = cast(Closing, self.closing)
        if cl.cached(state) is not None:
            return False
        n = self._streak.get(cl.key(state))
        return n is not None and not _power_of_4(n)

    def _follow(self, known, remaining: int) -> dict[int, bytes]:
        """Without slack (the known completion needs every token left): the tokens that follow
        that completion and leave the rest of it fitting, each with that rest."""
        spell = cast(Closing, self.closing).spell  # known: closing is on
        k, tail, ids_of = remaining - 2, known[1], self.tables.token_ids
        out = {}
        for j in range(1, len(tail) + 1):
            if tail[:j] in ids_of:
                rest = spell(tail[j:])
                if rest is not None and rest <= k:
                    out[ids_of[tail[:j]]] = tail[j:]
        return out

    def _bind_follow(self, checker: Checker, check, memo, follow: dict[int, bytes], binding):
        """The check (and exact mask) of a state without slack: only ``follow``, whose states
        learn the rest of the completion."""
        cl = cast(Closing, self.closing)
        stats, pruned = self.stats, [1]  # whatever is rejected, the budget had a hand in it

        def follow_check(tok: int) -> bool:
            if tok not in follow:
                if tok not in self.eos and check(tok):
                    stats.budget_pruned += 1
                    stats.budget_forced += 1
                return False
            if not check(tok):
                return False
            cl.learn(Checker.result(memo, tok), follow[tok])  # the rest of the completion
            return True

        if getattr(binding, "get_mask", None) is None:
            return follow_check, memo, pruned
        ok = [t for t in follow if follow_check(t)]  # (a token drawn from the mask is not
        mask = np.zeros(len(checker.vocab), dtype=bool)  # checked again: its state learns now)
        mask[ok] = True
        return Binding(follow_check, FALLBACK_AFTER_KNOWN, lambda: mask, checker), memo, pruned

    def _bind_final(self, checker: Checker, state, ids):
        """The check (and exact mask) of the last token: the end of sequence where the text
        is complete, nothing else (no other token is checked)."""
        binding, memo = checker.bind(state, ids)
        check, eos = getattr(binding, "fn", binding), self.eos

        def final_check(tok: int) -> bool:
            return tok in eos and check(tok)

        mask = np.zeros(len(checker.vocab), dtype=bool)
        mask[[t for t in eos if check(t)]] = True
        return Binding(final_check, 0, lambda: mask, checker), memo, [1]

    def _feasible_mask(
        self,
        checker: Checker,
        state,
        ids,
        accepted: np.ndarray,
        remaining: int,
        feasible_check,
        pruned: list[int],
    ) -> np.ndarray:
        """The exact mask of the accepted tokens that are feasible: tokens that leave the
        state's key unchanged share one verdict, the others are checked one by one."""
        out = accepted.copy()
        live = np.flatnonzero(accepted & ~checker.eos_mask())
        same = self._completion.unchanged_tokens(state, self.tables.trie)
        if same is not None:
            group = live[same[live]]
            live = live[~same[live]]
            v = self._timed(checker, state, ids, None, remaining) if len(group) else KEEP
            if v != KEEP:
                out[group] = False
                pruned[0] += len(group)
                self._count(v, len(group))
        for tok in live.tolist():
            if not feasible_check(tok):
                out[tok] = False
        return out

    def _count(self, verdict: int, n: int) -> None:
        if verdict != KEEP:
            self.stats.budget_pruned += n
            self.stats.budget_forced += n if verdict == CLOSING else 0

    def bind_step(
        self, checker: Checker, state, ids: Sequence[int], remaining: int, max_rejects: int
    ):
        """:meth:`bind` and this step's rejection bound (:meth:`max_rejects`).

        Returns:
            ``(check, memo, max_rejects, gave_up)``: ``gave_up(n_checks)`` tells whether a
            step whose every candidate was rejected is the budget's doing ("pruned to
            completion": feasibility pruned a candidate, or the budget's rejection cap hit)
            rather than a dead end of the constraint.
        """
        check, memo, pruned = self.bind(checker, state, ids, remaining)
        has_mask = isinstance(check, Binding) and check.get_mask is not None
        mr = self.max_rejects(remaining, max_rejects, has_mask)
        capped = mr != max_rejects

        def gave_up(n_checks: int) -> bool:
            return bool(pruned and pruned[0]) or (capped and n_checks >= mr)

        return check, memo, mr, gave_up

    def pruned_out(self, gave_up: Callable[[int], bool], n_checks: int) -> bool:
        if not gave_up(n_checks):
            return False
        self.stats.budget_dead += 1
        return True

    def retwist(self, checker: Checker, p, left: int) -> None:
        if not self.twist:
            return
        t0 = time.perf_counter()
        try:
            value = self.log_twist(p.state, left)
        except Exception as exc:
            raise checker.fail(exc, p.ids, None, "(bounding its shortest completion)") from exc
        finally:
            checker.seconds += time.perf_counter() - t0
        if value == -math.inf:  # proven unable to finish: the particle dies
            p.log_w, p.budget_twist = -math.inf, 0.0
            return
        p.log_w += value - p.budget_twist
        p.budget_twist = value

    def flush(self) -> None:
        """Count the DFA tokens the kernel pruned in the step that ended (``budget_pruned``)."""
        for pruned in self._dfa_seen.values():
            self.stats.budget_pruned += pruned[0]
        self._dfa_seen = {}

    def _timed(
        self, checker: Checker, state, ids, tok: int | None, remaining: int, parent=None
    ) -> int:
        t0 = time.perf_counter()
        try:
            token = checker.vocab[tok] if tok is not None else b""
            return self.verdict(state, remaining, parent, token)
        except Exception as exc:
            raise checker.fail(exc, ids, tok, "(bounding its shortest completion)") from exc
        finally:
            checker.seconds += time.perf_counter() - t0

    def log_twist(self, state, left: int) -> float:
        """log of a heuristic probability of finishing with ``left`` tokens left:
        ``(left + 1 - b) / (left + 1)`` for a completion bound ``b`` (1 when complete, falling
        linearly as the state needs more of what is left; ``-inf`` when it cannot finish).
        With closing, ``b`` is the known completion's length where one is known, and a
        state whose completion search found nothing gets :data:`UNKNOWN_TWIST` (a text that
        no short completion repairs, e.g. a name the schema lacks, rarely finishes)."""
        b = self.bound.min_tokens(state)
        if b + 1 > left:
            return -math.inf if b > 0 else 0.0
        hit = self.closing.cached(state) if self.closing is not None else None
        if hit is not None:
            if hit[0] is None:
                return UNKNOWN_TWIST
            b = min(max(b, hit[0]), left)
        return math.log((left + 1 - b) / (left + 1))


class _DfaPruned:
    """``pruned[0]``: tokens evaluated from a DFA state (by the kernel, in its memo) that the
    constraint accepts but that cannot finish within ``k`` more tokens."""

    __slots__ = ("memo", "table", "k", "eos")

    def __init__(self, memo, table, k: int, eos):
        self.memo, self.table, self.k, self.eos = memo, table, k, eos

    def __getitem__(self, i: int) -> int:
        live = (self.memo > 0) & ~self.eos
        return int(np.count_nonzero(self.table[self.memo[live]] > self.k))


def _power_of_4(n: int) -> bool:
    return n & (n - 1) == 0 and n.bit_length() % 2 == 1
