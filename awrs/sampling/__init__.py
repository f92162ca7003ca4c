"""Sampling: the AWRS token step, SMC over particles, the baselines and ``generate``."""

from .api import METHODS, Result, Sample, generate
from .population import Stats

__all__ = ["generate", "Result", "Sample", "Stats", "METHODS"]
