"""Rewards for best-of-k and SMC critics: callables, LLM judges, log-likelihood, validators."""

from __future__ import annotations

from .scaling.critics import Critic, as_critic
from .scaling.judge import DEFAULT_TEMPLATE, Judge, check_template
from .scaling.logprob import LogProb
from .scaling.reward import (
    Combined,
    Function,
    Reward,
    Validator,
    as_reward,
    batched,
    weighted_sum,
)

__all__ = [
    "Reward",
    "Function",
    "as_reward",
    "batched",
    "Judge",
    "DEFAULT_TEMPLATE",
    "check_template",
    "LogProb",
    "Validator",
    "Combined",
    "weighted_sum",
    "Critic",
    "as_critic",
]
