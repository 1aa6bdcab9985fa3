"""Rendering: the Renderer protocol, a registry of backends, and the default CPU backend (pybullet TinyRenderer)."""

from vantage.render.base import Background, Camera, Light, Renderer, RenderOutput, composite_background
from vantage.render.pybullet_backend import PyBulletRenderer
from vantage.render.registry import RENDERERS, create_renderer, register_renderer

__all__ = [
    "RENDERERS",
    "Background",
    "Camera",
    "Light",
    "PyBulletRenderer",
    "RenderOutput",
    "Renderer",
    "composite_background",
    "create_renderer",
    "register_renderer",
]
