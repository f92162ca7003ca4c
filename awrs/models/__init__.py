"""Language models: the interface, the Hugging Face backend, toy models and loading."""

from .base import LanguageModel, chat
from .toy import ToyLM

__all__ = ["LanguageModel", "ToyLM", "chat", "HFLanguageModel", "load_model"]


def __getattr__(name):
    if name == "HFLanguageModel":
        from .hf import HFLanguageModel

        return HFLanguageModel
    if name == "load_model":
        from .loading import load_model

        return load_model
    raise AttributeError(name)
