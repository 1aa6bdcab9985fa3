"""Matplotlib figures for reports (Agg backend, written to PNG)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from vantage.geometry import cartesian_to_spherical

__all__ = ["accuracy_vs_distance", "camera_frusta_plot", "depth_panel", "error_histograms", "learning_curve_plot",
           "retrieval_strip", "sphere_value_plot", "view_sphere_plot"]


def _save(fig, out: str | Path, title: str = "", tight: bool = False) -> Path:
    """Title, lay out, write a figure to PNG and free it."""
    if title:
        fig.suptitle(title)
    if tight:
        fig.tight_layout()
    out = Path(out)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


_COLORS = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]


def view_sphere_plot(
    view_sets: dict[str, np.ndarray], out: str | Path, triplets: np.ndarray | None = None, title: str = ""
) -> Path:
    """Camera directions of each view set on the unit sphere (3D) and as azimuth/elevation (2D).

    ``view_sets`` maps a name to (N, 3) unit directions; ``triplets`` (T, 3, 3) draws L-C-R arcs.
    """
    fig = plt.figure(figsize=(11, 4.8))
    ax3 = fig.add_subplot(1, 2, 1, projection="3d")
    ax2 = fig.add_subplot(1, 2, 2)
    u, v = np.mgrid[0 : 2 * np.pi : 40j, 0 : np.pi : 20j]
    ax3.plot_wireframe(np.cos(u) * np.sin(v), np.sin(u) * np.sin(v), np.cos(v), color="0.85", linewidth=0.4)
    for k, (name, dirs) in enumerate(view_sets.items()):
        c = _COLORS[k % len(_COLORS)]
        dirs = np.asarray(dirs)
        ax3.scatter(*dirs.T, s=10, color=c, label=f"{name} ({len(dirs)})", depthshade=False)
        az, el, _ = cartesian_to_spherical(dirs)
        ax2.scatter(np.where(az > 180, az - 360, az), el, s=10, color=c, label=name)
    if triplets is not None and len(triplets):
        for t in np.asarray(triplets):
            ax3.plot(*t.T, color="k", linewidth=0.8)
            az, el, _ = cartesian_to_spherical(t)
            az = np.where(az > 180, az - 360, az)
            if np.ptp(az) < 180:
                ax2.plot(az, el, color="k", linewidth=0.8)
    ax3.quiver(0, 0, 0, 1.3, 0, 0, color="k", linewidth=1.5)
    ax3.text(1.4, 0, 0, "front (+X)")
    ax3.set_box_aspect((1, 1, 1))
    ax3.set_axis_off()
    ax3.legend(loc="upper left", fontsize=8)
    ax2.set_xlabel("azimuth (deg, 0 = front, +90 = object's left)")
    ax2.set_ylabel("elevation (deg)")
    ax2.set_xlim(-180, 180)
    ax2.set_ylim(-90, 90)
    ax2.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def camera_frusta_plot(poses: np.ndarray, intrinsics: np.ndarray, out: str | Path, centre: np.ndarray | None = None,
                       up: np.ndarray | None = None, title: str = "") -> Path:  # fmt: skip
    """The cameras of one object as 3D frusta: ``poses`` (N, 4, 4) OpenCV camera-to-world, ``intrinsics`` (N, 6)
    fx, fy, cx, cy, width, height; the object ``centre`` and ``up`` axis drawn when given. Each frustum's depth
    is a fifth of the median camera-to-centre distance; colour follows the frame order; the image-top edge is
    drawn thick so a camera's roll shows."""
    poses, k = np.asarray(poses, dtype=np.float64), np.asarray(intrinsics, dtype=np.float64)
    eyes = poses[:, :3, 3]
    mid = eyes.mean(0) if centre is None else np.asarray(centre, dtype=np.float64)
    depth = 0.2 * float(np.median(np.linalg.norm(eyes - mid, axis=1)) or 1.0)
    fig = plt.figure(figsize=(6.4, 6.0))
    ax = fig.add_subplot(1, 1, 1, projection="3d")
    cmap = plt.get_cmap("viridis")
    for i, (pose, (fx, fy, cx, cy, w, h)) in enumerate(zip(poses, k, strict=True)):
        corners = np.array([[(0 - cx) / fx, (0 - cy) / fy, 1.0], [(w - cx) / fx, (0 - cy) / fy, 1.0],
                            [(w - cx) / fx, (h - cy) / fy, 1.0], [(0 - cx) / fx, (h - cy) / fy, 1.0]])  # fmt: skip
        world = eyes[i] + depth * corners @ pose[:3, :3].T
        c = cmap(i / max(1, len(poses) - 1))
        for corner in world:
            ax.plot(*np.stack([eyes[i], corner]).T, color=c, linewidth=0.6)
        ring = np.vstack([world, world[:1]])
        ax.plot(*ring.T, color=c, linewidth=0.6)
        ax.plot(*world[:2].T, color=c, linewidth=2.0)  # image top
    if centre is not None:
        ax.scatter(*mid, color="k", s=30)
        if up is not None:
            ax.quiver(*mid, *(np.asarray(up) * 2 * depth), color="tab:red", linewidth=1.5)
            ax.text(*(mid + np.asarray(up) * 2.2 * depth), "up", color="tab:red")
    span = np.ptp(np.vstack([eyes, mid[None]]), axis=0).max() / 2 + depth
    for axis, m in zip("xyz", mid, strict=True):
        getattr(ax, f"set_{axis}lim")(m - span, m + span)
    ax.set_box_aspect((1, 1, 1))
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_zlabel("z")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    return _save(fig, out, title, tight=True)


