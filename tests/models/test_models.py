"""Behavioural tests of the forecaster zoo.

Generic tests run over every registered sequence model (``available()``), tiny presets and
small odd grids; model-specific tests cover the patch trick, peepholes, the attention
modules, PredRNN's configuration and ST-ResNet.
"""

from __future__ import annotations

import pytest
import torch

from sstcast.config import ConfigError
from sstcast.models import (
    ModelInputError,
    available,
    create,
    get_entry,
    is_sequence_model,
)
from sstcast.models.layers import spatial_attention
from sstcast.models.sa_convlstm import SelfAttention

SEQUENCE_MODELS = [name for name in available() if is_sequence_model(name)]
PATCHED_MODELS = ["convlstm", "sa_convlstm", "sam_convlstm", "predrnn"]


def make(name: str, seed: int = 0, **config) -> torch.nn.Module:
    torch.manual_seed(seed)
    return create(name, "tiny", **config)


def blob_sequence(batch: int, steps: int, height: int, width: int, seed: int = 0) -> torch.Tensor:
    """Gaussian blobs moving one cell right and half a cell down per step: (B, T, 1, H, W)."""
    gen = torch.Generator().manual_seed(seed)
    y0 = torch.rand(batch, generator=gen) * height / 2
    x0 = torch.rand(batch, generator=gen) * width / 2
    t = torch.arange(steps, dtype=torch.float32)
    cy = (y0[:, None] + 0.5 * t)[:, :, None, None]
    cx = (x0[:, None] + 1.0 * t)[:, :, None, None]
    yy = torch.arange(height, dtype=torch.float32)[:, None]
    xx = torch.arange(width, dtype=torch.float32)[None, :]
    field = torch.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 4.0)
    return field[:, :, None]


