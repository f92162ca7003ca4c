"""Sequential Monte Carlo over particles with AWRS proposals, optional critic twists."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import cast

from ..errors import RewardError
from .population import Particle, Run, log_weights
from .resample import ess, log_mean_exp, resample
from .sampler import Sampler
from .token import Checker, awrs_token, eos_log_weight


def _critic_value(critic: Callable[[str], float], text: str) -> float:
    try:
        value = float(critic(text))
    except Exception as exc:
        raise RewardError(f"critic raised {type(exc).__name__}: {exc} on prefix {text!r}") from exc
    if math.isnan(value) or value == math.inf:
        raise RewardError(
            f"critic returned {value} on prefix {text!r}: expected a finite log-weight or -inf"
        )
    return value


def _retwist(run: Run, p: Particle, critic, guide=None) -> None:
    """Swap the particle's previous twist for the critic's value on its current text, plus the
    guide's while the particle is unfinished (the guide cancels at completion)."""
    if (critic is None and guide is None) or p.log_w == -math.inf:
        return
    text = run.text(p.ids)
    value = 0.0 if critic is None else _critic_value(critic, text)
    if guide is not None and not p.finished and value > -math.inf:
        value += _critic_value(guide, text)
    p.log_w += value - p.twist
    p.twist = value


def _extend(
    run: Run,
    probs,
    row: int,
    p: Particle,
    estimator: int,
    max_rejects: int,
    last: bool,
    remaining: int,
) -> None:
    """Advance one live particle by one token and add its incremental log weight.

    ``remaining``: tokens left in the budget, this one included (for the run's budget policy,
    which restricts the proposal and keeps the particle's budget twist).
    """
    checker = cast(Checker, run.checker)  # SMC is constrained: set
    budget = run.budget
    if last:  # the budget is spent: end of sequence, weighted by its probability
        inc = eos_log_weight(probs, row, run.eos)
        if inc > -math.inf and not checker.complete(p.state, p.ids):
            inc = -math.inf
        p.log_w += inc - budget.untwist(p)
        p.finished = p.log_w > -math.inf
        if inc == -math.inf:
            run.stats.out_of_budget += 1
        return
    check, memo, max_rejects, gave_up = budget.bind_step(
        checker, p.state, p.ids, remaining, max_rejects
    )
    tok, log_w, n_checks = awrs_token(probs, row, run.rng, check, estimator, max_rejects)
    p.log_w += log_w
    if tok < 0:
        if not budget.pruned_out(gave_up, n_checks):
            run.stats.dead += 1
        return
    if tok in run.eos_set:
        p.finished = True
        p.log_w -= budget.untwist(p)  # the twist cancels at completion
    else:
        p.ids.append(tok)
        parent, p.state = p.state, checker.result(memo, tok)
        budget.descend(parent, p.state)
        budget.retwist(checker, p, remaining - 1)


class SMCSampler(Sampler):
    """Sequential Monte Carlo with ``n`` particles, one step at a time.

    Each step extends every live particle with an AWRS proposal and multiplies its weight by
    the unbiased estimate of the accepted mass (times the critic's change, if any). When the
    effective sample size falls below ``ess_threshold * n`` the population is resampled and
    every weight is set to the log-mean-exp of the weights, which keeps the
    marginal-likelihood estimate unbiased. Finished particles keep their weight and take part
    in resampling; particles that reach ``max_tokens`` end with the end-of-sequence token,
    weighted by its probability and its acceptance. The run's budget policy (``run.budget``,
    :mod:`awrs.sampling.budget`) restricts proposals to tokens after which the text can still
    finish in time, and its twist tilts the weights towards particles likely to finish
    (cancelled when they do). A ``guide`` (the constraint's :attr:`~awrs.Constraint.guide`)
    twists like the critic but cancels when a particle finishes.
    """

    method = "smc"

    def __init__(
        self,
        run: Run,
        n: int,
        *,
        ess_threshold: float,
        estimator: int,
        max_rejects: int,
        resampling: str,
        critic: Callable[[str], float] | None,
        guide: Callable[[str], float] | None = None,
    ):
        start = run.start_state()
        super().__init__(run, [Particle([], start) for _ in range(n)])
        self.n = n
        self.ess_threshold = ess_threshold
        self.estimator = estimator
        self.max_rejects = max_rejects
        self.resampling = resampling
        self.critic = critic
        self.guide = guide

    def _advance(self, probs, live, last) -> None:
        run = self.run
        for row, p in enumerate(live):
            _extend(
                run,
                probs,
                row,
                p,
                self.estimator,
                self.max_rejects,
                last,
                run.max_tokens - self.step_index,
            )
            _retwist(run, p, self.critic, self.guide)
        e = ess(log_weights(self.particles))
        run.stats.ess.append(e)
        if e == 0.0 or not any(p.alive for p in self.particles):
            return
        if e < self.ess_threshold * self.n:
            self.particles = resample_population(self.particles, self.resampling, run.rng)
            run.stats.resampled.append(self.step_index)


def resample_population(particles: list[Particle], scheme: str, rng) -> list[Particle]:
    """Offspring of the particles by ``scheme``, each weighted by the log-mean-exp weight.

    Keeps the mean weight (so the marginal-likelihood estimate stays unbiased); particles of
    weight 0 have no offspring; offspring are copies sharing the (immutable) states.
    """
    lw = log_weights(particles)
    mean = log_mean_exp(lw)
    out = [particles[a].copy() for a in resample(lw, scheme, rng)]
    for p in out:
        p.log_w = mean
    return out
