"""The public entry points: ``generate``, ``make_sampler`` and ``prepare``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..constraints.base import Constraint
from ..kernels import awrs as _awrs
from ..request import METHODS, SamplingOptions, encode_prompt, with_options
from .baselines import AWRSSampler, DirectSampler, Everything, MaskSampler, RerankSampler
from .budget import Budget
from .population import Run, Stats
from .sampler import Result, Sample, Sampler
from .smc import SMCSampler
from .token import check_estimator

__all__ = ["generate", "make_sampler", "prepare", "Result", "Sample", "METHODS"]

Prompt = str | Sequence[int] | Sequence[Mapping[str, str]]


@with_options
def generate(
    lm,
    prompt: Prompt,
    constraint: Constraint | None = None,
    *,
    options: SamplingOptions | None = None,
    **keywords: Any,
) -> Result:
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
        prompt: text (chat template applied for chat models unless ``raw``), token ids, or
            chat messages (a list of ``{"role", "content"}`` dicts; chat template applied).
        constraint: an :class:`~awrs.constraints.base.Constraint`; ``None`` accepts everything.
        options: a :class:`~awrs.request.SamplingOptions` (the defaults when ``None``).
        **keywords: its fields, set one by one (over ``options``): ``method``,
            ``n_particles``, ``ess_threshold``, ``max_tokens``, ``temperature``, ``seed``,
            ``critic``, ``raw``, ``estimator``, ``max_rejects``, ``resampling``,
            ``progress``, ``budget``, ``budget_twist``, ``guide``; each is described on
            :class:`~awrs.request.SamplingOptions`.

    Returns:
        A :class:`Result`; ``Result.empty`` flags a run where no complete text survived.

    Raises:
        ConfigurationError: an argument out of range, an unknown name, an option the method
            does not use, or a prompt that does not fit the model's context.
        ConstraintEvaluationError: the constraint raised (the prefix is attached).
        RewardError: the critic raised or returned NaN or +inf.
    """
    sampler = make_sampler(
        lm, prompt, constraint, options=SamplingOptions.of(options, keywords, "generate")
    )
    try:
        while not sampler.finished:
            sampler.step()
    except BaseException:
        sampler.run.close()
        raise
    return sampler.result()


@with_options
def make_sampler(
    lm,
    prompt: Prompt,
    constraint: Constraint | None = None,
    *,
    options: SamplingOptions | None = None,
    **keywords: Any,
) -> Sampler:
    """A step-able :class:`~awrs.sampling.sampler.Sampler` for one generation.

    Arguments as :func:`generate` (validated the same way); drive it with
    ``while not s.finished: s.step()`` and read ``s.result()``, or hand it to a
    :class:`~awrs.sampling.scheduler.Scheduler` to share forwards with other samplers.
    """
    o = SamplingOptions.of(options, keywords, "make_sampler")
    method = o.method
    guide = o.check_constraint(constraint)
    seed = o.draw_seed()
    prompt_ids = encode_prompt(lm, prompt, o.raw, o.max_tokens)
    if constraint is None and method != "direct":
        constraint = Everything()
    stats = Stats(method=method, seed=seed, n_particles=o.n_particles)
    run = Run(
        lm,
        prompt_ids,
        constraint,
        temperature=float(o.temperature),
        max_tokens=o.max_tokens,
        rng=_awrs.SplitMix64(seed),
        stats=stats,
        progress=o.progress,
        prune=method in ("smc", "awrs"),
    )
    if o.budget and method in ("smc", "awrs") and not isinstance(constraint, Everything):
        # (unconstrained text may end at any token: nothing to keep feasible)
        run.budget = Budget(
            constraint, lm, stats, twist=o.twist, close=o.budget is True, tables=run.tables
        )
    mr = 0 if o.max_rejects is None else int(o.max_rejects)
    if method == "smc":
        return SMCSampler(
            run,
            o.n_particles,
            ess_threshold=float(o.ess_threshold),
            estimator=check_estimator(o.estimator),
            max_rejects=mr,
            resampling=o.resampling,
            critic=o.critic,
            guide=guide,
        )
    if method == "awrs":
        return AWRSSampler(run, o.n_particles, mr)
    if method == "mask":
        return MaskSampler(run, o.n_particles)
    if method == "rerank":
        return RerankSampler(run, o.n_particles)
    return DirectSampler(run, o.n_particles)


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
