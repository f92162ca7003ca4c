"""Selector for the LALR(1) shift/reduce kernel (see :mod:`awrs.kernels`).

The compiled ``_lalr_c`` (``csrc/_lalr_c.pyx``) or its twin ``_lalr_py``.
"""

from . import select

__all__ = ["LALRTables"]
(LALRTables,) = select("lalr", __all__)
