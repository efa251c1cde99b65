"""Small synthetic forecast / truth / metrics datasets for the report tests (and previews)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

DAY = np.timedelta64(1, "D")
#: Day 0 of the synthetic SST fields (truth and forecasts share it).
EPOCH = pd.Timestamp("2021-01-01")


def grid(
    south: float = 37.0,
    north: float = 41.0,
    west: float = 117.5,
    east: float = 122.5,
    resolution: float = 0.25,
) -> tuple[np.ndarray, np.ndarray]:
    """Cell centres (ascending) of a box; the default is Bohai-like (16 x 20)."""
    lat = south + resolution * (np.arange(round((north - south) / resolution)) + 0.5)
    lon = west + resolution * (np.arange(round((east - west) / resolution)) + 0.5)
    return lat, lon


def simple_land(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """A cheap land mask (lat, lon): a western coast and a north-eastern corner."""
    lon2, lat2 = np.meshgrid(lon, lat)
    west_coast = lon2 < lon[0] + 0.22 * (lon[-1] - lon[0]) + 0.1 * (lat2 - lat.mean())
    corner = (lat2 > lat[0] + 0.8 * (lat[-1] - lat[0])) & (lon2 > lon[0] + 0.7 * (lon[-1] - lon[0]))
    return west_coast | corner


def sst_field(lat: np.ndarray, lon: np.ndarray, day: float, land: np.ndarray) -> np.ndarray:
    """A smooth SST field in °C (about 2-8 °C), NaN over land, drifting with ``day``
    (days since :data:`EPOCH`)."""
    lon2, lat2 = np.meshgrid(lon, lat)
    y = (lat2 - lat.min()) / max(np.ptp(lat), 1e-9)
    x = (lon2 - lon.min()) / max(np.ptp(lon), 1e-9)
    field = (
        5.0
        - 2.4 * (y - 0.5)
        + 1.6 * (x - 0.5)
        + 0.9 * np.sin(2.0 * np.pi * (x + 0.03 * day)) * np.cos(np.pi * (y - 0.02 * day))
        + 0.04 * (day - 60.0)
    )
    field = np.clip(field, 2.0, 8.0)
    return np.where(land, np.nan, field)


def truth(
    lat: np.ndarray, lon: np.ndarray, times: pd.DatetimeIndex, land: np.ndarray
) -> xr.DataArray:
    """The cube's ``sst(time, lat, lon)`` in °C."""
    data = np.stack([sst_field(lat, lon, (t - EPOCH) / pd.Timedelta("1D"), land) for t in times])
    return xr.DataArray(
        data,
        dims=("time", "lat", "lon"),
        coords={"time": times.values, "lat": lat, "lon": lon},
        name="sst",
        attrs={"units": "degC"},
    )


def forecast(
    lat: np.ndarray,
    lon: np.ndarray,
    inits: Sequence[str] | pd.DatetimeIndex,
    n_leads: int,
    land: np.ndarray,
    model: str | None = "convlstm",
    seed: int = 0,
    lead_zero: bool = False,
) -> xr.Dataset:
    """``sst(init_time, lead_time, lat, lon)`` = truth + an error growing with lead."""
    inits = pd.DatetimeIndex(inits)
    rng = np.random.default_rng(seed)
    first = 0 if lead_zero else 1
    leads = np.arange(first, n_leads + 1)
    lon2, lat2 = np.meshgrid(lon, lat)
    pattern = np.sin(3.0 * (lon2 - lon.mean())) * np.cos(2.0 * (lat2 - lat.mean()))
    data = np.empty((len(inits), len(leads), len(lat), len(lon)))
    for i, init in enumerate(inits):
        base = (init - EPOCH) / pd.Timedelta("1D")
        for j, lead in enumerate(leads):
            field = sst_field(lat, lon, base + lead, land)
            noise = rng.normal(0.0, 0.05, size=field.shape)
            data[i, j] = field + 0.08 * lead * pattern + 0.02 * lead + noise * np.sqrt(lead)
    lead_td = (leads * DAY).astype("timedelta64[ns]")
    valid = inits.values[:, None] + lead_td[None, :]
    ds = xr.Dataset(
        {"sst": (("init_time", "lead_time", "lat", "lon"), data, {"units": "degC"})},
        coords={
            "init_time": inits.values,
            "lead_time": lead_td,
            "valid_time": (("init_time", "lead_time"), valid),
            "lat": lat,
            "lon": lon,
        },
    )
    if model:
        ds.attrs["model"] = model
    return ds


