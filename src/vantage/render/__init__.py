"""Rendering: the Renderer protocol and the default CPU backend (pybullet TinyRenderer)."""

from vantage.render.base import Background, Camera, Light, Renderer, RenderOutput, composite_background
from vantage.render.pybullet_backend import PyBulletRenderer

__all__ = ["Background", "Camera", "Light", "PyBulletRenderer", "RenderOutput", "Renderer", "composite_background"]
