"""ConvLSTM (Shi et al., NeurIPS 2015, "Convolutional LSTM Network: A Machine Learning
Approach for Precipitation Nowcasting").

The cell replaces the LSTM's matrix products by convolutions and keeps the peephole
connections of the paper (its eq. 3)::

    i_t = σ(W_xi * X_t + W_hi * H_{t-1} + W_ci ∘ C_{t-1} + b_i)
    f_t = σ(W_xf * X_t + W_hf * H_{t-1} + W_cf ∘ C_{t-1} + b_f)
    C_t = f_t ∘ C_{t-1} + i_t ∘ tanh(W_xc * X_t + W_hc * H_{t-1} + b_c)
    o_t = σ(W_xo * X_t + W_ho * H_{t-1} + W_co ∘ C_t + b_o)
    H_t = o_t ∘ tanh(C_t)

Design choices, each made on purpose:

* Peepholes are registered parameters of shape (hidden, 1, 1): one weight per channel,
  broadcast over the grid. The paper's full (hidden, H, W) Hadamard weights would tie a
  trained model to one grid size; per-channel weights keep "any grid" working and add only
  3·hidden parameters. They start at zero (a plain ConvLSTM) and are learnt.
* The forget-gate bias starts at 1 so that early training keeps memory (common LSTM
  practice; the paper does not say).
* By default encoder and forecaster share the cells (the stepper contract of
  :class:`~sstcast.models.base.SequenceForecaster`), which is what lets a model trained on
  short targets roll out to any lead and makes ``model(x, 10)`` equal ten chained one-step
  calls. ``encoder_forecaster=True`` gives the paper's layout instead: an encoding stack
  reads the inputs and a separate forecasting stack, whose states start from the
  encoder's, emits the forecasts. Unlike the paper's forecaster, which gets no input, ours
  is fed the last frame and then its own predictions, so the residual option and any lead
  still work; chained one-step calls are no longer equal to one long rollout (a prediction
  fed back in a second call is read by the encoder).
* As in the paper's forecaster, the hidden states of *all* layers are concatenated and
  mapped by a 1x1 convolution to the prediction.
* The "patch" trick of the paper's experiments (space-to-depth, there 4x4 patches of the
  radar maps) is ``patch_size``: cells run on a grid ``patch_size`` times coarser with
  ``patch_size²`` times more channels, padded and cropped so any H x W works.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from sstcast.errors import ConfigError
from sstcast.models.base import PatchedForecaster, zero_init_
from sstcast.models.registry import register_model

LSTMState = tuple[Tensor, Tensor]


def check_hidden(model: str, hidden: list[int] | tuple[int, ...] | int) -> list[int]:
    """``hidden`` as a non-empty list of positive ints, or a one-line ConfigError."""
    sizes = [hidden] if isinstance(hidden, int) else list(hidden)
    if not sizes or any(not isinstance(s, int) or s < 1 for s in sizes):
        raise ConfigError(
            f"model {model}: option 'hidden' must be a non-empty list of positive ints, "
            f"got {hidden!r}"
        )
    return sizes


def check_kernel(model: str, kernel_size: int) -> int:
    """An odd kernel size, so that 'same' padding keeps the grid."""
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ConfigError(
            f"model {model}: option 'kernel_size' must be a positive odd int, got {kernel_size}"
        )
    return kernel_size


class ConvLSTMCell(nn.Module):
    """One ConvLSTM cell with optional per-channel peepholes."""

    def __init__(
        self, in_channels: int, hidden: int, kernel_size: int = 3, peephole: bool = True
    ) -> None:
        super().__init__()
        self.hidden = hidden
        self.peephole = peephole
        # One convolution over [X_t, H_{t-1}] gives all four gate pre-activations.
        self.conv = nn.Conv2d(
            in_channels + hidden, 4 * hidden, kernel_size, padding=kernel_size // 2
        )
        with torch.no_grad():
            self.conv.bias.zero_()
            self.conv.bias[hidden : 2 * hidden].fill_(1.0)  # forget gate
        if peephole:
            self.w_ci = nn.Parameter(torch.zeros(hidden, 1, 1))
            self.w_cf = nn.Parameter(torch.zeros(hidden, 1, 1))
            self.w_co = nn.Parameter(torch.zeros(hidden, 1, 1))

    def init_state(self, batch: int, height: int, width: int, ref: Tensor) -> LSTMState:
        """Zero (H, C) on ``ref``'s device and dtype."""
        zeros = ref.new_zeros(batch, self.hidden, height, width)
        return zeros, zeros.clone()

    def forward(self, x: Tensor, state: LSTMState) -> LSTMState:
        """(X_t, (H_{t-1}, C_{t-1})) -> (H_t, C_t)."""
        h, c = state
        gates = self.conv(torch.cat([x, h.to(x.dtype)], dim=1))
        i, f, g, o = gates.chunk(4, dim=1)
        if self.peephole:
            i = i + self.w_ci * c
            f = f + self.w_cf * c
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        if self.peephole:
            o = o + self.w_co * c
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c


