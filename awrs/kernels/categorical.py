"""Selector for the categorical sampling kernel (see :mod:`awrs.kernels`).

The compiled ``_categorical_c`` (``csrc/_categorical_c.pyx``) or its twin ``_categorical_py``.
"""

from . import select

__all__ = ["sample_categorical", "sample_categorical_batch"]
sample_categorical, sample_categorical_batch = select("categorical", __all__)