def sphere_value_plot(
    directions: np.ndarray,
    values: dict[str, np.ndarray],
    out: str | Path,
    title: str = "",
    label: str = "accuracy",
    vmin: float = 0.0,
    vmax: float = 1.0,
) -> Path:
    """One azimuth/elevation panel per model, each viewpoint coloured by its value (e.g. pose accuracy).

    ``directions`` (V, 3) are the viewpoints; ``values`` maps a model name to (V,) values.
    """
    az, el, _ = cartesian_to_spherical(np.asarray(directions))
    n = len(values)
    cols = min(4, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols + 1.2, 2.5 * rows + 0.7), squeeze=False, sharex=True,
                             sharey=True, layout="constrained")  # fmt: skip
    sc = None
    for ax, (name, v) in zip(axes.flat, values.items(), strict=False):
        sc = ax.scatter(az, el, c=np.asarray(v), cmap="viridis", vmin=vmin, vmax=vmax, s=38, edgecolors="k", lw=0.3)
        ax.set_title(f"{name} (mean {np.mean(v):.2f})", fontsize=9)
        ax.set_xlim(0, 360)
        ax.set_ylim(-90, 90)
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax in axes.flat[max(0, n - cols) : n]:  # the lowest panel of each column
        ax.set_xlabel("azimuth (deg)")
        ax.tick_params(labelbottom=True)
    for ax in axes[:, 0]:
        ax.set_ylabel("elevation (deg)")
    if sc is not None:
        fig.colorbar(sc, ax=axes.ravel().tolist(), shrink=0.9, label=label)
    return _save(fig, out, title)


def error_histograms(
    panels: dict[str, dict[str, np.ndarray]], out: str | Path, title: str = "", max_deg: float = 180.0
) -> Path:
    """Step histograms of angular errors: one panel per scenario, one line per model."""
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.4), squeeze=False)
    bins = np.linspace(0, max_deg, 19)
    for ax, (scenario, by_model) in zip(axes[0], panels.items(), strict=True):
        for i, (name, errors) in enumerate(by_model.items()):
            ax.hist(
                np.asarray(errors),
                bins=bins,
                histtype="step",
                lw=1.5,
                density=True,
                label=name,
                color=plt.cm.tab10(i % 10),
                linestyle="-" if i < 10 else "--",
            )
        ax.set_title(scenario)
        ax.set_xlabel("geodesic error (deg)")
        ax.set_ylabel("density")
    axes[0][-1].legend(fontsize=7)
    return _save(fig, out, title, tight=True)


