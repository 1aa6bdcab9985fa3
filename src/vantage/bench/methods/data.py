"""The data suite (a plug-in that is not a grid): build or reuse the preset's dataset, verify it, summarise it,
draw it, and look for the real turntable set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vantage.bench.context import BenchContext
from vantage.bench.plugin import MethodPlugin, Settings, register_method
from vantage.config import from_dict
from vantage.report import Figure, KeyValues, Section, Table, Text

__all__ = ["DataSuite"]


def _directions(records) -> np.ndarray:
    from vantage.geometry import spherical_to_cartesian

    return np.stack([spherical_to_cartesian(r.azimuth_deg, r.elevation_deg or 0.0) for r in records])


def _view_sphere(ctx: BenchContext, root: Path) -> str:
    from vantage.data import load_records
    from vantage.report import view_sphere_plot

    rows = load_records(root)
    train = next((r.object_id for r in rows if r.split == "train" and r.view_set == "triplet"), rows[0].object_id)
    sets: dict[str, np.ndarray] = {}
    for name in ("fib50", "fib100"):
        first = next((r.object_id for r in rows if r.view_set == name), None)
        if first is not None:
            sets[name] = _directions([r for r in rows if r.view_set == name and r.object_id == first])
    canon = [r for r in rows if r.view_set == "canonical" and r.object_id == train]
    if canon:
        sets["canonical (one object)"] = _directions(canon)
    trip = sorted((r for r in rows if r.view_set == "triplet" and r.object_id == train),
                  key=lambda r: (r.sequence_id, r.frame_index))  # fmt: skip
    triplets = _directions(trip).reshape(-1, 3, 3) if trip else None
    if triplets is not None:
        sets["triplet centres (one object)"] = triplets[:, 1]
    view_sphere_plot(sets, ctx.out / "view_sphere.png", triplets, title="View sets (camera directions)")
    return "view_sphere.png"


def _real(ctx: BenchContext) -> dict[str, Any]:
    from vantage.data import DatasetError, load_turntable_records

    if ctx.coil20 is None:
        reason = "no path given and ../shared/data/coil20 not found (set --coil20 or VANTAGE_COIL20)"
        return {"status": "absent", "reason": reason}
    try:
        recs = load_turntable_records(ctx.coil20)
    except DatasetError as e:
        return {"status": "unreadable", "reason": str(e)}
    objects = sorted({r.object_id for r in recs})
    return {"status": "ok", "path": str(ctx.coil20), "images": len(recs), "objects": len(objects),
            "poses_per_object": len(recs) // max(1, len(objects))}  # fmt: skip


@register_method
class DataSuite(MethodPlugin):
    """Multi-view data: the dataset every method suite after it reads."""

    name = "data"
    title = "Data"

    def settings(self, config: dict[str, Any], where: str = "preset") -> Settings:
        from vantage.data import BuildConfig

        raw = dict(config.get("data", {}) or {})
        return Settings({"data": from_dict(BuildConfig, raw, f"{where}: data")}, {"data": raw})

    def run(self, ctx: BenchContext) -> dict[str, Any]:
        from vantage.data import build_dataset, contact_sheet, dataset_dir, summarize, verify_dataset

        cfg = self.settings(ctx.config, ctx.where)["data"]
        root = ctx.data_root or dataset_dir(cfg)
        built = build_dataset(cfg, root, workers=ctx.workers, progress=ctx.progress)
        problems = verify_dataset(root)
        return {
            "ok": not problems,
            "dataset": summarize(root),
            "build": {
                "seconds": round(built.seconds, 2),
                "rendered": built.rendered,
                "skipped": built.skipped,
                "images_per_second": round(built.rendered / built.seconds, 1) if built.rendered else None,
            },
            "verify": {"problems": len(problems), "first": [str(p) for p in problems[:20]]},
            "contact_sheet": contact_sheet(cfg, ctx.out / "contact_sheet.png", instances=2, size=64).name,
            "view_sphere": _view_sphere(ctx, root),
            "coil20": _real(ctx),
        }

    def present(self, res: dict[str, Any], run_dir: Path) -> Section:
        ds, build, verify = res.get("dataset", {}), res.get("build", {}), res.get("verify", {})
        ok = verify.get("problems", 1) == 0
        blocks: list[Any] = [
            Text(f"{'verified' if ok else 'VERIFY FAILED'} · {ds.get('root', '')}", "ok" if ok else "bad"),
            KeyValues(
                {
                    "images": ds.get("images"),
                    "image size": ds.get("image_size"),
                    "objects": ds.get("objects"),
                    "manifest hash": ds.get("manifest_hash"),
                    "build seconds": build.get("seconds"),
                    "images rendered now / objects reused": f"{build.get('rendered')} / {build.get('skipped')}",
                    "with depth / mask": f"{ds.get('with_depth')} / {ds.get('with_mask')}",
                }
            ),
            KeyValues(ds.get("by_view_set", {}), "Images per view set and split", head=("view set", "images")),
            KeyValues(ds.get("by_split", {}), head=("split", "images")),
        ]
        if verify.get("first"):
            blocks.append(Table(["verify problems"], [[p] for p in verify["first"]]))
        blocks.append(Figure(res.get("contact_sheet"), "Contact sheet: categories x viewpoints (azimuth/elevation)"))
        blocks.append(Figure(res.get("view_sphere"), "View sets on the sphere"))
        blocks.append(KeyValues(res.get("coil20", {}), "Real data (COIL-20)"))
        return Section(self.title, blocks, markdown=False)
