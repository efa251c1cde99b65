"""Model-specific tests of SwinLSTM-B/-D, DatLSTM and their attention blocks.

The generic forecaster tests (shapes, gradients, learning, state dict, rollout) run for every
registered model in tests/test_models.py; these check what is particular to these models:
the deformable attention (offsets, sampling, bias), window padding and masking, the cell's
gating and the B/D layouts.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sstcast.config import ConfigError
from sstcast.models import ModelInputError, datlstm, layers, swinlstm
from sstcast.models.attention import (
    DeformableAttention,
    DeformableBlock,
    WindowAttention,
    WindowBlock,
    attend,
    reference_points,
    shifted_window_mask,
    window_mask,
)
from sstcast.models.registry import create
from sstcast.models.swinlstm import PatchInflate, PatchMerging, SwinLSTMCell

TINY = {
    "swinlstm_b": swinlstm.SwinLSTMB,
    "swinlstm_d": swinlstm.SwinLSTMD,
    "datlstm": datlstm.DatLSTM,
}


def _zero_offsets(attn: DeformableAttention) -> None:
    nn.init.zeros_(attn.offset_out.weight)


def _plain_attention(attn: DeformableAttention, x: Tensor, keys: Tensor, bias: Tensor) -> Tensor:
    """Reference multi-head attention from tokens x (B, H, W, C) to key tokens (B, Ns, C)."""
    b, h, w, c = x.shape
    nh, hd = attn.num_heads, attn.head_dim
    q = attn.proj_q(x).reshape(b, h * w, nh, hd).transpose(1, 2)
    k = attn.proj_k(keys).reshape(b, -1, nh, hd).transpose(1, 2)
    v = attn.proj_v(keys).reshape(b, -1, nh, hd).transpose(1, 2)
    weights = torch.softmax(q @ k.transpose(-1, -2) * hd**-0.5 + bias, dim=-1)
    out = (weights @ v).transpose(1, 2).reshape(b, h, w, c)
    return attn.proj_out(out)


# -- deformable attention ------------------------------------------------------------------
@pytest.mark.parametrize(("height", "width", "stride"), [(6, 10, 2), (7, 9, 2), (5, 5, 1)])
def test_offsets_and_reference_points_shapes(height: int, width: int, stride: int) -> None:
    torch.manual_seed(0)
    attn = DeformableAttention(8, 2, n_groups=2, stride=stride, offset_range_factor=1.5)
    x = torch.randn(3, height, width, 8)
    hk, wk = -(-height // stride), -(-width // stride)
    offsets = attn.offsets(attn.proj_q(x))
    assert offsets.shape == (3 * 2, hk, wk, 2)
    assert offsets.abs().max() <= 1.5 * stride / 2
    assert offsets.abs().max() > 0  # an untrained offset network does move the points
    pos, ref = attn.sample_positions(attn.proj_q(x))
    assert ref.shape == (hk, wk, 2)
    assert pos.shape == (3 * 2, hk, wk, 2)
    centre = (stride - 1) / 2
    assert ref[0, 0].tolist() == [centre, centre]
    assert ref[1, 0, 0].item() == stride + centre
    assert ref[0, 1, 1].item() == stride + centre


def test_reference_points_are_block_centres() -> None:
    ref = reference_points(4, 6, 2)
    assert ref[..., 0][:, 0].tolist() == [0.5, 2.5]
    assert ref[..., 1][0].tolist() == [0.5, 2.5, 4.5]


@pytest.mark.parametrize(("stride", "n_groups"), [(1, 1), (2, 1), (2, 2)])
def test_zero_offsets_equal_plain_attention_over_reference_points(
    stride: int, n_groups: int
) -> None:
    """With zero offsets and a zero bias table the keys are x at the reference points, i.e.
    x itself (stride 1) or its 2x2 block means (stride 2): plain multi-head attention."""
    torch.manual_seed(1)
    attn = DeformableAttention(8, 4, n_groups=n_groups, stride=stride).eval()
    _zero_offsets(attn)
    nn.init.zeros_(attn.relative_position_bias_table)
    x = torch.randn(2, 6, 8, 8)
    keys = F.avg_pool2d(x.permute(0, 3, 1, 2), stride).flatten(2).transpose(1, 2)
    expected = _plain_attention(attn, x, keys, torch.zeros(()))
    torch.testing.assert_close(attn(x), expected, atol=1e-5, rtol=1e-5)


def test_zero_offsets_bias_is_relative_position_table_lookup() -> None:
    """At zero offsets (stride 1) the interpolated bias is the table entry at the integer
    displacement, clamped to the table's edge beyond ``bias_extent``."""
    torch.manual_seed(2)
    extent = 2
    attn = DeformableAttention(8, 2, stride=1, bias_extent=extent).eval()
    _zero_offsets(attn)
    h, w = 4, 5
    x = torch.randn(1, h, w, 8)
    pos, ref = attn.sample_positions(attn.proj_q(x))
    torch.testing.assert_close(pos[0], ref)
    bias = attn.relative_position_bias(pos, h, w)
    assert bias.shape == (1, 2, h * w, h * w)
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    coords = torch.stack([yy.flatten(), xx.flatten()], dim=-1)
    disp = (coords[:, None, :] - coords[None, :, :]).clamp(-extent, extent) + extent
    table = attn.relative_position_bias_table
    expected = table[:, disp[..., 0], disp[..., 1]]
    torch.testing.assert_close(bias[0], expected, atol=1e-6, rtol=1e-5)
    # and the whole module equals plain attention with that bias
    keys = x.reshape(1, h * w, 8)
    torch.testing.assert_close(
        attn(x), _plain_attention(attn, x, keys, expected), atol=1e-5, rtol=1e-5
    )


