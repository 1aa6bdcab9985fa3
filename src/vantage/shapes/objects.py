"""Household and handheld categories: display, lamp, loudspeaker, rifle, telephone (in-domain); guitar, mug (out).

Screens, drivers, lamp heads and soundholes face +X; long objects (rifle) point their business end to +X.
"""

from __future__ import annotations

import numpy as np

from vantage.shapes.core import CHARCOAL, DARK, GLASS, LIGHT, METAL, PAINT, WHITE, WOOD, Builder, register

_MIRROR = "mirror about the XZ plane (left/right); front vs back and top vs bottom are distinct"


@register("display", "in", _MIRROR + " (the screen faces +X, the stand is behind)")
def display(b: Builder) -> None:
    width, height, thick, stand_h = b.u(0.9, 1.4), b.u(0.55, 0.8), b.u(0.04, 0.08), b.u(0.15, 0.3)
    frame = b.color(CHARCOAL + METAL + WHITE)
    z = stand_h + height / 2
    b.box((thick, width, height), (0, 0, z), frame)
    b.box(
        (0.01, width * 0.93, height * 0.88), (thick / 2 + 0.005, 0, z), b.color([(0.05, 0.1, 0.25), (0.02, 0.02, 0.04)])
    )
    if b.chance(0.25):  # CRT-style back
        b.hull(
            [(-thick / 2, s * width * 0.45, z + t * height * 0.42) for s in (-1, 1) for t in (-1, 1)]
            + [(-thick / 2 - width * 0.4, s * width * 0.25, z + t * height * 0.25) for s in (-1, 1) for t in (-1, 1)],
            frame,
        )
    b.box((0.04, 0.08, stand_h + height * 0.3), (-thick / 2 - 0.03, 0, (stand_h + height * 0.3) / 2), frame)
    b.box((0.35, width * b.u(0.3, 0.45), 0.03), (-0.03, 0, 0.015), frame)


@register("lamp", "in", _MIRROR + " (the shade leans toward the front, +X)")
def lamp(b: Builder) -> None:
    metal, shade = b.color(METAL + CHARCOAL), b.color(PAINT + WHITE)
    base_r = b.u(0.15, 0.25)
    b.cylinder(base_r, 0.05, (0, 0, 0.025), metal, sections=24)
    b.box((0.04, 0.03, 0.02), (base_r * 0.7, 0, 0.06), b.color(DARK))  # switch on the front
    pole_h = b.u(0.6, 1.1)
    elbow = np.array([b.u(-0.15, 0.0), 0.0, pole_h])
    b.rod((0, 0, 0.05), elbow, 0.02, metal)
    head = elbow + np.array([b.u(0.2, 0.45), 0.0, b.u(0.05, 0.25)])
    b.rod(elbow, head, 0.018, metal)
    direction = np.array([b.u(0.4, 1.0), 0.0, -1.0])
    direction /= np.linalg.norm(direction)
    shade_h, shade_r = b.u(0.2, 0.3), b.u(0.12, 0.2)
    b.cone(shade_r, shade_h, head + direction * shade_h, shade, axis=-direction)
    b.sphere(0.05, head + direction * shade_h * 0.9, b.color(LIGHT, 0.0))


@register("loudspeaker", "in", _MIRROR + " (drivers on the front, +X; the woofer is at the bottom)")
def loudspeaker(b: Builder) -> None:
    width, depth, height = b.u(0.35, 0.6), b.u(0.3, 0.45), b.u(0.6, 1.2)
    body = b.color(WOOD + CHARCOAL + WHITE)
    feet = 0.04 if b.chance(0.5) else 0.0
    if feet:
        for y in (-width / 2 + 0.04, width / 2 - 0.04):
            b.box((depth * 0.9, 0.05, feet), (0, y, feet / 2), b.color(DARK))
    b.box((depth, width, height), (0, 0, feet + height / 2), body)
    x = depth / 2 + 0.01
    woofer_r = width * b.u(0.3, 0.4)
    wz = feet + height * 0.3
    b.cylinder(woofer_r, 0.03, (x, 0, wz), b.color(DARK, 0.02), axis="x")
    b.cylinder(woofer_r * 0.35, 0.04, (x + 0.01, 0, wz), b.color(METAL), axis="x")
    b.cylinder(woofer_r * 0.35, 0.03, (x, 0, feet + height * 0.72), b.color(DARK, 0.02), axis="x")
    if b.chance(0.6):
        b.cylinder(woofer_r * 0.6, 0.03, (x, 0, feet + height * 0.55), b.color(DARK, 0.02), axis="x")
    b.cylinder(0.03, 0.03, (x, width * 0.25, feet + height * 0.88), b.color(DARK, 0.02), axis="x")  # port


