"""SA-ConvLSTM and SAM-ConvLSTM (Lin et al., AAAI 2020, "Self-Attention ConvLSTM for
Spatiotemporal Prediction").

Both put an attention module after a ConvLSTM cell so that every position can draw on the
whole grid, not just the kernel's neighbourhood. With the cell's new hidden state H_t:

``sa_convlstm`` — the standard self-attention module (the paper's "SA" ablation)::

    Q = W_q H_t,  K = W_k H_t,  V = W_v H_t           (1x1 convolutions)
    Z = V · softmax(Qᵀ K)ᵀ                            (attention over all H·W positions)
    Ĥ_t = H_t + W_o Z                                 (added once, as a residual)

``sam_convlstm`` — the self-attention memory (SAM) module, with a memory M that carries
long-range spatial dependencies through time::

    Z_h = V_h · softmax(Q_hᵀ K_h)ᵀ,  Z_m = V_m · softmax(Q_hᵀ K_m)ᵀ
          with Q_h, K_h, V_h from H_t and K_m, V_m from M_{t-1}
    Z   = W_z [Z_h; Z_m]
    i'  = σ(W_zi * Z + W_hi * H_t + b_i),  g' = tanh(W_zg * Z + W_hg * H_t + b_g)
    M_t = (1 − i') ∘ M_{t-1} + i' ∘ g'
    o'  = σ(W_zo * Z + W_ho * H_t + b_o),  Ĥ_t = o' ∘ M_t

Ĥ_t replaces H_t as the hidden state passed up the stack and on to the next step. Query
and key use ``attn_channels`` channels (the paper's reduced Ĉ); values keep ``hidden``.
Attention costs (H·W)² per layer and step: on large grids set ``patch_size`` so that the
cells run on a coarser grid. The top layer's Ĥ goes through a 1x1 head.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from sstcast.errors import ConfigError
from sstcast.models.base import PatchedForecaster, zero_init_
from sstcast.models.convlstm import ConvLSTMCell, check_hidden, check_kernel
from sstcast.models.layers import spatial_attention
from sstcast.models.registry import register_model


class SelfAttention(nn.Module):
    """The standard self-attention module over a hidden map, added to it once."""

    def __init__(self, hidden: int, attn_channels: int) -> None:
        super().__init__()
        self.query = nn.Conv2d(hidden, attn_channels, 1)
        self.key = nn.Conv2d(hidden, attn_channels, 1)
        self.value = nn.Conv2d(hidden, hidden, 1)
        self.out = nn.Conv2d(hidden, hidden, 1)

    def forward(self, h: Tensor) -> Tensor:
        """H_t -> Ĥ_t = H_t + W_o Z."""
        z = spatial_attention(self.query(h), self.key(h), self.value(h))
        return h + self.out(z)


class SelfAttentionMemory(nn.Module):
    """The SAM module: attention over hidden and memory, then a gated memory update."""

    def __init__(self, hidden: int, attn_channels: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.query_h = nn.Conv2d(hidden, attn_channels, 1)
        self.key_h = nn.Conv2d(hidden, attn_channels, 1)
        self.value_h = nn.Conv2d(hidden, hidden, 1)
        self.key_m = nn.Conv2d(hidden, attn_channels, 1)
        self.value_m = nn.Conv2d(hidden, hidden, 1)
        self.fuse = nn.Conv2d(2 * hidden, hidden, 1)  # W_z
        # Gates i', g', o' from [Z; H_t] in one 1x1 convolution.
        self.gates = nn.Conv2d(2 * hidden, 3 * hidden, 1)

    def forward(self, h: Tensor, m: Tensor) -> tuple[Tensor, Tensor]:
        """(H_t, M_{t-1}) -> (Ĥ_t, M_t)."""
        m_in = m.to(h.dtype)
        q = self.query_h(h)
        z_h = spatial_attention(q, self.key_h(h), self.value_h(h))
        z_m = spatial_attention(q, self.key_m(m_in), self.value_m(m_in))
        z = self.fuse(torch.cat([z_h, z_m], dim=1))
        i, g, o = self.gates(torch.cat([z, h], dim=1)).chunk(3, dim=1)
        i = torch.sigmoid(i)
        m = (1 - i) * m + i * torch.tanh(g)
        return torch.sigmoid(o) * m, m


class SAConvLSTM(PatchedForecaster):
    """Stacked ConvLSTM cells each followed by SA (``memory=False``) or SAM (``True``).

    Args:
        in_channels, extra_channels, hidden, kernel_size, patch_size, residual, peephole:
            as for :class:`~sstcast.models.convlstm.ConvLSTM` (peepholes off by default: the
            paper builds on the plain ConvLSTM).
        attn_channels: channels of query and key (the paper's Ĉ).
        memory: use the self-attention memory (SAM) instead of plain self-attention.
    """

    def __init__(
        self,
        in_channels: int = 1,
        extra_channels: int = 0,
        hidden: list[int] | tuple[int, ...] | int = (32,),
        kernel_size: int = 3,
        patch_size: int = 1,
        residual: bool = True,
        peephole: bool = False,
        attn_channels: int = 8,
        memory: bool = True,
    ) -> None:
        super().__init__(in_channels, extra_channels, residual, patch_size)
        name = "sam_convlstm" if memory else "sa_convlstm"
        sizes = check_hidden(name, hidden)
        check_kernel(name, kernel_size)
        if attn_channels < 1:
            raise ConfigError(
                f"model {name}: option 'attn_channels' must be >= 1, got {attn_channels}"
            )
        self.hidden = sizes
        self.memory = memory
        ins = [self.grid_in_channels, *sizes[:-1]]
        self.cells = nn.ModuleList(
            ConvLSTMCell(cin, hid, kernel_size, peephole)
            for cin, hid in zip(ins, sizes, strict=True)
        )
        module = SelfAttentionMemory if memory else SelfAttention
        self.attention = nn.ModuleList(module(hid, attn_channels) for hid in sizes)
        self.head = nn.Conv2d(sizes[-1], self.grid_out_channels, 1)
        if residual:
            zero_init_(self.head)

    def init_grid_state(self, batch: int, height: int, width: int, ref: Tensor) -> Any:
        state = []
        for cell in self.cells:
            h, c = cell.init_state(batch, height, width, ref)
            state.append((h, c, torch.zeros_like(h)) if self.memory else (h, c))
        return state

    def grid_step(self, z: Tensor, state: Any) -> tuple[Tensor, Any]:
        state = self.grid_encode(z, state)
        return self.head(state[-1][0].to(z.dtype)), state

    def grid_encode(self, z: Tensor, state: Any) -> Any:
        new_state = []
        inp = z
        for cell, attn, s in zip(self.cells, self.attention, state, strict=True):
            h, c = cell(inp, (s[0], s[1]))
            if self.memory:
                h, m = attn(h, s[2])
                new_state.append((h, c, m))
            else:
                h = attn(h)
                new_state.append((h, c))
            inp = h
        return new_state


def _sa_convlstm(**config: Any) -> SAConvLSTM:
    return SAConvLSTM(memory=False, **config)


def _sam_convlstm(**config: Any) -> SAConvLSTM:
    return SAConvLSTM(memory=True, **config)


_PRESETS = {
    "tiny": {"hidden": [8, 8], "attn_channels": 4, "kernel_size": 3, "patch_size": 1},
    "default": {"hidden": [32], "attn_channels": 8, "kernel_size": 3, "patch_size": 1},
    # Lin et al. 2020 (experiments on Moving MNIST): four layers of 64 hidden states with 3x3
    # kernels, no peepholes. The authors released no code and the text we could check does
    # not give the query/key channels or the patch size: Ĉ = 16 (hidden / 4) and 4x4 patches
    # (the PredRNN protocol the paper compares under) are our assumptions.
    "paper": {
        "hidden": [64, 64, 64, 64],
        "attn_channels": 16,
        "kernel_size": 3,
        "patch_size": 4,
        "peephole": False,
    },
}

register_model(
    "sa_convlstm",
    presets=_PRESETS,
    summary="ConvLSTM + self-attention on the hidden state (Lin et al. 2020, SA ablation)",
)(_sa_convlstm)
register_model(
    "sam_convlstm",
    presets=_PRESETS,
    summary="ConvLSTM + self-attention memory module (Lin et al. 2020, SA-ConvLSTM)",
)(_sam_convlstm)
