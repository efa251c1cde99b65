"""Reference forecasts: persistence, climatology, anomaly persistence, and the toy bound.

Two levels, one definition each:

* pure functions on arrays (numpy or torch, any leading shape), used by training's
  validation on batches — :func:`persistence`, :func:`climatology_forecast`,
  :func:`anomaly_persistence`;
* forecasters with the interface of a model (:class:`Forecaster`: init times and a number
  of leads in, a DataArray ``(init_time, lead_time, *space)`` in physical units out), used by
  ``sstcast evaluate`` on exactly the inits and cells the model is scored on. They call the
  pure functions above.

Definitions (``t0`` the init time, ``t`` the valid time, ``C`` the training-years climatology,
``x`` the observed field):

* persistence: ``x(t0)``
* climatology: ``C(t)``
* anomaly persistence: ``C(t) + x(t0) − C(t0)`` (the last observed anomaly, kept)
* bound (built-in sample only): the toy ocean's own dynamics without noise from the true
  state at ``t0`` (:meth:`sstcast.sample.toyocean.ToyOcean.forecast`): nothing can do better.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import xarray as xr

from sstcast.errors import DataError
from sstcast.utils.timeaxis import is_month_lead, valid_times

__all__ = [
    "AnomalyPersistence",
    "Climatology",
    "Forecaster",
    "Persistence",
    "ToyOceanBound",
    "anomaly_persistence",
    "climatology_forecast",
    "persistence",
    "toy_ocean_for_cube",
]


# --------------------------------------------------------------------------------------
# Pure functions (numpy or torch)
# --------------------------------------------------------------------------------------
def persistence(last: Any, n_lead: int) -> Any:
    """The last observed field ``last`` (B, 1, ...) repeated for ``n_lead`` leads."""
    return (
        last.expand(-1, n_lead, *last.shape[2:])
        if hasattr(last, "expand")
        else np.repeat(last, n_lead, axis=1)
    )


def climatology_forecast(clim_valid: Any) -> Any:
    """The climatology at the valid times, as it is."""
    return clim_valid


def anomaly_persistence(last: Any, clim_init: Any, clim_valid: Any) -> Any:
    """``C(t) + x(t0) − C(t0)``: the last observed anomaly added to the valid-time
    climatology (``last`` and ``clim_init`` broadcast against ``clim_valid``)."""
    return clim_valid + (last - clim_init)


# --------------------------------------------------------------------------------------
# Forecasters (xarray)
# --------------------------------------------------------------------------------------
class Forecaster(Protocol):
    """Anything that forecasts a field from init times: models and references alike."""

    name: str

    def __call__(self, init_times: np.ndarray, lead_time: np.ndarray) -> xr.DataArray:
        """``(init_time, lead_time, *space)`` in physical units, with ``valid_time``."""
        ...


ClimatologyFn = Callable[[np.ndarray], np.ndarray]
"""Climatology at datetime64 times: ``times.shape + field shape`` in physical units."""


def _valid(init_times: np.ndarray, lead_time: np.ndarray, truth: xr.DataArray) -> np.ndarray:
    """Valid times, stamped as the observations stamp them (month leads)."""
    return valid_times(init_times, lead_time, reference=truth["time"].values)


def _frame(
    values: np.ndarray,
    init_times: np.ndarray,
    lead_time: np.ndarray,
    truth: xr.DataArray,
    name: str,
) -> xr.DataArray:
    space = [d for d in truth.dims if d != "time"]
    return xr.DataArray(
        values.astype(np.float32),
        dims=("init_time", "lead_time", *space),
        coords={
            "init_time": np.asarray(init_times, "datetime64[ns]"),
            "lead_time": np.asarray(lead_time)
            if is_month_lead(lead_time)
            else np.asarray(lead_time, "timedelta64[ns]"),
            "valid_time": (("init_time", "lead_time"), _valid(init_times, lead_time, truth)),
            **{d: truth[d].values for d in space if d in truth.coords},
        },
        name=str(truth.name or "sst"),
        attrs={"units": truth.attrs.get("units", ""), "forecaster": name},
    )


def _at_inits(truth: xr.DataArray, init_times: np.ndarray) -> np.ndarray:
    """The observed fields at the init times, (n_init, 1, *space)."""
    try:
        x = truth.sel(time=np.asarray(init_times, "datetime64[ns]")).values
    except KeyError:
        raise DataError("reference forecast: an init time is not in the observations") from None
    return np.asarray(x, dtype=np.float64)[:, None]


class Persistence:
    """``x(t0)`` for every lead."""

    name = "persistence"

    def __init__(self, truth: xr.DataArray) -> None:
        self.truth = truth

    def __call__(self, init_times: np.ndarray, lead_time: np.ndarray) -> xr.DataArray:
        last = _at_inits(self.truth, init_times)
        return _frame(
            persistence(last, len(lead_time)), init_times, lead_time, self.truth, self.name
        )


class Climatology:
    """``C(t)``: the training-years climatology at the valid time."""

    name = "climatology"

    def __init__(self, truth: xr.DataArray, climatology: ClimatologyFn) -> None:
        self.truth, self.climatology = truth, climatology

    def __call__(self, init_times: np.ndarray, lead_time: np.ndarray) -> xr.DataArray:
        clim = self.climatology(_valid(init_times, lead_time, self.truth))
        return _frame(climatology_forecast(clim), init_times, lead_time, self.truth, self.name)


class AnomalyPersistence:
    """``C(t) + x(t0) − C(t0)``."""

    name = "anomaly_persistence"

    def __init__(self, truth: xr.DataArray, climatology: ClimatologyFn) -> None:
        self.truth, self.climatology = truth, climatology

    def __call__(self, init_times: np.ndarray, lead_time: np.ndarray) -> xr.DataArray:
        inits = np.asarray(init_times, "datetime64[ns]")
        last = _at_inits(self.truth, inits)
        clim_init = self.climatology(inits[:, None])
        clim_valid = self.climatology(_valid(inits, lead_time, self.truth))
        values = anomaly_persistence(last, clim_init, clim_valid)
        return _frame(values, inits, lead_time, self.truth, self.name)


class ToyOceanBound:
    """The built-in sample's noise-free dynamics from the true state: the attainable bound.

    The toy ocean needs its whole domain, so the inits are taken from ``full`` (the sample's
    SST on the toy ocean's full grid) and the result is cut to ``like``'s grid.
    """

    name = "bound"

    def __init__(self, ocean: Any, full: xr.DataArray, like: xr.DataArray) -> None:
        self.ocean, self.full, self.like = ocean, full, like

    def __call__(self, init_times: np.ndarray, lead_time: np.ndarray) -> xr.DataArray:
        lead_time = np.asarray(lead_time, "timedelta64[ns]")
        days = lead_time / np.timedelta64(1, "D")
        if not np.allclose(days, np.round(days)) or days.min() < 1:
            raise DataError("the toy-ocean bound needs whole-day leads of at least 1 day")
        n_lead = int(np.rint(days.max()))
        start = self.full.sel(time=np.asarray(init_times, "datetime64[ns]")).load()
        # numpy releases the GIL in the stencil arithmetic: parts of the inits in threads
        # (1.6x on 2 cores); each part is the same deterministic integration.
        workers = max(1, min(os.cpu_count() or 1, 4, start.sizes["time"] // 16))
        parts = np.array_split(np.arange(start.sizes["time"]), workers)
        with ThreadPoolExecutor(workers) as pool:
            pieces = list(
                pool.map(lambda idx: self.ocean.forecast(start.isel(time=idx), n_lead), parts)
            )
        fc = xr.concat(pieces, dim="init_time")
        fc = fc.sel(lead_time=lead_time)
        fc = fc.sel(lat=self.like["lat"], lon=self.like["lon"], method="nearest", tolerance=1e-3)
        fc = fc.assign_coords(lat=self.like["lat"].values, lon=self.like["lon"].values)
        out = _frame(fc.values, init_times, lead_time, self.like, self.name)
        return out.where(np.isfinite(self.like.isel(time=0, drop=True)).values)


def toy_ocean_for_cube(cube: xr.Dataset) -> tuple[Any, xr.DataArray] | None:
    """The toy ocean and its whole-domain SST for a cube ingested from the built-in sample,
    found through the cube's provenance (its source files and the sample manifest beside
    them); None for any other cube."""
    try:
        files = json.loads(cube.attrs.get("source_files", "[]"))
        first = Path(files[0]["path"])
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    manifest = first.parent.parent / "sample_manifest.json"
    if not manifest.exists():
        return None
    from sstcast.sample.toyocean import ToyOcean
    from sstcast.sources.netcdf_sst import open_sst

    ocean = ToyOcean.from_manifest(manifest)
    paths = [Path(f["path"]) for f in files]
    if not all(p.exists() for p in paths):
        return None
    full = open_sst(paths, "sst")["sst"]
    return ocean, full
