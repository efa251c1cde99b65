"""Shared building blocks: padding to a multiple, space-to-depth patching, cropping.

Models whose blocks need grid sizes divisible by something (patches, windows, merges) pad
their input with :func:`pad_to_multiple` and crop the output back with :func:`crop_to`, so
any region size (16x20, 41x57, ...) works.
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
