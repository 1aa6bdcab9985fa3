"""3DTRL: lift transformer tokens into 3D (pseudo-depth + an estimated camera) and add a 3D position embedding.

``TRL3D`` works on a token tensor (B, P + T*h*w, D): P prefix tokens (CLS, distillation; 0 for Swin), then T
frames of an h x w patch grid. Depth is predicted per patch token (per frame); the camera is estimated once per
sample (one per clip for video), so a space-time transformer can reuse the layer with ``frames=T``.

Modes (docs/3dtrl.md lists every difference):
* ``faithful``: the reference equations. Unconstrained depth; grid in patch units centred on the image; Euler
  angles R = Rz Ry Rx with the reference code's Rz, the transpose of the standard one (``rz_convention``);
  world points p_w = p_cam R + t (row vectors); translation head initialised to ones; a
  learned CLS embedding (std 1); the 2D position embedding is added again. Extra parameters 6D^2 + 44D + 1287.
* ``improved``: positive depth (softplus + offset), grid normalised to [-1, 1] from the actual input size (any
  resolution and aspect ratio), a continuous rotation (6D or quaternion) initialised at the identity and ~zero
  translation (biases; head weights std 1e-3), and the last layer of the 3D embedding and the CLS embedding
  zero-initialised, so inserting the layer into a trained model leaves its outputs unchanged at step 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vantage.geometry import euler_to_matrix, quaternion_to_matrix, rotation_6d_to_matrix

__all__ = ["RZ_CONVENTIONS", "TRL3D", "TRL_MODES", "TRLDiagnostics", "trl3d_param_formula"]

TRL_MODES = ("faithful", "improved")
RZ_CONVENTIONS = ("reference", "standard")


def trl3d_param_formula(dim: int) -> int:
    """Extra parameters of a faithful 3DTRL on a ViT of width ``dim`` (with a CLS token): 6D^2 + 44D + 1287."""
    return 6 * dim * dim + 44 * dim + 1287


@dataclass
class TRLDiagnostics:
    """What the layer estimated: depth per patch token (B, T*h*w), camera rotation (B, 3, 3) and
    translation (B, 3), and the tokens' world points (B, T*h*w, 3)."""

    depth: torch.Tensor
    rotation: torch.Tensor
    translation: torch.Tensor
    points: torch.Tensor
    grid: tuple[int, int]
    frames: int


