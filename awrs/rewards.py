"""Rewards for best-of-k and SMC critics: callables, LLM judges, log-likelihood, validators,
drug-likeness (QED)."""

from __future__ import annotations

from .scaling.critics import Critic, as_critic
from .scaling.judge import DEFAULT_TEMPLATE, Judge, check_template
from .scaling.logprob import LogProb
from .scaling.qed import QED, QED_TEMPERATURE, qed_tilt
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
    "QED",
    "QED_TEMPERATURE",
    "qed_tilt",
    "Validator",
    "Combined",
    "weighted_sum",
    "Critic",
    "as_critic",
]
