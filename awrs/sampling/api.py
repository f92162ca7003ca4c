"""The public entry points: ``generate``, ``make_sampler`` and ``prepare``."""

from __future__ import annotations

import math
import numbers
import secrets
from typing import Callable, Sequence

from ..kernels import awrs as _awrs
from ..constraints.base import Constraint
from ..errors import ConfigurationError
from .budget import Budget
from .baselines import AWRSSampler, DirectSampler, Everything, MaskSampler, RerankSampler
from .population import Run, Stats
from .resample import check_scheme
from .sampler import Result, Sample, Sampler
from .smc import SMCSampler
from .token import check_estimator

__all__ = ["generate", "make_sampler", "prepare", "Result", "Sample", "METHODS"]

METHODS = ("smc", "awrs", "mask", "rerank", "direct")


def generate(lm, prompt: str | Sequence[int], constraint: Constraint | None = None, *,
             method: str = "smc", n_particles: int = 8, ess_threshold: float = 0.5,
             max_tokens: int = 256, temperature: float = 1.0, seed: int | None = None,
             critic: Callable[[str], float] | None = None, raw: bool = False,
             estimator: str = "auto", max_rejects: int | None = None,
             resampling: str = "stratified", progress: bool = False, budget: bool | str = True,
             budget_twist: bool | None = None, guide: bool | None = None) -> Result:
    """Generate text from ``lm``, optionally under a constraint.

    Methods:

    - ``"smc"``: ``n_particles`` particles with AWRS proposals and properly weighted
      incremental weights, resampled when the effective sample size drops below
      ``ess_threshold * n_particles``; the weighted particles approximate the model's
      distribution conditioned on the constraint.
    - ``"awrs"``: ``n_particles`` independent locally constrained samples (each token an exact
      draw from the model restricted to the accepted tokens, found with a few checks).
    - ``"mask"``: the same distribution by full token masks (``V`` checks per token).
    - ``"rerank"``: ``n_particles`` unconstrained samples, keeping those the constraint accepts.
    - ``"direct"``: ``n_particles`` unconstrained samples (no constraint allowed).

    Every method makes one batched model call per step for all live sequences. A sequence has
    at most ``max_tokens`` tokens, the end-of-sequence token included: SMC ends the sequences
    still going at that point with the end-of-sequence token, weighted by its probability and
    its acceptance; the other methods end them there if the constraint accepts them as
    complete, and leave them unfinished otherwise.

    Args:
        lm: a :class:`~awrs.models.base.LanguageModel`.
        prompt: text (chat template applied for chat models unless ``raw``) or token ids.
        constraint: an :class:`~awrs.constraints.base.Constraint`; ``None`` accepts everything.
        method: one of ``"smc", "awrs", "mask", "rerank", "direct"``.
        n_particles: particles (SMC) or independent samples, >= 1.
        ess_threshold: SMC resampling threshold in [0, 1] (0: never, 1: whenever ESS < N).
        max_tokens: token budget per sequence, >= 1.
        temperature: the model's sampling temperature, > 0.
        seed: reproduces the run exactly; ``None`` draws one (kept in ``stats.seed``).
        critic: SMC only: a function of the decoded prefix returning a log-weight, applied as
            a twist (replaced at each step) and as a final score at the end of sequence.
        raw: do not apply the chat template to a text prompt.
        estimator: SMC only: ``"auto"`` (geometric when the top probability is >= 2/3, else
            recursive), ``"two-pass"``, ``"recursive"`` or ``"geometric"``.
        max_rejects: awrs and SMC: rejected candidates tolerated per token (``None``: no
            bound); more kill the particle, with weights kept proper.
        resampling: SMC only: ``"stratified"``, ``"systematic"`` or ``"multinomial"``.
        progress: show a progress bar.
        budget: smc and awrs: propose only tokens after which the text can still be completed
            within ``max_tokens`` (end of sequence included), so that SMC targets the model
            conditioned on the constraint *and* the budget; ``stats.budget_pruned`` counts the
            tokens it rejected. ``True`` also closes texts in time along a known completion
            where the constraint has no exact bound (JSON, grammars, SQL: close-forcing,
            ``stats.budget_forced``; see :mod:`awrs.sampling.budget`); ``"sound"`` prunes only
            tokens proven unable to finish; ``False`` restores budget-unaware sampling. Other
            methods ignore it.
        budget_twist: SMC only (with ``budget=True``): tilt the weights by a heuristic
            probability of finishing in the budget left (a twist, cancelled when a particle
            finishes, so the target is unchanged). ``None`` (default): on for ``smc`` with
            ``budget=True``, off otherwise.
        guide: SMC only: tilt the weights by the constraint's own critic
            (``constraint.critic``, e.g. :class:`~awrs.SQL`'s schema critic), replaced at each
            step and cancelled when a particle finishes (the target is unchanged, unlike
            ``critic``, which also scores the finished text). ``None`` (default): on for
            ``smc`` when the constraint has a critic.

    Returns:
        A :class:`Result`; ``Result.empty`` flags a run where no complete text survived.

    Raises:
        ConfigurationError: an argument out of range, an unknown name, an option the method
            does not use, or a prompt that does not fit the model's context.
        ConstraintEvaluationError: the constraint raised (the prefix is attached).
        RewardError: the critic raised or returned NaN or +inf.
    """
    sampler = make_sampler(lm, prompt, constraint, method=method, n_particles=n_particles,
                           ess_threshold=ess_threshold, max_tokens=max_tokens,
                           temperature=temperature, seed=seed, critic=critic, raw=raw,
                           estimator=estimator, max_rejects=max_rejects, resampling=resampling,
                           progress=progress, budget=budget, budget_twist=budget_twist,
                           guide=guide)
    try:
        while not sampler.finished:
            sampler.step()
    except BaseException:
        sampler.run.close()
        raise
    return sampler.result()


