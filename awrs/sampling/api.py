"""The public entry point: ``generate`` and its ``Result``."""

from __future__ import annotations

import math
import numbers
import secrets
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from ..kernels import awrs as _awrs
from ..constraints.base import Constraint
from ..errors import ConfigurationError
from .baselines import Everything, run_awrs, run_direct, run_mask, run_rerank
from .population import Particle, Run, Stats, log_weights
from .resample import check_scheme, log_mean_exp
from .smc import run_smc
from .token import check_estimator

METHODS = ("smc", "awrs", "mask", "rerank", "direct")


@dataclass(frozen=True, slots=True)
class Sample:
    """One generated sequence.

    Attributes:
        text: the decoded text (end-of-sequence token excluded).
        token_ids: the generated token ids (end-of-sequence token excluded).
        log_weight: SMC: the particle's final log weight; other methods: 0, or ``-inf`` for a
            sample that died (every candidate rejected) or that the constraint rejects (rerank).
        finished: whether the sequence ended with the end-of-sequence token.
    """

    text: str
    token_ids: tuple[int, ...]
    log_weight: float
    finished: bool


@dataclass(slots=True)
class Result:
    """What :func:`generate` returns.

    Attributes:
        text: the complete text of highest posterior probability (``None`` when empty).
        posterior: distinct complete text -> probability (duplicates merged), most probable
            first; SMC weighs particles by their weights, the other methods uniformly.
        samples: every particle or sample, finished or not, in population order.
        log_ml: SMC: estimate of the log probability that the model's output satisfies the
            constraint (with a critic: of the critic-tilted normaliser); rerank: log of the
            accepted fraction; ``nan`` for direct, awrs and mask.
        stats: a :class:`~awrs.sampling.population.Stats`.
        empty: no complete text survived (every particle dead or unfinished).
    """

    text: str | None
    posterior: dict[str, float]
    samples: list[Sample]
    log_ml: float
    stats: Stats
    empty: bool = field(default=False)


def generate(lm, prompt: str | Sequence[int], constraint: Constraint | None = None, *,
             method: str = "smc", n_particles: int = 8, ess_threshold: float = 0.5,
             max_tokens: int = 256, temperature: float = 1.0, seed: int | None = None,
             critic: Callable[[str], float] | None = None, raw: bool = False,
             estimator: str = "auto", max_rejects: int | None = None,
             resampling: str = "stratified", progress: bool = False) -> Result:
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

    Returns:
        A :class:`Result`; ``Result.empty`` flags a run where no complete text survived.

    Raises:
        ConfigurationError: an argument out of range, an unknown name, an option the method
            does not use, or a prompt that does not fit the model's context.
        ConstraintEvaluationError: the constraint raised (the prefix is attached).
        RewardError: the critic raised or returned NaN or +inf.
    """
    _check_options(method, n_particles, ess_threshold, max_tokens, temperature, estimator,
                   max_rejects, resampling, critic, constraint)
    seed = _check_seed(seed)
    prompt_ids = _prompt_ids(lm, prompt, raw, max_tokens)
    if constraint is None and method != "direct":
        constraint = Everything()
    stats = Stats(method=method, seed=seed, n_particles=n_particles)
    run = Run(lm, prompt_ids, constraint, temperature=float(temperature), max_tokens=max_tokens,
              rng=_awrs.SplitMix64(seed), stats=stats, progress=progress,
              prune=method in ("smc", "awrs"))
    mr = 0 if max_rejects is None else int(max_rejects)
    try:
        if method == "smc":
            particles = run_smc(run, n_particles, ess_threshold=float(ess_threshold),
                                estimator=check_estimator(estimator), max_rejects=mr,
                                resampling=resampling, critic=critic)
        elif method == "awrs":
            particles = run_awrs(run, n_particles, mr)
        elif method == "mask":
            particles = run_mask(run, n_particles)
        elif method == "rerank":
            particles = run_rerank(run, n_particles)
        else:
            particles = run_direct(run, n_particles)
    finally:
        run.close()
    return _result(run, particles, method)


def _result(run: Run, particles: list[Particle], method: str) -> Result:
    samples = [Sample(run.text(p.ids), tuple(p.ids), float(p.log_w), bool(p.finished))
               for p in particles]
    lw = log_weights(particles)
    ok = np.array([s.finished and s.log_weight > -math.inf for s in samples], dtype=bool)
    posterior: dict[str, float] = {}
    if ok.any():
        good = lw[ok] if method == "smc" else np.zeros(int(ok.sum()))
        w = np.exp(good - good.max())
        w /= w.sum()
        for s, wi in zip((s for s, k in zip(samples, ok) if k), w):
            posterior[s.text] = posterior.get(s.text, 0.0) + float(wi)
        posterior = dict(sorted(posterior.items(), key=lambda kv: -kv[1]))
    if method == "smc":
        log_ml = log_mean_exp(lw)
    elif method == "rerank":
        log_ml = math.log(ok.sum() / len(samples)) if ok.any() else -math.inf
    else:
        log_ml = math.nan
    text = next(iter(posterior)) if posterior else None
    return Result(text, posterior, samples, log_ml, run.stats, empty=not posterior)


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
