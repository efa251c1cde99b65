"""The ``paper`` presets: each builds, runs, and has the reference's parameter count up to the
documented differences (docs/models.md, "Paper presets").

Reference counts: SwinLSTM-B/-D from the official code (github.com/SongTang-x/SwinLSTM,
commit 4425bcf) instantiated at its 64 x 64 Moving MNIST size; PredRNN from OpenSTL
(commit c74deb5, configs/mmnist/PredRNN.py sizes); DatLSTM from the module list of its
models/DatLSTM.py at 64 x 64 (every block holds both attentions; see ``_datlstm_reference``);
ConvLSTM from Shi et al.'s Table 1 (7.58M); ST-ResNet from DeepST's layer list.
"""

from __future__ import annotations

import pytest
import torch

from sstcast.models import available, create, get_entry, is_sequence_model
from sstcast.models.attention import DeformableBlock, WindowBlock


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_every_model_has_a_paper_preset_that_runs() -> None:
    for name in available():
        assert "paper" in get_entry(name).presets, name
        torch.manual_seed(0)
        if not is_sequence_model(name):
            model = create(name, "paper").eval()
            xc, xp, xt = (torch.rand(1, 2 * n, 32, 32) for n in (3, 1, 1))
            with torch.no_grad():
                assert model(xc, xp, xt, torch.rand(1, 28)).shape == (1, 2, 32, 32)
            continue
        model = create(name, "paper", in_channels=1).eval()
        with torch.no_grad():
            y = model(torch.rand(1, 2, 1, 16, 20), 2)
        assert y.shape == (1, 2, 1, 16, 20) and torch.isfinite(y).all(), name


def test_convlstm_paper_matches_shi_et_al() -> None:
    model = create("convlstm", "paper", in_channels=1)
    hidden, k, c = [128, 64, 64], 5, 16  # 4x4 patches of one channel
    ins = [c, *hidden[:-1]]
    encoder = sum(4 * h * (i + h) * k * k for i, h in zip(ins, hidden, strict=True))
    forecaster = encoder - 4 * hidden[0] * c * k * k  # the paper's forecaster has no input
    head = sum(hidden) * c + c
    paper = encoder + forecaster + head
    assert round(paper / 1e6, 2) == 7.58  # Table 1: ConvLSTM(5x5)-5x5-128-5x5-64-5x5-64
    # documented differences: our forecaster reads the frame, biases, per-channel peepholes
    extra = 4 * hidden[0] * c * k * k + 2 * 4 * sum(hidden) + 2 * 3 * sum(hidden)
    assert n_params(model) == paper + extra


def test_predrnn_paper_matches_openstl() -> None:
    model = create("predrnn", "paper", in_channels=1)
    openstl = 23_838_720  # OpenSTL PredRNN_Model, 4 x 128, filter 5, patch 4, 1 channel
    assert n_params(model) == openstl + 4 * 7 * 128 + 16  # our input-conv and head biases


def test_sa_convlstm_paper_sizes() -> None:
    for name in ("sa_convlstm", "sam_convlstm"):
        model = create(name, "paper", in_channels=1)
        assert model.hidden == [64, 64, 64, 64] and model.patch_size == 4
        assert all(cell.conv.kernel_size == (3, 3) for cell in model.cells)


def test_swinlstm_b_paper_matches_the_official_code() -> None:
    model = create("swinlstm_b", "paper", in_channels=1)
    official = 2_778_417  # SwinLSTM_B.SwinLSTM(img_size=64, embed 128, depths [12], heads 4)
    unused = 6 * (2 * 128 * 128 + 128)  # its `red` merge Linear in the 6 odd blocks
    assert n_params(model) == official - unused
    assert [b.shift_size for b in model.cell.blocks] == [0, 2] * 6
    assert all(b.drop_path.drop_prob == pytest.approx(0.1) for b in model.cell.blocks)


def test_swinlstm_d_paper_matches_the_official_code() -> None:
    model = create("swinlstm_d", "paper", in_channels=1)
    official = 20_191_969  # SwinLSTM_D.SwinLSTM(img_size=64, [2, 6], [6, 2], heads [4, 8])
    unused_red, unused_embed = 1_345_664, 896  # odd blocks' `red`; UpSample's patch_embed
    assert n_params(model) == official - unused_red - unused_embed
    cells = [*model.down_cells, *model.up_cells]
    assert [(c.level, len(c.blocks), c.blocks[0].attn.num_heads) for c in cells] == [
        (0, 2, 4),
        (1, 6, 8),
        (2, 2, 8),
        (1, 6, 4),
    ]
    assert not model.skip


def _drop_paths(model: torch.nn.Module) -> list[float]:
    cells = [*model.down_cells, *model.up_cells]
    return [float(getattr(b.drop_path, "drop_prob", 0.0)) for c in cells for b in c.blocks]