@register("rifle", "in", _MIRROR + " (muzzle at +X, butt at -X, magazine and grip below)")
def rifle(b: Builder) -> None:
    length = b.u(2.0, 2.6)
    metal, stock = b.color(CHARCOAL + METAL), b.color(WOOD + CHARCOAL)
    barrel_l = length * b.u(0.38, 0.5)
    b.cylinder(0.03, barrel_l, (length * 0.08 + barrel_l / 2, 0, 0.03), metal, axis="x")
    b.box((length * 0.28, 0.08, 0.14), (0, 0, 0.0), metal)  # receiver
    b.box((length * 0.22, 0.1, 0.1), (length * 0.2, 0, 0.0), stock)  # handguard
    butt = -length / 2
    b.prism([(-length * 0.14, 0.06), (-length * 0.14, -0.06), (butt, -0.2), (butt, 0.06)], 0.08, 0, stock)
    b.box((0.07, 0.06, 0.2), (-length * 0.09, 0, -0.14), stock, (0, -15, 0))  # grip
    if b.chance(0.7):
        b.box((0.1, 0.06, b.u(0.2, 0.35)), (length * 0.04, 0, -0.18), metal, (0, b.u(-15, 0), 0))
    if b.chance(0.6):
        b.cylinder(0.045, length * 0.22, (0.0, 0, 0.16), b.color(DARK, 0.02), axis="x")
        for dx in (-0.12, 0.12):
            b.box((0.04, 0.04, 0.08), (dx, 0, 0.1), metal)


@register(
    "telephone",
    "in",
    "none: the screen on the front (+X), the camera at the top-left back and the "
    "buttons on the +Y edge break both mirrors",
)
def telephone(b: Builder) -> None:
    height, width, thick = b.u(1.6, 2.0), b.u(0.75, 0.95), b.u(0.08, 0.12)
    body = b.color(CHARCOAL + METAL + WHITE + PAINT)
    stand = 0.2 if b.chance(0.35) else 0.0
    z = stand + height / 2
    if stand:
        b.prism([(-0.35, 0.0), (0.3, 0.0), (0.1, stand + 0.05), (-0.2, stand + 0.4)], width * 0.6, 0, b.color(METAL))
    b.box((thick, width, height), (0, 0, z), body)
    b.box((0.01, width * 0.9, height * 0.86), (thick / 2 + 0.005, 0, z), b.color([(0.03, 0.05, 0.12)], 0.02))
    b.cylinder(0.07, 0.02, (thick / 2 + 0.01, 0, stand + height * 0.04), b.color(METAL), axis="x")
    b.box((0.03, 0.2, 0.25), (-thick / 2 - 0.015, width * 0.25, stand + height * 0.85), b.color(DARK, 0.02))
    b.cylinder(0.05, 0.03, (-thick / 2 - 0.03, width * 0.25, stand + height * 0.9), b.color(GLASS), axis="x")
    for dz in (0.2, 0.32):
        b.box((thick * 0.5, 0.03, 0.09), (0, width / 2 + 0.01, stand + height * (0.5 + dz)), b.color(METAL))


@register("guitar", "out", _MIRROR + " (soundhole and strings on the front, +X; head at the top)")
def guitar(b: Builder) -> None:
    wood, dark = b.color(WOOD + PAINT), b.color(DARK, 0.02)
    thick, lower, upper = b.u(0.18, 0.26), b.u(0.38, 0.48), b.u(0.28, 0.36)
    b.cylinder(lower, thick, (0, 0, lower), wood, axis="x", sections=28)
    b.cylinder(upper, thick, (0, 0, lower * 1.7 + upper * 0.5), wood, axis="x", sections=28)
    face = thick / 2
    top = lower * 1.7 + upper * 1.3
    if b.chance(0.65):  # acoustic: soundhole
        b.cylinder(upper * 0.35, 0.02, (face, 0, lower * 1.55), dark, axis="x")
    else:  # electric: pickups
        for dz in (0.0, 0.18):
            b.box((0.02, 0.25, 0.07), (face, 0, lower * 1.2 + dz), b.color(WHITE + DARK, 0))
    b.box((0.04, 0.22, 0.06), (face, 0, lower * 0.7), dark)  # bridge
    neck_l = b.u(0.9, 1.2)
    b.box((0.06, 0.1, neck_l), (0, 0, top + neck_l / 2 - 0.05), b.color(WOOD))
    b.box((0.015, 0.09, neck_l), (0.035, 0, top + neck_l / 2 - 0.05), dark)
    head_z = top + neck_l + 0.08
    b.box((0.05, 0.16, 0.25), (-0.02, 0, head_z), wood, (0, -12, 0))
    for k in range(3):
        for s in (-1, 1):
            b.cylinder(0.018, 0.06, (-0.02, s * 0.1, head_z - 0.08 + k * 0.08), b.color(METAL), axis="y")


@register("mug", "out", "none: the handle on the +Y side and the print on the front (+X) break both mirrors")
def mug(b: Builder) -> None:
    radius, height = b.u(0.35, 0.5), b.u(0.7, 1.1)
    body = b.color(WHITE + PAINT)
    b.cylinder(radius, height, (0, 0, height / 2), body, sections=32)
    b.cylinder(radius * 0.88, 0.01, (0, 0, height + 0.002), b.color([(0.25, 0.13, 0.05)], 0.03), sections=32)
    b.torus(height * 0.28, radius * 0.12, (0, radius + height * 0.12, height * 0.52), body, axis="x")
    b.box((0.02, radius * 0.7, height * 0.35), (radius - 0.005, 0, height * 0.55), b.color(PAINT + DARK))