class TRL3D(nn.Module):
    """The 3D token recovery layer (see the module docstring). ``forward(x, grid, frames)`` returns the tokens
    with the 3D position embedding added; set ``keep_diagnostics`` to keep the last :class:`TRLDiagnostics`."""

    def __init__(
        self,
        dim: int,
        mode: str = "improved",
        num_prefix_tokens: int = 1,
        rotation: str = "6d",
        camera_hidden: int = 32,
        depth_offset: float = 0.1,
        rz_convention: str | None = None,
    ) -> None:
        super().__init__()
        if mode not in TRL_MODES:
            raise ValueError(f"3DTRL mode must be one of {TRL_MODES}, got {mode!r}")
        if rotation not in ("6d", "quaternion", "euler"):
            raise ValueError(f"rotation must be 6d, quaternion or euler, got {rotation!r}")
        if mode == "faithful":
            rotation = "euler"
        rz_convention = rz_convention or ("reference" if mode == "faithful" else "standard")
        if rz_convention not in RZ_CONVENTIONS:
            raise ValueError(f"rz_convention must be one of {RZ_CONVENTIONS}, got {rz_convention!r}")
        self.rz_convention = rz_convention
        self.dim, self.mode, self.rotation_kind = dim, mode, rotation
        self.num_prefix_tokens, self.depth_offset = num_prefix_tokens, depth_offset
        self.depth_head = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, 1))
        self.cls_branch = (
            nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim), nn.ReLU())
            if num_prefix_tokens > 0
            else None
        )
        self.tok_in = nn.Sequential(nn.Linear(dim, dim), nn.ReLU())
        self.tok_out = nn.Sequential(nn.Linear(dim, dim), nn.ReLU())
        self.cam_hidden = nn.Sequential(
            nn.Linear(dim, camera_hidden), nn.ReLU(), nn.Linear(camera_hidden, camera_hidden)
        )
        self.rot_head = nn.Linear(camera_hidden, {"euler": 3, "6d": 6, "quaternion": 4}[rotation])
        self.trans_head = nn.Linear(camera_hidden, 3)
        self.embed = nn.Sequential(nn.Linear(3, dim), nn.ReLU(), nn.Linear(dim, dim))
        self.cls_embed = nn.Parameter(torch.zeros(dim)) if num_prefix_tokens > 0 else None
        self.keep_diagnostics = False
        self.last_diagnostics: TRLDiagnostics | None = None
        self._init_heads()

    def _init_heads(self) -> None:
        if self.mode == "faithful":
            nn.init.ones_(self.trans_head.weight)
            nn.init.zeros_(self.trans_head.bias)
            if self.cls_embed is not None:
                nn.init.normal_(self.cls_embed, std=1.0)
            return
        # Identity rotation and zero translation from the biases; tiny (not zero) weights so that gradients reach
        # the camera trunk as soon as the 3D embedding is non-zero (after the first step).
        identity = {"6d": [1.0, 0, 0, 0, 1, 0], "quaternion": [1.0, 0, 0, 0], "euler": [0.0, 0, 0]}
        with torch.no_grad():
            self.rot_head.bias.copy_(torch.tensor(identity[self.rotation_kind]))
        nn.init.normal_(self.rot_head.weight, std=1e-3)
        nn.init.normal_(self.trans_head.weight, std=1e-3)
        nn.init.zeros_(self.trans_head.bias)
        nn.init.zeros_(self.embed[2].weight)  # the 3D embedding starts at exactly zero
        nn.init.zeros_(self.embed[2].bias)

    def grid_coords(self, grid: tuple[int, int], device: torch.device | None = None) -> torch.Tensor:
        """(h*w, 2) image-plane coordinates (u right, v down) of the patch centres, row-major. Faithful: patch
        units centred on the image; improved: divided by max(h, w) / 2, so [-1, 1] at any size."""
        h, w = grid
        v, u = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij")
        uv = torch.stack([u.flatten() - (w - 1) / 2, v.flatten() - (h - 1) / 2], -1).float()
        return uv if self.mode == "faithful" else uv / (max(h, w) / 2)

    def camera(self, prefix: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(rotation (B, 3, 3), translation (B, 3)) from the CLS token and the mean of the patch tokens."""
        g = self.tok_out(self.tok_in(tokens).mean(1))
        if self.cls_branch is not None:
            g = g + self.cls_branch(prefix[:, 0])
        h = self.cam_hidden(g)
        r = self.rot_head(h)
        if self.rotation_kind == "euler":
            rot = euler_to_matrix(r, self.rz_convention)
        elif self.rotation_kind == "6d":
            rot = rotation_6d_to_matrix(r)
        else:
            rot = quaternion_to_matrix(r)
        return rot, self.trans_head(h)

    def forward(
        self, x: torch.Tensor, grid: tuple[int, int], frames: int = 1, pos2d: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Tokens (B, P + frames*h*w, D) -> the same plus the 3D position embedding (faithful mode also re-adds
        ``pos2d``, the model's 2D position embedding, broadcastable to ``x``)."""
        p = self.num_prefix_tokens
        prefix, tokens = x[:, :p], x[:, p:]
        h, w = grid
        if tokens.shape[1] != frames * h * w:
            raise ValueError(
                f"3DTRL got {tokens.shape[1]} patch tokens, expected frames x h x w = {frames} x {h} x {w}"
            )
        raw = self.depth_head(tokens).squeeze(-1)
        depth = raw if self.mode == "faithful" else F.softplus(raw) + self.depth_offset
        uv = self.grid_coords(grid, x.device).repeat(frames, 1).to(x.dtype)
        p_cam = torch.cat([uv.unsqueeze(0) * depth.unsqueeze(-1), depth.unsqueeze(-1)], -1)
        rot, trans = self.camera(prefix, tokens)
        if self.mode == "faithful":
            points = p_cam @ rot + trans.unsqueeze(1)  # the reference's row-vector form
        else:
            points = p_cam @ rot.transpose(1, 2) + trans.unsqueeze(1)  # camera-to-world: R p + t
        emb = self.embed(points)
        if p:
            emb = torch.cat([self.cls_embed.expand(x.shape[0], p, -1), emb], 1)
        out = x + emb
        if self.mode == "faithful" and pos2d is not None:
            out = out + pos2d
        if self.keep_diagnostics:
            self.last_diagnostics = TRLDiagnostics(depth, rot, trans, points, (h, w), frames)
        return out

    def extra_repr(self) -> str:
        return (
            f"dim={self.dim}, mode={self.mode}, rotation={self.rotation_kind}, rz={self.rz_convention}, "
            f"prefix={self.num_prefix_tokens}"
        )
