"""Furniture categories: bench, cabinet, chair, sofa, table (in-domain); bathtub, bed, bookshelf, piano (out).

Seats face +X (a person sitting looks toward +X), storage opens toward +X, beds have the head at -X.
"""

from __future__ import annotations

import math

from vantage.shapes.core import CHARCOAL, DARK, FABRIC, LIGHT, METAL, PAINT, WHITE, WOOD, Builder, register

_MIRROR = "mirror about the XZ plane (left/right); front vs back and top vs bottom are distinct"


def _legs(b: Builder, half_x: float, half_y: float, height: float, thick: float, color, round_: bool = False) -> None:
    for x in (-half_x, half_x):
        for y in (-half_y, half_y):
            if round_:
                b.cylinder(thick / 2, height, (x, y, height / 2), color, sections=10)
            else:
                b.box((thick, thick, height), (x, y, height / 2), color)


@register("bench", "in", _MIRROR + " (the backrest is at the back, -X)")
def bench(b: Builder) -> None:
    width, depth, seat_h, t = b.u(1.4, 2.2), b.u(0.4, 0.55), b.u(0.4, 0.5), 0.06
    wood, frame = b.color(WOOD), b.color(METAL + CHARCOAL)
    b.box((depth, width, t), (0, 0, seat_h), wood)
    if b.chance(0.5):
        _legs(b, depth / 2 - 0.05, width / 2 - 0.1, seat_h, 0.06, frame)
    else:
        for y in (-width / 2 + 0.1, width / 2 - 0.1):
            b.box((depth * 0.9, 0.06, seat_h), (0, y, seat_h / 2), frame)
    back_h, tilt = b.u(0.35, 0.5), b.u(0.0, 15.0)
    for k in range(b.i(2, 3)):
        z = seat_h + 0.12 + k * back_h / 3
        b.box(
            (0.04, width, back_h / 4), (-depth / 2 + 0.02 - 0.2 * (z - seat_h) * tilt / 15, 0, z), wood, (0, -tilt, 0)
        )
    for y in (-width / 2 + 0.1, width / 2 - 0.1):
        b.box((0.05, 0.05, back_h + 0.1), (-depth / 2 + 0.02, y, seat_h + back_h / 2), frame)
    if b.chance(0.4):
        for y in (-width / 2 + 0.05, width / 2 - 0.05):
            b.box((depth * 0.9, 0.05, 0.04), (0, y, seat_h + 0.22), frame)
            b.box((0.04, 0.04, 0.22), (depth * 0.4, y, seat_h + 0.11), frame)


@register("cabinet", "in", _MIRROR + " (doors, drawers and handles are on the front, +X)")
def cabinet(b: Builder) -> None:
    width, depth, height = b.u(0.8, 1.4), b.u(0.4, 0.6), b.u(0.8, 1.8)
    body, front, handle = b.color(WOOD + PAINT), b.color(WOOD + WHITE + PAINT), b.color(METAL)
    legs = b.u(0.05, 0.15) if b.chance(0.5) else 0.0
    if legs:
        _legs(b, depth / 2 - 0.04, width / 2 - 0.04, legs, 0.04, b.color(DARK))
    b.box((depth, width, height), (0, 0, legs + height / 2), body)
    b.box((depth + 0.04, width + 0.04, 0.03), (0.02, 0, legs + height + 0.015), body)
    x = depth / 2 + 0.012
    n_drawers = b.i(0, 3)
    drawer_h = height * 0.15
    for k in range(n_drawers):
        z = legs + height - drawer_h * (k + 0.5) - 0.02
        b.box((0.02, width * 0.92, drawer_h * 0.85), (x, 0, z), front)
        b.box((0.03, width * 0.2, 0.025), (x + 0.02, 0, z), handle)
    door_h = height - n_drawers * drawer_h - 0.06
    if door_h > 0.2:
        n_doors = b.i(1, 2)
        door_w = width * 0.92 / n_doors
        for k in range(n_doors):
            y = -width * 0.46 + door_w * (k + 0.5)
            b.box((0.02, door_w * 0.95, door_h * 0.95), (x, y, legs + 0.03 + door_h / 2), front)
            hy = y + (door_w * 0.35 if (k == 0 and n_doors == 2) or n_doors == 1 else -door_w * 0.35)
            b.box((0.03, 0.025, min(0.2, door_h * 0.3)), (x + 0.02, hy, legs + 0.03 + door_h * 0.6), handle)


