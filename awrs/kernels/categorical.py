"""Selector for the categorical sampling kernel (compiled unless AWRS_NO_EXTENSIONS is set)."""

from . import load_kernel

_impl = load_kernel("_categorical")
sample_categorical = _impl.sample_categorical
sample_categorical_batch = _impl.sample_categorical_batch
sample_categorical.__doc__ = load_kernel("_categorical", python=True).sample_categorical.__doc__

__all__ = ["sample_categorical", "sample_categorical_batch"]
