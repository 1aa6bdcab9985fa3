"""3DTRL: parameter formula, output preservation at init, insertion into timm ViT/DeiT, Swin and TNT at two input
sizes, state-dict round trips, gradients into the depth and camera heads, diagnostics."""

from __future__ import annotations

import copy

import pytest
import timm
import torch
from scipy.spatial.transform import Rotation

from vantage.geometry import euler_to_matrix
from vantage.models import TRL3D, add_3dtrl, find_3dtrl, trl3d_param_formula


def _count(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def _vit(size: int = 32, **kw):
    torch.manual_seed(0)
    return timm.create_model(
        "deit_tiny_patch16_224", pretrained=False, num_classes=5, img_size=size, patch_size=8, **kw
    ).eval()


def _swin(size: int):
    torch.manual_seed(0)
    return timm.create_model(
        "swin_tiny_patch4_window7_224",
        pretrained=False,
        num_classes=5,
        img_size=size,
        window_size=4,
        embed_dim=24,
        depths=(1, 1, 1, 1),
        num_heads=(2, 2, 2, 2),
    ).eval()


@pytest.mark.parametrize("dim", [192, 384, 768])
def test_faithful_extra_parameters_follow_the_formula(dim):
    assert _count(TRL3D(dim, mode="faithful")) == trl3d_param_formula(dim) == 6 * dim * dim + 44 * dim + 1287


@pytest.mark.parametrize(("name", "dim"), [("deit_tiny_patch16_224", 192), ("deit_small_patch16_224", 384)])
def test_faithful_insertion_adds_exactly_the_formula(name, dim):
    model = timm.create_model(name, pretrained=False, img_size=32, patch_size=8)
    before = _count(model)
    add_3dtrl(model, mode="faithful")
    assert _count(model) - before == trl3d_param_formula(dim)


def test_euler_convention_is_rz_ry_rx():
    angles = torch.tensor([[0.3, -0.7, 1.1], [2.0, 0.1, -2.5]], dtype=torch.float64)
    expected = Rotation.from_euler("ZYX", angles.numpy()[:, ::-1]).as_matrix()  # intrinsic z-y-x = Rz Ry Rx
    torch.testing.assert_close(euler_to_matrix(angles), torch.from_numpy(expected))


@pytest.mark.parametrize("size", [32, 48])
def test_improved_vit_is_output_preserving_at_init_at_any_size(size):
    model = _vit(32, dynamic_img_size=True)
    x = torch.randn(2, 3, size, size + 16)  # non-square too: the grid comes from the actual input
    with torch.no_grad():
        ref, ref_feat = model(x), model.forward_features(x)
        add_3dtrl(model)  # improved by default
        find_3dtrl(model).keep_diagnostics = True
        torch.testing.assert_close(model(x), ref)
        torch.testing.assert_close(model.forward_features(x), ref_feat)
    diag = find_3dtrl(model).last_diagnostics
    assert diag.grid == (size // 8, (size + 16) // 8) and diag.depth.shape == (2, diag.grid[0] * diag.grid[1])
    assert (diag.depth > 0).all()  # softplus + offset
    torch.testing.assert_close(diag.rotation, torch.eye(3).expand(2, 3, 3), atol=0.02, rtol=0)  # ~identity at init
    assert diag.translation.abs().max() < 0.02
    eye = diag.rotation @ diag.rotation.transpose(1, 2)
    torch.testing.assert_close(eye, torch.eye(3).expand(2, 3, 3), atol=1e-5, rtol=0)  # a rotation


@pytest.mark.parametrize("size", [32, 64])
def test_swin_insertion_at_two_sizes(size):
    model = _swin(size)
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        ref = model(x)
        add_3dtrl(model)
        trl = find_3dtrl(model)
        trl.keep_diagnostics = True
        torch.testing.assert_close(model(x), ref)
        # after the first patch merging: stride 8 for patch-4 Swin, tokens only (no CLS)
        assert trl.last_diagnostics.grid == (size // 8, size // 8) and trl.num_prefix_tokens == 0
        faithful = add_3dtrl(_swin(size), mode="faithful")
        assert not torch.allclose(faithful(x), ref)


@pytest.mark.parametrize("size", [32, 48])
def test_faithful_vit_runs_at_two_sizes_and_changes_outputs(size):
    model = _vit(32, dynamic_img_size=True)
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        ref = model(x)
        add_3dtrl(model, mode="faithful")
        out = model(x)
    assert out.shape == ref.shape and not torch.allclose(out, ref)


def test_tnt_insertion():
    torch.manual_seed(0)
    model = timm.create_model("tnt_s_patch16_224", pretrained=False, num_classes=5, img_size=32, patch_size=8).eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        ref = model(x)
        add_3dtrl(model)
        torch.testing.assert_close(model(x), ref)


def test_state_dict_round_trip_and_loading_plain_weights(tmp_path):
    model = add_3dtrl(_vit(), mode="faithful")
    path = tmp_path / "m.pt"
    torch.save(model.state_dict(), path)
    fresh = add_3dtrl(_vit(), mode="faithful")
    torch.manual_seed(5)
    for p in fresh.trl3d.parameters():  # make sure loading really overwrites the layer
        torch.nn.init.normal_(p)
    fresh.load_state_dict(torch.load(path, weights_only=True))
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(fresh(x), model(x))
    # a plain timm checkpoint loads into a 3DTRL model; only the new layer's keys are missing
    plain = _vit().state_dict()
    missing, unexpected = add_3dtrl(_vit()).load_state_dict(plain, strict=False)
    assert unexpected == [] and missing and all(k.startswith("trl3d.") for k in missing)
    # deep copies carry their own layer (the hooks follow the copy)
    clone = copy.deepcopy(model)
    with torch.no_grad():
        for p in clone.trl3d.parameters():
            p.add_(1.0)
        assert not torch.allclose(clone(x), model(x))


def test_forward_intermediates_pass_through_the_layer():
    model = add_3dtrl(_vit(), mode="faithful")
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        final, inter = model.forward_intermediates(x, indices=[1, 5])
        torch.testing.assert_close(model.forward_head(final), model(x))
        before = add_3dtrl(_vit(), mode="improved").forward_intermediates(x, indices=[1, 5])[1]
    torch.testing.assert_close(inter[0], before[0])  # block 1 runs before the layer (inserted before block 4)
    assert not torch.allclose(inter[1], before[1])


def test_gradients_reach_depth_and_camera_heads_after_one_step():
    torch.manual_seed(0)
    model = add_3dtrl(_vit()).train()
    trl = find_3dtrl(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])

    def step() -> None:
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()

    step()  # at init the zero last embedding layer blocks the path: only it gets a gradient
    assert trl.embed[2].weight.grad.abs().sum() > 0 and trl.depth_head[0].weight.grad.abs().sum() == 0
    opt.step()
    step()
    heads = (trl.depth_head[0].weight, trl.cls_branch[0].weight, trl.tok_in[0].weight, trl.cam_hidden[0].weight)
    for head in (*heads, trl.rot_head.weight, trl.trans_head.weight):
        assert head.grad is not None and head.grad.abs().sum() > 0


def test_video_layout_one_camera_per_clip():
    trl = TRL3D(32, num_prefix_tokens=1)
    trl.keep_diagnostics = True
    x = torch.randn(2, 1 + 3 * 4 * 5, 32)
    out = trl(x, grid=(4, 5), frames=3)
    d = trl.last_diagnostics
    assert out.shape == x.shape and d.depth.shape == (2, 60) and d.rotation.shape == (2, 3, 3) and d.frames == 3
    with pytest.raises(ValueError, match="frames x h x w"):
        trl(x, grid=(4, 4), frames=3)
    with pytest.raises(ValueError, match="mode"):
        TRL3D(32, mode="exact")
    with pytest.raises(ValueError, match="no insertion for ResNet"):
        add_3dtrl(timm.create_model("resnet18", pretrained=False))


def _reference_faithful(layer: TRL3D, x: torch.Tensor, grid: tuple[int, int], pos2d: torch.Tensor) -> torch.Tensor:
    """The reference code's equations, written out from ../shared/reference/3dtrl.md with the layer's weights
    (not its forward): depth MLP, patch-unit grid, both-branch camera, Euler R = Rz Ry Rx with the reference's
    transposed Rz, row-vector world points p_cam R + t, 3D embedding, learned CLS embedding, 2D embedding again."""
    F = torch.nn.functional
    lin = lambda m, v: F.linear(v, m.weight, m.bias)  # noqa: E731
    cls, tok = x[:, :1], x[:, 1:]
    depth = lin(layer.depth_head[2], F.relu(lin(layer.depth_head[0], tok))).squeeze(-1)
    h, w = grid
    rows, cols = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    u, v = (cols.flatten() - (w - 1) / 2).to(x.dtype), (rows.flatten() - (h - 1) / 2).to(x.dtype)
    p_cam = torch.stack([u * depth, v * depth, depth], -1)
    c = F.relu(lin(layer.cls_branch[2], F.relu(lin(layer.cls_branch[0], cls[:, 0]))))
    g = F.relu(lin(layer.tok_out[0], F.relu(lin(layer.tok_in[0], tok)).mean(1)))
    hid = lin(layer.cam_hidden[2], F.relu(lin(layer.cam_hidden[0], c + g)))
    ax, ay, az = lin(layer.rot_head, hid).unbind(-1)
    t = lin(layer.trans_head, hid)
    rot = []
    for a, b, cc in zip(ax, ay, az, strict=True):
        rx = torch.tensor([[1, 0, 0], [0, a.cos(), -a.sin()], [0, a.sin(), a.cos()]], dtype=x.dtype)
        ry = torch.tensor([[b.cos(), 0, b.sin()], [0, 1, 0], [-b.sin(), 0, b.cos()]], dtype=x.dtype)
        rz_ref = torch.tensor([[cc.cos(), cc.sin(), 0], [-cc.sin(), cc.cos(), 0], [0, 0, 1]], dtype=x.dtype)
        rot.append(rz_ref @ ry @ rx)
    p_w = p_cam @ torch.stack(rot) + t[:, None]
    emb = lin(layer.embed[2], F.relu(lin(layer.embed[0], p_w)))
    emb = torch.cat([layer.cls_embed.expand(x.shape[0], 1, -1), emb], 1)
    return x + emb + pos2d


def test_faithful_layer_matches_the_reference_equations_at_d192():
    torch.manual_seed(0)
    dim, grid = 192, (4, 5)
    layer = TRL3D(dim, mode="faithful")
    assert layer.rz_convention == "reference"
    with torch.no_grad():  # non-trivial rotations, so the sign of the z rotation matters
        layer.rot_head.weight.normal_(std=0.5)
    x, pos2d = torch.randn(3, 1 + 20, dim), torch.randn(1, 21, dim)
    torch.testing.assert_close(layer(x, grid, pos2d=pos2d), _reference_faithful(layer, x, grid, pos2d),
                               atol=1e-6, rtol=1e-6)  # fmt: skip
    standard = TRL3D(dim, mode="faithful", rz_convention="standard")
    standard.load_state_dict(layer.state_dict())
    assert (standard(x, grid, pos2d=pos2d) - layer(x, grid, pos2d=pos2d)).abs().max() > 1e-3


def test_rz_conventions_are_transposes():
    angles = torch.tensor([[0.0, 0.0, 0.7]], dtype=torch.float64)
    torch.testing.assert_close(euler_to_matrix(angles, "reference"), euler_to_matrix(angles).transpose(1, 2))
    with pytest.raises(ValueError, match="rz_convention"):
        TRL3D(32, mode="faithful", rz_convention="left")


def test_add_3dtrl_dispatch_table_is_open_to_new_models():
    from vantage.models import INSERTIONS, TRLInsertion, register_3dtrl_insertion

    class TinyTokens(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed_dim, self.block = 16, torch.nn.Identity()

        def forward(self, x):
            return self.block(x)

    @register_3dtrl_insertion(TinyTokens)
    def _insert(model, position, mode, kw):
        ins = TRLInsertion(TRL3D(model.embed_dim, mode, num_prefix_tokens=1, **kw), "tiny", model)
        model.block.register_forward_pre_hook(lambda m, a: (ins.layer(a[0], (2, 2)),))
        return ins

    try:
        m = add_3dtrl(TinyTokens(), mode="improved")
        x = torch.randn(2, 5, 16)
        torch.testing.assert_close(m(x), x)  # improved: exactly the identity at step 0
        assert isinstance(find_3dtrl(m), TRL3D) and any(k.startswith("trl3d.") for k in m.state_dict())
    finally:
        INSERTIONS.pop(TinyTokens)
