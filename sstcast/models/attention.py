"""Attention blocks shared by SwinLSTM and DatLSTM.

Two kinds of transformer block work on channels-last token maps ``(batch, H, W, dim)``:

* :class:`WindowBlock`: the Swin block (Liu et al. 2021): multi-head self-attention inside
  non-overlapping ``window x window`` windows, optionally on a half-window cyclic shift, with
  a learned relative position bias, then an MLP. The attention (:class:`WindowAttention`)
  has timm's parameters and window order.
* :class:`DeformableBlock`: the block of the Deformable Attention Transformer (DAT, Xia et
  al. CVPR 2022) around :class:`DeformableAttention`: a small network predicts offsets from
  the queries, keys and values are sampled at the shifted reference points with
  ``grid_sample``, and a relative position bias is interpolated from a learned table at the
  query-to-key displacements.

Both blocks optionally take a second token map and merge it into the attention branch the
way the SwinLSTM cell does (``Linear(cat(norm(x), norm(other)))``); the residual path keeps
``x``. Token maps of any size are accepted and never padded as a whole: window attention
projects the real tokens, pads the projections to a multiple of the window only for the
partition, masks the padded keys out (they get no attention weight) and drops the padded
queries before the output projection; deformable attention samples inside the real map.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
import torch.nn.functional as F
from timm.layers import DropPath, Mlp, trunc_normal_
from torch import Tensor, nn

from sstcast.models.layers import pad_bottom_right

#: Swin's mask value between regions of a shifted window (kept for exact agreement).
REGION_MASK = -100.0


def shifted_window_mask(
    height: int, width: int, window: int, shift: int, device: torch.device | None = None
) -> Tensor:
    """The (0 / -100) attention mask of shifted-window attention (Swin's SW-MSA).

    After a cyclic shift by ``shift`` cells, a window may hold cells from up to four regions
    that are not neighbours on the map; the mask stops attention between regions. Returns
    ``(num_windows, window * window, window * window)`` in timm's window order. ``height``
    and ``width`` must be multiples of ``window``.
    """
    labels = torch.zeros(height, width, device=device)
    bands = ((0, -window), (-window, -shift), (-shift, None))
    region = 0
    for h0, h1 in bands:
        for w0, w1 in bands:
            labels[h0:h1, w0:w1] = region
            region += 1
    windows = partition(labels[None, :, :, None], window).reshape(-1, window * window)
    diff = windows.unsqueeze(1) - windows.unsqueeze(2)
    return torch.zeros_like(diff).masked_fill(diff != 0, REGION_MASK)


def partition(x: Tensor, window: int) -> Tensor:
    """(B, H, W, C) -> (B * num_windows, window * window, C), windows in row-major order
    (timm's ``window_partition``). H and W must be multiples of ``window``."""
    b, h, w, c = x.shape
    x = x.reshape(b, h // window, window, w // window, window, c).transpose(2, 3)
    return x.reshape(-1, window * window, c)


def unpartition(windows: Tensor, window: int, height: int, width: int) -> Tensor:
    """The inverse of :func:`partition`: -> (B, height, width, C)."""
    c = windows.shape[-1]
    x = windows.reshape(-1, height // window, width // window, window, window, c)
    return x.transpose(2, 3).reshape(-1, height, width, c)


def attend(q: Tensor, k: Tensor, v: Tensor, bias: Tensor, dropout_p: float = 0.0) -> Tensor:
    """``softmax(q kᵀ / √d + bias) v`` over the last two dims; ``bias`` broadcasts.

    On CUDA this is ``scaled_dot_product_attention`` (fused kernels). On the CPU it is the
    explicit product: for the 16-token windows and the few sampled keys here the fused CPU
    kernel is slower, and with a bias that needs a gradient it falls back to a generic path
    anyway (measured: forward 1.1 vs 2.0 ms, forward + backward 8.6 vs 12.1 ms for 256
    windows of 16 tokens, 4 heads of 16 channels, one thread).
    """
    if q.device.type == "cuda":
        lead = q.shape[:-3]  # fused kernels want (batch, heads, L, d) and a full mask
        bias = bias.to(q.dtype).expand(*lead, q.shape[-3], q.shape[-2], k.shape[-2])
        out = F.scaled_dot_product_attention(
            q.reshape(-1, *q.shape[-3:]),
            k.reshape(-1, *k.shape[-3:]),
            v.reshape(-1, *v.shape[-3:]),
            attn_mask=bias.reshape(-1, *bias.shape[-3:]),
            dropout_p=dropout_p,
        )
        return out.reshape(*lead, *out.shape[-3:])
    scores = (q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1) + bias
    weights = scores.softmax(dim=-1)
    if dropout_p:
        weights = F.dropout(weights, dropout_p)
    return weights.to(v.dtype) @ v


_MASKS: dict[tuple, Tensor] = {}


def window_mask(
    height: int, width: int, window: int, shift: int, device: torch.device
) -> Tensor | None:
    """The additive mask of window attention over an ``height x width`` map padded at the
    bottom/right to multiples of ``window`` and cyclically shifted by ``shift``:
    ``(num_windows, N, N)`` with N = window², or None when nothing is masked.

    Keys that are padding get ``-inf`` (no weight at all: whatever a padded token holds
    cannot reach a real one); keys of another region of a shifted window get Swin's -100.
    Every window holds at least one real token, so no row is fully masked. Cached per
    geometry and device (built outside inference mode, so one cache serves training too).
    """
    hp, wp = -(-height // window) * window, -(-width // window) * window
    if shift == 0 and (hp, wp) == (height, width):
        return None
    key = (height, width, window, shift, str(device))
    mask = _MASKS.get(key)
    if mask is None:
        with torch.inference_mode(False), torch.no_grad():
            mask = torch.zeros(hp // window * (wp // window), window * window, window**2)
            if shift:
                mask = mask + shifted_window_mask(hp, wp, window, shift)
            valid = torch.zeros(1, hp, wp, 1)
            valid[:, :height, :width] = 1.0
            if shift:
                valid = torch.roll(valid, shifts=(-shift, -shift), dims=(1, 2))
            valid = partition(valid, window)[..., 0]  # (num_windows, N)
            mask = mask.masked_fill(valid[:, None, :] == 0, float("-inf")).to(device)
        _MASKS[key] = mask
    return mask


class _MergingBlock(nn.Module, ABC):
    """Pre-norm transformer block with the SwinLSTM input merge; subclasses give ``_attend``.

    ``forward(x, other)`` computes ``y = x + attn(merge(norm(x), norm(other)))`` followed by
    ``y + mlp(norm(y))``. Only blocks built with ``merge_input=True`` take ``other``, so every
    parameter of a block is used by its forward pass.
    """

    def __init__(
        self,
        dim: int,
        merge_input: bool,
        mlp_ratio: float,
        drop: float,
        drop_path: float,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.norm1 = nn.LayerNorm(dim)
        self.merge = nn.Linear(2 * dim, dim) if merge_input else None
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, hidden_features=int(dim * mlp_ratio), act_layer=nn.GELU, drop=drop)

    @property
    def merges_input(self) -> bool:
        """Whether this block takes a second token map (hidden state or input)."""
        return self.merge is not None

    @abstractmethod
    def _attend(self, x: Tensor) -> Tensor: ...

    def forward(self, x: Tensor, other: Tensor | None = None) -> Tensor:
        """``x`` and ``other``: (batch, H, W, dim); returns (batch, H, W, dim)."""
        if x.ndim != 4 or x.shape[-1] != self.dim:
            raise ValueError(f"expected tokens (batch, H, W, {self.dim}); got {tuple(x.shape)}")
        z = self.norm1(x)
        if self.merge is not None:
            if other is None or other.shape != x.shape:
                got = None if other is None else tuple(other.shape)
                raise ValueError(
                    f"this block merges a second input of shape {tuple(x.shape)}; got {got}"
                )
            z = self.merge(torch.cat([z, self.norm1(other)], dim=-1))
        elif other is not None:
            raise ValueError("this block was built without an input merge (merge_input=False)")
        x = x + self.drop_path(self._attend(z))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class WindowAttention(nn.Module):
    """Multi-head self-attention in windows with a relative position bias (Swin's W-MSA).

    The parameters are timm's ``WindowAttention``'s (``qkv``, ``proj``,
    ``relative_position_bias_table`` of ``((2w-1)^2, heads)`` and the non-persistent
    ``relative_position_index``), so state dicts carry over. :meth:`forward` takes the token
    map itself: the query/key/value projection runs on the real tokens only, the map is
    padded to whole windows (and shifted) after it, and the output projection runs after the
    padding is cropped again.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window_size: int,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.window_size = window_size
        self.attn_drop = attn_drop
        side = 2 * window_size - 1
        self.relative_position_bias_table = nn.Parameter(torch.zeros(side * side, num_heads))
        trunc_normal_(self.relative_position_bias_table, std=0.02)
        coords = torch.stack(
            torch.meshgrid(torch.arange(window_size), torch.arange(window_size), indexing="ij")
        ).flatten(1)  # (2, N)
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window_size - 1)
        self.register_buffer(
            "relative_position_index", rel[..., 0] * side + rel[..., 1], persistent=False
        )
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def relative_position_bias(self) -> Tensor:
        """(heads, N, N) bias between the N = window² positions of a window."""
        n = self.window_size**2
        bias = self.relative_position_bias_table[self.relative_position_index.reshape(-1)]
        return bias.reshape(n, n, -1).permute(2, 0, 1)

    def forward(self, x: Tensor, shift: int = 0) -> Tensor:
        """x (B, H, W, dim) -> (B, H, W, dim); windows shifted by ``shift`` (SW-MSA)."""
        b, h, w, c = x.shape
        ws, nh, hd = self.window_size, self.num_heads, self.head_dim
        qkv = self.qkv(x)
        hp, wp = -(-h // ws) * ws, -(-w // ws) * ws
        qkv = pad_bottom_right(qkv, hp - h, wp - w)
        if shift:
            qkv = torch.roll(qkv, shifts=(-shift, -shift), dims=(1, 2))
        windows = partition(qkv, ws)  # (B * nW, N, 3C)
        n_win = windows.shape[0] // b
        q, k, v = windows.reshape(b * n_win, ws * ws, 3, nh, hd).permute(2, 0, 3, 1, 4)
        bias = self.relative_position_bias().to(q.dtype)  # (heads, N, N)
        mask = window_mask(h, w, ws, shift, x.device)
        drop = self.attn_drop if self.training else 0.0
        if mask is None:
            out = attend(q, k, v, bias, drop)
        else:  # per-window masks: attend with windows grouped per sample, (B, nW, heads, N, d)
            n = ws * ws
            group = (b, n_win, nh, n, hd)
            out = attend(
                q.reshape(group), k.reshape(group), v.reshape(group), mask[:, None] + bias, drop
            ).reshape(b * n_win, nh, n, hd)
        out = unpartition(out.transpose(1, 2).reshape(b * n_win, ws * ws, c), ws, hp, wp)
        if shift:
            out = torch.roll(out, shifts=(shift, shift), dims=(1, 2))
        return self.proj_drop(self.proj(out[:, :h, :w]))


class WindowBlock(_MergingBlock):
    """Swin transformer block: (shifted) window attention with relative position bias + MLP.

    Args:
        dim: token channels.
        num_heads: attention heads (must divide ``dim``).
        window_size: side of the square attention window, in tokens. Maps of any size work:
            the last windows are padded and the padding masked out (:class:`WindowAttention`).
        shift: use the half-window cyclic shift (SW-MSA). As in Swin, the shift is skipped on
            maps no larger than one window, where it would only cut the window into pieces.
        merge_input: take a second token map and merge it (the SwinLSTM cell's input blocks).
        mlp_ratio, drop, attn_drop, drop_path: the usual transformer options.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window_size: int,
        *,
        shift: bool = False,
        merge_input: bool = False,
        mlp_ratio: float = 4.0,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__(dim, merge_input, mlp_ratio, drop, drop_path)
        if dim % num_heads:
            raise ValueError(f"num_heads={num_heads} must divide the token dim {dim}")
        if window_size < 1:
            raise ValueError(f"window_size must be >= 1, got {window_size}")
        self.window_size = window_size
        self.shift_size = window_size // 2 if shift else 0
        self.attn = WindowAttention(
            dim, num_heads, window_size, attn_drop=attn_drop, proj_drop=drop
        )

    def _attend(self, x: Tensor) -> Tensor:
        _, h, w, _ = x.shape
        return self.attn(x, self.shift_size if min(h, w) > self.window_size else 0)


def _work_dtype(x: Tensor) -> torch.dtype:
    """float32, or wider: ``grid_sample`` wants input and grid in one full-precision dtype
    (bf16 autocast hands it bf16 features and an fp32 grid otherwise)."""
    return torch.promote_types(x.dtype, torch.float32)


def reference_points(
    height: int,
    width: int,
    stride: int,
    *,
    device: torch.device | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Centres of the ``stride x stride`` cells tiling an ``height x width`` token map.

    Returns ``(ceil(height/stride), ceil(width/stride), 2)`` as (y, x) in token units (the
    token at row i, column j sits at (i, j)). With ``stride=1`` these are the tokens
    themselves; with ``stride=2`` each point is the middle of a 2x2 block.
    """
    hk, wk = -(-height // stride), -(-width // stride)
    ys = torch.arange(hk, device=device, dtype=dtype) * stride + (stride - 1) / 2
    xs = torch.arange(wk, device=device, dtype=dtype) * stride + (stride - 1) / 2
    return torch.stack(torch.meshgrid(ys, xs, indexing="ij"), dim=-1)


def _to_grid(pos: Tensor, height: int, width: int) -> Tensor:
    """(y, x) token coordinates -> ``grid_sample``'s (x, y) in [-1, 1] (align_corners=False)."""
    gy = (pos[..., 0] + 0.5) * (2.0 / height) - 1.0
    gx = (pos[..., 1] + 0.5) * (2.0 / width) - 1.0
    return torch.stack([gx, gy], dim=-1)


class DeformableAttention(nn.Module):
    """Deformable multi-head attention (DAT, Xia et al. CVPR 2022), any grid size.

    For a token map x (B, H, W, C) with ``n_groups`` offset groups:

    1. ``q = W_q x``. Each group's query channels go through the offset network (depthwise
       ``k x k`` conv with stride ``stride``, LayerNorm, GELU, linear to 2) giving one offset
       per reference point: ``ceil(H/stride) x ceil(W/stride)`` points per group.
    2. Offsets are bounded with ``tanh`` to ``offset_range_factor * stride / 2`` tokens
       (half a reference-point spacing per unit of the factor) and added to the reference
       points. This is the reach of DAT / DatLSTM, whose ``tanh · factor / (Hk − 1)`` in
       ``align_corners=True`` coordinates spans ``factor · (H − 1) / (2 (Hk − 1))`` tokens of
       an ``H``-token axis with ``Hk`` reference points: ``factor · stride / 2`` on a large
       map, slightly more on a small one (and undefined for ``Hk = 1``); the bound here is
       the large-map limit, so it never exceeds the reference's reach and works on any grid.
    3. The group's channels of x are sampled at those positions with bilinear
       ``grid_sample`` (``border`` padding: the edge value continues, as with the models'
       replicate padding); ``k = W_k x_s``, ``v = W_v x_s``. Positions are token centres
       (``align_corners=False``) and the reference points are the true block centres
       (:func:`reference_points`). This differs on purpose from DatLSTM's reference code,
       which normalises with ``align_corners=True`` and puts its points at
       ``(i + 0.5) / (Hk − 1)``: there they drift off the block centres towards the
       bottom/right and the last row and column fall outside the map, where its zero padding
       samples zeros.
    4. Each head attends from every query to all sampled keys of its group, with a relative
       position bias interpolated from a learned table ``(num_heads, 2E+1, 2E+1)`` at the
       query-to-key displacement (E = ``bias_extent`` tokens; longer displacements use the
       table's edge). Unlike DAT's table, whose size is tied to one feature-map size, this one
       is in token units so the module runs on any grid.

    With zero offsets the keys/values are x at the reference points (``avg_pool2d(x,
    stride)`` for even grids), and with a zero table it is plain multi-head attention over
    them; ``tests/test_swin_datlstm.py`` checks both.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        *,
        n_groups: int = 1,
        stride: int = 1,
        offset_range_factor: float = 2.0,
        offset_kernel: int | None = None,
        bias_extent: int = 8,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"num_heads={num_heads} must divide the token dim {dim}")
        if n_groups < 1 or num_heads % n_groups:
            raise ValueError(f"n_groups={n_groups} must be >= 1 and divide num_heads={num_heads}")
        if stride < 1:
            raise ValueError(f"offset stride must be >= 1, got {stride}")
        if offset_range_factor <= 0:
            raise ValueError(f"offset_range_factor must be > 0, got {offset_range_factor}")
        if bias_extent < 1:
            raise ValueError(f"bias_extent must be >= 1, got {bias_extent}")
        if offset_kernel is None:
            # DAT uses odd kernels wider than the stride (9/7/5/3 for strides 8/4/2/1);
            # the smallest such kernel.
            offset_kernel = stride + 2 if stride % 2 else stride + 1
        if offset_kernel % 2 == 0:
            raise ValueError(f"offset_kernel must be odd, got {offset_kernel}")
        self.dim = dim
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.n_groups = n_groups
        self.group_dim = dim // n_groups
        self.stride = stride
        self.offset_range_factor = float(offset_range_factor)
        self.bias_extent = bias_extent
        self.attn_drop = attn_drop

        self.proj_q = nn.Linear(dim, dim)
        self.proj_k = nn.Linear(dim, dim)
        self.proj_v = nn.Linear(dim, dim)
        self.proj_out = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self.offset_conv = nn.Conv2d(
            self.group_dim,
            self.group_dim,
            offset_kernel,
            stride=stride,
            padding=offset_kernel // 2,
            groups=self.group_dim,
        )
        self.offset_norm = nn.LayerNorm(self.group_dim)
        self.offset_act = nn.GELU()
        self.offset_out = nn.Linear(self.group_dim, 2, bias=False)
        side = 2 * bias_extent + 1
        self.relative_position_bias_table = nn.Parameter(torch.zeros(num_heads, side, side))
        trunc_normal_(self.relative_position_bias_table, std=0.02)

    def offsets(self, q: Tensor) -> Tensor:
        """Bounded offsets (batch * n_groups, Hk, Wk, 2) as (dy, dx) in tokens, from queries
        ``q`` (batch, H, W, dim)."""
        b, h, w, _ = q.shape
        qg = q.reshape(b, h, w, self.n_groups, self.group_dim)
        qg = qg.permute(0, 3, 4, 1, 2).reshape(b * self.n_groups, self.group_dim, h, w)
        feat = self.offset_conv(qg).permute(0, 2, 3, 1)
        raw = self.offset_out(self.offset_act(self.offset_norm(feat)))
        return torch.tanh(raw.to(_work_dtype(raw))) * self.offset_reach

    @property
    def offset_reach(self) -> float:
        """Largest offset along each axis, in tokens: ``offset_range_factor * stride / 2``."""
        return self.offset_range_factor * self.stride / 2

    def sample_positions(self, q: Tensor) -> tuple[Tensor, Tensor]:
        """Key positions (batch * n_groups, Hk, Wk, 2) and the reference points (Hk, Wk, 2),
        both (y, x) in tokens."""
        offset = self.offsets(q)
        ref = reference_points(
            q.shape[1], q.shape[2], self.stride, device=q.device, dtype=offset.dtype
        )
        return ref + offset, ref

    def relative_position_bias(self, pos: Tensor, height: int, width: int) -> Tensor:
        """Bias (batch, num_heads, H*W, Ns) for queries on the ``height x width`` grid and keys
        at ``pos`` (batch * n_groups, Hk, Wk, 2)."""
        bg = pos.shape[0]
        dtype = _work_dtype(pos)
        qy, qx = torch.meshgrid(
            torch.arange(height, device=pos.device, dtype=dtype),
            torch.arange(width, device=pos.device, dtype=dtype),
            indexing="ij",
        )
        queries = torch.stack([qy, qx], dim=-1).reshape(1, -1, 1, 2)
        disp = queries - pos.to(dtype).reshape(bg, 1, -1, 2)  # (BG, N, Ns, 2) as (dy, dx)
        grid = disp.flip(-1) / self.bias_extent  # (dx, dy) in table units, align_corners=True
        heads_per_group = self.num_heads // self.n_groups
        side = self.relative_position_bias_table.shape[-1]
        table = self.relative_position_bias_table.to(dtype).reshape(
            1, self.n_groups, heads_per_group, side, side
        )
        table = table.expand(bg // self.n_groups, -1, -1, -1, -1)
        table = table.reshape(bg, heads_per_group, side, side)
        bias = F.grid_sample(
            table, grid, mode="bilinear", padding_mode="border", align_corners=True
        )  # (BG, heads_per_group, N, Ns)
        return bias.reshape(bg // self.n_groups, self.num_heads, height * width, -1)

    def forward(self, x: Tensor) -> Tensor:
        """x: (batch, H, W, dim) -> (batch, H, W, dim)."""
        b, h, w, c = x.shape
        if c != self.dim:
            raise ValueError(f"expected {self.dim} channels, got {c}")
        q = self.proj_q(x)
        pos, _ = self.sample_positions(q)
        dtype = _work_dtype(x)
        xg = x.reshape(b, h, w, self.n_groups, self.group_dim)
        xg = xg.permute(0, 3, 4, 1, 2).reshape(b * self.n_groups, self.group_dim, h, w)
        sampled = F.grid_sample(
            xg.to(dtype),
            _to_grid(pos.to(dtype), h, w),
            mode="bilinear",
            padding_mode="border",
            align_corners=False,
        )  # (BG, group_dim, Hk, Wk)
        n_keys = sampled.shape[-2] * sampled.shape[-1]
        sampled = sampled.reshape(b, c, n_keys).transpose(1, 2)  # (B, Ns, C)
        k = self.proj_k(sampled)
        v = self.proj_v(sampled)

        def heads(t: Tensor) -> Tensor:
            return t.reshape(b, -1, self.num_heads, self.head_dim).transpose(1, 2)

        qh, kh, vh = heads(q.reshape(b, h * w, c)), heads(k), heads(v)
        bias = self.relative_position_bias(pos, h, w).to(qh.dtype)
        out = attend(
            qh,
            kh.to(qh.dtype),
            vh.to(qh.dtype),
            bias,
            self.attn_drop if self.training else 0.0,
        )
        out = out.transpose(1, 2).reshape(b, h, w, c)
        return self.proj_drop(self.proj_out(out))


class DeformableBlock(_MergingBlock):
    """DAT transformer block: deformable attention + MLP, with the optional SwinLSTM merge.

    Args:
        dim, num_heads: token channels and heads.
        n_groups, stride, offset_range_factor, bias_extent: see :class:`DeformableAttention`.
        merge_input, mlp_ratio, drop, attn_drop, drop_path: as for :class:`WindowBlock`.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        *,
        n_groups: int = 1,
        stride: int = 1,
        offset_range_factor: float = 2.0,
        bias_extent: int = 8,
        merge_input: bool = False,
        mlp_ratio: float = 4.0,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__(dim, merge_input, mlp_ratio, drop, drop_path)
        self.attn = DeformableAttention(
            dim,
            num_heads,
            n_groups=n_groups,
            stride=stride,
            offset_range_factor=offset_range_factor,
            bias_extent=bias_extent,
            attn_drop=attn_drop,
            proj_drop=drop,
        )

    def _attend(self, x: Tensor) -> Tensor:
        return self.attn(x)
