"""The awrs exception hierarchy: one root, subclasses that also derive from the matching
built-in."""

from __future__ import annotations


class AwrsError(Exception):
    """Root of every error raised by awrs."""


class ConfigurationError(AwrsError, ValueError):
    """An argument has a value outside what is expected."""


class ModelLoadError(AwrsError, OSError):
    """A model or tokenizer could not be found or loaded."""


class UnsupportedModelError(AwrsError, TypeError):
    """A model lacks what awrs needs (a causal-LM head, a byte-mappable vocabulary)."""


class ConstraintError(AwrsError, ValueError):
    """A constraint could not be built (malformed pattern, grammar or schema)."""


class UnsupportedFeatureError(ConstraintError, NotImplementedError):
    """A constraint uses syntax or a keyword awrs refuses rather than ignores."""


class ConstraintSizeError(ConstraintError, MemoryError):
    """A constraint would exceed a size limit (e.g. an exploding DFA)."""


class ConstraintTimeoutError(ConstraintError, TimeoutError):
    """Building a constraint ran past its bound (time or steps), e.g. a schema DDL statement."""


class ConstraintEvaluationError(AwrsError, RuntimeError):
    """A constraint raised while checking a prefix; the prefix is attached."""

    def __init__(self, message: str, prefix: bytes | None = None):
        super().__init__(message)
        self.prefix = prefix


class RewardError(AwrsError, ValueError):
    """A reward function failed or returned an invalid value."""


__all__ = [
    "AwrsError",
    "ConfigurationError",
    "ModelLoadError",
    "UnsupportedModelError",
    "ConstraintError",
    "UnsupportedFeatureError",
    "ConstraintSizeError",
    "ConstraintTimeoutError",
    "ConstraintEvaluationError",
    "RewardError",
    "DeadlineExceeded",
]


class DeadlineExceeded(AwrsError, TimeoutError):
    """Work ran past its deadline, or its caller cancelled it (a client went away)."""
