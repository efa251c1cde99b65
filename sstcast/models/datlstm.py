"""DatLSTM (Shi et al., Remote Sensing 2024, 16(22), 4126): SwinLSTM-D with deformable attention.

DatLSTM keeps the recurrent structure of SwinLSTM-D (encoder cells with patch merging,
decoder cells with patch expanding, one LSTM state per cell; see
:mod:`sstcast.models.swinlstm`) and replaces the Swin blocks inside each cell with the
blocks of the Deformable Attention Transformer (DAT, Xia et al. CVPR 2022), which alternate

* even-numbered blocks: local attention inside non-overlapping windows with a relative
  position bias (DAT's "L" block; it is also the block that merges the input / hidden state),
* odd-numbered blocks: deformable attention (DAT's "D" block): offsets predicted from the
  queries move a grid of reference points, keys and values are sampled there with
  ``grid_sample``, and an interpolated relative position bias is added
  (:class:`sstcast.models.attention.DeformableAttention`).

The deformable blocks let every query attend to data-dependent positions anywhere on the
map, which is what the paper credits for the gain over SwinLSTM on Bohai Sea SST.
The reference-point spacing is ``offset_stride`` tokens at level 0 and halves at each
coarser level (at least 1), like DAT's per-stage strides, so the number of keys stays small.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from sstcast.models.attention import DeformableBlock, WindowBlock
from sstcast.models.registry import register_model
from sstcast.models.swinlstm import BlockFactory, HierarchicalSwinLSTM, config_error


def dat_block_factory(
    window_size: int,
    *,
    n_groups: int = 1,
    offset_stride: int = 2,
    offset_range_factor: float = 2.0,
    bias_extent: int = 8,
    mlp_ratio: float = 4.0,
    drop: float = 0.0,
    attn_drop: float = 0.0,
    drop_path: float = 0.0,
) -> BlockFactory:
    """DatLSTM's blocks: local window attention on even indices, deformable on odd ones."""

    def make(dim: int, num_heads: int, level: int, index: int, merge_input: bool) -> nn.Module:
        common = {
            "merge_input": merge_input,
            "mlp_ratio": mlp_ratio,
            "drop": drop,
            "attn_drop": attn_drop,
            "drop_path": drop_path,
        }
        if index % 2 == 0:
            return WindowBlock(dim, num_heads, window_size, shift=False, **common)
        return DeformableBlock(
            dim,
            num_heads,
            n_groups=n_groups,
            stride=max(1, offset_stride >> level),
            offset_range_factor=offset_range_factor,
            bias_extent=bias_extent,
            **common,
        )

    return make


_DAT_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "patch_size": 2,
        "embed_dim": 8,
        "depths": (2, 2),
        "num_heads": (2, 2),
        "window_size": 2,
        "n_groups": 1,
        "offset_stride": 2,
        "offset_range_factor": 2.0,
        "bias_extent": 4,
    },
    "default": {
        "patch_size": 2,
        "embed_dim": 64,
        "depths": (2, 6),
        "num_heads": (4, 8),
        "window_size": 4,
        "n_groups": 2,
        "offset_stride": 2,
        "offset_range_factor": 2.0,
        "bias_extent": 16,
    },
}


@register_model(
    "datlstm",
    presets=_DAT_PRESETS,
    summary="DatLSTM (Shi et al. 2024): SwinLSTM-D layout whose cells alternate local window "
    "and deformable attention",
)
class DatLSTM(HierarchicalSwinLSTM):
    """DatLSTM: the SwinLSTM-D layout with alternating local / deformable attention blocks.

    Args:
        in_channels, extra_channels, residual, patch_size, embed_dim, depths, depths_up,
            num_heads, window_size, skip, mlp_ratio, drop_rate, attn_drop_rate,
            drop_path_rate: as
            :class:`sstcast.models.swinlstm.SwinLSTMD` (``depths_up`` listed finest first,
            as the reference's ``configs.py``). A cell of depth d has ``d // 2`` deformable
            blocks, so every depth must be >= 2 (a ConfigError otherwise).
        n_groups: offset groups of the deformable attention (each group of channels gets its
            own sampling positions); must divide every level's ``num_heads``.
        offset_stride: reference-point spacing in tokens at level 0 (halved per level).
        offset_range_factor: offsets are bounded by ``tanh · offset_range_factor · stride / 2``
            tokens, the reference's reach (its ``tanh · factor / (Hk − 1)`` in normalised
            coordinates; see :class:`sstcast.models.attention.DeformableAttention`).
        bias_extent: the relative-position-bias table covers displacements up to this many
            tokens (farther keys share the table's edge values).
    """

    model_name = "datlstm"

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
        n_groups: int = 2,
        offset_stride: int = 2,
        offset_range_factor: float = 2.0,
        bias_extent: int = 16,
        skip: bool = True,
        mlp_ratio: float = 4.0,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
    ) -> None:
        name = self.model_name
        if not isinstance(offset_stride, int) or offset_stride < 1:
            raise config_error(
                name, "offset_stride", f"must be a positive int, got {offset_stride!r}"
            )
        if not offset_range_factor > 0:
            raise config_error(
                name, "offset_range_factor", f"must be > 0, got {offset_range_factor}"
            )
        if not isinstance(bias_extent, int) or bias_extent < 1:
            raise config_error(name, "bias_extent", f"must be a positive int, got {bias_extent!r}")
        for option, value in (("depths", depths), ("depths_up", depths_up)):
            values = [value] if isinstance(value, int) else list(value or ())
            if any(isinstance(v, int) and v < 2 for v in values):
                raise config_error(
                    name,
                    option,
                    f"needs at least 2 blocks per cell (block 0 is window attention, the first "
                    f"deformable block is block 1; a 1-block cell would have none), got {value!r}",
                )
        heads = [num_heads] if isinstance(num_heads, int) else list(num_heads)
        if not isinstance(n_groups, int) or n_groups < 1 or any(h % n_groups for h in heads):
            raise config_error(
                name,
                "n_groups",
                f"must be a positive int dividing every num_heads {heads}, got {n_groups!r}",
            )
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
            make_block=dat_block_factory(
                window_size,
                n_groups=n_groups,
                offset_stride=offset_stride,
                offset_range_factor=offset_range_factor,
                bias_extent=bias_extent,
                mlp_ratio=mlp_ratio,
                drop=drop_rate,
                attn_drop=attn_drop_rate,
                drop_path=drop_path_rate,
            ),
        )
        self.n_groups = n_groups
        self.offset_stride = offset_stride
        self.offset_range_factor = offset_range_factor
        self.bias_extent = bias_extent
