"""Contact sheets: every category, a few instances, from the same set of viewpoints."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from vantage.data.build import BuildConfig, load_task_shape, plan_objects
from vantage.geometry import camera_pose
from vantage.render import Camera, create_renderer

__all__ = ["PREVIEW_VIEWS", "contact_sheet"]

# (azimuth, elevation): front, front-left, left, back, right, and from above.
PREVIEW_VIEWS: tuple[tuple[float, float], ...] = ((0, 20), (45, 20), (90, 20), (180, 20), (270, 20), (0, 70))


def contact_sheet(
    cfg: BuildConfig,
    out: str | Path,
    instances: int = 3,
    size: int = 80,
    categories: Sequence[str] | None = None,
    views: Sequence[tuple[float, float]] = PREVIEW_VIEWS,
) -> Path:
    """Render a grid (rows: categories; columns: instances x viewpoints) with ``cfg``'s look; write a PNG."""
    if instances < 1 or size < 8:
        raise ValueError(f"contact sheet needs instances >= 1 and size >= 8, got {instances}, {size}")
    tasks = plan_objects(cfg)
    order = list(dict.fromkeys(t.category for t in tasks))
    if categories is not None:
        unknown = [c for c in categories if c not in order]
        if unknown:
            raise ValueError(f"categories {unknown} are not in this dataset; it has {order}")
        order = list(categories)
    label_w, head_h, gap = 110, 18, 6
    block_w = len(views) * size
    sheet = Image.new("RGB", (label_w + instances * (block_w + gap), head_h + len(order) * size), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for k in range(instances):
        for j, (az, el) in enumerate(views):
            draw.text((label_w + k * (block_w + gap) + j * size + 3, 3), f"{az:g}/{el:g}", fill=(80, 80, 80))
    renderer = create_renderer(cfg.renderer, supersample=2)
    try:
        for row, cat in enumerate(order):
            draw.text((4, head_h + row * size + size // 2 - 6), cat, fill=(0, 0, 0))
            picks = [t for t in tasks if t.category == cat][:instances]
            for k, task in enumerate(picks):
                renderer.set_object(load_task_shape(task, cfg))
                for j, (az, el) in enumerate(views):
                    cam = Camera(camera_pose(az, el, cfg.camera.distance), size, size, cfg.camera.fov_deg)
                    rgb = renderer.render(cam, cfg.light, cfg.background, np.random.default_rng(k)).rgb
                    sheet.paste(Image.fromarray(rgb), (label_w + k * (block_w + gap) + j * size, head_h + row * size))
    finally:
        renderer.close()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    return out


def video_preview(root: str | Path, out: str | Path, sequence: str | None = None, fps: int = 12) -> Path:
    """Write an animated GIF of one sequence of a video dataset: each frame shows every camera side by side
    (in ``camera_id`` order, first-person first) with the phase written under it."""
    from vantage.data.clips import index_sequences
    from vantage.data.schema import DatasetError, load_records

    root = Path(root)
    seqs = index_sequences([r for r in load_records(root) if r.sequence_id is not None], where=str(root))
    if not seqs:
        raise DatasetError(f"{root} has no sequences (rows with sequence_id / frame_index)")
    pick = next((s for s in seqs if s.sequence_id == sequence), None) if sequence else seqs[0]
    if pick is None:
        raise DatasetError(f"{root} has no sequence {sequence!r}; it has {[s.sequence_id for s in seqs][:5]}...")
    cams = sorted(pick.cameras, key=lambda c: (c != "fpv", c))
    frames = []
    for t in range(len(pick.frame_indices)):
        tiles = [Image.open(root / pick.frames[c][t].file_name).convert("RGB") for c in cams]
        w, h = tiles[0].size
        sheet = Image.new("RGB", (w * len(tiles), h + 14), (255, 255, 255))
        for k, tile in enumerate(tiles):
            sheet.paste(tile, (k * w, 0))
        ImageDraw.Draw(sheet).text((3, h + 1), f"{pick.sequence_id} t={t} {pick.frames[cams[0]][t].phase or ''}",
                                   fill=(0, 0, 0))  # fmt: skip
        frames.append(sheet)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(out, save_all=True, append_images=frames[1:], duration=round(1000 / fps), loop=0)
    return out
