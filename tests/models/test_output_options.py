"""The references' training options every sequence model takes: ``output_range`` (a sigmoid
head onto a range) and ``loss_on_inputs`` (the warm-up predictions in the loss)."""

from __future__ import annotations

import pytest
import torch

from sstcast.config import ConfigError
from sstcast.models import available, create, is_sequence_model
from sstcast.models.base import warmup_outputs
from sstcast.training.module import ForecastModule

SEQUENCE_MODELS = [name for name in available() if is_sequence_model(name)]


@pytest.mark.parametrize("name", SEQUENCE_MODELS)
def test_output_range_squashes_every_forecast_into_the_range(name: str) -> None:
    torch.manual_seed(0)
    model = create(name, "tiny", residual=False, output_range=[-1, 1]).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(30.0)  # push the head far into the sigmoid's tails
        y = model(torch.randn(2, 3, 1, 7, 9), 4)
    assert y.shape == (2, 4, 1, 7, 9)
    assert y.min() >= -1 and y.max() <= 1 and (y.abs() > 0.9).any()
    plain = create(name, "tiny", residual=False)
    plain.load_state_dict(model.state_dict())
    with torch.no_grad():
        z = plain.eval()(torch.randn(2, 3, 1, 7, 9), 1)
    assert z.shape == (2, 1, 1, 7, 9)


def test_output_range_sigmoid_of_the_head() -> None:
    """[0, 1] is the references' sigmoid: the squashed model's frames are sigmoid of the
    plain model's (one step, same weights)."""
    torch.manual_seed(1)
    squashed = create("swinlstm_b", "tiny", residual=False, output_range=[0, 1]).eval()
    plain = create("swinlstm_b", "tiny", residual=False).eval()
    plain.load_state_dict(squashed.state_dict())
    x = torch.randn(2, 1, 1, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(squashed(x, 1), torch.sigmoid(plain(x, 1)))


def test_output_range_errors() -> None:
    with pytest.raises(ConfigError, match=r"convlstm: option 'output_range'.*residual: false"):
        create("convlstm", "tiny", output_range=[0, 1])
    with pytest.raises(ConfigError, match="output_range' needs low < high"):
        create("convlstm", "tiny", residual=False, output_range=[1, 0])
    with pytest.raises(ConfigError, match="output_range' must be"):
        create("convlstm", "tiny", residual=False, output_range=[0])
    with pytest.raises(ConfigError, match="loss_on_inputs"):
        create("convlstm", "tiny", loss_on_inputs="yes")
    with pytest.raises(TypeError, match="stresnet"):
        create("stresnet", "tiny", loss_on_inputs=True)


@pytest.mark.parametrize("name", SEQUENCE_MODELS)
def test_warmup_outputs_are_the_one_step_predictions_of_the_inputs(name: str) -> None:
    torch.manual_seed(2)
    model = create(name, "tiny", extra_channels=1, residual=False).eval()
    x, extra = torch.randn(1, 4, 1, 7, 9), torch.randn(1, 4 + 3, 1, 7, 9)
    with torch.no_grad():
        plain = model(x, 3, extra=extra)
        with warmup_outputs(model) as emitted:
            full = model(x, 3, extra=extra)
        assert emitted and not model.emit_warmup
        assert full.shape == (1, 3 + 3, 1, 7, 9)
        torch.testing.assert_close(full[:, 3:], plain)
        for t in range(1, 4):  # the prediction of input frame t+1 from frames 1..t
            one = model(x[:, :t], 1, extra=extra[:, : t + 1])
            torch.testing.assert_close(full[:, t - 1], one[:, 0], rtol=1e-5, atol=1e-5)


def _module(loss_on_inputs: bool) -> ForecastModule:
    torch.manual_seed(3)
    return ForecastModule(
        task="sst",
        model="convlstm",
        preset="tiny",
        model_kwargs={"in_channels": 1, "extra_channels": 0, "loss_on_inputs": loss_on_inputs},
        signature={},
        n_out=2,
        optim={"name": "adam", "lr": 1e-3},
        schedule={"name": "constant"},
    )


def test_loss_on_inputs_scores_warmup_and_forecasts_alike() -> None:
    module = _module(True)
    assert module.model.loss_on_inputs
    gen = torch.Generator().manual_seed(4)
    batch = {
        "x": torch.randn(2, 3, 1, 5, 6, generator=gen),
        "y": torch.randn(2, 2, 1, 5, 6, generator=gen),
        "mask": (torch.rand(2, 5, 6, generator=gen) > 0.3).float(),
    }
    module.train()
    loss = module.loss_with_inputs(batch)
    with warmup_outputs(module.model), torch.no_grad():
        full = module.model(batch["x"], 2)
    truth = torch.cat([batch["x"][:, 1:], batch["y"]], dim=1)
    scored = batch["mask"].bool()[:, None, None].expand_as(full)
    expected = ((full - truth) ** 2)[scored].mean()
    torch.testing.assert_close(loss.detach(), expected)
    # the default trains on the forecasts only
    plain = _module(False)
    assert not plain.model.loss_on_inputs
    with torch.no_grad():
        pred = plain(batch)
    assert pred.shape == (2, 2, 1, 5, 6)