@register("chair", "in", _MIRROR + " (the backrest is at the back, -X)")
def chair(b: Builder) -> None:
    size, seat_h, t = b.u(0.45, 0.6), b.u(0.42, 0.5), 0.05
    seat, frame = b.color(WOOD + FABRIC), b.color(WOOD + METAL + CHARCOAL)
    b.box((size, size, t), (0, 0, seat_h), seat)
    if b.chance(0.25):  # office chair: column and star base
        b.cylinder(0.035, seat_h - 0.08, (0, 0, (seat_h - 0.08) / 2 + 0.06), frame)
        for k in range(5):
            a = 2 * math.pi * k / 5
            b.rod((0, 0, 0.05), (0.42 * size * math.cos(a), 0.42 * size * math.sin(a), 0.03), 0.025, frame)
    else:
        _legs(b, size / 2 - 0.03, size / 2 - 0.03, seat_h, b.u(0.035, 0.06), frame, round_=b.chance(0.4))
    back_h, tilt = b.u(0.4, 0.6), b.u(0.0, 12.0)
    back_x = -size / 2 + 0.025
    if b.chance(0.5):
        b.box((0.04, size, back_h), (back_x - 0.015 * tilt / 12, 0, seat_h + back_h / 2), seat, (0, -tilt, 0))
    else:
        for y in (-size / 2 + 0.025, size / 2 - 0.025):
            b.box((0.04, 0.04, back_h), (back_x, y, seat_h + back_h / 2), frame)
        for k in range(b.i(2, 4)):
            b.box((0.03, size, 0.05), (back_x, 0, seat_h + back_h * (0.35 + 0.6 * k / 3)), seat)
    if b.chance(0.35):
        for y in (-size / 2, size / 2):
            b.box((size * 0.8, 0.05, 0.04), (0, y, seat_h + 0.22), frame)
            b.box((0.04, 0.04, 0.22), (size * 0.3, y, seat_h + 0.11), frame)


@register("sofa", "in", _MIRROR + " (the backrest is at the back, -X)")
def sofa(b: Builder) -> None:
    width, depth, base_h = b.u(1.6, 2.4), b.u(0.8, 1.0), b.u(0.3, 0.4)
    fabric, cushion = b.color(FABRIC), b.color(FABRIC)
    legs = 0.08
    _legs(b, depth / 2 - 0.06, width / 2 - 0.06, legs, 0.05, b.color(DARK + WOOD))
    b.box((depth, width, base_h), (0, 0, legs + base_h / 2), fabric)
    arm_w, arm_h = b.u(0.12, 0.25), b.u(0.15, 0.3)
    back_t, back_h = b.u(0.15, 0.25), b.u(0.35, 0.5)
    b.box((back_t, width, back_h), (-depth / 2 + back_t / 2, 0, legs + base_h + back_h / 2), fabric)
    for s in (-1, 1):
        b.box((depth, arm_w, arm_h), (0, s * (width / 2 - arm_w / 2), legs + base_h + arm_h / 2), fabric)
    n = b.i(2, 3)
    inner = width - 2 * arm_w
    for k in range(n):
        y = -inner / 2 + inner * (k + 0.5) / n
        b.box((depth - back_t - 0.04, inner / n - 0.03, 0.12), (back_t / 2, y, legs + base_h + 0.06), cushion)


@register(
    "table",
    "in",
    "mirror about the XZ plane; the drawer on the front (+X) breaks the near 180-degree "
    "turn symmetry about Z (round tops are rotationally symmetric but for the drawer)",
)
def table(b: Builder) -> None:
    height, top_t = b.u(0.7, 0.8), 0.05
    wood, leg = b.color(WOOD + WHITE), b.color(WOOD + METAL + CHARCOAL)
    if b.chance(0.3):
        radius = b.u(0.5, 0.75)
        b.cylinder(radius, top_t, (0, 0, height), wood, sections=32)
        half_x = half_y = radius * 0.55
    else:
        depth, width = b.u(0.7, 1.0), b.u(1.1, 1.8)
        b.box((depth, width, top_t), (0, 0, height), wood)
        half_x, half_y = depth / 2 - 0.06, width / 2 - 0.06
    if b.chance(0.2):  # pedestal
        b.cylinder(0.06, height, (0, 0, height / 2), leg)
        b.cylinder(half_x * 0.8, 0.04, (0, 0, 0.02), leg)
    else:
        _legs(b, half_x, half_y, height - top_t / 2, b.u(0.04, 0.07), leg, round_=b.chance(0.4))
    drawer_w = min(half_y, 0.5)
    b.box((0.12, drawer_w, 0.1), (half_x, 0, height - 0.08), wood)
    b.box((0.03, 0.1, 0.025), (half_x + 0.07, 0, height - 0.08), b.color(METAL))


@register("bathtub", "out", "none: the tap at the +Y end and the front apron (+X) break both mirrors")
def bathtub(b: Builder) -> None:
    length, width, height, t = b.u(1.5, 1.9), b.u(0.7, 0.85), b.u(0.45, 0.6), 0.07
    shell, apron = b.color(WHITE), b.color(WHITE + PAINT + WOOD)
    feet = b.chance(0.35)
    z0 = 0.12 if feet else 0.0
    if feet:
        for x in (-width / 2 + 0.1, width / 2 - 0.1):
            for y in (-length / 2 + 0.15, length / 2 - 0.15):
                b.sphere(0.06, (x, y, 0.06), b.color(METAL))
    b.box((width, length, t), (0, 0, z0 + t / 2), shell)
    for s in (-1, 1):
        b.box((t, length, height), (s * (width / 2 - t / 2), 0, z0 + height / 2), apron if s > 0 else shell)
        b.box((width, t, height), (0, s * (length / 2 - t / 2), z0 + height / 2), shell)
    b.box((width * 0.9, length * 0.9, 0.02), (0, 0, z0 + t + 0.01), b.color([(0.75, 0.85, 0.9)]))
    metal = b.color(METAL)
    b.cylinder(0.025, 0.2, (0, length / 2 - t / 2, z0 + height + 0.1), metal)
    b.rod((0, length / 2 - t / 2, z0 + height + 0.2), (0, length / 2 - 0.2, z0 + height + 0.2), 0.02, metal)


