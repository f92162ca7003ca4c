"""Selector for the AWRS rejection kernel (see :mod:`awrs.kernels`).

The compiled ``_awrs_c`` (``csrc/_awrs_c.pyx``) or its twin ``_awrs_py``.
"""

from . import select

__all__ = [
    "SplitMix64",
    "DfaCheck",
    "awrs_step",
    "sample_token",
    "prepare",
    "FIRST",
    "TWO_PASS",
    "RECURSIVE",
    "GEOMETRIC",
    "AUTO",
]
(
    SplitMix64,
    DfaCheck,
    awrs_step,
    sample_token,
    prepare,
    FIRST,
    TWO_PASS,
    RECURSIVE,
    GEOMETRIC,
    AUTO,
) = select("awrs", __all__)
