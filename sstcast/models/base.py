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

Outputs are not squashed by default: the models predict normalised values (or changes)
directly, so data need not be scaled into [0, 1]. Two options every sequence model takes
(set by :func:`sstcast.models.create`, see :meth:`SequenceForecaster.configure`) reproduce
the SwinLSTM / DatLSTM references' training: ``output_range=[lo, hi]`` squashes the head with
a sigmoid onto that range (the references' sigmoid on [0, 1]-scaled data is
``output_range=[0, 1]``, or ``[-1, 1]`` with sstcast's min-max scaling), and
``loss_on_inputs=True`` asks the training loop to score the T_in − 1 warm-up predictions too
(:func:`warmup_outputs`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from sstcast.errors import ConfigError, SstcastError
from sstcast.models.layers import crop_to, pad_to_multiple, patchify, unpatchify


class ModelInputError(SstcastError, ValueError):
    """A tensor handed to a model has the wrong rank, channel count, grid or length."""


class SequenceForecaster(nn.Module, ABC):
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
        self.output_range: tuple[float, float] | None = None
        self.loss_on_inputs = False
        self.emit_warmup = False  # set by warmup_outputs()
        self._compiled_steps: dict[str, Callable[..., Any]] = {}  # set by compile_steps()

    def configure(
        self,
        *,
        output_range: Sequence[float] | None = None,
        loss_on_inputs: bool = False,
        name: str | None = None,
    ) -> None:
        """Options of every sequence model (``create`` passes them from the config).

        ``output_range``: ``[lo, hi]`` makes each predicted frame
        ``lo + (hi - lo) · sigmoid(head(state))`` (needs ``residual=False``; the SwinLSTM and
        DatLSTM references use a sigmoid on [0, 1]-scaled data). ``loss_on_inputs``: the
        Lightning module adds the warm-up predictions of input frames 2..T_in to the loss,
        as those references train; the model itself only records the choice.
        """
        label = name or type(self).__name__
        if output_range is not None:
            values = list(output_range)
            if len(values) != 2 or not all(isinstance(v, int | float) for v in values):
                raise ConfigError(
                    f"model {label}: option 'output_range' must be [low, high], got {output_range!r}"
                )
            lo, hi = (float(v) for v in values)
            if not hi > lo:
                raise ConfigError(
                    f"model {label}: option 'output_range' needs low < high, got {output_range!r}"
                )
            if self.residual:
                raise ConfigError(
                    f"model {label}: option 'output_range' squashes the predicted frame; "
                    "set residual: false (a residual model predicts the change)"
                )
            self.output_range = (lo, hi)
        if not isinstance(loss_on_inputs, bool):
            raise ConfigError(
                f"model {label}: option 'loss_on_inputs' must be true or false, got {loss_on_inputs!r}"
            )
        self.loss_on_inputs = loss_on_inputs

    def _next_frame(self, frame: Tensor, delta: Tensor) -> Tensor:
        """The predicted frame from the head's output (residual, squashed or plain)."""
        if self.residual:
            return frame + delta
        if self.output_range is not None:
            lo, hi = self.output_range
            return (lo + (hi - lo) * torch.sigmoid(delta)).to(frame.dtype)
        return delta.to(frame.dtype)

    # -- to implement -------------------------------------------------------------------
    @abstractmethod
    def init_state(self, batch: int, height: int, width: int, ref: Tensor) -> Any:
        """Zero recurrent state for a batch on ``ref``'s device and dtype."""
        ...

    @abstractmethod
    def step(self, frame: Tensor, state: Any) -> tuple[Tensor, Any]:
        """Consume ``frame`` (B, C + E, H, W); return (prediction of the next frame's change
        or value, shape (B, C, H, W), new state). The base class adds the residual."""
        ...

    def encode(self, frame: Tensor, state: Any) -> Any:
        """Consume an input frame whose next-frame prediction nobody reads (the warm-up
        steps before the last input frame): the new state only. Subclasses skip their
        output head here; by default this is :meth:`step` without its output."""
        return self.step(frame, state)[1]

    # -- compilation --------------------------------------------------------------------
    def compile_steps(self, **options: Any) -> None:
        """``torch.compile`` the per-frame functions (:meth:`step`, :meth:`encode`,
        :meth:`forecast_step`) that :meth:`forward` calls once per frame, with ``options``
        passed to ``torch.compile``.

        One step is compiled once per input shape and reused for every frame, so the graph
        is that of one cell stack, not of the whole unrolled rollout (compiling
        ``forward`` itself took over 9 minutes for SwinLSTM-B on a busy 2-core CPU, a step
        2 minutes).
        Parameters and their names are untouched, so checkpoints are those of the plain
        model; a copy or pickle of the model is a plain (uncompiled) model.
        """
        self._compiled_steps = {
            name: torch.compile(getattr(self, name), **options)
            for name in ("step", "encode", "forecast_step")
        }

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_compiled_steps"] = {}  # compiled functions are bound to this instance
        return state

    def _per_frame(self, name: str) -> Callable[..., Any]:
        """The compiled per-frame function when :meth:`compile_steps` ran, else the plain one."""
        return self._compiled_steps.get(name) or getattr(self, name)

    # -- shared -------------------------------------------------------------------------
    def forecast_step(self, frame: Tensor, state: Any) -> tuple[Tensor, Any]:
        """The step whose output is a forecast: it consumes the last input frame, then each
        prediction. Models whose encoder and forecaster are one network (the default, and
        what makes ``model(x, 10)`` equal ten chained one-step calls) use :meth:`step`;
        encoder-forecaster models override this with their forecaster."""
        return self.step(frame, state)

    def check_input(
        self, x: Tensor, n_out: int, extra: Tensor | None, target: Tensor | None = None
    ) -> None:
        """Clear errors for wrong ranks, channel counts and extra/target shapes."""
        name = type(self).__name__
        if x.ndim != 5:
            raise ModelInputError(
                f"{name}: x must be (batch, time, channels, H, W); got shape {tuple(x.shape)}"
            )
        if x.shape[2] != self.in_channels:
            raise ModelInputError(
                f"{name}: x has {x.shape[2]} channels but the model was built for "
                f"in_channels={self.in_channels}"
            )
        if x.shape[1] < 1:
            raise ModelInputError(f"{name}: x has no input time steps")
        if n_out < 1:
            raise ModelInputError(f"{name}: n_out must be >= 1, got {n_out}")
        if self.extra_channels:
            if extra is None:
                raise ModelInputError(
                    f"{name}: the model expects extra_channels={self.extra_channels}; got none"
                )
            want = (x.shape[0], x.shape[1] + n_out, self.extra_channels, *x.shape[3:])
            if tuple(extra.shape) != want:
                raise ModelInputError(
                    f"{name}: extra must have shape {want} (batch, time_in + n_out, "
                    f"extra_channels, H, W); got {tuple(extra.shape)}"
                )
        elif extra is not None and (extra.ndim != 5 or extra.shape[2] != 0):
            raise ModelInputError(
                f"{name}: extra channels given to a model built with extra_channels=0"
            )
        if target is not None:
            want = (x.shape[0], n_out, *x.shape[2:])
            if tuple(target.shape) != want:
                raise ModelInputError(
                    f"{name}: target must have shape {want} (batch, n_out, channels, H, W); "
                    f"got {tuple(target.shape)}"
                )

    def forward(
        self,
        x: Tensor,
        n_out: int,
        *,
        extra: Tensor | None = None,
        target: Tensor | None = None,
        teacher_forcing: float = 0.0,
    ) -> Tensor:
        """Encode ``x`` and roll out ``n_out`` frames (see the module docstring).

        With ``target`` and ``0 < teacher_forcing <= 1`` in training mode, each rollout step
        feeds the true frame instead of the prediction with that probability, drawn per
        sample and step (scheduled sampling when the caller lowers it over training).
        """
        self.check_input(x, n_out, extra, target)
        b, t_in, _, h, w = x.shape
        state = self.init_state(b, h, w, x)
        use_tf = target is not None and teacher_forcing > 0.0 and self.training
        # The input frames with their extras, concatenated once for all input steps.
        given = torch.cat([x, extra[:, :t_in].to(x.dtype)], dim=2) if self.extra_channels else x
        step, encode = self._per_frame("step"), self._per_frame("encode")
        forecast_step = self._per_frame("forecast_step")
        warmup: list[Tensor] = []
        for t in range(t_in - 1):  # warm-up: no output is read (unless asked), none computed
            if self.emit_warmup:
                delta, state = step(given[:, t], state)
                warmup.append(self._next_frame(x[:, t], delta))
            else:
                state = encode(given[:, t], state)
        frame = x[:, -1]
        delta, state = forecast_step(given[:, -1], state)
        outputs = [self._next_frame(frame, delta)]
        for t in range(t_in, t_in + n_out - 1):
            frame = outputs[-1]
            if use_tf:
                keep = torch.rand(b, 1, 1, 1, device=x.device) < teacher_forcing
                frame = torch.where(keep, target[:, t - t_in].to(frame.dtype), frame)
            if self.extra_channels:
                inp = torch.cat([frame, extra[:, t].to(frame.dtype)], dim=1)
            else:
                inp = frame
            delta, state = forecast_step(inp, state)
            outputs.append(self._next_frame(frame, delta))
        return torch.stack(warmup + outputs, dim=1)


@contextmanager
def warmup_outputs(model: nn.Module) -> Iterator[bool]:
    """Within the block, a sequence model's forward returns the T_in − 1 warm-up predictions
    (of input frames 2..T_in) before the ``n_out`` forecasts: (B, T_in − 1 + n_out, C, H, W).
    Yields whether the model is such a model (others are left alone)."""
    if not isinstance(model, SequenceForecaster):
        yield False
        return
    before = model.emit_warmup
    model.emit_warmup = True
    try:
        yield True
    finally:
        model.emit_warmup = before


class PatchedForecaster(SequenceForecaster):
    """A stepper whose cells run on a space-to-depth ("patch") grid.

    Each frame (B, C + E, H, W) is padded (replicate) at the bottom/right to multiples of
    ``patch_size``, folded into (B, (C + E)·p², ⌈H/p⌉, ⌈W/p⌉) by :func:`patchify`, stepped
    by :meth:`grid_step`, and the head's (B, C·p², ⌈H/p⌉, ⌈W/p⌉) output is unfolded and
    cropped back to H x W. ``patch_size=1`` runs on the full grid. Subclasses implement
    :meth:`init_grid_state` and :meth:`grid_step` on the patch grid only.
    """

    def __init__(
        self, in_channels: int, extra_channels: int, residual: bool, patch_size: int
    ) -> None:
        super().__init__(in_channels, extra_channels, residual)
        if patch_size < 1:
            raise ValueError(f"patch_size must be >= 1, got {patch_size}")
        self.patch_size = patch_size

    @property
    def grid_in_channels(self) -> int:
        """Channels a cell stack sees per frame: (in + extra) · p²."""
        return (self.in_channels + self.extra_channels) * self.patch_size**2

    @property
    def grid_out_channels(self) -> int:
        """Channels the head emits on the patch grid: in · p²."""
        return self.in_channels * self.patch_size**2

    def grid_shape(self, height: int, width: int) -> tuple[int, int]:
        """Size of the patch grid for an H x W frame."""
        p = self.patch_size
        return -(-height // p), -(-width // p)

    @abstractmethod
    def init_grid_state(self, batch: int, height: int, width: int, ref: Tensor) -> Any:
        """Zero state on the patch grid (``height`` x ``width`` already divided by p)."""
        ...

    @abstractmethod
    def grid_step(self, z: Tensor, state: Any) -> tuple[Tensor, Any]:
        """One step on the patch grid: (B, grid_in_channels, h, w) -> (B, grid_out_channels,
        h, w) and the new state."""
        ...

    def init_state(self, batch: int, height: int, width: int, ref: Tensor) -> Any:
        return self.init_grid_state(batch, *self.grid_shape(height, width), ref)

    def grid_forecast_step(self, z: Tensor, state: Any) -> tuple[Tensor, Any]:
        """:meth:`forecast_step` on the patch grid; :meth:`grid_step` unless overridden."""
        return self.grid_step(z, state)

    def grid_encode(self, z: Tensor, state: Any) -> Any:
        """:meth:`encode` on the patch grid: the new state only. Subclasses skip the head;
        by default this is :meth:`grid_step` without its output."""
        return self.grid_step(z, state)[1]

    def step(self, frame: Tensor, state: Any) -> tuple[Tensor, Any]:
        return self._on_patch_grid(self.grid_step, frame, state)

    def encode(self, frame: Tensor, state: Any) -> Any:
        return self.grid_encode(
            patchify(pad_to_multiple(frame, self.patch_size), self.patch_size), state
        )

    def forecast_step(self, frame: Tensor, state: Any) -> tuple[Tensor, Any]:
        return self._on_patch_grid(self.grid_forecast_step, frame, state)

    def _on_patch_grid(
        self, fn: Callable[[Tensor, Any], tuple[Tensor, Any]], frame: Tensor, state: Any
    ) -> tuple[Tensor, Any]:
        """Pad and fold ``frame`` to the patch grid, apply ``fn``, unfold and crop back."""
        height, width = frame.shape[-2:]
        z = patchify(pad_to_multiple(frame, self.patch_size), self.patch_size)
        out, state = fn(z, state)
        return crop_to(unpatchify(out, self.patch_size), height, width), state


def zero_init_(module: nn.Module) -> nn.Module:
    """Zero a head's weights and bias so that a residual model starts as persistence."""
    for p in module.parameters():
        nn.init.zeros_(p)
    return module
