"""Forecast verification: small pure functions over xarray with named dims (WeatherBench 2 style).

- :mod:`~sstcast.verify.weights`: ``area_weights`` (cos latitude, 0 on land, ocean mean 1);
- :mod:`~sstcast.verify.metrics`: pooled ``mse``, ``rmse``, ``mae``, ``bias``, the anomaly
  correlation ``acc``, ``skill_score``, ``gain_captured`` and the per-init / per-cell pieces;
- :mod:`~sstcast.verify.bootstrap`: block-bootstrap intervals of an MSE difference;
- :mod:`~sstcast.verify.streaming`: ``LeadAccumulator``, the same per-lead scores in torch
  for validation during training.

Formulas and conventions: ``docs/metrics.md``. Names are imported on first use, so that
``import sstcast.verify`` does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "area_weights": "sstcast.verify.weights",
    "mse": "sstcast.verify.metrics",
    "rmse": "sstcast.verify.metrics",
    "mae": "sstcast.verify.metrics",
    "bias": "sstcast.verify.metrics",
    "acc": "sstcast.verify.metrics",
    "skill_score": "sstcast.verify.metrics",
    "gain_captured": "sstcast.verify.metrics",
    "per_init_sums": "sstcast.verify.metrics",
    "per_init_mse": "sstcast.verify.metrics",
    "per_cell_rmse": "sstcast.verify.metrics",
    "block_bootstrap_mse_difference": "sstcast.verify.bootstrap",
    "default_block_length": "sstcast.verify.bootstrap",
    "LeadAccumulator": "sstcast.verify.streaming",
    "metrics_from_sums": "sstcast.verify.streaming",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sstcast.verify' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
