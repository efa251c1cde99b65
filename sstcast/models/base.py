"""The shared interface of the sequence forecasters and their autoregressive rollout.

Every sequence model is a *stepper*: a recurrent cell stack that consumes one frame and
emits its prediction of the next frame. The same cells encode the ``n_in`` input frames and
then roll out ``n_out`` steps, feeding each prediction back as the next input. Hence any
``n_out`` works whatever the model was trained on, and ``model(x, 10)`` equals ten chained
``model(x_grown, 1)`` calls.

Shapes (named as in the data stage):
    x      (batch, time_in, channels, H, W)   predicted variables, normalised
    extra  (batch, time_in + n_out, extra_channels, H, W)   given, never predicted
           (land mask, lat/lon, day of year, ...); frame t's extra goes in with frame t
    target (batch, n_out, channels, H, W)     for teacher forcing / scheduled sampling
    output (batch, n_out, channels, H, W)

``residual=True`` makes the head predict the step change: ``next = frame + head(h)``, with
the head initialised to zero so that an untrained model is exactly persistence.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn


class SequenceForecaster(nn.Module):
    """Base class: subclasses implement :meth:`init_state` and :meth:`step`."""

    def __init__(self, in_channels: int, extra_channels: int = 0, residual: bool = True) -> None:
        super().__init__()
        if in_channels < 1:
            raise ValueError(f"in_channels must be >= 1, got {in_channels}")
        if extra_channels < 0:
            raise ValueError(f"extra_channels must be >= 0, got {extra_channels}")
        self.in_channels = in_channels
        self.extra_channels = extra_channels
        self.residual = residual

    # -- to implement -------------------------------------------------------------------
    def init_state(self, batch: int, height: int, width: int, ref: Tensor) -> Any:
        """Zero recurrent state for a batch on ``ref``'s device and dtype."""
        raise NotImplementedError

    def step(self, frame: Tensor, state: Any) -> tuple[Tensor, Any]:
        """Consume ``frame`` (B, C + E, H, W); return (prediction of the next frame's change
        or value, shape (B, C, H, W), new state). The base class adds the residual."""
        raise NotImplementedError

    # -- shared -------------------------------------------------------------------------
    def check_input(self, x: Tensor, n_out: int, extra: Tensor | None) -> None:
        """Clear errors for wrong ranks, channel counts and extra-channel lengths."""
        if x.ndim != 5:
            raise ValueError(f"x must be (batch, time, channels, H, W); got shape {tuple(x.shape)}")
        if x.shape[2] != self.in_channels:
            raise ValueError(
                f"x has {x.shape[2]} channels but the model was built for {self.in_channels}"
            )
        if n_out < 1:
            raise ValueError(f"n_out must be >= 1, got {n_out}")
        if self.extra_channels:
            if extra is None:
                raise ValueError(f"the model expects {self.extra_channels} extra channels; got none")
            want = (x.shape[0], x.shape[1] + n_out, self.extra_channels, *x.shape[3:])
            if tuple(extra.shape) != want:
                raise ValueError(
                    f"extra must have shape {want} (time_in + n_out steps); got {tuple(extra.shape)}"
                )
        elif extra is not None and extra.shape[2] != 0:
            raise ValueError("extra channels given to a model built with extra_channels=0")

    def forward(
        self,
        x: Tensor,
        n_out: int,
        *,
        extra: Tensor | None = None,
        target: Tensor | None = None,
        teacher_forcing: float = 0.0,
    ) -> Tensor:
        """Encode ``x`` and roll out ``n_out`` frames (see the module docstring)."""
        self.check_input(x, n_out, extra)
        b, t_in, _, h, w = x.shape
        state = self.init_state(b, h, w, x)
        use_tf = target is not None and teacher_forcing > 0.0 and self.training
        outputs: list[Tensor] = []
        frame = x[:, 0]
        for t in range(t_in + n_out - 1):
            if t < t_in:
                frame = x[:, t]
            else:
                prev = outputs[-1]
                if use_tf:
                    keep = torch.rand(b, 1, 1, 1, device=x.device) < teacher_forcing
                    prev = torch.where(keep, target[:, t - t_in].to(prev.dtype), prev)
                frame = prev
            inp = frame if extra is None or self.extra_channels == 0 else torch.cat(
                [frame, extra[:, t].to(frame.dtype)], dim=1
            )
            delta, state = self.step(inp, state)
            nxt = frame + delta if self.residual else delta
            if t >= t_in - 1:
                outputs.append(nxt)
        return torch.stack(outputs, dim=1)


def zero_init_(module: nn.Module) -> nn.Module:
    """Zero a head's weights and bias so that a residual model starts as persistence."""
    for p in module.parameters():
        nn.init.zeros_(p)
    return module
