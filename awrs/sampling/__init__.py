"""Sampling: the AWRS token step, SMC over particles, the baselines, step-able samplers,
the scheduler and ``generate``."""

from ..request import METHODS
from .api import generate, make_sampler
from .population import Stats
from .sampler import Result, Sample, Sampler
from .scheduler import Scheduler

__all__ = [
    "generate",
    "make_sampler",
    "Sampler",
    "Scheduler",
    "Result",
    "Sample",
    "Stats",
    "METHODS",
]
