"""Matplotlib figures for reports (Agg backend, written to PNG)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from vantage.geometry import cartesian_to_spherical

__all__ = ["view_sphere_plot"]

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