def test_deformable_attention_gradients_reach_offsets_and_table() -> None:
    torch.manual_seed(3)
    attn = DeformableAttention(8, 2, stride=2)
    attn(torch.randn(2, 6, 6, 8)).square().sum().backward()
    for name, p in attn.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_deformable_attention_bf16_autocast() -> None:
    torch.manual_seed(4)
    attn = DeformableAttention(8, 2, n_groups=2, stride=2)
    x = torch.randn(2, 7, 9, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = attn(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    torch.testing.assert_close(y.float(), attn(x), atol=0.1, rtol=0.1)


def test_deformable_attention_config_errors() -> None:
    with pytest.raises(ValueError, match="n_groups"):
        DeformableAttention(8, 2, n_groups=3)
    with pytest.raises(ValueError, match="offset_range_factor"):
        DeformableAttention(8, 2, offset_range_factor=0.0)
    with pytest.raises(ValueError, match="num_heads"):
        DeformableAttention(8, 3)


# -- windows ------------------------------------------------------------------------------
@pytest.mark.parametrize("stride", [1, 2, 4])
@pytest.mark.parametrize(("height", "width"), [(8, 10), (4, 5), (7, 9), (32, 32)])
def test_offsets_never_exceed_the_reference_reach(height: int, width: int, stride: int) -> None:
    """DatLSTM's reference bounds offsets by tanh · factor / (Hk − 1) in align_corners=True
    coordinates: factor · (H − 1) / (2 (Hk − 1)) tokens. Saturated offsets stay within that
    and reach factor · stride / 2 tokens (the reference's large-map limit)."""
    torch.manual_seed(9)
    factor = 2.0
    attn = DeformableAttention(8, 2, n_groups=2, stride=stride, offset_range_factor=factor)
    with torch.no_grad():
        attn.offset_out.weight.mul_(1e4)  # tanh saturates: offsets at their bounds
    offsets = attn.offsets(attn.proj_q(torch.randn(2, height, width, 8)))
    hk, wk = -(-height // stride), -(-width // stride)
    for axis, (size, keys) in enumerate([(height, hk), (width, wk)]):
        reach = offsets[..., axis].abs().max().item()
        assert reach == pytest.approx(factor * stride / 2, rel=1e-4)
        if keys > 1:  # the reference is undefined for a single key row/column
            assert reach <= factor * (size - 1) / (2 * (keys - 1)) + 1e-6
    # the default factor 2 reaches 2 tokens at level 0 (stride 2), as the reference does
    assert DeformableAttention(8, 2, stride=2).offset_reach == 2.0


def test_depths_up_is_listed_as_the_reference_configs_list_it() -> None:
    """SwinLSTM's, OpenSTL's and DatLSTM's configs give depths_down [2, 6], depths_up [6, 2]:
    the coarsest decoder cell has 2 blocks and the level-1 cell 6; that is the default."""
    for name in ("swinlstm_d", "datlstm"):
        explicit = create(name, "tiny", depths=(2, 6), depths_up=(6, 2), num_heads=(2, 2))
        default = create(name, "tiny", depths=(2, 6), num_heads=(2, 2))
        for model in (explicit, default):
            assert [(c.level, len(c.blocks)) for c in model.up_cells] == [(2, 2), (1, 6)]


def test_datlstm_refuses_cells_without_a_deformable_block() -> None:
    with pytest.raises(ConfigError, match=r"datlstm: option 'depths' needs at least 2"):
        create("datlstm", "tiny", depths=(1, 2))
    with pytest.raises(ConfigError, match=r"datlstm: option 'depths_up' needs at least 2"):
        create("datlstm", "tiny", depths=(2, 2), depths_up=(2, 1))
    with pytest.raises(ConfigError, match=r"option 'depths' needs at least 2"):
        create("datlstm", "tiny", depths=1, num_heads=2)


def test_relative_position_bias_table_shapes() -> None:
    block = WindowBlock(8, 2, 3)
    assert block.attn.relative_position_bias_table.shape == ((2 * 3 - 1) ** 2, 2)
    attn = DeformableAttention(8, 4, bias_extent=5)
    assert attn.relative_position_bias_table.shape == (4, 11, 11)


def test_shifted_window_mask_separates_wrapped_regions() -> None:
    mask = shifted_window_mask(4, 4, 2, 1)
    assert mask.shape == (4, 4, 4)
    assert (mask[0] == 0).all()  # the top-left window holds no wrapped cells
    assert (mask[-1] != 0).any()  # the bottom-right one mixes four regions
    assert set(mask.unique().tolist()) == {0.0, -100.0}


def test_shift_is_skipped_on_a_single_window_map() -> None:
    torch.manual_seed(5)
    shifted = WindowBlock(8, 2, 2, shift=True)
    plain = WindowBlock(8, 2, 2, shift=False)
    plain.load_state_dict(shifted.state_dict())
    x = torch.randn(1, 2, 2, 8)
    torch.testing.assert_close(shifted(x), plain(x))
    x = torch.randn(1, 4, 4, 8)  # larger map: the shift changes the result
    assert not torch.allclose(shifted(x), plain(x))


@pytest.mark.parametrize("shift", [0, 2])
def test_window_attention_equals_timm(shift: int) -> None:
    """Our WindowAttention has timm's parameters and gives timm's result (with Swin's
    shifted-window mask) on a map of whole windows."""
    from timm.models.swin_transformer import WindowAttention as TimmWindowAttention
    from timm.models.swin_transformer import window_partition, window_reverse

    torch.manual_seed(10)
    ours = WindowAttention(16, 4, 4).eval()
    ref = TimmWindowAttention(16, num_heads=4, window_size=4).eval()
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(2, 8, 12, 16)
    xs = torch.roll(x, shifts=(-shift, -shift), dims=(1, 2)) if shift else x
    mask = shifted_window_mask(8, 12, 4, shift) if shift else None
    windows = ref(window_partition(xs, (4, 4)).reshape(-1, 16, 16), mask=mask)
    expected = window_reverse(windows.reshape(-1, 4, 4, 16), (4, 4), 8, 12)
    if shift:
        expected = torch.roll(expected, shifts=(shift, shift), dims=(1, 2))
    with torch.no_grad():
        torch.testing.assert_close(ours(x, shift), expected, atol=1e-5, rtol=1e-5)


def test_window_attention_attends_within_the_real_part_of_edge_windows() -> None:
    """A 6x7 map with window 4: the edge windows are padded, and each real query attends
    exactly to the real tokens of its window."""
    torch.manual_seed(11)
    attn = WindowAttention(8, 2, 4).eval()
    x = torch.randn(1, 6, 7, 8)
    with torch.no_grad():
        out = attn(x)
        q, k, v = attn.qkv(x).reshape(1, 6, 7, 3, 2, 4).unbind(3)
        bias = attn.relative_position_bias()  # (heads, 16, 16)
        expected = torch.empty(1, 6, 7, 2, 4)
        for i in range(6):
            for j in range(7):
                r0, c0 = i // 4 * 4, j // 4 * 4
                keys = [
                    (a, b) for a in range(r0, min(r0 + 4, 6)) for b in range(c0, min(c0 + 4, 7))
                ]
                qi = (i - r0) * 4 + (j - c0)
                kidx = [(a - r0) * 4 + (b - c0) for a, b in keys]
                kk = torch.stack([k[0, a, b] for a, b in keys], dim=1)  # (heads, n, hd)
                vv = torch.stack([v[0, a, b] for a, b in keys], dim=1)
                scores = (q[0, i, j][:, None] * kk).sum(-1) * 4**-0.5 + bias[:, qi, kidx]
                expected[0, i, j] = (scores.softmax(-1)[..., None] * vv).sum(1)
        expected = attn.proj(expected.reshape(1, 6, 7, 8))
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def test_attend_equals_scaled_dot_product_attention() -> None:
    """The explicit CPU product of ``attend`` is SDPA's maths (5-D grouping included)."""
    torch.manual_seed(13)
    q, k, v = torch.randn(3, 2, 4, 5, 8), torch.randn(3, 2, 4, 7, 8), torch.randn(3, 2, 4, 7, 8)
    bias = torch.randn(2, 4, 5, 7)
    bias[1, :, :, 3] = float("-inf")
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.expand(3, -1, -1, -1, -1))
    torch.testing.assert_close(attend(q, k, v, bias), expected, atol=1e-5, rtol=1e-5)


def test_window_mask_is_cached_and_masks_padding_only() -> None:
    assert window_mask(8, 8, 4, 0, torch.device("cpu")) is None  # nothing to mask
    mask = window_mask(6, 7, 4, 0, torch.device("cpu"))
    assert mask is window_mask(6, 7, 4, 0, torch.device("cpu"))  # cached
    assert mask.shape == (4, 16, 16)
    assert (mask[0] == 0).all()  # the top-left window is all real
    assert torch.isinf(mask[3]).any() and not torch.isinf(mask[3][:, 0]).any()
    with torch.inference_mode():
        window_mask(5, 5, 4, 2, torch.device("cpu"))
    block = WindowBlock(8, 2, 4, shift=True)
    block(torch.randn(1, 5, 5, 8)).sum().backward()  # a mask made under inference mode serves


@pytest.mark.parametrize(("height", "width"), [(4, 6), (5, 7), (3, 3)])
def test_patch_merging_masks_missing_tokens(height: int, width: int) -> None:
    """Even maps: timm's PatchMerging. Odd maps: each merged token is LayerNorm over its
    present tokens only, missing ones entering the reduction as zeros."""
    from timm.models.swin_transformer import PatchMerging as TimmPatchMerging

    torch.manual_seed(12)
    ours = PatchMerging(4, 8)
    with torch.no_grad():
        ours.norm.weight.uniform_(0.5, 1.5)
        ours.norm.bias.uniform_(-0.5, 0.5)
    x = torch.randn(2, height, width, 4)
    out = ours(x)
    h2, w2 = -(-height // 2), -(-width // 2)
    assert out.shape == (2, h2, w2, 8)
    if height % 2 == 0 and width % 2 == 0:
        ref = TimmPatchMerging(4, out_dim=8)
        ref.load_state_dict(ours.state_dict())
        torch.testing.assert_close(out, ref(x))
        return
    for i in range(h2):
        for j in range(w2):
            parts, keep = [], []
            for dx in range(2):
                for dy in range(2):
                    r, c = 2 * i + dy, 2 * j + dx
                    ok = r < height and c < width
                    parts.append(x[:, r, c] if ok else torch.zeros(2, 4))
                    keep.append(torch.full((4,), float(ok)))
            feat, keep = torch.cat(parts, -1), torch.cat(keep).bool()
            real = feat[:, keep]
            normed = torch.zeros_like(feat)
            z = (real - real.mean(-1, keepdim=True)) / torch.sqrt(
                real.var(-1, unbiased=False, keepdim=True) + 1e-5
            )
            normed[:, keep] = z * ours.norm.weight[keep] + ours.norm.bias[keep]
            torch.testing.assert_close(out[:, i, j], ours.reduction(normed), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", sorted(TINY))
@pytest.mark.parametrize(("height", "width"), [(7, 9), (16, 20), (10, 6)])
def test_padded_cells_never_change_outputs_on_real_cells(
    name: str, height: int, width: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the padding holds (frame cells past a patch, window padding, missing tokens
    of edge merges), the forecast is the same: every padded cell is masked out."""
    torch.manual_seed(6)
    model = create(name, "tiny", in_channels=1, extra_channels=1, residual=False)
    perturb = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=perturb))
    model.eval()
    x, extra = torch.randn(2, 3, 1, height, width), torch.randn(2, 5, 1, height, width)
    outs = []
    for fill in (0.0, 1e4, -3e3):
        monkeypatch.setattr(layers, "PAD_FILL", fill)
        with torch.no_grad():
            outs.append(model(x, 2, extra=extra))
    assert outs[0].shape == (2, 2, 1, height, width)
    for out in outs[1:]:
        torch.testing.assert_close(out, outs[0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", sorted(TINY))
def test_token_maps_keep_the_real_size_at_every_level(name: str) -> None:
    model = create(name, "tiny", in_channels=1)
    x = torch.randn(2, 3, 1, 7, 9)
    state = model.init_state(2, 7, 9, x)
    for (h, c), (level, dim) in zip(state, model.cell_levels, strict=True):
        step = model.patch_size * 2**level
        assert h.shape == c.shape == (2, -(-7 // step), -(-9 // step), dim)
    with torch.no_grad():
        y = model(x, 2)
    assert y.shape == (2, 2, 1, 7, 9)


@pytest.mark.parametrize("patch", [1, 2, 3, 4, 5])
def test_patch_inflate_handles_any_patch_size(patch: int) -> None:
    inflate = PatchInflate(6, 2, patch)
    assert inflate(torch.randn(1, 3, 4, 6)).shape == (1, 2, 3 * patch, 4 * patch)


def test_patch_size_three_model_runs_on_odd_grid() -> None:
    model = create("swinlstm_d", "tiny", patch_size=3)
    assert model(torch.randn(1, 2, 1, 7, 9), 2).shape == (1, 2, 1, 7, 9)


# -- the cell and the layouts -------------------------------------------------------------
class _SumBlock(nn.Module):
    """Stand-in block whose output is x + other, to check the cell's wiring and gates."""

    def __init__(self, merge_input: bool) -> None:
        super().__init__()
        self.merges_input = merge_input

    def forward(self, x: Tensor, other: Tensor | None = None) -> Tensor:
        assert (other is not None) == self.merges_input
        return x if other is None else x + other


def test_swinlstm_cell_gating_and_input_reinjection() -> None:
    cell = SwinLSTMCell(4, 1, 3, 0, lambda spec: _SumBlock(spec.merge_input))
    x, h, c = torch.randn(3, 2, 2, 2, 4).unbind(0)
    f = (x + h) + x  # block 0 merges h, block 1 passes through, block 2 merges x again
    gate = torch.sigmoid(f)
    c_new = gate * (c + torch.tanh(f))
    h_new = gate * torch.tanh(c_new)
    out, (h_out, c_out) = cell(x, (h, c))
    torch.testing.assert_close(c_out, c_new)
    torch.testing.assert_close(h_out, h_new)
    assert out is h_out


def test_swinlstm_b_layout() -> None:
    model = create("swinlstm_b", "tiny", depths=4, num_heads=2, embed_dim=8)
    blocks = list(model.cell.blocks)
    assert len(blocks) == 4
    assert [b.shift_size for b in blocks] == [0, 1, 0, 1]  # W-MSA / SW-MSA, window 2
    assert [b.merges_input for b in blocks] == [True, False, True, False]
    assert model.levels == 0 and model.cell_levels == [(0, 8)]
    with pytest.raises(ConfigError, match=r"swinlstm_b: option 'depths'.*one cell"):
        create("swinlstm_b", "tiny", depths=(2, 2))


def test_swinlstm_d_layout() -> None:
    model = create(
        "swinlstm_d", "tiny", embed_dim=8, depths=(2, 4), depths_up=(6, 2), num_heads=(2, 4)
    )
    assert model.levels == 2
    assert [(c.level, c.dim, len(c.blocks)) for c in model.down_cells] == [(0, 8, 2), (1, 16, 4)]
    # decoder from the coarsest level up; depths_up is listed finest first as in the official
    # configs (depths_up[l - 1] is level l); heads of level l+1 come from num_heads[l]
    assert [(c.level, c.dim, len(c.blocks)) for c in model.up_cells] == [(2, 32, 2), (1, 16, 6)]
    heads = [c.blocks[0].attn.num_heads for c in [*model.down_cells, *model.up_cells]]
    assert heads == [2, 4, 4, 2]
    assert model.cell_levels == [(0, 8), (1, 16), (2, 32), (1, 16)]
    tokens = torch.randn(1, 8, 8, 8)
    state = model.init_state(1, 16, 16, tokens)
    out, new_state = model.forward_tokens(tokens, state)
    assert out.shape == tokens.shape
    assert [s[0].shape for s in new_state] == [s[0].shape for s in state]
    with pytest.raises(ConfigError, match="one entry per level"):
        create("swinlstm_d", "tiny", depths_up=(2,))


def test_datlstm_alternates_local_and_deformable_blocks() -> None:
    model = create("datlstm", "tiny", depths=(4, 2), offset_stride=(4, 2, 1, 2))
    blocks = list(model.down_cells[0].blocks)
    assert [type(b) for b in blocks] == [WindowBlock, DeformableBlock] * 2
    assert all(b.shift_size == 0 for b in blocks if isinstance(b, WindowBlock))
    strides = {c.level: c.blocks[1].attn.stride for c in [*model.down_cells, *model.up_cells]}
    assert strides == {0: 4, 1: 2, 2: 1}
    with pytest.raises(ConfigError, match="datlstm: option 'n_groups'"):
        create("datlstm", "tiny", n_groups=3)
    with pytest.raises(ConfigError, match="option 'offset_range_factor'"):
        create("datlstm", "tiny", offset_range_factor=-1.0)


@pytest.mark.parametrize("name", sorted(TINY))
def test_wrong_channels_raise_clear_errors(name: str) -> None:
    model = create(name, "tiny", in_channels=2, extra_channels=1)
    assert isinstance(model, TINY[name])
    with pytest.raises(ModelInputError, match="channels"):
        model(torch.randn(1, 2, 3, 8, 8), 1, extra=torch.randn(1, 3, 1, 8, 8))
    state = model.init_state(1, 8, 8, torch.zeros(1))
    with pytest.raises(ModelInputError, match="in_channels \\+ extra_channels"):
        model.step(torch.randn(1, 2, 8, 8), state)
    with pytest.raises(ConfigError, match=f"{name}: option 'num_heads'"):
        create(name, "tiny", embed_dim=6, num_heads=4)
    with pytest.raises(ConfigError, match=f"{name}: option 'window_size'"):
        create(name, "tiny", window_size=0)


@pytest.mark.parametrize("name", sorted(TINY))
def test_bf16_autocast_and_seeded_determinism(name: str) -> None:
    x = torch.randn(1, 2, 1, 7, 9)
    outs = []
    for _ in range(2):
        torch.manual_seed(7)
        model = create(name, "tiny", residual=False)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            outs.append(model(x, 2))
    assert outs[0].shape == (1, 2, 1, 7, 9) and torch.isfinite(outs[0]).all()
    torch.testing.assert_close(outs[0], outs[1], rtol=0, atol=0)


@pytest.mark.parametrize("name", ["swinlstm_d", "datlstm"])
def test_skips_add_encoder_states_to_the_decoder(name: str) -> None:
    """skip=False is the paper's layout: the same parameters, only the wiring differs."""
    torch.manual_seed(8)
    with_skip = create(name, "tiny", residual=False, depths=(2,), num_heads=(2,), skip=True)
    with_skip.eval()
    paper = create(name, "tiny", residual=False, depths=(2,), num_heads=(2,))
    paper.load_state_dict(with_skip.state_dict())
    paper.eval()
    x = torch.randn(1, 2, 1, 8, 8)  # 8x8 = one level's multiple: no padding
    with torch.no_grad():
        assert not torch.allclose(with_skip(x, 1), paper(x, 1))
        tokens = with_skip.patch_embed(x[:, 0])
        state = with_skip.init_state(1, 8, 8, x)
        h0, _ = with_skip.down_cells[0](tokens, state[0])
        out_skip, _ = with_skip.forward_tokens(tokens, state)
        out_paper, _ = paper.forward_tokens(tokens, state)
    # one level: the decoder output at the patch grid gains exactly the encoder's state
    torch.testing.assert_close(out_skip - out_paper, h0)