def depth_panel(
    images: np.ndarray, rendered: np.ndarray, pseudo: dict[str, np.ndarray], out: str | Path, title: str = ""
) -> Path:
    """Rows of test images: the image, its rendered depth, and each model's token pseudo-depth.

    ``images`` (K, H, W, 3) in [0, 1]; ``rendered`` (K, H, W) with 0 for background; ``pseudo`` maps a model
    name to (K, h, w) token depth maps (shown with their own colour range; nearer = brighter in both).
    """
    k = images.shape[0]
    cols = 2 + len(pseudo)
    fig, axes = plt.subplots(k, cols, figsize=(2.1 * cols, 2.1 * k), squeeze=False)
    for i in range(k):
        axes[i][0].imshow(np.clip(images[i], 0, 1))
        r = np.where(rendered[i] > 0, rendered[i], np.nan)
        axes[i][1].imshow(-r, cmap="magma")
        for j, (name, maps) in enumerate(pseudo.items()):
            axes[i][2 + j].imshow(-maps[i], cmap="magma")
            if i == 0:
                axes[i][2 + j].set_title(name, fontsize=9)
        if i == 0:
            axes[i][0].set_title("image", fontsize=9)
            axes[i][1].set_title("rendered depth", fontsize=9)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    return _save(fig, out, title, tight=True)


def retrieval_strip(query: list[np.ndarray], rows: dict[str, list[np.ndarray]], out: str | Path,
                    titles: list[list[str]] | None = None, title: str = "") -> Path:  # fmt: skip
    """A strip of query frames (top row) with, under each, the frame every model retrieved for it (one row per
    model); ``titles`` gives a small caption per image, row by row (query row first)."""
    n, grid = len(query), [("query", query), *rows.items()]
    fig, axes = plt.subplots(len(grid), n, figsize=(1.2 * n + 1.6, 1.3 * len(grid) + 0.5), squeeze=False)
    for r, (name, images) in enumerate(grid):
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(images[c])
            ax.set_xticks([])
            ax.set_yticks([])
            if titles is not None:
                ax.set_title(titles[r][c], fontsize=7, pad=2)
        axes[r, 0].set_ylabel(name, fontsize=8, rotation=0, ha="right", va="center")
    fig.subplots_adjust(left=0.2, right=0.99, top=0.88 if title else 0.95, bottom=0.02, wspace=0.05, hspace=0.35)
    return _save(fig, out, title)


def accuracy_vs_distance(series: dict[str, dict[str, tuple[float | None, float, float]]], out: str | Path,
                         title: str = "", ylabel: str = "top-1 (%)", chance: float | None = None) -> Path:  # fmt: skip
    """Accuracy per test camera against the camera's angular distance from the nearest training camera, one line
    per model; ``series[model][camera] = (distance_deg, mean, std)`` (cameras with no distance are left out)."""
    fig, ax = plt.subplots(figsize=(5.6, 3.6), constrained_layout=True)
    for name, cams in series.items():
        pts = sorted((d, m, s, c) for c, (d, m, s) in cams.items() if d is not None)
        if not pts:
            continue
        d, m, s, _ = zip(*pts, strict=True)
        ax.errorbar(d, m, yerr=s, marker="o", capsize=3, label=name)
    if chance is not None:
        ax.axhline(chance, color="grey", ls=":", lw=1, label="chance")
    ax.set(xlabel="angle to the nearest training camera (deg)", ylabel=ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, out, title)


def learning_curve_plot(series: dict[str, dict[str, list[list[float]]]], out: str | Path, title: str = "",
                        chance: float | None = None) -> Path:  # fmt: skip
    """Training loss (left) and held-out probe scores (right) against steps, one colour per model;
    ``series[model] = {"loss": [[step, value], ...], "<probe>": [...]}``."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6), constrained_layout=True)
    styles = ["-", "--", ":", "-."]
    probes_drawn = False
    for i, (name, curves) in enumerate(series.items()):
        color = _COLORS[i % len(_COLORS)]
        if curves.get("loss"):
            s, v = zip(*curves["loss"], strict=True)
            left.plot(s, v, color=color, lw=1, label=name)
        for j, (probe, pts) in enumerate((k, p) for k, p in curves.items() if k != "loss"):
            s, v = zip(*pts, strict=True)
            right.plot(s, v, color=color, ls=styles[j % len(styles)], marker="o", ms=3, label=f"{name}: {probe}")
            probes_drawn = True
    left.set(xlabel="step", ylabel="training loss", title="training loss")
    right.set(xlabel="step", ylabel="score", title="held-out probes" if probes_drawn else "no probes logged")
    if chance is not None and probes_drawn:
        right.axhline(chance, color="grey", ls=":", lw=1, label="chance")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    return _save(fig, out, title)
