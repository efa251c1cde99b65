"""sstcast: xarray-native short-range forecasting of gridded geoscience fields.

The public API, imported lazily so that ``import sstcast`` (and the CLI's start) stays fast;
torch is only imported when a name that needs it is first used::

    import sstcast

    cube = sstcast.open_cube("data/cubes/sample_sst_bohai.zarr")
    train = sstcast.WindowDataset(cube, n_in=10, n_out=10, split="train", splits=spec)
    model = sstcast.models.create("convlstm", "default", in_channels=1)
    made = sstcast.forecast.forecast("runs/bohai/convlstm/<time>", lead=10)
    ev = sstcast.evaluate(made.path)
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "SstcastError": "sstcast.errors",
    "ConfigError": "sstcast.errors",
    "load_catalog": "sstcast.config",
    "load_pipeline": "sstcast.config",
    "open_cube": "sstcast.cube",
    "write_cube": "sstcast.cube",
    "validate_cube": "sstcast.cube",
    "WindowDataset": "sstcast.data.windows",
    "make_loader": "sstcast.data.windows",
    "time_splits": "sstcast.data.splits",
    "make_normalizer": "sstcast.data.normalize",
    "load_normalizer": "sstcast.data.normalize",
    "fit": "sstcast.training",
    "load_run": "sstcast.runs",
    "open_run": "sstcast.forecast.rollout",
    "open_forecast": "sstcast.forecast.schema",
    "evaluate": "sstcast.verify.evaluate",
}
_SUBMODULES = (
    "config",
    "cube",
    "data",
    "errors",
    "forecast",
    "models",
    "report",
    "runs",
    "sample",
    "tasks",
    "training",
    "verify",
    "workflows",
)

__all__ = ["__version__", *_LAZY, *_SUBMODULES]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"sstcast.{name}")
    raise AttributeError(f"module 'sstcast' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
