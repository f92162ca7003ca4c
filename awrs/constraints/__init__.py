"""Constraints: the protocol, composition, and the built-in languages."""

from .base import Conjunction, Constraint, IncrementalConstraint, Predicate
from .trie import VocabTrie

__all__ = ["Constraint", "IncrementalConstraint", "Predicate", "Conjunction", "VocabTrie"]
