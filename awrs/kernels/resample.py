"""Selector for the resampling kernels (see :mod:`awrs.kernels`).

The compiled ``_resample_c`` (``csrc/_resample_c.pyx``) or its twin ``_resample_py``.
"""

from . import select

__all__ = ["multinomial", "stratified", "systematic"]
multinomial, stratified, systematic = select("resample", __all__)
