"""Selector for the LALR(1) shift/reduce kernel (compiled unless AWRS_NO_EXTENSIONS is set)."""

from . import load_kernel

_impl = load_kernel("_lalr")
LALRTables = _impl.LALRTables

__all__ = ["LALRTables"]