def perturb_(module: torch.nn.Module, seed: int = 1) -> None:
    """Move every parameter off its initial value (e.g. a zero-initialised residual head)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen))


def test_registry_lists_the_zoo() -> None:
    names = available()
    for name in ["convlstm", "sa_convlstm", "sam_convlstm", "predrnn", "stresnet"]:
        assert name in names
        assert "tiny" in get_entry(name).presets and "default" in get_entry(name).presets
    assert not is_sequence_model("stresnet")
    assert is_sequence_model("convlstm")
    with pytest.raises(KeyError, match="unknown model"):
        create("no_such_model")
    with pytest.raises(KeyError, match="no preset"):
        create("convlstm", "huge")


# ----------------------------------------------------------------------------------------
# Generic sequence-model behaviour
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", SEQUENCE_MODELS)
def test_output_shapes_odd_grids_any_n_out(name: str) -> None:
    cases = [(1, (7, 9), 1), (2, (13, 17), 3), (1, (16, 20), 12), (1, (41, 57), 1)]
    for channels, (h, w), n_out in cases:
        model = make(name, in_channels=channels).eval()
        x = torch.randn(1, 2, channels, h, w)
        with torch.no_grad():
            y = model(x, n_out)
        assert y.shape == (1, n_out, channels, h, w)
        assert torch.isfinite(y).all()


@pytest.mark.parametrize("name", SEQUENCE_MODELS)
def test_untrained_residual_model_is_persistence(name: str) -> None:
    model = make(name, in_channels=2, extra_channels=1, residual=True).eval()
    x = torch.randn(2, 4, 2, 7, 9)
    extra = torch.randn(2, 4 + 5, 1, 7, 9)
    with torch.no_grad():
        y = model(x, 5, extra=extra)
    torch.testing.assert_close(y, x[:, -1:].expand(-1, 5, -1, -1, -1), rtol=0, atol=0)


@pytest.mark.parametrize("name", SEQUENCE_MODELS)
def test_gradients_reach_every_parameter(name: str) -> None:
    # residual=False: a zero-initialised residual head would (correctly) block the gradient
    # to everything upstream of it at initialisation.
    model = make(name, in_channels=1, extra_channels=1, residual=False).train()
    x = torch.randn(2, 3, 1, 8, 10)
    extra = torch.randn(2, 3 + 2, 1, 8, 10)
    y = model(x, 2, extra=extra)
    (y**2).mean().backward()
    silent = [
        n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0
    ]
    assert not silent, f"parameters without gradient: {silent}"


@pytest.mark.parametrize("name", SEQUENCE_MODELS)
def test_residual_head_gets_gradient_at_init(name: str) -> None:
    model = make(name, residual=True).train()
    x = blob_sequence(2, 5, 8, 10)
    loss = ((model(x[:, :3], 2) - x[:, 3:]) ** 2).mean()
    loss.backward()
    grads = [p.grad.abs().sum().item() for p in model.parameters() if p.grad is not None]
    assert grads and max(grads) > 0


@pytest.mark.parametrize("name", SEQUENCE_MODELS)
def test_training_lowers_the_loss_on_a_moving_blob(name: str) -> None:
    # Starts from persistence (residual, zero head) and must beat it on a fixed batch.
    model = make(name, residual=True).train()
    seq = blob_sequence(4, 5, 12, 12)
    x, y = seq[:, :3], seq[:, 3:]
    # SAM's hidden output o'∘M starts near zero (the memory M starts at zero), so the head
    # moves the forecast slowly at first: it gets a larger step. 3e-3 suits the others
    # (1e-2 makes the transformer models oscillate).
    lr = 2e-2 if name == "sam_convlstm" else 3e-3
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = ((model(x, 2) - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with torch.no_grad():
        final = ((model(x, 2) - y) ** 2).mean().item()
    assert final < 0.8 * losses[0], (losses, final)


@pytest.mark.parametrize("name", SEQUENCE_MODELS)
def test_state_dict_round_trip(name: str) -> None:
    model = make(name, in_channels=1, extra_channels=2, seed=0)
    perturb_(model)
    clone = make(name, in_channels=1, extra_channels=2, seed=123)
    clone.load_state_dict(model.state_dict())
    x, extra = torch.randn(2, 3, 1, 7, 9), torch.randn(2, 3 + 4, 2, 7, 9)
    with torch.no_grad():
        torch.testing.assert_close(
            clone.eval()(x, 4, extra=extra), model.eval()(x, 4, extra=extra), rtol=0, atol=0
        )


@pytest.mark.parametrize("name", SEQUENCE_MODELS)
def test_rollout_equals_chained_one_step_calls(name: str) -> None:
    model = make(name, in_channels=1, extra_channels=1, residual=False).eval()
    x = torch.randn(1, 3, 1, 7, 9)
    extra = torch.randn(1, 3 + 10, 1, 7, 9)
    with torch.no_grad():
        full = model(x, 10, extra=extra)
        frames = x
        for k in range(10):
            t = frames.shape[1]
            nxt = model(frames, 1, extra=extra[:, : t + 1])
            torch.testing.assert_close(nxt[:, 0], full[:, k], rtol=1e-5, atol=1e-5)
            frames = torch.cat([frames, nxt], dim=1)


@pytest.mark.parametrize("name", SEQUENCE_MODELS)
def test_teacher_forcing_feeds_the_truth(name: str) -> None:
    model = make(name, residual=False)
    perturb_(model)
    model.train()
    x, target = torch.randn(2, 3, 1, 7, 9), torch.randn(2, 4, 1, 7, 9)
    with torch.no_grad():
        free = model(x, 4)
        forced = model(x, 4, target=target, teacher_forcing=1.0)
        half = model(x, 4, target=target, teacher_forcing=0.0)
        for k in range(4):
            one = model(torch.cat([x, target[:, :k]], dim=1), 1)
            torch.testing.assert_close(forced[:, k], one[:, 0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(half, free)
    assert not torch.allclose(forced[:, 1:], free[:, 1:])
    with pytest.raises(ModelInputError, match="target"):
        model(x, 4, target=target[:, :2], teacher_forcing=1.0)


@pytest.mark.parametrize("name", SEQUENCE_MODELS)
def test_extra_channels_and_clear_shape_errors(name: str) -> None:
    model = make(name, in_channels=2, extra_channels=3, residual=False)
    perturb_(model)
    model.eval()
    x = torch.randn(1, 3, 2, 7, 9)
    extra = torch.randn(1, 3 + 2, 3, 7, 9)
    with torch.no_grad():
        y = model(x, 2, extra=extra)
        y_other = model(x, 2, extra=extra + 1.0)
    assert y.shape == (1, 2, 2, 7, 9)
    assert not torch.allclose(y, y_other), "extra channels must influence the forecast"
    with pytest.raises(ModelInputError, match="channels"):
        model(torch.randn(1, 3, 1, 7, 9), 2, extra=extra)
    with pytest.raises(ModelInputError, match="extra"):
        model(x, 2)
    with pytest.raises(ModelInputError, match="extra"):
        model(x, 2, extra=extra[:, :4])  # one step short
    with pytest.raises(ModelInputError, match="x must be"):
        model(x[0], 2, extra=extra)
    plain = make(name, in_channels=2)
    with pytest.raises(ModelInputError, match="extra_channels=0"):
        plain(x, 2, extra=extra)


@pytest.mark.parametrize("name", SEQUENCE_MODELS)
def test_deterministic_under_seed(name: str) -> None:
    x = torch.randn(1, 3, 1, 7, 9)
    outs = []
    for _ in range(2):
        model = make(name, seed=7, residual=False).eval()
        with torch.no_grad():
            outs.append(model(x, 3))
    torch.testing.assert_close(outs[0], outs[1], rtol=0, atol=0)


@pytest.mark.parametrize("name", SEQUENCE_MODELS)
def test_runs_under_bf16_autocast(name: str) -> None:
    model = make(name, residual=True)
    perturb_(model)
    x = torch.randn(1, 3, 1, 7, 9)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = model(x, 2)
    y.float().sum().backward()
    assert y.shape == (1, 2, 1, 7, 9)
    assert torch.isfinite(y).all()


# ----------------------------------------------------------------------------------------
# Model-specific behaviour
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", PATCHED_MODELS)
@pytest.mark.parametrize("patch", [2, 3])
def test_patch_trick_pads_and_crops_any_grid(name: str, patch: int) -> None:
    model = make(name, in_channels=2, extra_channels=1, patch_size=patch, residual=False).eval()
    x, extra = torch.randn(2, 3, 2, 7, 9), torch.randn(2, 3 + 2, 1, 7, 9)
    with torch.no_grad():
        y = model(x, 2, extra=extra)
    assert y.shape == (2, 2, 2, 7, 9)
    # The cells run on a grid p times coarser with (2 + 1)·p² input channels.
    assert model.grid_in_channels == 3 * patch**2
    first = model.cells[0]
    if hasattr(first, "conv"):  # ConvLSTM cell: one conv over [X, H]
        assert first.conv.in_channels == 3 * patch**2 + first.hidden
    else:  # ST-LSTM cell: a conv on X alone
        assert first.conv_x.in_channels == 3 * patch**2
    state = model.init_state(2, 7, 9, x)
    h = state[0][0][0] if name == "predrnn" else state[0][0]
    assert h.shape[-2:] == (-(-7 // patch), -(-9 // patch))
    persist = make(name, in_channels=2, extra_channels=1, patch_size=patch).eval()
    with torch.no_grad():
        torch.testing.assert_close(persist(x, 2, extra=extra), x[:, -1:].expand(-1, 2, -1, -1, -1))


def test_convlstm_peepholes_are_registered_per_channel_parameters() -> None:
    model = make("convlstm", hidden=[5, 6])
    names = dict(model.named_parameters())
    for layer, hidden in [(0, 5), (1, 6)]:
        for gate in ["w_ci", "w_cf", "w_co"]:
            assert names[f"cells.{layer}.{gate}"].shape == (hidden, 1, 1)
            assert f"cells.{layer}.{gate}" in model.state_dict()
    # Per-channel peepholes do not tie the model to one grid size.
    with torch.no_grad():
        assert model(torch.randn(1, 2, 1, 5, 6), 1).shape == (1, 1, 1, 5, 6)
        assert model(torch.randn(1, 2, 1, 11, 4), 1).shape == (1, 1, 1, 11, 4)
    plain = make("convlstm", hidden=[5], peephole=False)
    assert not any("w_c" in n for n, _ in plain.named_parameters())


def test_convlstm_head_reads_all_layers() -> None:
    model = make("convlstm", hidden=[5, 6])
    assert model.head.in_channels == 11


def test_convlstm_encoder_forecaster_uses_two_stacks() -> None:
    """Shi et al.'s layout: the encoder reads x[0..T-2], the forecaster (its own weights,
    states handed over) emits every forecast; untrained residual == persistence."""
    shared = make("convlstm", hidden=[6])
    ef = make("convlstm", hidden=[6], encoder_forecaster=True)
    n_cells = sum(p.numel() for p in shared.cells.parameters())
    assert (
        sum(p.numel() for p in ef.parameters())
        == sum(p.numel() for p in shared.parameters()) + n_cells
    )
    x = blob_sequence(2, 4, 7, 9)
    with torch.no_grad():
        out = ef(x, 5)
    assert out.shape == (2, 5, 1, 7, 9)
    assert torch.equal(out, x[:, -1:].expand(-1, 5, -1, -1, -1))  # zero head: persistence

    model = make("convlstm", hidden=[6], encoder_forecaster=True, residual=False).train()
    (model(x, 2) ** 2).mean().backward()
    for prefix in ("cells.", "forecaster.", "head."):
        grads = [p.grad for n, p in model.named_parameters() if n.startswith(prefix)]
        assert grads and all(g is not None and g.abs().sum() > 0 for g in grads), prefix
    # one input frame: nothing to encode, the forecaster starts from zero states
    with torch.no_grad():
        assert model(x[:, :1], 3).shape == (2, 3, 1, 7, 9)


def test_spatial_attention_matches_explicit_softmax() -> None:
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 4, 5), torch.randn(2, 3, 2, 3), torch.randn(2, 6, 2, 3)
    out = spatial_attention(q, k, v)
    qf, kf, vf = q.flatten(2), k.flatten(2), v.flatten(2)  # (B, C, N)
    weights = torch.softmax(qf.transpose(1, 2) @ kf / 3**0.5, dim=-1)  # (B, Nq, Nk)
    expected = (vf @ weights.transpose(1, 2)).reshape(2, 6, 4, 5)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("cq", "cv"), [(3, 6), (6, 3), (4, 4)])
def test_spatial_attention_gradients_match_explicit_softmax(cq: int, cv: int) -> None:
    """The fused path (zero channels padding the narrower side on the CPU) changes neither
    the output nor any gradient."""
    torch.manual_seed(1)
    shapes = [(2, cq, 4, 5), (2, cq, 3, 3), (2, cv, 3, 3)]
    fused = [torch.randn(*shape, requires_grad=True) for shape in shapes]
    plain = [t.detach().clone().requires_grad_() for t in fused]
    (spatial_attention(*fused) ** 2).sum().backward()
    q, k, v = (t.flatten(2) for t in plain)
    weights = torch.softmax(q.transpose(1, 2) @ k / cq**0.5, dim=-1)
    ((v @ weights.transpose(1, 2)) ** 2).sum().backward()
    for a, b in zip(fused, plain, strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-5, atol=1e-5)


def test_spatial_attention_keeps_no_square_of_the_grid() -> None:
    """On a 48 x 48 grid the (H*W)^2 weights (2 x 2304^2 floats, 40 MiB) are not kept for
    the backward pass."""
    from sstcast.training.memory import saved_for_backward

    q, k = torch.randn(2, 8, 48, 48, requires_grad=True), torch.randn(2, 8, 48, 48)
    v = torch.randn(2, 32, 48, 48)
    kept = saved_for_backward(lambda: spatial_attention(q, k, v))
    assert kept < 2 * 2304 * 2304 * 4 / 10


def test_self_attention_output_is_added_once() -> None:
    torch.manual_seed(0)
    module = SelfAttention(hidden=4, attn_channels=2)
    h = torch.randn(1, 4, 5, 6)
    with torch.no_grad():
        z = spatial_attention(module.query(h), module.key(h), module.value(h))
        torch.testing.assert_close(module(h), h + module.out(z))
        module.out.weight.zero_()
        module.out.bias.zero_()
        torch.testing.assert_close(module(h), h, rtol=0, atol=0)


def test_attention_reaches_across_the_whole_grid() -> None:
    # kernel 1: without attention a cell only sees its own column; with it, a change in one
    # corner moves the forecast in the opposite corner after a single step.
    for name in ["sa_convlstm", "sam_convlstm"]:
        model = make(name, hidden=[4], kernel_size=1, residual=False)
        perturb_(model)
        model.eval()
        x = torch.randn(1, 2, 1, 6, 7)
        x2 = x.clone()
        x2[:, :, :, 0, 0] += 1.0
        with torch.no_grad():
            diff = (model(x, 1) - model(x2, 1))[0, 0, 0, -1, -1].abs()
        assert diff > 0, name
    plain = make("convlstm", hidden=[4], kernel_size=1, residual=False).eval()
    with torch.no_grad():
        assert (plain(x, 1) - plain(x2, 1))[0, 0, 0, -1, -1].abs() == 0


def test_sam_convlstm_carries_a_memory_and_sa_does_not() -> None:
    sam = make("sam_convlstm", hidden=[4])
    sa = make("sa_convlstm", hidden=[4])
    x = torch.randn(1, 1, 1, 5, 5)
    assert len(sam.init_state(1, 5, 5, x)[0]) == 3
    assert len(sa.init_state(1, 5, 5, x)[0]) == 2
    assert any("key_m" in n for n, _ in sam.named_parameters())
    assert not any("key_m" in n for n, _ in sa.named_parameters())


def test_predrnn_memory_zigzags_from_top_to_bottom() -> None:
    model = make("predrnn", hidden=[4, 4], residual=False)
    perturb_(model)
    model.eval()
    x = torch.randn(1, 3, 1, 6, 6)
    with torch.no_grad():
        state = model.init_state(1, 6, 6, x)
        _, state = model.step(x[:, 0], state)
        layers, memory = state
        # The memory after a step is the top layer's; the bottom layer reads it next step.
        assert memory.shape == (1, 4, 6, 6) and memory.abs().sum() > 0
        out_with, _ = model.step(x[:, 1], (layers, memory))
        out_without, _ = model.step(x[:, 1], (layers, torch.zeros_like(memory)))
    assert not torch.allclose(out_with, out_without)


def test_bad_configurations_raise_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"predrnn.*hidden"):
        create("predrnn", "tiny", hidden=[8, 4])
    with pytest.raises(ConfigError, match="kernel_size"):
        create("convlstm", "tiny", kernel_size=4)
    with pytest.raises(ConfigError, match="hidden"):
        create("sam_convlstm", "tiny", hidden=[])
    assert create("convlstm", "tiny", hidden=6).hidden == [6]  # a YAML scalar works too
    with pytest.raises(TypeError, match="convlstm"):
        create("convlstm", "tiny", no_such_option=1)


# ----------------------------------------------------------------------------------------
# ST-ResNet
# ----------------------------------------------------------------------------------------
def stresnet_inputs(model, batch: int = 2, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    c, h, w = model.channels, model.height, model.width
    lc, lp, lt = (model.lengths[k] for k in ("closeness", "period", "trend"))
    xc = torch.rand(batch, c * lc, h, w, generator=gen) * 2 - 1
    xp = torch.rand(batch, c * lp, h, w, generator=gen) * 2 - 1 if lp else None
    xt = torch.rand(batch, c * lt, h, w, generator=gen) * 2 - 1 if lt else None
    ext = torch.rand(batch, model.ext_dim, generator=gen) if model.ext_dim else None
    return xc, xp, xt, ext


def test_stresnet_shapes_range_and_fusion_parameters() -> None:
    model = make("stresnet", height=13, width=17, ext_dim=5)
    xc, xp, xt, ext = stresnet_inputs(model)
    assert xc.shape == (2, 6, 13, 17)
    y = model(xc, xp, xt, ext)
    assert y.shape == (2, 2, 13, 17)
    assert y.abs().max() <= 1.0
    assert set(model.fusion) == {"closeness", "period", "trend"}
    for weight in model.fusion.values():
        assert weight.shape == (2, 13, 17)
    (y**2).mean().backward()
    silent = [
        n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0
    ]
    assert not silent


def test_stresnet_external_branch_on_and_off() -> None:
    with_ext = make("stresnet", height=8, width=8, ext_dim=4).eval()
    xc, xp, xt, ext = stresnet_inputs(with_ext)
    with torch.no_grad():
        assert not torch.allclose(with_ext(xc, xp, xt, ext), with_ext(xc, xp, xt, ext + 1.0))
    with pytest.raises(ModelInputError, match="ext"):
        with_ext(xc, xp, xt)
    with pytest.raises(ModelInputError, match="ext"):
        with_ext(xc, xp, xt, ext[:, :3])
    without = make("stresnet", height=8, width=8, ext_dim=0).eval()
    assert without.external is None
    assert without(xc, xp, xt).shape == (2, 2, 8, 8)
    with pytest.raises(ModelInputError, match="ext_dim=0"):
        without(xc, xp, xt, ext)


def test_stresnet_grid_and_branch_errors() -> None:
    model = make("stresnet", height=8, width=8)
    xc, xp, xt, ext = stresnet_inputs(model)
    with pytest.raises(ModelInputError, match="closeness input must be"):
        model(xc[..., :7], xp, xt, ext)
    with pytest.raises(ModelInputError, match="closeness input must be"):
        model(xc[:, :4], xp, xt, ext)
    with pytest.raises(ModelInputError, match="period input missing"):
        model(xc, None, xt, ext)
    no_period = make("stresnet", height=8, width=8, len_period=0)
    assert set(no_period.fusion) == {"closeness", "trend"}
    assert no_period(xc, None, xt, ext).shape == (2, 2, 8, 8)
    with pytest.raises(ModelInputError, match="len_period=0"):
        no_period(xc, xp, xt, ext)
    with pytest.raises(ConfigError, match="len_closeness"):
        create("stresnet", "tiny", len_closeness=0)


def test_stresnet_batch_norm_option() -> None:
    model = make("stresnet", height=8, width=8, batch_norm=True)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in make("stresnet").modules())


def test_stresnet_training_lowers_the_loss() -> None:
    model = make("stresnet", height=8, width=8).train()
    xc, xp, xt, ext = stresnet_inputs(model, batch=4)
    target = torch.tanh(xc[:, :2] * 0.8 + 0.1)  # next frame ~ squashed last frame
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(15):
        opt.zero_grad()
        loss = ((model(xc, xp, xt, ext) - target) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], losses
