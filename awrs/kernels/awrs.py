"""Selector for the AWRS rejection kernel (compiled unless AWRS_NO_EXTENSIONS is set)."""

from . import load_kernel

_impl = load_kernel("_awrs")
_twin = load_kernel("_awrs", python=True)

SplitMix64 = _impl.SplitMix64
awrs_step = _impl.awrs_step
sample_token = _impl.sample_token
prepare = _impl.prepare
DfaCheck = _impl.DfaCheck
FIRST, TWO_PASS, RECURSIVE, GEOMETRIC, AUTO = (
    _twin.FIRST, _twin.TWO_PASS, _twin.RECURSIVE, _twin.GEOMETRIC, _twin.AUTO)
for _name in ("awrs_step", "sample_token", "prepare", "DfaCheck"):
    try:
        getattr(_impl, _name).__doc__ = getattr(_twin, _name).__doc__
    except (AttributeError, TypeError):  # pragma: no cover - builtins without writable docs
        pass

__all__ = ["SplitMix64", "DfaCheck", "awrs_step", "sample_token", "prepare",
           "FIRST", "TWO_PASS", "RECURSIVE", "GEOMETRIC", "AUTO"]