class ConvLSTM(PatchedForecaster):
    """Stacked ConvLSTM stepper (encoder = forecaster) with a 1x1 head on all layers.

    Args:
        in_channels: predicted variables per frame (C).
        extra_channels: given channels per frame (E), e.g. land mask, lat, lon.
        hidden: hidden channels of each layer, bottom to top.
        kernel_size: odd convolution kernel of the cells.
        patch_size: space-to-depth factor (1 = full grid).
        residual: predict the step change with a zero-initialised head (persistence at init).
        peephole: per-channel peephole connections W_c∘C.
        encoder_forecaster: separate encoding and forecasting stacks (Shi et al.'s layout;
            twice the cell parameters); False shares one stack.
    """

    def __init__(
        self,
        in_channels: int = 1,
        extra_channels: int = 0,
        hidden: list[int] | tuple[int, ...] | int = (24,),
        kernel_size: int = 3,
        patch_size: int = 1,
        residual: bool = True,
        peephole: bool = True,
        encoder_forecaster: bool = False,
    ) -> None:
        super().__init__(in_channels, extra_channels, residual, patch_size)
        sizes = check_hidden("convlstm", hidden)
        check_kernel("convlstm", kernel_size)
        self.hidden = sizes
        ins = [self.grid_in_channels, *sizes[:-1]]

        def stack() -> nn.ModuleList:
            return nn.ModuleList(
                ConvLSTMCell(cin, hid, kernel_size, peephole)
                for cin, hid in zip(ins, sizes, strict=True)
            )

        self.cells = stack()
        self.forecaster = stack() if encoder_forecaster else None
        self.head = nn.Conv2d(sum(sizes), self.grid_out_channels, 1)
        if residual:
            zero_init_(self.head)

    def init_grid_state(self, batch: int, height: int, width: int, ref: Tensor) -> Any:
        return [cell.init_state(batch, height, width, ref) for cell in self.cells]

    def grid_step(self, z: Tensor, state: Any) -> tuple[Tensor, Any]:
        return self._run(self.cells, z, state)

    def grid_forecast_step(self, z: Tensor, state: Any) -> tuple[Tensor, Any]:
        return self._run(self.cells if self.forecaster is None else self.forecaster, z, state)

    def grid_encode(self, z: Tensor, state: Any) -> Any:
        return self._advance(self.cells, z, state)

    @staticmethod
    def _advance(cells: nn.ModuleList, z: Tensor, state: Any) -> list[LSTMState]:
        """One step of a cell stack: the new (H, C) of every layer."""
        new_state = []
        inp = z
        for cell, s in zip(cells, state, strict=True):
            h, c = cell(inp, s)
            new_state.append((h, c))
            inp = h
        return new_state

    def _run(self, cells: nn.ModuleList, z: Tensor, state: Any) -> tuple[Tensor, Any]:
        """One step of a cell stack; the head maps all layers' hidden states to the output."""
        new_state = self._advance(cells, z, state)
        hs = torch.cat([h for h, _ in new_state], dim=1)
        return self.head(hs.to(z.dtype)), new_state


register_model(
    "convlstm",
    presets={
        "tiny": {"hidden": [8, 8], "kernel_size": 3, "patch_size": 1},
        # 1 layer, 24 hidden, residual: the setting that beat persistence on the toy ocean
        # (docs/models.md, ../shared/guide/SAMPLE.md).
        "default": {"hidden": [24], "kernel_size": 3, "patch_size": 1},
        # Shi et al. 2015, Moving MNIST (Sec. 4.1 and Table 1's best network,
        # "ConvLSTM(5x5)-5x5-128-5x5-64-5x5-64", 7.58M parameters): 4x4 patches, three layers
        # of 128, 64, 64 hidden states, 5x5 kernels, separate encoding and forecasting
        # networks, a 1x1 head over all forecaster states. Differences (tested): our
        # forecaster is fed the frame (+ 4·128·C·16·25 weights in its first layer), peepholes
        # are per channel, biases are counted.
        "paper": {
            "hidden": [128, 64, 64],
            "kernel_size": 5,
            "patch_size": 4,
            "encoder_forecaster": True,
            "peephole": True,
        },
    },
    summary="ConvLSTM with per-channel peepholes, patch trick (Shi et al. 2015)",
)(ConvLSTM)
