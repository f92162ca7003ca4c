"""Selector for the byte-DFA kernel (see :mod:`awrs.kernels`).

The compiled ``_dfa_c`` (``csrc/_dfa_c.pyx``) or its twin ``_dfa_py``.
"""

from . import select

__all__ = ["dfa_run", "dfa_run_batch", "dfa_token_mask"]
dfa_run, dfa_run_batch, dfa_token_mask = select("dfa", __all__)