def make_sampler(lm, prompt: str | Sequence[int], constraint: Constraint | None = None, *,
                 method: str = "smc", n_particles: int = 8, ess_threshold: float = 0.5,
                 max_tokens: int = 256, temperature: float = 1.0, seed: int | None = None,
                 critic: Callable[[str], float] | None = None, raw: bool = False,
                 estimator: str = "auto", max_rejects: int | None = None,
                 resampling: str = "stratified", progress: bool = False, budget: bool | str = True,
                 budget_twist: bool | None = None, guide: bool | None = None) -> Sampler:
    """A step-able :class:`~awrs.sampling.sampler.Sampler` for one generation.

    Arguments as :func:`generate` (validated the same way); drive it with
    ``while not s.finished: s.step()`` and read ``s.result()``, or hand it to a
    :class:`~awrs.sampling.scheduler.Scheduler` to share forwards with other samplers.
    """
    _check_options(method, n_particles, ess_threshold, max_tokens, temperature, estimator,
                   max_rejects, resampling, critic, constraint)
    budget_twist = _check_budget(method, budget, budget_twist)
    guide = _check_guide(method, guide, constraint)
    seed = _check_seed(seed)
    prompt_ids = _prompt_ids(lm, prompt, raw, max_tokens)
    if constraint is None and method != "direct":
        constraint = Everything()
    stats = Stats(method=method, seed=seed, n_particles=n_particles)
    run = Run(lm, prompt_ids, constraint, temperature=float(temperature), max_tokens=max_tokens,
              rng=_awrs.SplitMix64(seed), stats=stats, progress=progress,
              prune=method in ("smc", "awrs"))
    if budget and method in ("smc", "awrs") and not isinstance(constraint, Everything):
        # (unconstrained text may end at any token: nothing to keep feasible)
        run.budget = Budget(constraint, lm, stats, twist=budget_twist, force=budget is True)
    mr = 0 if max_rejects is None else int(max_rejects)
    if method == "smc":
        return SMCSampler(run, n_particles, ess_threshold=float(ess_threshold),
                          estimator=check_estimator(estimator), max_rejects=mr,
                          resampling=resampling, critic=critic, guide=guide)
    if method == "awrs":
        return AWRSSampler(run, n_particles, mr)
    if method == "mask":
        return MaskSampler(run, n_particles)
    if method == "rerank":
        return RerankSampler(run, n_particles)
    return DirectSampler(run, n_particles)


def prepare(constraint: Constraint, lm) -> None:
    """Compute once what every run of ``constraint`` on ``lm`` shares: the mask of tokens
    outside its alphabet, the vocabulary's byte tables and the completion bound of budget
    feasibility (a byte DFA's token distances cost ~40 ms for 1,000 states). Cached per
    (constraint, model) pair; without it the first :func:`generate` pays for them. A server
    or benchmark calls it when it builds a constraint."""
    from .budget import completion_bound
    from .token import pruning_mask, vocab_bytes, vocab_trie

    pruning_mask(constraint, lm)
    vocab_trie(lm)
    vocab_bytes(lm)
    completion_bound(constraint, lm)


