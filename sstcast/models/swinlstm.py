"""SwinLSTM (Tang et al., ICCV 2023): an LSTM whose state transition is a stack of Swin blocks.

The SwinLSTM cell replaces ConvLSTM's convolutions with Swin transformer blocks on tokens:

* the first block merges the input tokens ``x_t`` with the hidden state ``h_{t-1}``
  (``Linear(cat(norm(x_t), norm(h_{t-1})))`` in its attention branch, ``x_t`` on the
  residual path); later even-numbered blocks merge ``x_t`` back in the same way, odd ones
  take only the previous block's output; blocks alternate plain and shifted windows;
* the last block's output ``F_t`` drives one gate:
  ``g = sigmoid(F_t)``, ``c_t = g * (c_{t-1} + tanh(F_t))``, ``h_t = g * tanh(c_t)``.

Two layouts, as in the paper:

* **SwinLSTM-B** (``swinlstm_b``): patch embedding, one cell, patch inflation.
* **SwinLSTM-D** (``swinlstm_d``): an encoder of cells each followed by patch merging (2x
  down, 2x channels) and a decoder of cells each followed by patch expanding (2x up, half the
  channels), every cell with its own recurrent state. ``depths[l]`` and ``num_heads[l]`` are
  the encoder cell at level l; the decoder runs from the coarsest level up, and its cell at
  level ``l`` (1..L) has ``depths_up[l - 1]`` blocks and ``num_heads[l - 1]`` heads. That is
  how the official SwinLSTM configuration (and OpenSTL's, and DatLSTM's) index them: their
  ``depths_up = [6, 2]`` beside ``depths_down = [2, 6]`` lists the decoder *finest first*,
  the reverse of the order it runs, so the coarsest decoder cell has 2 blocks and the
  level-1 cell 6. ``depths_up`` defaults to ``reversed(depths)``, which is that pairing.
  One deliberate addition, on by default and switchable (``skip=False`` is the paper):
  encoder-to-decoder skips at every level, which the paper's layout lacks and without which
  the model learns fine-scale changes far more slowly (see :class:`HierarchicalSwinLSTM`).

Engineering beyond the reference code: any grid size (the frame is replicate-padded once to a
multiple of ``patch_size * window_size * 2**levels`` and the output cropped back), any patch
size in the patch inflation (a transposed convolution of kernel ``p + 2*(p//2)``, stride
``p``), a linear output (no sigmoid: data need not be squeezed into [0, 1]) and the residual
option of :class:`~sstcast.models.base.SequenceForecaster` with a zero-initialised head.
DatLSTM (``sstcast.models.datlstm``) reuses the SwinLSTM-D layout with other blocks.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from sstcast.errors import ConfigError
from sstcast.models import layers
from sstcast.models.attention import WindowBlock
from sstcast.models.base import ModelInputError, SequenceForecaster, zero_init_
from sstcast.models.layers import crop_to, pad_bottom_right
from sstcast.models.registry import register_model


@dataclass(frozen=True)
class BlockSpec:
    """What a :data:`BlockFactory` needs to build block ``index`` of a cell.

    ``stage`` numbers the cells in the order they run (encoder levels 0..L-1, then the
    decoder cells from the coarsest level up: stage L + j is the decoder cell at level L - j);
    per-stage options (heads, DAT groups, offset strides) are indexed by it. ``drop_path`` is
    this block's stochastic-depth rate from the model's schedule.
    """

    dim: int
    num_heads: int
    level: int
    stage: int
    index: int
    merge_input: bool
    drop_path: float = 0.0


#: Builds one block of a cell from its :class:`BlockSpec`. The block is called as
#: ``block(x)`` or, when ``spec.merge_input``, ``block(x, other)``.
BlockFactory = Callable[[BlockSpec], nn.Module]

CellState = tuple[Tensor, Tensor]


def config_error(model: str, option: str, problem: str) -> ConfigError:
    """A one-line ConfigError naming the model and the option."""
    return ConfigError(f"model {model}: option '{option}' {problem}")


def _int_tuple(value: int | Sequence[int], model: str, option: str) -> tuple[int, ...]:
    """``value`` as a tuple of positive ints; a clear error naming the option otherwise."""
    values = (value,) if isinstance(value, int) else tuple(value)
    if not values or any(not isinstance(v, int) or v < 1 for v in values):
        raise config_error(
            model, option, f"must be a positive int or a non-empty list of them, got {value!r}"
        )
    return values


def _check_heads(model: str, dim: int, heads: int) -> None:
    if dim % heads:
        raise config_error(model, "num_heads", f"{heads} does not divide the token dim {dim}")


def per_stage(
    value: int | float | Sequence[int | float], levels: int, model: str, option: str
) -> tuple:
    """One value per stage (``2 * levels`` cells, in run order) from a scalar or a list.

    A scalar applies to every cell. A list of ``2 * levels`` values is taken as is (encoder
    levels 0..L-1, then decoder cells coarsest first; DatLSTM's ``num_heads = [4, 8, 16, 8]``
    and ``n_group = [2, 4, 8, 4]`` are such lists). A list of ``levels`` values uses SwinLSTM's
    pairing: the encoder cell at level l takes ``value[l]`` and the decoder cell at level l
    takes ``value[l - 1]`` (SwinLSTM-D's ``num_heads = [4, 8]``).
    """
    values = (value,) if isinstance(value, int | float) else tuple(value)
    if len(values) == 1:
        return values * (2 * levels)
    if len(values) == 2 * levels:
        return values
    if len(values) == levels:
        return values + tuple(values[level - 1] for level in range(levels, 0, -1))
    raise config_error(
        model,
        option,
        f"takes one value, one per level ({levels}) or one per cell ({2 * levels}); "
        f"got {len(values)}",
    )


def drop_path_schedule(down: Sequence[int], up_run: Sequence[int], rate: float) -> list[float]:
    """Stochastic-depth rate of every block, encoder then decoder, in run order.

    The schedule of the SwinLSTM-D and DatLSTM reference code: the encoder's blocks get
    ``linspace(0, rate, n_encoder_blocks)`` in the order they run, and the decoder's the same
    ramp over its blocks, reversed (highest at the coarsest cell, 0 at the last block), so
    the rate peaks in the middle of the network.
    """
    enc = torch.linspace(0, rate, sum(down)).tolist() if sum(down) else []
    dec = torch.linspace(0, rate, sum(up_run)).tolist()[::-1] if sum(up_run) else []
    return [float(v) for v in enc + dec]


def swin_block_factory(
    window_size: int,
    *,
    mlp_ratio: float = 4.0,
    drop: float = 0.0,
    attn_drop: float = 0.0,
) -> BlockFactory:
    """SwinLSTM's blocks: window attention, shifted on odd-numbered blocks (W-MSA, SW-MSA)."""

    def make(spec: BlockSpec) -> nn.Module:
        return WindowBlock(
            spec.dim,
            spec.num_heads,
            window_size,
            shift=spec.index % 2 == 1,
            merge_input=spec.merge_input,
            mlp_ratio=mlp_ratio,
            drop=drop,
            attn_drop=attn_drop,
            drop_path=spec.drop_path,
        )

    return make


class SwinLSTMCell(nn.Module):
    """One SwinLSTM cell on (batch, H, W, dim) tokens (see the module docstring).

    Args:
        dim: token channels (also the hidden and cell state channels).
        num_heads: attention heads of every block.
        depth: number of transformer blocks.
        level: the cell's resolution level (0 = patch grid).
        make_block: the :data:`BlockFactory` building each block.
        stage: the cell's place in run order (see :class:`BlockSpec`).
        drop_paths: stochastic-depth rate of each block (default: none).
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        depth: int,
        level: int,
        make_block: BlockFactory,
        stage: int = 0,
        drop_paths: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"a SwinLSTM cell needs depth >= 1, got {depth}")
        rates = [0.0] * depth if drop_paths is None else list(drop_paths)
        if len(rates) != depth:
            raise ValueError(f"need {depth} drop-path rates, got {len(rates)}")
        self.dim = dim
        self.level = level
        self.stage = stage
        self.blocks = nn.ModuleList(
            make_block(BlockSpec(dim, num_heads, level, stage, i, i % 2 == 0, rates[i]))
            for i in range(depth)
        )

    def forward(self, x: Tensor, state: CellState) -> tuple[Tensor, CellState]:
        """x: (batch, H, W, dim); state: (h, c) of the same shape -> (h, (h, c))."""
        h, c = state
        z = x
        for i, block in enumerate(self.blocks):
            if i == 0:
                z = block(x, h)
            elif i % 2 == 0:
                z = block(z, x)
            else:
                z = block(z)
        gate = z.sigmoid()
        c = gate * (c + z.tanh())
        h = gate * c.tanh()
        return h, (h, c)


class PatchEmbed(nn.Module):
    """(batch, C, H, W) -> (batch, H/p, W/p, dim): p x p patches, linear embedding, LayerNorm."""

    def __init__(self, in_chans: int, embed_dim: int, patch_size: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(embed_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(self.proj(x).permute(0, 2, 3, 1))


class PatchInflate(nn.Module):
    """(batch, H, W, dim) -> (batch, C, H*p, W*p) for any patch size p.

    A transposed convolution with stride p. The default kernel ``p + 2*(p//2)`` with padding
    ``p//2`` gives ``(n-1)p - 2(p//2) + p + 2(p//2) = n p`` cells exactly, and neighbouring
    patches' kernels overlap, which avoids the blocky output of a per-patch linear
    projection. ``kernel`` (>= p) sets another size; padding ``ceil((k - p) / 2)`` and an
    output padding make the size n p again. The reference code's 3x3 kernel with stride 2,
    padding 1 and output padding 1 is ``patch_size=2, kernel=3``.
    """

    def __init__(
        self, embed_dim: int, out_chans: int, patch_size: int, kernel: int | None = None
    ) -> None:
        super().__init__()
        if kernel is None:
            kernel = patch_size + 2 * (patch_size // 2)
        if kernel < patch_size:
            raise ValueError(f"inflate kernel {kernel} is smaller than the patch {patch_size}")
        padding = -(-(kernel - patch_size) // 2)
        self.proj = nn.ConvTranspose2d(
            embed_dim,
            out_chans,
            kernel,
            stride=patch_size,
            padding=padding,
            output_padding=patch_size + 2 * padding - kernel,
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x.permute(0, 3, 1, 2))


class PatchMerging(nn.Module):
    """(batch, H, W, dim) -> (batch, ceil(H/2), ceil(W/2), out_dim): each 2x2 block of tokens
    concatenated (timm's and the references' order), LayerNorm over the 4·dim features, then
    a linear map without bias (the parameters of timm's ``PatchMerging``).

    On odd maps the blocks at the bottom/right edge miss a row or a column. Those missing
    tokens are masked out: the LayerNorm statistics of such a block use its present tokens
    only and the missing ones enter the linear map as zeros, so nothing outside the map
    (whatever the padding holds) reaches the merged token.
    """

    def __init__(self, dim: int, out_dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.norm = nn.LayerNorm(4 * dim)
        self.reduction = nn.Linear(4 * dim, out_dim, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        b, h, w, c = x.shape
        h2, w2 = -(-h // 2), -(-w // 2)
        x = pad_bottom_right(x, 2 * h2 - h, 2 * w2 - w)
        x = x.reshape(b, h2, 2, w2, 2, c).permute(0, 1, 3, 4, 2, 5)  # (b, h2, w2, dx, dy, c)
        if (h2 * 2, w2 * 2) == (h, w):
            return self.reduction(self.norm(x.reshape(b, h2, w2, 4 * c)))
        present = torch.zeros(2 * h2, 2 * w2, device=x.device)
        present[:h, :w] = 1.0
        present = present.reshape(h2, 2, w2, 2).permute(0, 2, 3, 1)[..., None]  # (h2,w2,2,2,1)
        xf = x.float() * present  # padded tokens -> exact zeros, whatever they held
        count = present.sum(dim=(2, 3, 4), keepdim=True) * c
        mean = xf.sum(dim=(3, 4, 5), keepdim=True) / count
        var = ((xf - mean) ** 2 * present).sum(dim=(3, 4, 5), keepdim=True) / count
        y = (xf - mean) * torch.rsqrt(var + self.norm.eps)
        y = y * self.norm.weight.reshape(2, 2, c) + self.norm.bias.reshape(2, 2, c)
        return self.reduction((y * present).to(x.dtype).reshape(b, h2, w2, 4 * c))


class PatchExpand(nn.Module):
    """(batch, H, W, dim) -> (batch, 2H, 2W, dim/2): linear to 2*dim, depth-to-space, norm."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        if dim % 2:
            raise ValueError(f"patch expanding needs an even dim, got {dim}")
        self.expand = nn.Linear(dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(dim // 2)

    def forward(self, x: Tensor, size: tuple[int, int] | None = None) -> Tensor:
        """``size``: crop the doubled map to this (H, W) (the finer level's real size)."""
        x = rearrange(self.expand(x), "b h w (p1 p2 c) -> b (h p1) (w p2) c", p1=2, p2=2)
        if size is not None:
            x = x[:, : size[0], : size[1]]
        return self.norm(x)


class _SwinLSTMBase(SequenceForecaster):
    """Shared stepping: embed, run the cells, inflate, crop.

    No grid is padded to a multiple of anything beyond the patch: the token map of level l
    is ``ceil(H / (p 2^l)) x ceil(W / (p 2^l))``, the real size; window attention pads its
    windows and patch merging its edge blocks on the fly and both mask the padding out, and
    deformable attention samples within the real map. A frame whose size is not a multiple
    of ``patch_size`` has its missing cells set to zero (masked) before the embedding.

    Subclasses build their cells, set ``self.cell_levels`` (one ``(level, dim)`` per cell,
    in state order) and implement :meth:`forward_tokens`; ``model_name`` names the model
    in configuration errors.
    """

    model_name = "swinlstm"

    def __init__(
        self,
        in_channels: int,
        extra_channels: int,
        residual: bool,
        patch_size: int,
        embed_dim: int,
        window_size: int,
        levels: int,
        inflate_kernel: int | None = None,
    ) -> None:
        super().__init__(in_channels, extra_channels, residual)
        for name, value in (
            ("patch_size", patch_size),
            ("embed_dim", embed_dim),
            ("window_size", window_size),
        ):
            if not isinstance(value, int) or value < 1:
                raise config_error(self.model_name, name, f"must be a positive int, got {value!r}")
        if inflate_kernel is not None and (
            not isinstance(inflate_kernel, int) or inflate_kernel < patch_size
        ):
            raise config_error(
                self.model_name,
                "inflate_kernel",
                f"must be an int >= patch_size ({patch_size}), got {inflate_kernel!r}",
            )
        self.patch_size = patch_size
        self.embed_dim = embed_dim
        self.window_size = window_size
        self.levels = levels
        self.patch_embed = PatchEmbed(in_channels + extra_channels, embed_dim, patch_size)
        self.head = PatchInflate(embed_dim, in_channels, patch_size, inflate_kernel)
        if residual:
            zero_init_(self.head)
        self.cell_levels: list[tuple[int, int]] = []

    def token_size(self, height: int, width: int, level: int = 0) -> tuple[int, int]:
        """Size of the token map of ``level`` for an ``height x width`` frame."""
        step = self.patch_size * 2**level
        return -(-height // step), -(-width // step)

    def init_state(self, batch: int, height: int, width: int, ref: Tensor) -> list[CellState]:
        """Zero (h, c) for every cell, at the cell's token resolution, on ``ref``'s device."""
        state = []
        for level, dim in self.cell_levels:
            shape = (batch, *self.token_size(height, width, level), dim)
            state.append((ref.new_zeros(shape), ref.new_zeros(shape)))
        return state

    @abstractmethod
    def forward_tokens(
        self, tokens: Tensor, state: list[CellState]
    ) -> tuple[Tensor, list[CellState]]:
        """Embedded tokens (batch, H/p, W/p, embed_dim) -> tokens for the head, new state."""
        ...

    def step(self, frame: Tensor, state: list[CellState]) -> tuple[Tensor, list[CellState]]:
        """frame (batch, C + E, H, W) -> (change or value (batch, C, H, W), new state)."""
        tokens, state = self.forward_tokens(self._embed(frame), state)
        return crop_to(self.head(tokens), *frame.shape[-2:]), state

    def encode(self, frame: Tensor, state: list[CellState]) -> list[CellState]:
        return self.forward_tokens(self._embed(frame), state)[1]

    def _embed(self, frame: Tensor) -> Tensor:
        """Checked frame (batch, C + E, H, W) -> level-0 tokens."""
        want = self.in_channels + self.extra_channels
        if frame.ndim != 4 or frame.shape[1] != want:
            raise ModelInputError(
                f"{type(self).__name__}: frame must be (batch, {want}, H, W) "
                "= in_channels + extra_channels; "
                f"got {tuple(frame.shape)}"
            )
        height, width = frame.shape[-2:]
        p = self.patch_size
        ph, pw = (-height) % p, (-width) % p
        if ph or pw:
            frame = F.pad(frame, (0, pw, 0, ph), value=layers.PAD_FILL)
            present = frame.new_zeros(height + ph, width + pw)
            present[:height, :width] = 1.0
            frame = frame * present  # cells outside the frame are masked to zero
        return self.patch_embed(frame)


_SWIN_B_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {"patch_size": 2, "embed_dim": 8, "depths": (2,), "num_heads": (2,), "window_size": 2},
    "default": {
        "patch_size": 2,
        "embed_dim": 64,
        "depths": (6,),
        "num_heads": (4,),
        "window_size": 4,
    },
    # The official SwinLSTM-B (github.com/SongTang-x/SwinLSTM, configs.py and train.py, also
    # OpenSTL's configs/human/SwinLSTM-B.py): embed 128, one cell of 12 Swin blocks, 4 heads,
    # window 4, patch 2, drop-path 0.1 on every block, dropout 0; its 3x3 inflation kernel.
    "paper": {
        "patch_size": 2,
        "embed_dim": 128,
        "depths": (12,),
        "num_heads": (4,),
        "window_size": 4,
        "drop_path_rate": 0.1,
        "inflate_kernel": 3,
    },
}


@register_model(
    "swinlstm_b",
    presets=_SWIN_B_PRESETS,
    summary="SwinLSTM-B (Tang et al. 2023): one SwinLSTM cell of Swin blocks between patch "
    "embedding and inflation",
)
class SwinLSTMB(_SwinLSTMBase):
    """SwinLSTM-B: patch embedding, one SwinLSTM cell, patch inflation.

    Args:
        in_channels: predicted channels C.
        extra_channels: given channels E fed with every frame (mask, lat/lon, ...).
        residual: predict the step change with a zero-initialised head (untrained = persistence).
        patch_size: side of the square patches embedded as tokens.
        embed_dim: token channels.
        depths: the cell's number of Swin blocks, as an int or a one-element list.
        num_heads: attention heads, an int or a one-element list.
        window_size: attention window side, in tokens.
        mlp_ratio, drop_rate, attn_drop_rate: transformer options.
        drop_path_rate: stochastic depth of every block (constant, as the reference).
        inflate_kernel: kernel of the output's transposed convolution (default
            ``p + 2 (p // 2)``; the reference's is 3 for p = 2).
    """

    model_name = "swinlstm_b"

    def __init__(
        self,
        in_channels: int = 1,
        extra_channels: int = 0,
        residual: bool = True,
        patch_size: int = 2,
        embed_dim: int = 64,
        depths: int | Sequence[int] = (6,),
        num_heads: int | Sequence[int] = (4,),
        window_size: int = 4,
        mlp_ratio: float = 4.0,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        inflate_kernel: int | None = None,
    ) -> None:
        super().__init__(
            in_channels,
            extra_channels,
            residual,
            patch_size,
            embed_dim,
            window_size,
            levels=0,
            inflate_kernel=inflate_kernel,
        )
        depth = _int_tuple(depths, self.model_name, "depths")
        heads = _int_tuple(num_heads, self.model_name, "num_heads")
        if len(depth) != 1 or len(heads) != 1:
            raise config_error(
                self.model_name,
                "depths",
                f"and 'num_heads' take one value (one cell); got {depths!r}, {num_heads!r} "
                "(swinlstm_d has several levels)",
            )
        _check_heads(self.model_name, embed_dim, heads[0])
        make_block = swin_block_factory(
            window_size, mlp_ratio=mlp_ratio, drop=drop_rate, attn_drop=attn_drop_rate
        )
        self.cell = SwinLSTMCell(
            embed_dim, heads[0], depth[0], 0, make_block, 0, [float(drop_path_rate)] * depth[0]
        )
        self.cell_levels = [(0, embed_dim)]

    def forward_tokens(
        self, tokens: Tensor, state: list[CellState]
    ) -> tuple[Tensor, list[CellState]]:
        h, cell_state = self.cell(tokens, state[0])
        return h, [cell_state]


class HierarchicalSwinLSTM(_SwinLSTMBase):
    """The SwinLSTM-D layout with blocks from ``make_block``: encoder cells + patch merging,
    decoder cells + patch expanding (see the module docstring for depths and heads).

    SwinLSTM-D and DatLSTM are this layout with different blocks. The cells are numbered in
    run order (stages 0..2L-1, see :class:`BlockSpec`); ``num_heads`` is one value, one per
    level (SwinLSTM's pairing) or one per stage (:func:`per_stage`). Stochastic depth follows
    the references' schedule (:func:`drop_path_schedule`).

    ``skip=True`` adds U-Net (Swin-Unet) style skips: the encoder cell's hidden state at a
    level is added to the patch-expanded decoder tokens of that level. The paper's layout
    (``skip=False``, the default) has none, so fine detail must pass the coarsest level.
    Measured on a 12x12 moving blob (20 Adam steps at lr 1e-2, tiny presets, 4 seeds; final
    / initial loss): SwinLSTM-D 0.77-0.85 without skips, 0.26-0.45 with them; DatLSTM
    0.81-0.87 without, 0.21-0.63 with (SwinLSTM-B, one cell at the patch grid: 0.09-0.21).
    """

    def __init__(
        self,
        *,
        in_channels: int,
        extra_channels: int,
        residual: bool,
        patch_size: int,
        embed_dim: int,
        depths: int | Sequence[int],
        depths_up: int | Sequence[int] | None,
        num_heads: int | Sequence[int],
        window_size: int,
        skip: bool,
        make_block: BlockFactory,
        drop_path_rate: float = 0.0,
        inflate_kernel: int | None = None,
    ) -> None:
        name = self.model_name
        down = _int_tuple(depths, name, "depths")
        levels = len(down)
        # up[l - 1]: the decoder cell at level l, as the reference configs list it.
        up = (
            tuple(reversed(down)) if depths_up is None else _int_tuple(depths_up, name, "depths_up")
        )
        if len(up) != levels:
            raise config_error(
                name,
                "depths_up",
                f"needs one entry per level of 'depths' ({levels}); got {len(up)}",
            )
        heads = per_stage(_int_tuple(num_heads, name, "num_heads"), levels, name, "num_heads")
        levels_run = [*range(levels), *range(levels, 0, -1)]  # the level of each stage
        for stage, level in enumerate(levels_run):
            _check_heads(name, embed_dim * 2**level, heads[stage])
        if not isinstance(drop_path_rate, int | float) or not 0 <= drop_path_rate < 1:
            raise config_error(name, "drop_path_rate", f"must be in [0, 1), got {drop_path_rate!r}")
        super().__init__(
            in_channels,
            extra_channels,
            residual,
            patch_size,
            embed_dim,
            window_size,
            levels,
            inflate_kernel,
        )
        depth_run = [*down, *(up[level - 1] for level in range(levels, 0, -1))]
        rates = drop_path_schedule(down, depth_run[levels:], float(drop_path_rate))
        starts = [sum(depth_run[:i]) for i in range(len(depth_run))]

        def cell(stage: int) -> SwinLSTMCell:
            level, depth = levels_run[stage], depth_run[stage]
            return SwinLSTMCell(
                embed_dim * 2**level,
                heads[stage],
                depth,
                level,
                make_block,
                stage,
                rates[starts[stage] : starts[stage] + depth],
            )

        self.down_cells = nn.ModuleList(cell(stage) for stage in range(levels))
        self.merges = nn.ModuleList(
            PatchMerging(embed_dim * 2**level, out_dim=2 * embed_dim * 2**level)
            for level in range(levels)
        )
        self.up_cells = nn.ModuleList(cell(stage) for stage in range(levels, 2 * levels))
        self.expands = nn.ModuleList(
            PatchExpand(embed_dim * 2**level) for level in range(levels, 0, -1)
        )
        self.cell_levels = [(c.level, c.dim) for c in [*self.down_cells, *self.up_cells]]
        self.skip = skip

    def forward_tokens(
        self, tokens: Tensor, state: list[CellState]
    ) -> tuple[Tensor, list[CellState]]:
        x = tokens
        levels = len(self.down_cells)
        new_state: list[CellState] = []
        skips: list[Tensor] = []
        for cell, merge, cell_state in zip(
            self.down_cells, self.merges, state[:levels], strict=True
        ):
            h, cell_state = cell(x, cell_state)
            new_state.append(cell_state)
            skips.append(h)
            x = merge(h)
        up_states = state[levels:]
        for j, (cell, expand, cell_state) in enumerate(
            zip(self.up_cells, self.expands, up_states, strict=True)
        ):
            h, cell_state = cell(x, cell_state)
            new_state.append(cell_state)
            finer = skips[levels - 1 - j]  # the encoder's map one level finer: its size
            x = expand(h, finer.shape[1:3])
            if self.skip:
                x = x + finer
        return x, new_state


_SWIN_D_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "patch_size": 2,
        "embed_dim": 8,
        "depths": (2, 2),
        "num_heads": (2, 2),
        "window_size": 2,
    },
    "default": {
        "patch_size": 2,
        "embed_dim": 64,
        "depths": (2, 6),
        "num_heads": (4, 8),
        "window_size": 4,
    },
    # The official SwinLSTM-D (github.com/SongTang-x/SwinLSTM, configs.py and train.py; the
    # same sizes as OpenSTL's configs/mmnist/SwinLSTM-D.py): embed 128, depths down [2, 6] and
    # up [6, 2] (listed finest first), heads [4, 8] paired as the reference pairs them,
    # window 4, patch 2, drop-path 0.1 on the reference's schedule (its DownSample/UpSample
    # default; the model class does not pass drop_path_rate), dropout 0, no skips, its 3x3
    # inflation kernel.
    "paper": {
        "patch_size": 2,
        "embed_dim": 128,
        "depths": (2, 6),
        "depths_up": (6, 2),
        "num_heads": (4, 8),
        "window_size": 4,
        "drop_path_rate": 0.1,
        "skip": False,
        "inflate_kernel": 3,
    },
}


@register_model(
    "swinlstm_d",
    presets=_SWIN_D_PRESETS,
    summary="SwinLSTM-D (Tang et al. 2023): SwinLSTM cells with patch merging down and "
    "patch expanding up",
)
class SwinLSTMD(HierarchicalSwinLSTM):
    """SwinLSTM-D: encoder cells with patch merging, decoder cells with patch expanding.

    Args:
        in_channels, extra_channels, residual, patch_size, embed_dim, window_size,
            inflate_kernel: as :class:`SwinLSTMB`.
        depths: Swin blocks of the encoder cell at each level (``len(depths)`` levels).
        depths_up: Swin blocks of the decoder cells, listed as the official configs list
            them: ``depths_up[l - 1]`` is the decoder cell at level ``l``, finest first (the
            reverse of the order they run). Defaults to ``reversed(depths)``, the paper's
            pairing (``depths=[2, 6]`` gives ``depths_up=[6, 2]``).
        num_heads: heads per level (the encoder cell at level l gets ``num_heads[l]``, the
            decoder cell at level l ``num_heads[l - 1]``, as in the reference), one int for
            all, or one per cell in run order (see :func:`per_stage`).
        skip: add each encoder cell's hidden state to the decoder tokens at its level (after
            patch expanding). ``False`` (default) is the paper's layout; see
            :class:`HierarchicalSwinLSTM`.
        mlp_ratio, drop_rate, attn_drop_rate: transformer options.
        drop_path_rate: peak stochastic depth of the references' schedule
            (:func:`drop_path_schedule`).
    """

    model_name = "swinlstm_d"

    def __init__(
        self,
        in_channels: int = 1,
        extra_channels: int = 0,
        residual: bool = True,
        patch_size: int = 2,
        embed_dim: int = 64,
        depths: int | Sequence[int] = (2, 6),
        depths_up: int | Sequence[int] | None = None,
        num_heads: int | Sequence[int] = (4, 8),
        window_size: int = 4,
        skip: bool = False,
        mlp_ratio: float = 4.0,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        inflate_kernel: int | None = None,
    ) -> None:
        super().__init__(
            in_channels=in_channels,
            extra_channels=extra_channels,
            residual=residual,
            patch_size=patch_size,
            embed_dim=embed_dim,
            depths=depths,
            depths_up=depths_up,
            num_heads=num_heads,
            window_size=window_size,
            skip=skip,
            make_block=swin_block_factory(
                window_size, mlp_ratio=mlp_ratio, drop=drop_rate, attn_drop=attn_drop_rate
            ),
            drop_path_rate=drop_path_rate,
            inflate_kernel=inflate_kernel,
        )
