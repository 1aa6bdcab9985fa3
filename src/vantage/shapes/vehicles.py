"""Vehicle categories: airplane, car, watercraft (in-domain); bus, motorcycle, rocket, train, truck (out).

Every vehicle drives or flies toward +X; its right-hand side is -Y.
"""

from __future__ import annotations

import numpy as np

from vantage.shapes.core import CHARCOAL, DARK, GLASS, LIGHT, METAL, PAINT, RED_LIGHT, WHITE, Builder, register

_MIRROR = "mirror about the XZ plane (left/right); front vs back and top vs bottom are distinct"


def _wheels(b: Builder, xs: list[float], half_width: float, radius: float, width: float = 0.12) -> None:
    tyre, hub = b.color(DARK, 0.02), b.color(METAL)
    for x in xs:
        for y in (-half_width, half_width):
            b.cylinder(radius, width, (x, y, radius), tyre, axis="y")
            b.cylinder(radius * 0.5, width + 0.02, (x, y, radius), hub, axis="y")


def _lights(b: Builder, x_front: float, x_back: float, half_width: float, z: float, size: float = 0.08) -> None:
    for y in (-half_width, half_width):
        b.box((0.03, size * 1.4, size), (x_front, y, z), b.color(LIGHT, 0.0))
        b.box((0.03, size * 1.4, size), (x_back, y, z), b.color(RED_LIGHT, 0.0))


