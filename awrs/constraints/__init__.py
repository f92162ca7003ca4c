"""Constraints: the protocol, composition, and the built-in languages."""

from .base import Conjunction, Constraint, IncrementalConstraint, Predicate
from .trie import VocabTrie
from .whitespace import MaxWhitespace

__all__ = [
    "Constraint",
    "IncrementalConstraint",
    "Predicate",
    "Conjunction",
    "VocabTrie",
    "MaxWhitespace",
]
