"""Shared building blocks: padding to a multiple, space-to-depth patching, cropping, and
dot-product attention over all grid positions.

Models whose blocks need grid sizes divisible by something (patches, windows, merges) pad
their input with :func:`pad_to_multiple` and crop the output back with :func:`crop_to`, so
any region size (16x20, 41x57, ...) works. :func:`patchify` / :func:`unpatchify` are the
"patch trick" of the recurrent-convolutional models; :func:`spatial_attention` is the
global attention of SA/SAM-ConvLSTM. The Swin-family blocks (window and deformable
attention) live in :mod:`sstcast.models.attention`.
"""

from __future__ import annotations

import torch.nn.functional as F
from einops import rearrange
from torch import Tensor


def pad_amount(size: int, multiple: int) -> int:
    """How many cells to add to ``size`` to reach a multiple of ``multiple``."""
    return (-size) % multiple


def pad_to_multiple(x: Tensor, multiple: int | tuple[int, int], mode: str = "replicate") -> Tensor:
    """Pad the last two dims (H, W) at the bottom/right to multiples of ``multiple``.

    ``replicate`` padding avoids a spurious edge of zeros; any leading dims are allowed.
    """
    mh, mw = (multiple, multiple) if isinstance(multiple, int) else multiple
    ph, pw = pad_amount(x.shape[-2], mh), pad_amount(x.shape[-1], mw)
    if ph == 0 and pw == 0:
        return x
    lead = x.shape[:-2]
    flat = x.reshape(-1, 1, *x.shape[-2:]) if x.ndim != 4 else x
    out = F.pad(flat, (0, pw, 0, ph), mode=mode)
    return out.reshape(*lead, *out.shape[-2:])


#: What :func:`pad_bottom_right` fills padded tokens with. Nothing may depend on it: every
#: consumer masks padded tokens out (tests set it to large values to check that).
PAD_FILL = 0.0


def pad_bottom_right(x: Tensor, pad_h: int, pad_w: int) -> Tensor:
    """Pad a channels-last map (B, H, W, C) with ``pad_h`` rows and ``pad_w`` columns of
    :data:`PAD_FILL` at the bottom/right (the token maps' padding; callers mask it out)."""
    if pad_h == 0 and pad_w == 0:
        return x
    return F.pad(x, (0, 0, 0, pad_w, 0, pad_h), value=PAD_FILL)


def crop_to(x: Tensor, height: int, width: int) -> Tensor:
    """Undo :func:`pad_to_multiple`: keep the top-left ``height`` x ``width`` cells."""
    return x[..., :height, :width]


def patchify(x: Tensor, patch: int) -> Tensor:
    """Space-to-depth: (..., C, H, W) -> (..., C*p*p, H/p, W/p). H, W must divide by p."""
    if patch == 1:
        return x
    return rearrange(x, "... c (h p1) (w p2) -> ... (c p1 p2) h w", p1=patch, p2=patch)


def unpatchify(x: Tensor, patch: int) -> Tensor:
    """Depth-to-space, the inverse of :func:`patchify`."""
    if patch == 1:
        return x
    return rearrange(x, "... (c p1 p2) h w -> ... c (h p1) (w p2)", p1=patch, p2=patch)


def spatial_attention(query: Tensor, key: Tensor, value: Tensor) -> Tensor:
    """Single-head dot-product attention over all grid positions of feature maps.

    ``query`` (B, Cq, H, W) attends to every position of ``key`` (B, Cq, H', W') and gathers
    ``value`` (B, Cv, H', W'); the result is (B, Cv, H, W). Scores are scaled by
    1/sqrt(Cq) (the usual transformer scaling; it only rescales the softmax temperature)
    and computed by :func:`torch.nn.functional.scaled_dot_product_attention` as one head of
    (B, 1, H*W, C), the layout its fused kernels take; it is safe under bf16 autocast.

    The fused kernels never hold the (H*W)^2 attention weights, so memory grows with H*W,
    not its square; time still grows with the square. The CPU's fused (flash) kernel needs
    queries, keys and values of one width, so there the narrower side is padded with zero
    channels, which leave the scores and the output unchanged (the scale stays that of Cq).
    On a 48 x 48 grid (B 4, Cq 8, Cv 32, one thread) that keeps 4.5 instead of 83 MiB for
    the backward pass and a forward + backward takes 144 instead of 337 ms (docs/models.md).
    """
    if query.shape[1] != key.shape[1]:
        raise ValueError(
            f"query and key need the same channels; got {query.shape[1]} and {key.shape[1]}"
        )
    if key.shape[-2:] != value.shape[-2:]:
        raise ValueError(
            f"key and value need the same grid; got {tuple(key.shape[-2:])} and "
            f"{tuple(value.shape[-2:])}"
        )
    height, width = query.shape[-2:]
    cq, cv = query.shape[1], value.shape[1]
    q = rearrange(query, "b c h w -> b 1 (h w) c").to(value.dtype)
    k = rearrange(key, "b c h w -> b 1 (h w) c").to(value.dtype)
    v = rearrange(value, "b c h w -> b 1 (h w) c")
    if value.device.type == "cpu" and cq != cv:  # one width for the CPU's flash kernel
        channels = max(cq, cv)
        q, k = F.pad(q, (0, channels - cq)), F.pad(k, (0, channels - cq))
        v = F.pad(v, (0, channels - cv))
    q, k, v = q.contiguous(), k.contiguous(), v.contiguous()  # fused kernels: channels last
    out = F.scaled_dot_product_attention(q, k, v, scale=cq**-0.5)[..., :cv]
    return rearrange(out, "b 1 (h w) c -> b c h w", h=height, w=width)