@pytest.mark.parametrize("name", ["swinlstm_d", "datlstm"])
def test_drop_path_follows_the_reference_schedule(name: str) -> None:
    """Encoder: linspace(0, 0.1, 8) in run order; decoder: the same ramp reversed (the
    official DownSample/UpSample with flag=0)."""
    ramp = torch.linspace(0, 0.1, 8).tolist()
    assert _drop_paths(create(name, "paper")) == pytest.approx(ramp + ramp[::-1])


def _datlstm_reference() -> tuple[int, int]:
    """(total, unused) parameters of DatLSTM's reference model at 64 x 64, from its module
    list: every DatTransformerBlock holds norm1, a LocalAttention (qkv, proj, a (2w-1)^2 bias
    table), a DAttentionBaseline (offset network, q/k/v/out 1x1 convs, a (heads, 2q-1, 2q-1)
    table), norm2, the MLP and a `red` Linear(2d, d); it runs the local attention (with `red`)
    when given a second input (blocks 0, 2, ...) and the deformable one otherwise. UpSample
    holds an unused PatchEmbed."""
    w, embed = 4, 128
    total = unused = 0
    stages = [(embed, 4, 2, 32, 2), (2 * embed, 8, 4, 16, 6), (4 * embed, 16, 8, 8, 2)]
    stages.append((2 * embed, 8, 4, 16, 6))
    for d, heads, groups, q, depth in stages:
        gc = d // groups
        local = 4 * d * d + 4 * d + (2 * w - 1) ** 2 * heads
        dat = 10 * gc + 4 * gc + 4 * (d * d + d) + heads * (2 * q - 1) ** 2
        mlp, red = 8 * d * d + 5 * d, 2 * d * d + d
        for i in range(depth):
            total += 4 * d + local + dat + mlp + red
            unused += dat if i % 2 == 0 else local + red
    embed_params = embed * 4 + embed + 2 * embed
    total += 2 * embed_params + embed * 9 + 1  # two PatchEmbeds, the 3x3 PatchInflated
    unused += embed_params
    total += sum(8 * d + 8 * d * d for d in (embed, 2 * embed))  # PatchMerging
    total += sum(2 * d * d + d for d in (4 * embed, 2 * embed))  # PatchExpanding
    return total, unused


def test_datlstm_paper_matches_the_reference() -> None:
    model = create("datlstm", "paper", in_channels=1)
    total, unused = _datlstm_reference()
    assert (total, unused) == (25_730_833, 6_814_024)
    assert n_params(model) == total - unused
    cells = [*model.down_cells, *model.up_cells]
    assert [c.level for c in cells] == [0, 1, 2, 1]
    assert [len(c.blocks) for c in cells] == [2, 6, 2, 6]
    deform = [c.blocks[1].attn for c in cells]
    assert [a.num_heads for a in deform] == [4, 8, 16, 8]
    assert [a.head_dim for a in deform] == [32] * 4
    assert [a.n_groups for a in deform] == [2, 4, 8, 4]
    assert [a.stride for a in deform] == [2] * 4
    assert [a.offset_conv.kernel_size for a in deform] == [(3, 3)] * 4
    assert [a.offset_reach for a in deform] == [2.0] * 4
    assert [a.relative_position_bias_table.shape[-1] for a in deform] == [63, 31, 15, 31]
    for c in cells:
        assert [type(b) for b in c.blocks] == [WindowBlock, DeformableBlock] * (len(c.blocks) // 2)
    assert not model.skip


def test_datlstm_per_cell_options_take_one_value_or_one_per_cell() -> None:
    with pytest.raises(Exception, match="datlstm: option 'n_groups' takes one value"):
        create("datlstm", "tiny", n_groups=(1, 1, 1))
    model = create("datlstm", "tiny", num_heads=(2, 4), embed_dim=8, n_groups=(1, 2))
    # one value per level: SwinLSTM's pairing (decoder level l takes value[l - 1])
    deform = [c.blocks[1].attn for c in [*model.down_cells, *model.up_cells]]
    assert [(a.num_heads, a.n_groups) for a in deform] == [(2, 1), (4, 2), (4, 2), (2, 1)]


def test_stresnet_paper_is_deepst() -> None:
    model = create("stresnet", "paper")
    assert n_params(model) == 2_697_192  # three L12 branches, fusion, external 28-10-2048
    assert isinstance(model.external[-1], torch.nn.ReLU)
    one = create("stresnet", "paper", len_period=0, len_trend=0).eval()
    assert len(one.fusion) == 0  # DeepST: a single branch is not weighted
    xc, ext = torch.rand(2, 6, 32, 32), torch.rand(2, 28)
    with torch.no_grad():
        expected = torch.tanh(
            one.branches["closeness"](xc) + one.external(ext).reshape(2, 2, 32, 32)
        )
        torch.testing.assert_close(one(xc, ext=ext), expected)
    assert len(create("stresnet", "default", len_period=0, len_trend=0).fusion) == 1
