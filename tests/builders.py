"""Shared test builders: tiny cubes, pipelines and CF NetCDF files (WeatherBench2's
``mock_*`` idea), used by every test folder instead of private copies.

* ``tiny_sst_dataset`` / ``write_tiny_cube``: a small SST cube in the cube schema;
* ``tiny_pipeline_dict`` / ``write_pipeline``: a pipeline that trains in seconds on it;
* ``tiny_taxibj_dataset`` / ``tiny_taxibj_pipeline_dict``: the same for TaxiBJ;
* ``write_cf`` / ``truth``: CF NetCDF SST files with netCDF4 directly, so a test controls
  the exact layout a product ships with, and a field known at every point.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import netCDF4
import numpy as np
import pandas as pd
import xarray as xr
import yaml


def tiny_sst_dataset(
    start: str = "2010-01-01", days: int = 600, ny: int = 8, nx: int = 10, seed: int = 0
) -> xr.Dataset:
    """An SST cube following the contract: seasonal cycle plus an anomaly pattern drifting
    east one cell every ~3 days (so persistence is beatable), a 2x2 block of land."""
    rng = np.random.default_rng(seed)
    time = pd.date_range(start, periods=days, freq="D")
    lat = 30.0 + 0.25 * np.arange(ny)
    lon = 120.0 + 0.25 * np.arange(nx)
    t = np.arange(days)[:, None, None].astype(np.float64)
    y = np.arange(ny)[None, :, None]
    x = np.arange(nx)[None, None, :]
    doy = time.day_of_year.to_numpy()[:, None, None]
    season = 15.0 + 8.0 * np.cos(2 * np.pi * (doy - 220) / 365.25) + 0.1 * y
    anomaly = np.sin(0.6 * x - 0.2 * t) * np.cos(0.4 * y) + 0.05 * rng.standard_normal(
        (days, ny, nx)
    )
    sst = (season + anomaly).astype(np.float32)
    mask = np.ones((ny, nx), dtype=np.int8)
    mask[:2, :2] = 0
    sst[:, mask == 0] = np.nan
    ds = xr.Dataset(
        {
            "sst": (
                ("time", "lat", "lon"),
                sst,
                {
                    "units": "degC",
                    "standard_name": "sea_surface_temperature",
                    "long_name": "sea surface temperature",
                },
            ),
            "mask": (("lat", "lon"), mask, {"long_name": "ocean mask", "flag_values": "0 1"}),
        },
        coords={
            "time": time,
            "lat": ("lat", lat, {"units": "degrees_north", "standard_name": "latitude"}),
            "lon": ("lon", lon, {"units": "degrees_east", "standard_name": "longitude"}),
        },
        attrs={
            "sstcast_kind": "sst",
            "region": "tiny",
            "bbox": json.dumps([float(lat[0]), float(lat[-1]), float(lon[0]), float(lon[-1])]),
            "source_files": json.dumps([]),
            "history": "tiny test cube",
            "frequency": "1D",
            "Conventions": "CF-1.8",
        },
    )
    return ds


def write_tiny_cube(path: Path, **kwargs: Any) -> Path:
    """Write :func:`tiny_sst_dataset` as a Zarr cube at ``path``."""
    from sstcast.cube import write_cube

    write_cube(tiny_sst_dataset(**kwargs), path, progress=False)
    return path


def tiny_pipeline_dict(cube: Path, **trainer: Any) -> dict[str, Any]:
    """A pipeline for the tiny cube: n_in 4, n_out 3, ConvLSTM tiny, a few batches."""
    return {
        "name": "tiny",
        "task": "sst",
        "source": "sample_sst",
        "cube": str(cube),
        "data": {
            "n_in": 4,
            "n_out": 3,
            "stride": 1,
            "split": {
                "train": ["2010-01-01", "2010-12-25"],
                "val": ["2011-01-01", "2011-04-30"],
                "test": ["2011-05-07", "2011-08-23"],
            },
            "normalization": "anomaly",
            "harmonics": 2,
            "static_channels": ["mask", "lat", "lon"],
        },
        "model": {"name": "convlstm", "preset": "tiny", "config": {"hidden": [8]}},
        "optim": {"name": "adamw", "lr": 0.01},
        "schedule": {"name": "cosine"},
        "trainer": {
            "epochs": 2,
            "batch_size": 16,
            "device": "cpu",
            "limit_train_batches": 6,
            "limit_val_batches": 4,
            **trainer,
        },
        "seed": 7,
    }


def write_pipeline(path: Path, data: dict[str, Any]) -> Path:
    """Write a pipeline dict as YAML."""
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def tiny_taxibj_dataset(days: int = 40, size: int = 8, seed: int = 0) -> xr.Dataset:
    """A TaxiBJ-style cube: 48 slots a day, daily and weekly rhythm plus noise, 8x8 grid."""
    rng = np.random.default_rng(seed)
    time = pd.date_range("2016-03-01", periods=days * 48, freq="30min")
    slot = np.arange(len(time)) % 48
    daily = 1.0 + np.sin(2 * np.pi * (slot - 12) / 48)
    weekend = np.isin(time.day_of_week.to_numpy(), (5, 6))
    base = 50.0 * daily * np.where(weekend, 0.6, 1.0)
    cells = rng.uniform(0.5, 2.0, (2, size, size))
    flow = base[:, None, None, None] * cells[None] + rng.normal(0, 2.0, (len(time), 2, size, size))
    weather = np.zeros((len(time), 17), dtype=np.int8)
    weather[np.arange(len(time)), rng.integers(0, 17, len(time))] = 1
    return xr.Dataset(
        {
            "flow": (("time", "direction", "y", "x"), np.maximum(flow, 0).astype(np.float32)),
            "temperature": ("time", rng.normal(10, 5, len(time)).astype(np.float32)),
            "wind_speed": ("time", rng.uniform(0, 8, len(time)).astype(np.float32)),
            "weather": (("time", "weather_class"), weather),
            "holiday": ("time", np.zeros(len(time), dtype=np.int8)),
            "day_of_week": ("time", time.day_of_week.to_numpy().astype(np.int8)),
        },
        coords={"time": time, "direction": ["inflow", "outflow"]},
        attrs={
            "sstcast_kind": "taxibj",
            "slots_per_day": 48,
            "incomplete_days": "[]",
            "source_files": json.dumps([]),
            "history": "tiny test cube",
            "frequency": "30min",
            "Conventions": "CF-1.8",
        },
    )


def tiny_taxibj_pipeline_dict(cube: Path) -> dict[str, Any]:
    """ST-ResNet tiny on the tiny TaxiBJ cube, one short epoch."""
    return {
        "name": "taxibj_tiny",
        "task": "taxibj",
        "source": "sample_taxibj",
        "cube": str(cube),
        "data": {"closeness": 3, "period": 1, "trend": 1, "test_days": 7, "val_days": 5},
        "model": {"name": "stresnet", "preset": "tiny"},
        "optim": {"name": "adam", "lr": 0.002},
        "trainer": {
            "epochs": 2,
            "batch_size": 32,
            "device": "cpu",
            "limit_train_batches": 5,
            "limit_val_batches": 3,
        },
    }


# ------------------------------------------------------------------------------------
# CF NetCDF SST files
# ------------------------------------------------------------------------------------
EPOCH = np.datetime64("1800-01-01")


def truth(days: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """The synthetic SST (degC) at (time, lat, lon); periodic in longitude."""
    t = np.asarray(days, dtype=float)[:, None, None]
    la = np.asarray(lat, dtype=float)[None, :, None]
    lo = np.asarray(lon, dtype=float)[None, None, :]
    return (15.0 - 0.2 * la + 3.0 * np.sin(np.radians(lo)) + 0.01 * (t - 78000.0)).astype("float32")


def write_cf(
    path: Path,
    *,
    lat: np.ndarray,
    lon: np.ndarray,
    days: np.ndarray,
    name: str = "sst",
    units: str | None = "degC",
    standard_name: str | None = None,
    kelvin: bool = False,
    packed: bool = False,
    depth: str | None = None,
    lat_name: str = "lat",
    lon_name: str = "lon",
    coord_attrs: bool = True,
    land: np.ndarray | None = None,
    fmt: str = "NETCDF4",
    values: np.ndarray | None = None,
) -> Path:
    """A CF file with ``name(time, [depth,] lat, lon)``; ``land`` (lat, lon) bool -> missing."""
    data = truth(days, lat, lon) if values is None else values.astype("float32")
    if land is not None:
        data = np.where(land[None], np.nan, data)
    if kelvin:
        data = data + np.float32(273.15)
    with netCDF4.Dataset(path, "w", format=fmt) as nc:
        nc.createDimension("time", None)
        nc.createDimension(lat_name, lat.size)
        nc.createDimension(lon_name, lon.size)
        t = nc.createVariable("time", "f8", ("time",))
        t.units = "days since 1800-01-01"
        t.calendar = "standard"
        t[:] = days
        la = nc.createVariable(lat_name, "f4", (lat_name,))
        lo = nc.createVariable(lon_name, "f4", (lon_name,))
        if coord_attrs:
            la.units, la.standard_name, la.axis = "degrees_north", "latitude", "Y"
            lo.units, lo.standard_name, lo.axis = "degrees_east", "longitude", "X"
        la[:] = lat
        lo[:] = lon
        dims: tuple[str, ...] = ("time", lat_name, lon_name)
        if depth is not None:
            nc.createDimension(depth, 1)
            z = nc.createVariable(depth, "f4", (depth,))
            z.units, z.positive = "m", "down"
            z[:] = [0.5]
            dims = ("time", depth, lat_name, lon_name)
            data = data[:, None]
        if packed:
            fill = np.int16(-32768)
            v = nc.createVariable(name, "i2", dims, fill_value=fill)
            v.scale_factor = np.float32(0.01)
            v.add_offset = np.float32(273.15 if kelvin else 0.0)
            v.missing_value = fill
            v.set_auto_maskandscale(True)
        else:
            v = nc.createVariable(name, "f4", dims, fill_value=np.float32(-9.96921e36))
        if units is not None:
            v.units = units
        if standard_name is not None:
            v.standard_name = standard_name
        v[:] = np.ma.array(np.nan_to_num(data), mask=np.isnan(data))
    return path


LAT = np.arange(20.0, 30.0, 1.0)
LON = np.arange(100.0, 110.0, 1.0)
DAYS = 78000.0 + np.arange(6)  # 2013-07-25 ...


def as_days(times: np.ndarray) -> np.ndarray:
    return (times - EPOCH) / np.timedelta64(1, "D")
