"""PredRNN (Wang et al., NeurIPS 2017, "PredRNN: Recurrent Neural Networks for Predictive
Learning using Spatiotemporal LSTMs").

Each layer is a spatiotemporal LSTM (ST-LSTM) cell with two memories: the usual temporal
memory C^l (carried along time within layer l) and a spatiotemporal memory M that zigzags:
up the stack within a time step, then from the top layer at t−1 to the bottom layer at t::

    g  = tanh(W_xg * X + W_hg * H^l_{t-1}),   i  = σ(W_xi * X + W_hi * H^l_{t-1})
    f  = σ(W_xf * X + W_hf * H^l_{t-1})
    C^l_t = f ∘ C^l_{t-1} + i ∘ g
    g' = tanh(W'_xg * X + W_mg * M^{l-1}_t),  i' = σ(W'_xi * X + W_mi * M^{l-1}_t)
    f' = σ(W'_xf * X + W_mf * M^{l-1}_t)
    M^l_t = f' ∘ M^{l-1}_t + i' ∘ g'
    o  = σ(W_xo * X + W_ho * H^l_{t-1} + W_co * C^l_t + W_mo * M^l_t)
    H^l_t = o ∘ tanh(W_1x1 * [C^l_t; M^l_t])

with X the layer's input (the frame for l = 1, H^{l-1}_t above) and M^0_t = M^L_{t-1}.
Because M passes through every layer, all layers share one hidden size. A 1x1 head maps
the top layer's H to the prediction. Forget-gate biases start at 1.

The memory-decoupling loss and reverse scheduled sampling belong to PredRNN-V2 (Wang et
al., TPAMI 2022), not to this model; they are not implemented. Teacher forcing / scheduled
sampling comes from the shared rollout (:class:`~sstcast.models.base.SequenceForecaster`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from sstcast.errors import ConfigError
from sstcast.models.base import PatchedForecaster, zero_init_
from sstcast.models.convlstm import check_hidden, check_kernel
from sstcast.models.registry import register_model


class SpatioTemporalLSTMCell(nn.Module):
    """The ST-LSTM cell: (X, H, C, M_below) -> (H, C, M)."""

    def __init__(self, in_channels: int, hidden: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.hidden = hidden
        pad = kernel_size // 2
        # X feeds seven pre-activations: g, i, f (temporal), g', i', f' (spatiotemporal), o.
        self.conv_x = nn.Conv2d(in_channels, 7 * hidden, kernel_size, padding=pad)
        self.conv_h = nn.Conv2d(hidden, 4 * hidden, kernel_size, padding=pad, bias=False)
        self.conv_m = nn.Conv2d(hidden, 3 * hidden, kernel_size, padding=pad, bias=False)
        self.conv_o = nn.Conv2d(2 * hidden, hidden, kernel_size, padding=pad, bias=False)
        self.conv_last = nn.Conv2d(2 * hidden, hidden, 1, bias=False)
        with torch.no_grad():
            self.conv_x.bias.zero_()
            self.conv_x.bias[2 * hidden : 3 * hidden].fill_(1.0)  # f
            self.conv_x.bias[5 * hidden : 6 * hidden].fill_(1.0)  # f'

    def init_state(self, batch: int, height: int, width: int, ref: Tensor) -> tuple[Tensor, Tensor]:
        """Zero (H, C) for this layer."""
        zeros = ref.new_zeros(batch, self.hidden, height, width)
        return zeros, zeros.clone()

    def forward(self, x: Tensor, h: Tensor, c: Tensor, m: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        xg, xi, xf, xg2, xi2, xf2, xo = self.conv_x(x).chunk(7, dim=1)
        hg, hi, hf, ho = self.conv_h(h.to(x.dtype)).chunk(4, dim=1)
        mg, mi, mf = self.conv_m(m.to(x.dtype)).chunk(3, dim=1)
        c = torch.sigmoid(xf + hf) * c + torch.sigmoid(xi + hi) * torch.tanh(xg + hg)
        m = torch.sigmoid(xf2 + mf) * m + torch.sigmoid(xi2 + mi) * torch.tanh(xg2 + mg)
        cm = torch.cat([c, m], dim=1).to(x.dtype)
        o = torch.sigmoid(xo + ho + self.conv_o(cm))
        h = o * torch.tanh(self.conv_last(cm))
        return h, c, m


class PredRNN(PatchedForecaster):
    """Stacked ST-LSTM stepper with the zigzag spatiotemporal memory.

    Args:
        in_channels, extra_channels, kernel_size, patch_size, residual: as for ConvLSTM.
        hidden: hidden channels per layer; all equal (M flows through every layer).
    """

    def __init__(
        self,
        in_channels: int = 1,
        extra_channels: int = 0,
        hidden: list[int] | tuple[int, ...] | int = (32, 32),
        kernel_size: int = 3,
        patch_size: int = 1,
        residual: bool = True,
    ) -> None:
        super().__init__(in_channels, extra_channels, residual, patch_size)
        sizes = check_hidden("predrnn", hidden)
        check_kernel("predrnn", kernel_size)
        if len(set(sizes)) != 1:
            raise ConfigError(
                f"model predrnn: option 'hidden' must use one size for every layer (the "
                f"spatiotemporal memory passes through all of them), got {sizes}"
            )
        self.hidden = sizes
        ins = [self.grid_in_channels, *sizes[:-1]]
        self.cells = nn.ModuleList(
            SpatioTemporalLSTMCell(cin, hid, kernel_size)
            for cin, hid in zip(ins, sizes, strict=True)
        )
        self.head = nn.Conv2d(sizes[-1], self.grid_out_channels, 1)
        if residual:
            zero_init_(self.head)

    def init_grid_state(self, batch: int, height: int, width: int, ref: Tensor) -> Any:
        layers = [cell.init_state(batch, height, width, ref) for cell in self.cells]
        memory = ref.new_zeros(batch, self.hidden[0], height, width)
        return layers, memory

    def grid_encode(self, z: Tensor, state: Any) -> Any:
        layers, m = state  # m: the top layer's memory from the previous step
        new_layers = []
        inp = z
        for cell, (h, c) in zip(self.cells, layers, strict=True):
            h, c, m = cell(inp, h, c, m)
            new_layers.append((h, c))
            inp = h
        return new_layers, m

    def grid_step(self, z: Tensor, state: Any) -> tuple[Tensor, Any]:
        state = self.grid_encode(z, state)
        return self.head(state[0][-1][0].to(z.dtype)), state


register_model(
    "predrnn",
    presets={
        "tiny": {"hidden": [8, 8], "kernel_size": 3, "patch_size": 1},
        "default": {"hidden": [32, 32], "kernel_size": 3, "patch_size": 1},
        # Wang et al. 2017, Moving MNIST experiments (four ST-LSTM layers of 128 hidden states,
        # 5x5 filters, 4x4 patches; the same in OpenSTL's configs/mmnist/PredRNN.py). OpenSTL's
        # cells have no biases; ours add one on the input convolution (7·128 per layer) and on
        # the head (tested against OpenSTL's count).
        "paper": {"hidden": [128, 128, 128, 128], "kernel_size": 5, "patch_size": 4},
    },
    summary="PredRNN: stacked ST-LSTM with zigzag spatiotemporal memory (Wang et al. 2017)",
)(PredRNN)
