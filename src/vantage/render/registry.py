"""Renderer factory: backends register a constructor under a name; builds pick one by ``BuildConfig.renderer``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vantage.render.base import Renderer

__all__ = ["RENDERERS", "create_renderer", "register_renderer"]

RENDERERS: dict[str, Callable[..., Renderer]] = {}


def register_renderer(name: str) -> Callable[[Callable[..., Renderer]], Callable[..., Renderer]]:
    """Decorator: make a renderer class or factory available as ``name``."""

    def wrap(factory: Callable[..., Renderer]) -> Callable[..., Renderer]:
        RENDERERS[name] = factory
        return factory

    return wrap


def create_renderer(name: str, **kwargs: Any) -> Renderer:
    """A new renderer of backend ``name`` (``supersample`` and backend-specific keyword arguments)."""
    if name not in RENDERERS:
        raise ValueError(f"unknown renderer {name!r}; registered: {sorted(RENDERERS)}")
    return RENDERERS[name](**kwargs)
