"""Tiny cubes and pipelines for the training tests (seconds on one core)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