@register("airplane", "in", _MIRROR + " (nose, tail fin and cockpit break the rest)")
def airplane(b: Builder) -> None:
    length, r = b.u(1.6, 2.4), b.u(0.1, 0.16)
    body, accent = b.color(WHITE + METAL), b.color(PAINT)
    b.cylinder(r, length, (0, 0, 0), body, axis="x")
    b.cone(r, b.u(0.25, 0.45), (length / 2, 0, 0), body, axis="x")
    b.cone(r, b.u(0.3, 0.5), (-length / 2, 0, 0), body, axis=(-1, 0, 0))
    b.box((0.18, r * 1.2, r * 0.5), (length / 2 - 0.05, 0, r * 0.75), b.color(GLASS))  # cockpit glazing
    span, chord, taper = b.u(1.6, 2.6), b.u(0.3, 0.5), b.u(0.35, 0.7)
    sweep, wx, wz, t = b.u(0.0, 0.45), b.u(-0.15, 0.15), r * b.rng.choice([-0.6, 0.0, 0.6]), 0.04
    for s in (-1, 1):
        tip_x = wx - sweep
        pts = [(x, 0, z) for x in (wx - chord / 2, wx + chord / 2) for z in (wz - t / 2, wz + t / 2)]
        pts += [(x, s * span / 2, wz) for x in (tip_x - chord * taper / 2, tip_x + chord * taper / 2)]
        b.hull(pts, accent)
    tail_x, fin_h = -length / 2 + 0.1, b.u(0.3, 0.5)
    b.hull(
        [
            (tail_x - 0.25, 0, r * 0.5),
            (tail_x + 0.2, 0, r * 0.5),
            (tail_x - 0.15, 0, r + fin_h),
            (tail_x - 0.3, 0, r + fin_h),
            (tail_x, 0.02, r),
            (tail_x, -0.02, r),
        ],
        accent,
    )
    stab = b.u(0.5, 0.8)
    for s in (-1, 1):
        b.hull(
            [
                (tail_x - 0.2, 0, 0),
                (tail_x + 0.15, 0, 0),
                (tail_x - 0.2, s * stab / 2, 0),
                (tail_x - 0.05, s * stab / 2, 0),
                (tail_x, 0, 0.03),
            ],
            accent,
        )
    engines = int(b.rng.choice([0, 2, 4]))
    for k in range(engines // 2):
        y = span * (0.22 + 0.16 * k)
        for s in (-1, 1):
            b.cylinder(
                r * 0.45,
                chord * 0.9,
                (wx - sweep * y / (span / 2) + chord * 0.15, s * y, wz - r * 0.55),
                b.color(METAL),
                axis="x",
            )


@register("car", "in", _MIRROR + " (head and tail lights, windscreen slope break the rest)")
def car(b: Builder) -> None:
    length, width, height = b.u(1.6, 2.2), b.u(0.75, 0.95), b.u(0.28, 0.4)
    wheel_r = b.u(0.15, 0.21)
    z0, paint = wheel_r * 0.9, b.color(PAINT)
    top = z0 + height
    b.prism(
        [
            (-length / 2, z0),
            (length / 2, z0),
            (length / 2, z0 + height * 0.65),
            (length / 2 - 0.2, top),
            (-length / 2, top),
            (-length / 2, z0 + height * 0.3),
        ],
        width,
        0,
        paint,
    )
    cab_len, cab_h, cab_x = length * b.u(0.42, 0.6), b.u(0.22, 0.34), length * b.u(-0.18, 0.0)
    b.prism(
        [
            (cab_x - cab_len / 2, top),
            (cab_x + cab_len / 2 + 0.25, top),
            (cab_x + cab_len / 2 - 0.02, top + cab_h),
            (cab_x - cab_len / 2 + 0.12, top + cab_h),
        ],
        width * 0.86,
        0,
        b.color(GLASS),
    )
    b.box((cab_len * 0.75, width * 0.87, 0.03), (cab_x + 0.03, 0, top + cab_h), paint)  # roof
    axle = length / 2 - wheel_r * 1.5
    _wheels(b, [-axle, axle], width / 2 - 0.04, wheel_r)
    _lights(b, length / 2, -length / 2, width * 0.32, z0 + height * 0.45)


@register("watercraft", "in", _MIRROR + " (pointed bow, superstructure and mast placement break the rest)")
def watercraft(b: Builder) -> None:
    length, width, depth = b.u(1.8, 2.6), b.u(0.45, 0.7), b.u(0.25, 0.4)
    hull = b.color(PAINT + WHITE)
    pts = []
    for s in (-1, 1):
        pts += [
            (-length / 2, s * width / 2, depth),
            (-length / 2, s * width * 0.35, 0),
            (length * 0.15, s * width / 2, depth),
            (length * 0.15, s * width * 0.3, 0),
        ]
    pts += [(length / 2, 0, depth * 1.2), (length * 0.35, 0, 0)]
    b.hull(pts, hull)
    b.box((length * 0.64, width * 0.9, 0.02), (-length * 0.02, 0, depth), b.color(METAL))  # deck
    if b.chance(0.4):  # sailboat
        mast_x, mast_h = length * b.u(0.0, 0.15), b.u(1.2, 1.8)
        b.rod((mast_x, 0, depth), (mast_x, 0, depth + mast_h), 0.025, b.color(METAL))
        b.hull(
            [
                (mast_x - 0.03, 0.01, depth + 0.15),
                (mast_x - 0.03, -0.01, depth + 0.15),
                (mast_x - length * 0.45, 0, depth + 0.15),
                (mast_x - 0.03, 0, depth + mast_h),
            ],
            b.color(WHITE),
        )
        b.box((length * 0.2, width * 0.5, 0.15), (-length * 0.3, 0, depth + 0.075), b.color(WHITE))
    else:  # motor vessel with a bridge and a funnel
        cab_x, cab_l, cab_h = length * b.u(-0.25, -0.05), length * b.u(0.2, 0.35), b.u(0.2, 0.35)
        b.box((cab_l, width * 0.7, cab_h), (cab_x, 0, depth + cab_h / 2), b.color(WHITE))
        b.box((0.02, width * 0.6, cab_h * 0.3), (cab_x + cab_l / 2 + 0.01, 0, depth + cab_h * 0.7), b.color(DARK))
        if b.chance(0.6):
            b.cylinder(0.08, b.u(0.2, 0.35), (cab_x - cab_l * 0.2, 0, depth + cab_h + 0.1), b.color(PAINT))


@register("bus", "out", "none: the passenger door on the right (-Y) side breaks the left/right mirror")
def bus(b: Builder) -> None:
    length, width, height, wheel_r = b.u(2.2, 3.0), b.u(0.7, 0.85), b.u(0.8, 1.0), b.u(0.16, 0.2)
    z0, paint, glass = wheel_r * 0.8, b.color(PAINT), b.color(GLASS)
    b.box((length, width, height), (0, 0, z0 + height / 2), paint)
    for s in (-1, 1):
        b.box((length * 0.78, 0.02, height * 0.3), (-length * 0.06, s * width / 2, z0 + height * 0.7), glass)
    b.box((0.02, width * 0.86, height * 0.42), (length / 2, 0, z0 + height * 0.68), glass)
    b.box((0.02, width * 0.6, height * 0.08), (length / 2, 0, z0 + height * 0.95), b.color(LIGHT, 0.0))
    b.box((0.25, 0.02, height * 0.8), (length / 2 - 0.25, -width / 2, z0 + height * 0.45), b.color(DARK))
    axle = length / 2 - wheel_r * 2.0
    _wheels(b, [-axle, axle] + ([-axle + wheel_r * 2.3] if b.chance(0.4) else []), width / 2 - 0.04, wheel_r)
    _lights(b, length / 2, -length / 2, width * 0.36, z0 + height * 0.15)


@register("motorcycle", "out", "none: the exhaust on the right (-Y) side breaks the left/right mirror")
def motorcycle(b: Builder) -> None:
    base, r = b.u(1.2, 1.5), b.u(0.26, 0.32)
    tyre, metal, paint = b.color(DARK, 0.02), b.color(METAL), b.color(PAINT)
    for x in (-base / 2, base / 2):
        b.torus(r * 0.8, r * 0.22, (x, 0, r), tyre, axis="y")
        b.cylinder(r * 0.2, 0.1, (x, 0, r), metal, axis="y")
    b.box((0.4, 0.22, 0.28), (0.0, 0, r * 1.05), metal)  # engine
    b.sphere(0.2, (0.12, 0, r * 2.0), paint, scale=(1.5, 0.75, 0.6))  # tank
    b.box((0.5, 0.22, 0.08), (-0.3, 0, r * 1.95), b.color(DARK))  # seat
    b.rod((-base / 2, 0, r), (-0.05, 0, r * 1.7), 0.035, metal)  # rear swing arm / frame
    fork_top = (base / 2 - 0.22, 0, r * 2.5)
    for s in (-1, 1):
        b.rod((base / 2, s * 0.07, r), (fork_top[0], s * 0.07, fork_top[2]), 0.025, metal)
    b.rod((fork_top[0] - 0.05, -0.33, fork_top[2] + 0.05), (fork_top[0] - 0.05, 0.33, fork_top[2] + 0.05), 0.02, metal)
    b.sphere(0.08, (fork_top[0] + 0.08, 0, fork_top[2] - 0.08), b.color(LIGHT, 0.0))
    b.rod((0.1, -0.16, r * 0.75), (-base / 2 - 0.05, -0.16, r * 0.95), 0.045, metal)  # exhaust
    b.box((0.35, 0.2, 0.03), (base / 2 - 0.05, 0, r * 2.05), paint)  # front mudguard


@register("rocket", "out", "mirror about the XZ plane; the window on the +X side breaks the fins' turn symmetry")
def rocket(b: Builder) -> None:
    height, r = b.u(2.0, 3.0), b.u(0.18, 0.28)
    body, accent = b.color(WHITE + METAL), b.color(PAINT)
    b.cylinder(r, height, (0, 0, height / 2), body)
    b.cone(r, b.u(0.4, 0.8), (0, 0, height), accent)
    b.cylinder(r * 1.02, height * 0.08, (0, 0, height * 0.55), accent)
    b.cone(r * 0.7, 0.25, (0, 0, 0.0), b.color(DARK), axis=(0, 0, -1))
    n_fins, fin_h, fin_w = int(b.rng.choice([3, 4])), b.u(0.4, 0.7), b.u(0.25, 0.45)
    for k in range(n_fins):
        a = np.deg2rad(180.0 + 360.0 * k / n_fins)  # fins point away from the window (+X)
        d, n = np.array([np.cos(a), np.sin(a), 0.0]), np.array([-np.sin(a), np.cos(a), 0.0]) * 0.015
        root_lo, root_hi, tip = d * r, d * r + [0, 0, fin_h], d * (r + fin_w)
        b.hull(
            [
                root_lo + n,
                root_lo - n,
                root_hi + n,
                root_hi - n,
                tip + n + [0, 0, -0.1],
                tip - n + [0, 0, -0.1],
                tip + n + [0, 0, fin_h * 0.3],
                tip - n + [0, 0, fin_h * 0.3],
            ],
            accent,
        )
    b.cylinder(r * 0.35, 0.06, (r, 0, height * 0.75), b.color(GLASS), axis="x")


@register("train", "out", _MIRROR + " (the driver's cab and headlight mark the front)")
def train(b: Builder) -> None:
    length, width, height, wheel_r = b.u(2.2, 3.0), b.u(0.6, 0.75), b.u(0.7, 0.9), b.u(0.12, 0.16)
    z0, paint = wheel_r * 1.6, b.color(PAINT)
    b.box((length, width * 1.05, 0.1), (0, 0, z0), b.color(DARK))
    n_wheels = b.i(3, 4)
    _wheels(b, [(-0.4 + 0.8 * k / (n_wheels - 1)) * length for k in range(n_wheels)], width / 2 - 0.05, wheel_r, 0.08)
    if b.chance(0.5):  # diesel / electric with a sloped nose
        b.prism(
            [
                (-length / 2, z0),
                (length / 2, z0),
                (length / 2, z0 + height * 0.45),
                (length / 2 - 0.35, z0 + height),
                (-length / 2, z0 + height),
            ],
            width,
            0,
            paint,
        )
        b.prism(
            [
                (length / 2 - 0.01, z0 + height * 0.5),
                (length / 2 - 0.33, z0 + height * 0.97),
                (length / 2 - 0.36, z0 + height * 0.95),
                (length / 2 - 0.05, z0 + height * 0.5),
            ],
            width * 0.8,
            0,
            b.color(GLASS),
        )
    else:  # steam engine: boiler in front, cab behind, chimney on top
        boiler_l = length * 0.62
        b.cylinder(width * 0.38, boiler_l, (length / 2 - boiler_l / 2, 0, z0 + width * 0.45), paint, axis="x")
        b.cylinder(0.08, height * 0.45, (length / 2 - 0.2, 0, z0 + width * 0.8 + height * 0.15), b.color(DARK))
        cab_l = length - boiler_l
        b.box((cab_l, width, height), (-length / 2 + cab_l / 2, 0, z0 + height / 2), b.color(CHARCOAL + PAINT))
        b.box((0.02, width * 0.6, height * 0.25), (-length / 2 + cab_l, 0, z0 + height * 0.75), b.color(GLASS))
    b.sphere(0.07, (length / 2 + 0.01, 0, z0 + height * 0.3), b.color(LIGHT, 0.0))


@register("truck", "out", _MIRROR + " (the cab marks the front)")
def truck(b: Builder) -> None:
    length, width, wheel_r = b.u(2.0, 2.8), b.u(0.75, 0.9), b.u(0.18, 0.24)
    z0 = wheel_r * 0.9
    cab_l, cab_h = b.u(0.5, 0.7), b.u(0.75, 0.95)
    cab_x = length / 2 - cab_l / 2
    b.box((cab_l, width, cab_h), (cab_x, 0, z0 + cab_h / 2), b.color(PAINT))
    b.box((0.02, width * 0.85, cab_h * 0.35), (length / 2, 0, z0 + cab_h * 0.72), b.color(GLASS))
    for s in (-1, 1):
        b.box((cab_l * 0.5, 0.02, cab_h * 0.3), (cab_x + 0.05, s * width / 2, z0 + cab_h * 0.72), b.color(GLASS))
    cargo_l = length - cab_l - 0.05
    b.box((cargo_l, width * 0.95, 0.08), (-length / 2 + cargo_l / 2, 0, z0 + 0.04), b.color(DARK))
    if b.chance(0.7):  # box body
        box_h = b.u(0.9, 1.2)
        b.box((cargo_l, width, box_h), (-length / 2 + cargo_l / 2, 0, z0 + 0.08 + box_h / 2), b.color(WHITE + PAINT))
    else:  # open flatbed with side boards
        for s in (-1, 1):
            b.box((cargo_l, 0.04, 0.25), (-length / 2 + cargo_l / 2, s * width / 2, z0 + 0.2), b.color(METAL))
    _wheels(
        b, [length / 2 - cab_l / 2, -length / 2 + wheel_r * 1.3, -length / 2 + wheel_r * 3.6], width / 2 - 0.05, wheel_r
    )
    _lights(b, length / 2, -length / 2, width * 0.35, z0 + 0.2)
