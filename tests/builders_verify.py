"""Small forecast / truth Datasets for verification tests (shared by any test folder).

``mock_truth`` builds the verifying observations of a set of daily forecasts: ``sst`` in °C
on ``(init_time, lead_time, lat, lon)`` with a ``valid_time(init_time, lead_time)``
coordinate, taken from one underlying daily series, so that overlapping windows agree (the
truth of init i at lead k is that of init i + 1 at lead k − 1). Land cells are NaN and a
``mask(lat, lon)`` variable (int8, 1 = ocean) says which. ``mock_forecast`` adds a known
bias and lead-growing noise to a truth; ``mock_climatology`` is the seasonal cycle the
series is built around, by valid time.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

DAY = np.timedelta64(1, "D")


def _seasonal(valid: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Climatology (valid..., lat, 1) in °C: warmer to the south, an annual cycle."""
    doy = pd.DatetimeIndex(valid.ravel()).day_of_year.to_numpy().reshape(valid.shape)
    phase = 2.0 * np.pi * (doy - 105.0) / 365.25
    base = 25.0 - 0.5 * (lat - 30.0)
    return base[(None,) * valid.ndim + (slice(None), None)] + 8.0 * np.sin(phase)[..., None, None]


def mock_truth(
    n_init: int = 8,
    n_lead: int = 3,
    lat: Sequence[float] = (38.0, 39.0, 40.0),
    lon: Sequence[float] = (118.0, 119.0, 120.0, 121.0),
    start: str = "2020-01-01",
    land: Sequence[tuple[int, int]] = ((0, 0), (2, 3)),
    anomaly_std: float = 0.5,
    seed: int = 0,
) -> xr.Dataset:
    """Truth of ``n_init`` daily inits at leads 1..``n_lead`` days on a small grid.

    ``land`` lists (lat index, lon index) cells that are land (NaN, mask 0). The anomaly is
    an AR(1) series (coefficient 0.8) per cell with stationary std ``anomaly_std``.
    """
    lat_v = np.asarray(lat, dtype=np.float64)
    lon_v = np.asarray(lon, dtype=np.float64)
    rng = np.random.default_rng(seed)
    n_days = n_init + n_lead
    days = np.datetime64(start, "ns") + np.arange(n_days) * DAY
    anomaly = np.empty((n_days, lat_v.size, lon_v.size))
    anomaly[0] = rng.normal(0.0, anomaly_std, anomaly.shape[1:])
    innovation = anomaly_std * np.sqrt(1.0 - 0.8**2)
    for t in range(1, n_days):
        anomaly[t] = 0.8 * anomaly[t - 1] + rng.normal(0.0, innovation, anomaly.shape[1:])
    series = _seasonal(days, lat_v) + anomaly
    mask = np.ones((lat_v.size, lon_v.size), dtype=np.int8)
    for i, j in land:
        mask[i, j] = 0
    series[:, mask == 0] = np.nan

    inits = days[:n_init]
    leads = (np.arange(1, n_lead + 1) * DAY).astype("timedelta64[ns]")
    index = np.arange(n_init)[:, None] + np.arange(1, n_lead + 1)[None, :]
    sst = series[index].astype(np.float32)
    return xr.Dataset(
        {
            "sst": (
                ("init_time", "lead_time", "lat", "lon"),
                sst,
                {"units": "degC", "long_name": "verifying sea surface temperature"},
            ),
            "mask": (("lat", "lon"), mask, {"long_name": "1 = ocean"}),
        },
        coords={
            "init_time": inits,
            "lead_time": leads,
            "valid_time": (("init_time", "lead_time"), inits[:, None] + leads[None, :]),
            "lat": ("lat", lat_v, {"units": "degrees_north"}),
            "lon": ("lon", lon_v, {"units": "degrees_east"}),
        },
    )


def mock_forecast(
    truth: xr.Dataset | None = None,
    bias: float = 0.0,
    error_std: float = 0.2,
    growth: float = 0.5,
    land_value: float | None = 10.0,
    seed: int = 1,
    **truth_options: object,
) -> xr.Dataset:
    """A forecast of ``truth`` (a :func:`mock_truth`, built from ``truth_options`` if None).

    ``sst = truth + bias + ε`` with ε normal, std ``error_std · (1 + growth · (lead − 1))``
    (lead in days), so errors grow with lead. Land cells hold ``land_value`` (models
    predict everywhere; scores must ignore them), or NaN if None.
    """
    if truth is None:
        truth = mock_truth(**truth_options)  # type: ignore[arg-type]
    rng = np.random.default_rng(seed)
    lead_days = truth["lead_time"] / DAY
    std = error_std * (1.0 + growth * (lead_days - 1.0))
    noise = xr.DataArray(rng.standard_normal(truth["sst"].shape), dims=truth["sst"].dims)
    sst = truth["sst"].astype(np.float64) + bias + std * noise
    ocean = truth["mask"] != 0
    sst = sst.where(ocean, np.nan if land_value is None else land_value)
    sst = sst.astype(np.float32).transpose(*truth["sst"].dims)
    sst.attrs = {"units": "degC", "long_name": "forecast sea surface temperature"}
    return xr.Dataset({"sst": sst, "mask": truth["mask"]})


def mock_climatology(truth: xr.Dataset) -> xr.DataArray:
    """The seasonal cycle the mock series is built around, per valid time (°C), float64.

    Dims ``(init_time, lead_time, lat, lon)`` like the truth, NaN on land.
    """
    valid = truth["valid_time"].values
    clim = np.broadcast_to(
        _seasonal(valid, truth["lat"].values),
        (*valid.shape, truth.sizes["lat"], truth.sizes["lon"]),
    )
    out = xr.DataArray(
        clim.copy(),
        dims=("init_time", "lead_time", "lat", "lon"),
        coords={k: truth.coords[k] for k in ("init_time", "lead_time", "lat", "lon", "valid_time")},
        name="sst_climatology",
        attrs={"units": "degC"},
    )
    return out.where(truth["mask"] != 0)