# -- validation -------------------------------------------------------------------------------
def _is_int(x) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _check_options(method, n_particles, ess_threshold, max_tokens, temperature, estimator,
                   max_rejects, resampling, critic, constraint) -> None:
    if method not in METHODS:
        raise ConfigurationError(f"unknown method {method!r}: expected one of {METHODS}")
    if not _is_int(n_particles) or n_particles < 1:
        raise ConfigurationError(f"n_particles must be an integer >= 1, got {n_particles!r}")
    if not _is_int(max_tokens) or max_tokens < 1:
        raise ConfigurationError(f"max_tokens must be an integer >= 1, got {max_tokens!r}")
    if not isinstance(temperature, numbers.Real) or not (0 < temperature < math.inf):
        raise ConfigurationError(f"temperature must be a finite number > 0, got {temperature!r}")
    if not isinstance(ess_threshold, numbers.Real) or not 0 <= ess_threshold <= 1:
        raise ConfigurationError(f"ess_threshold must lie in [0, 1], got {ess_threshold!r}")
    check_estimator(estimator)
    check_scheme(resampling)
    if max_rejects is not None and (not _is_int(max_rejects) or max_rejects < 1):
        raise ConfigurationError(f"max_rejects must be None or an integer >= 1, got {max_rejects!r}")
    if critic is not None and not callable(critic):
        raise ConfigurationError(f"critic must be a function str -> float, got {critic!r}")
    if constraint is not None and not isinstance(constraint, Constraint):
        raise ConfigurationError(
            f"constraint must be an awrs Constraint (e.g. awrs.Regex, awrs.Predicate), "
            f"got {type(constraint).__name__}")
    if method != "smc":
        extra = [name for name, given in (("critic", critic is not None),
                                           ("estimator", estimator != "auto"),
                                           ("resampling", resampling != "stratified")) if given]
        if max_rejects is not None and method not in ("awrs",):
            extra.append("max_rejects")
        if extra:
            raise ConfigurationError(
                f"{', '.join(extra)} not used by method={method!r}: expected method='smc'"
                + (" or 'awrs'" if extra == ["max_rejects"] else ""))
    if method == "direct" and constraint is not None:
        raise ConfigurationError(
            "method='direct' samples without a constraint, got one: use method='rerank' to "
            "keep the direct samples it accepts, or 'smc' / 'awrs' / 'mask' to sample under it")


def _check_budget(method, budget, budget_twist) -> bool:
    """Whether the budget twist is on (``None``: on for smc with ``budget=True``)."""
    if not isinstance(budget, bool) and budget != "sound":
        raise ConfigurationError(f"budget must be True, False or 'sound', got {budget!r}")
    if budget_twist is None:
        return method == "smc" and budget is True
    if not isinstance(budget_twist, bool):
        raise ConfigurationError(
            f"budget_twist must be None, True or False, got {budget_twist!r}")
    if budget_twist and (method != "smc" or budget is not True):
        raise ConfigurationError(
            f"budget_twist=True needs method='smc' and budget=True, got method={method!r}, "
            f"budget={budget!r}")
    return budget_twist


def _check_guide(method, guide, constraint) -> Callable[[str], float] | None:
    """The constraint's critic when SMC uses it as a guide (``None``: when it has one)."""
    if guide is not None and not isinstance(guide, bool):
        raise ConfigurationError(f"guide must be None, True or False, got {guide!r}")
    critic = getattr(constraint, "critic", None)
    if guide and (method != "smc" or critic is None):
        raise ConfigurationError(
            f"guide=True needs method='smc' and a constraint with a critic, got "
            f"method={method!r}, constraint {type(constraint).__name__} "
            f"{'with' if critic is not None else 'without'} one")
    if guide is False or method != "smc" or critic is None:
        return None
    if not callable(critic):
        raise ConfigurationError(f"constraint.critic must be a function str -> float or None, "
                                 f"got {critic!r}")
    return critic


def _check_seed(seed) -> int:
    if seed is None:
        return secrets.randbits(63)
    if not _is_int(seed):
        raise ConfigurationError(f"seed must be an integer or None, got {seed!r}")
    return int(seed)


def _prompt_ids(lm, prompt, raw: bool, max_tokens: int) -> list[int]:
    if not isinstance(prompt, str):
        try:
            prompt = list(prompt)
        except TypeError:
            raise ConfigurationError(
                f"prompt must be a string or a list of token ids, got {type(prompt).__name__}"
            ) from None
        if not all(_is_int(t) for t in prompt):
            raise ConfigurationError(f"prompt token ids must be integers, got {prompt[:8]}...")
    ids = lm.prompt_ids(prompt, raw)
    if not ids:
        raise ConfigurationError("the prompt has no tokens: expected a non-empty prompt")
    limit = getattr(lm, "max_length", None)
    if limit is not None:
        if len(ids) > limit:
            raise ConfigurationError(
                f"prompt of {len(ids)} tokens is longer than the model's context of {limit} "
                "tokens")
        if len(ids) + max_tokens - 1 > limit:
            raise ConfigurationError(
                f"prompt of {len(ids)} tokens plus max_tokens={max_tokens} exceeds the model's "
                f"context of {limit} tokens: expected max_tokens <= {limit - len(ids) + 1}")
    return ids
