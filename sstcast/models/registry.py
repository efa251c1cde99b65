"""A timm-style model registry: one name per model, with named presets.

Each model family registers its constructor once with :func:`register_model`, giving the
presets it supports (at least ``"tiny"`` for tests and ``"default"`` for real use; every
model also has ``"paper"``, its reference's configuration with the source named).
:func:`create` builds a model from a name, a preset and keyword overrides.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: its constructor, its presets and what kind of input it takes."""

    name: str
    builder: Callable[..., nn.Module]
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)
    kind: str = "sequence"  # "sequence" (x: B,T,C,H,W) or "stresnet" (closeness/period/trend)
    summary: str = ""


_REGISTRY: dict[str, ModelEntry] = {}

#: Options every sequence model takes (``SequenceForecaster.configure``).
SEQUENCE_OPTIONS = ("output_range", "loss_on_inputs")


def register_model(
    name: str,
    *,
    presets: dict[str, dict[str, Any]],
    kind: str = "sequence",
    summary: str = "",
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Class/function decorator that adds a model constructor to the registry."""
    if "tiny" not in presets or "default" not in presets:
        raise ValueError(f"model {name!r} must register 'tiny' and 'default' presets")

    def decorator(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        _REGISTRY[name] = ModelEntry(name, builder, dict(presets), kind, summary)
        return builder

    return decorator


def _ensure_loaded() -> None:
    # Importing the package imports every family module, which registers them.
    import sstcast.models  # noqa: F401


def available() -> list[str]:
    """Names of all registered models, sorted."""
    _ensure_loaded()
    return sorted(_REGISTRY)


def get_entry(name: str) -> ModelEntry:
    """The registry entry for ``name``; a clear error listing the known names otherwise."""
    _ensure_loaded()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"unknown model {name!r}; available: {', '.join(sorted(_REGISTRY))}"
        ) from None


def create(name: str, preset: str = "default", **config: Any) -> nn.Module:
    """Build model ``name`` from ``preset`` with ``config`` overriding the preset's values."""
    entry = get_entry(name)
    if preset not in entry.presets:
        raise KeyError(
            f"model {name!r} has no preset {preset!r}; presets: {', '.join(entry.presets)}"
        )
    kwargs = {**entry.presets[preset], **config}
    common = {}
    if entry.kind == "sequence":  # options of every sequence model, set after building
        common = {k: kwargs.pop(k) for k in SEQUENCE_OPTIONS if k in kwargs}
    try:
        model = entry.builder(**kwargs)
    except TypeError as err:
        raise TypeError(f"bad configuration for model {name!r}: {err}") from None
    if common:
        model.configure(**common, name=name)
    return model


def describe(
    grid: tuple[int, int] = (16, 20), in_channels: int = 1, extra_channels: int = 3
) -> list[dict[str, Any]]:
    """Every model and preset with its summary and parameter count on ``grid``: the table
    ``sstcast models`` prints. Sequence models get ``in_channels`` and ``extra_channels``
    (the default Bohai pipeline: SST plus mask/lat/lon); ST-ResNet the TaxiBJ layout."""
    rows = []
    for name in available():
        entry = get_entry(name)
        for preset in entry.presets:
            if entry.kind == "sequence":
                kwargs: dict[str, Any] = {
                    "in_channels": in_channels,
                    "extra_channels": extra_channels,
                }
            else:
                kwargs = {"height": grid[0], "width": grid[1]}
            try:
                n = sum(p.numel() for p in create(name, preset, **kwargs).parameters())
            except (TypeError, ValueError, KeyError):
                n = None
            rows.append(
                {
                    "model": name,
                    "preset": preset,
                    "kind": entry.kind,
                    "parameters": n,
                    "summary": entry.summary,
                }
            )
    return rows
