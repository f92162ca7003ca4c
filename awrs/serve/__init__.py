"""``awrs serve``: an OpenAI-compatible HTTP server whose requests share each forward pass."""

from __future__ import annotations

__all__ = ["create_app", "Limits"]


def __getattr__(name: str):
    if name == "create_app":
        from .app import create_app

        return create_app
    if name == "Limits":
        from .plan import Limits

        return Limits
    raise AttributeError(f"module 'awrs.serve' has no attribute {name!r}")
