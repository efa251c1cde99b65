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
Per-cell options (heads, offset groups, reference-point spacing, bias reach) take one value
for every cell or a list in run order (encoder levels, then decoder cells coarsest first),
as the reference's ``configs.py`` lists ``num_heads = [4, 8, 16, 8]`` and
``n_group = [2, 4, 8, 4]``; see :func:`sstcast.models.swinlstm.per_stage`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from sstcast.models.attention import DeformableBlock, WindowBlock
from sstcast.models.registry import register_model
from sstcast.models.swinlstm import (
    BlockFactory,
    BlockSpec,
    HierarchicalSwinLSTM,
    config_error,
    per_stage,
)


def dat_block_factory(
    window_size: int,
    *,
    n_groups: Sequence[int],
    offset_stride: Sequence[int],
    offset_range_factor: float = 2.0,
    bias_extent: Sequence[int],
    mlp_ratio: float = 4.0,
    drop: float = 0.0,
    attn_drop: float = 0.0,
) -> BlockFactory:
    """DatLSTM's blocks: local window attention on even indices, deformable on odd ones.

    ``n_groups``, ``offset_stride`` and ``bias_extent`` hold one value per stage.
    """

    def make(spec: BlockSpec) -> nn.Module:
        common = {
            "merge_input": spec.merge_input,
            "mlp_ratio": mlp_ratio,
            "drop": drop,
            "attn_drop": attn_drop,
            "drop_path": spec.drop_path,
        }
        if spec.index % 2 == 0:
            return WindowBlock(spec.dim, spec.num_heads, window_size, shift=False, **common)
        return DeformableBlock(
            spec.dim,
            spec.num_heads,
            n_groups=n_groups[spec.stage],
            stride=offset_stride[spec.stage],
            offset_range_factor=offset_range_factor,
            bias_extent=bias_extent[spec.stage],
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
        "offset_range_factor": 2.0,
        "bias_extent": 16,
    },
    # The reference (github.com/Nanjing-Tech-University-CSIC/DatLSTM): configs.py (embed 128,
    # depths_down [2, 6], depths_up [6, 2], num_heads [4, 8, 16, 8] with 32 channels per head,
    # n_group [2, 4, 8, 4], window 4, patch 2, drop_path 0.1 on DownSample/UpSample's
    # schedule, dropout 0) and the constructor call in funAndUtils/trainDatLSTM.py (stride 2
    # and offset kernel 3 in every stage, offset_range_factor 2, the interpolated relative
    # position bias). Its bias tables are (heads, 2 H_q - 1, 2 W_q - 1) for the query map of
    # each stage at its 64 x 64 input (32, 16, 8 and 16 tokens): reach 31, 15, 7, 15 tokens.
    # Its 3x3 inflation kernel. No skips.
    "paper": {
        "patch_size": 2,
        "embed_dim": 128,
        "depths": (2, 6),
        "depths_up": (6, 2),
        "num_heads": (4, 8, 16, 8),
        "window_size": 4,
        "n_groups": (2, 4, 8, 4),
        "offset_stride": 2,
        "offset_range_factor": 2.0,
        "bias_extent": (31, 15, 7, 15),
        "drop_path_rate": 0.1,
        "skip": False,
        "inflate_kernel": 3,
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
            window_size, skip, mlp_ratio, drop_rate, attn_drop_rate, drop_path_rate,
            inflate_kernel: as :class:`sstcast.models.swinlstm.SwinLSTMD` (``depths_up``
            listed finest first, as the reference's ``configs.py``). A cell of depth d has
            ``d // 2`` deformable blocks, so every depth must be >= 2 (a ConfigError
            otherwise).
        num_heads: heads per cell: one int, one per level (SwinLSTM's pairing) or one per
            cell in run order (the reference's ``[4, 8, 16, 8]``).
        n_groups: offset groups of the deformable attention (each group of channels gets its
            own sampling positions); per cell like ``num_heads``, dividing its heads.
        offset_stride: reference-point spacing in tokens; per cell like ``num_heads`` (one
            int: the same in every cell, as the reference's 2). Default: 2 at level 0 and 1
            in the coarser cells, so that the few tokens there are all keys.
        offset_range_factor: offsets are bounded by ``tanh · offset_range_factor · stride / 2``
            tokens, the reference's reach (its ``tanh · factor / (Hk − 1)`` in normalised
            coordinates; see :class:`sstcast.models.attention.DeformableAttention`).
        bias_extent: the relative-position-bias table covers displacements up to this many
            tokens (farther keys share the table's edge values); per cell like ``num_heads``.
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
        n_groups: int | Sequence[int] = 2,
        offset_stride: int | Sequence[int] | None = None,
        offset_range_factor: float = 2.0,
        bias_extent: int | Sequence[int] = 16,
        skip: bool = False,
        mlp_ratio: float = 4.0,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        inflate_kernel: int | None = None,
    ) -> None:
        name = self.model_name
        for option, value in (("depths", depths), ("depths_up", depths_up)):
            values = [value] if isinstance(value, int) else list(value or ())
            if any(isinstance(v, int) and v < 2 for v in values):
                raise config_error(
                    name,
                    option,
                    f"needs at least 2 blocks per cell (block 0 is window attention, the first "
                    f"deformable block is block 1; a 1-block cell would have none), got {value!r}",
                )
        if not offset_range_factor > 0:
            raise config_error(
                name, "offset_range_factor", f"must be > 0, got {offset_range_factor}"
            )
        levels = 1 if isinstance(depths, int) else len(depths)
        if offset_stride is None:
            offset_stride = (2, *[1] * (2 * levels - 1))
        stage_options = {}
        for option, value in (
            ("n_groups", n_groups),
            ("offset_stride", offset_stride),
            ("bias_extent", bias_extent),
        ):
            values = per_stage(value, levels, name, option)
            if any(not isinstance(v, int) or v < 1 for v in values):
                raise config_error(
                    name, option, f"must be positive ints, one or one per cell, got {value!r}"
                )
            stage_options[option] = values
        heads = per_stage(num_heads, levels, name, "num_heads")
        if any(h % g for h, g in zip(heads, stage_options["n_groups"], strict=True)):
            raise config_error(
                name,
                "n_groups",
                f"must divide the heads of its cell: heads {list(heads)}, got {n_groups!r}",
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
                offset_range_factor=offset_range_factor,
                mlp_ratio=mlp_ratio,
                drop=drop_rate,
                attn_drop=attn_drop_rate,
                **stage_options,
            ),
            drop_path_rate=drop_path_rate,
            inflate_kernel=inflate_kernel,
        )
        self.n_groups = stage_options["n_groups"]
        self.offset_stride = stage_options["offset_stride"]
        self.offset_range_factor = offset_range_factor
        self.bias_extent = stage_options["bias_extent"]