def rmse_maps(
    lat: np.ndarray, lon: np.ndarray, leads: Sequence[int], land: np.ndarray
) -> tuple[xr.DataArray, xr.DataArray]:
    """Per-cell RMSE ``(lead_time, lat, lon)`` of a model and a reference forecast."""
    lon2, lat2 = np.meshgrid(lon, lat)
    x = (lon2 - lon.min()) / max(np.ptp(lon), 1e-9)
    y = (lat2 - lat.min()) / max(np.ptp(lat), 1e-9)
    model, ref = [], []
    for lead in leads:
        r = 0.15 + 0.06 * lead * (1.0 + 0.5 * np.sin(3.0 * x) * np.cos(2.0 * y))
        m = r * (0.75 + 0.5 * x * y + 0.02 * lead)
        model.append(np.where(land, np.nan, m))
        ref.append(np.where(land, np.nan, r))
    coords = {
        "lead_time": (np.asarray(leads) * DAY).astype("timedelta64[ns]"),
        "lat": lat,
        "lon": lon,
    }
    dims = ("lead_time", "lat", "lon")
    return (
        xr.DataArray(np.stack(model), dims=dims, coords=coords, name="rmse"),
        xr.DataArray(np.stack(ref), dims=dims, coords=coords, name="rmse"),
    )


def metrics(n_leads: int = 10, as_days: bool = False) -> xr.Dataset:
    """``value(metric, model, lead_time)`` for rmse, mae, bias, acc and five models."""
    lead = np.arange(1, n_leads + 1, dtype=float)
    models = ["convlstm", "persistence", "climatology", "anomaly_persistence", "bound"]
    curves = {
        "rmse": {
            "convlstm": 0.25 + 0.06 * lead,
            "persistence": 0.35 + 0.11 * lead,
            "climatology": np.full_like(lead, 1.1),
            "anomaly_persistence": 0.3 + 0.08 * lead,
            "bound": 0.15 + 0.03 * lead,
        },
        "mae": {k: 0.8 * v for k, v in {"convlstm": 0.25 + 0.06 * lead}.items()},
        "bias": {
            "convlstm": 0.01 * lead,
            "persistence": -0.02 * lead,
            "climatology": np.full_like(lead, 0.05),
            "anomaly_persistence": -0.01 * lead,
            "bound": np.zeros_like(lead),
        },
        "acc": {
            "convlstm": 0.95 - 0.03 * lead,
            "persistence": 0.9 - 0.06 * lead,
            "climatology": np.zeros_like(lead),
            "anomaly_persistence": 0.92 - 0.045 * lead,
            "bound": 0.98 - 0.01 * lead,
        },
    }
    names = list(curves)
    value = np.full((len(names), len(models), n_leads), np.nan)
    for a, metric in enumerate(names):
        for b, model in enumerate(models):
            if model in curves[metric]:
                value[a, b] = curves[metric][model]
    if as_days:
        coords = {"lead_time_days": ("lead_time", lead)}
    else:
        coords = {"lead_time": (lead * DAY).astype("timedelta64[ns]")}
    return xr.Dataset(
        {"value": (("metric", "model", "lead_time"), value)},
        coords={"metric": names, "model": models, **coords},
        attrs={"units": "degC"},
    )


def flow_data(
    n_inits: int = 2, size: int = 8, start: str = "2016-03-01 08:00", seed: int = 1
) -> tuple[xr.Dataset, xr.Dataset]:
    """A TaxiBJ-like one-step forecast ``flow(init_time, lead_time, direction, y, x)`` and
    the cube ``flow(time, direction, y, x)`` (30-min slots)."""
    rng = np.random.default_rng(seed)
    step = np.timedelta64(30, "m")
    times = pd.date_range(start, periods=n_inits + 1, freq="30min")
    yy, xx = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    centre = np.exp(-((yy - size / 2) ** 2 + (xx - size / 2) ** 2) / (0.2 * size**2))
    cube = np.stack(
        [
            np.stack([300 * centre * (1 + 0.1 * k), 250 * centre.T * (1 + 0.05 * k)])
            + rng.poisson(10, size=(2, size, size))
            for k in range(len(times))
        ]
    ).astype(float)
    directions = np.array(["inflow", "outflow"])
    cube_ds = xr.Dataset(
        {"flow": (("time", "direction", "y", "x"), cube, {"units": "1"})},
        coords={"time": times.values, "direction": directions},
    )
    inits = times[:-1]
    fc = cube[1:, None] + rng.normal(0, 15, size=(n_inits, 1, 2, size, size))
    lead = np.array([step], dtype="timedelta64[ns]")
    fc_ds = xr.Dataset(
        {"flow": (("init_time", "lead_time", "direction", "y", "x"), fc, {"units": "1"})},
        coords={
            "init_time": inits.values,
            "lead_time": lead,
            "valid_time": (("init_time", "lead_time"), inits.values[:, None] + lead[None, :]),
            "direction": directions,
        },
        attrs={"model": "stresnet"},
    )
    return fc_ds, cube_ds