@register("bed", "out", _MIRROR + " (headboard and pillows at the head, -X)")
def bed(b: Builder) -> None:
    length, width, frame_h = b.u(1.9, 2.2), b.u(1.0, 1.8), b.u(0.25, 0.35)
    wood, linen, blanket = b.color(WOOD + PAINT), b.color(WHITE), b.color(FABRIC + PAINT)
    b.box((length, width, frame_h), (0, 0, frame_h / 2 + 0.05), wood)
    _legs(b, length / 2 - 0.05, width / 2 - 0.05, 0.06, 0.06, wood)
    b.box((length - 0.06, width - 0.06, 0.2), (0, 0, frame_h + 0.15), linen)
    head_h = b.u(0.5, 0.9)
    b.box((0.08, width, frame_h + head_h), (-length / 2 - 0.04, 0, (frame_h + head_h) / 2 + 0.05), wood)
    if b.chance(0.5):
        b.box((0.06, width, frame_h + 0.2), (length / 2 + 0.03, 0, (frame_h + 0.2) / 2 + 0.05), wood)
    n_pillows = 1 if width < 1.3 else 2
    for k in range(n_pillows):
        y = 0 if n_pillows == 1 else (k - 0.5) * width * 0.5
        b.sphere(0.2, (-length / 2 + 0.3, y, frame_h + 0.3), linen, scale=(1.0, width / n_pillows * 2.0, 0.35))
    cover = length * b.u(0.5, 0.7)
    b.box((cover, width + 0.02, 0.22), (length / 2 - cover / 2, 0, frame_h + 0.16), blanket)


@register("bookshelf", "out", "none: the books' sizes, colours and gaps differ from shelf to shelf")
def bookshelf(b: Builder) -> None:
    width, depth, height, t = b.u(0.8, 1.2), b.u(0.3, 0.4), b.u(1.2, 2.0), 0.04
    wood = b.color(WOOD + WHITE)
    b.box((t, width, height), (-depth / 2 + t / 2, 0, height / 2), wood)
    for s in (-1, 1):
        b.box((depth, t, height), (0, s * (width / 2 - t / 2), height / 2), wood)
    n = b.i(3, 5)
    gap = (height - t) / n
    for k in range(n + 1):
        b.box((depth, width, t), (0, 0, t / 2 + k * gap), wood)
    book_colors = PAINT + FABRIC + CHARCOAL
    for k in range(n):
        y = -width / 2 + t
        z0 = t + k * gap
        while True:
            w = b.u(0.03, 0.08)
            if y + w > width / 2 - t - b.u(0.0, 0.25):
                break
            h = gap * b.u(0.55, 0.85)
            b.box((depth * 0.8, w, h), (0.02, y + w / 2, z0 + h / 2), b.color(book_colors))
            y += w + 0.004


@register("piano", "out", "mirror about the XZ plane but for the black-key pattern; keys on the front (+X)")
def piano(b: Builder) -> None:
    width, depth, height = b.u(1.3, 1.6), b.u(0.5, 0.6), b.u(1.1, 1.35)
    body = b.color(CHARCOAL + WOOD)
    b.box((depth * 0.6, width, height), (-depth * 0.2, 0, height / 2), body)
    key_z, shelf_d = 0.72, depth * 0.45
    b.box((shelf_d, width, 0.08), (depth * 0.1 + shelf_d / 2, 0, key_z - 0.04), body)
    b.box((shelf_d * 0.7, width * 0.94, 0.025), (depth * 0.1 + shelf_d * 0.45, 0, key_z + 0.012), b.color(WHITE, 0))
    n_keys = 36
    for k in range(n_keys):
        if k % 7 in (2, 6):
            continue
        y = -width * 0.47 + width * 0.94 * (k + 0.7) / n_keys
        b.box((shelf_d * 0.4, width * 0.012, 0.02), (depth * 0.1 + shelf_d * 0.35, y, key_z + 0.03), b.color(DARK, 0))
    for y in (-width / 2 + 0.06, width / 2 - 0.06):
        b.box((0.06, 0.06, key_z - 0.08), (depth * 0.1 + shelf_d - 0.05, y, (key_z - 0.08) / 2), body)
    b.box((0.02, width * 0.3, 0.15), (depth * 0.1 + 0.01, 0, key_z + 0.25), b.color(LIGHT + WHITE))  # music stand
