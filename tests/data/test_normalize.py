"""Normalisers: harmonic climatology, round trips to °C, NaN handling, persistence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr

from sstcast.data.normalize import (
    AnomalyNormalizer,
    MinMaxNormalizer,
    ZScoreNormalizer,
    harmonic_design,
    load_normalizer,
    make_normalizer,
)
from sstcast.errors import SstcastError


def _phase(times: pd.DatetimeIndex) -> np.ndarray:
    days = (times - pd.Timestamp("2000-01-01")) / pd.Timedelta(days=1)
    return 2 * np.pi * np.asarray(days) / 365.25


def _seasonal(times: pd.DatetimeIndex, h: int = 3, w: int = 4) -> np.ndarray:
    """A known cycle per cell: mean + annual wave (cell-dependent phase) + weak 2nd harmonic."""
    phi = _phase(times)[:, None, None]
    i = np.arange(h)[None, :, None]
    j = np.arange(w)[None, None, :]
    return 15 + i - (8 + j) * np.cos(phi - 0.3 * i) + 0.7 * np.sin(2 * phi + j)


def _cube(noise: float = 0.1, years: int = 6, seed: int = 0) -> xr.DataArray:
    times = pd.date_range("2010-01-01", periods=int(365.25 * years), freq="D")
    rng = np.random.default_rng(seed)
    v = _seasonal(times) + rng.normal(0, noise, (len(times), 3, 4))
    v[:, 0, 0] = np.nan  # land
    da = xr.DataArray(
        v.astype(np.float32),
        dims=("time", "lat", "lon"),
        coords={"time": times, "lat": [30.0, 31.0, 32.0], "lon": [120.0, 121.0, 122.0, 123.0]},
        attrs={"units": "degC"},
    )
    return da


def test_harmonic_climatology_recovers_a_known_cycle_at_future_dates() -> None:
    da = _cube(noise=0.3)
    norm = AnomalyNormalizer(harmonics=3).fit(da)
    future = pd.date_range("2031-02-03", periods=50, freq="7D")
    clim = norm.climatology(future.values)
    truth = _seasonal(future)
    assert clim.shape == (50, 3, 4)
    assert np.isnan(clim[:, 0, 0]).all()
    err = np.abs(clim - truth)[:, ~np.isnan(clim[0])]
    assert err.max() < 0.06
    # The anomaly scale is the noise level, one number over the field by default.
    assert norm.scale[1, 1] == pytest.approx(0.3, rel=0.05)
    assert np.unique(norm.scale[np.isfinite(norm.scale)]).size == 1


def test_climatology_as_xarray_for_a_forecast_layout() -> None:
    norm = AnomalyNormalizer(harmonics=2).fit(_cube())
    init = pd.date_range("2020-01-01", periods=3, freq="D")
    lead = pd.to_timedelta([1, 2], unit="D")
    valid = xr.DataArray(
        init.values[:, None] + lead.values[None, :],
        dims=("init_time", "lead_time"),
        coords={"init_time": init, "lead_time": lead},
    )
    clim = norm.climatology(valid)
    assert clim.dims == ("init_time", "lead_time", "lat", "lon")
    assert clim.attrs["units"] == "degC"
    np.testing.assert_allclose(
        clim.isel(init_time=2, lead_time=1).values,
        norm.climatology(np.array([np.datetime64("2020-01-05")]))[0],
    )


def test_fit_handles_cells_missing_at_some_times() -> None:
    da = _cube(noise=0.2)
    v = da.values.copy()
    rng = np.random.default_rng(1)
    gaps = rng.random(len(v)) < 0.3
    v[gaps, 2, 3] = np.nan
    da = da.copy(data=v)
    norm = AnomalyNormalizer(harmonics=2).fit(da)
    ok = np.isfinite(v[:, 2, 3])
    g = harmonic_design(da.time.values[ok], 2)
    expect, *_ = np.linalg.lstsq(g, v[ok, 2, 3].astype(np.float64), rcond=None)
    np.testing.assert_allclose(norm.coef[:, 2, 3], expect, rtol=1e-6, atol=1e-6)
    full = da.values[:, 1, 1].astype(np.float64)
    expect, *_ = np.linalg.lstsq(harmonic_design(da.time.values, 2), full, rcond=None)
    np.testing.assert_allclose(norm.coef[:, 1, 1], expect, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "norm",
    [
        AnomalyNormalizer(3),
        AnomalyNormalizer(1, scale="cell"),
        ZScoreNormalizer(),
        MinMaxNormalizer(),
    ],
    ids=["anomaly", "anomaly-cell", "zscore", "minmax"],
)
def test_round_trip_to_celsius_numpy_torch_xarray(norm) -> None:
    da = _cube()
    norm.fit(da)
    # xarray: times from the time coordinate; land stays NaN.
    z = norm.transform(da)
    assert z.dims == da.dims and z.attrs["units"] == "1"
    back = norm.inverse_transform(z)
    assert back.attrs["units"] == "degC"
    np.testing.assert_allclose(back.values, da.values, atol=1e-4)
    assert np.isnan(z.values[:, 0, 0]).all()
    # numpy with a batch layout (batch, lead, channel=1, lat, lon) and times (batch, lead).
    t = da.time.values[:12].reshape(3, 4)
    x = da.values[:12].reshape(3, 4, 1, 3, 4)
    zn = norm.transform(x, t)
    assert zn.dtype == np.float32
    np.testing.assert_allclose(zn[..., 0, :, :].reshape(12, 3, 4), z.values[:12], atol=1e-5)
    # torch, float32, same numbers.
    zt = norm.transform(torch.from_numpy(x), t)
    assert isinstance(zt, torch.Tensor) and zt.dtype == torch.float32
    np.testing.assert_allclose(zt.numpy(), zn, atol=1e-5)
    np.testing.assert_allclose(norm.inverse_transform(zt, t).numpy(), x, atol=1e-4)
    # Half-precision model output comes back in float32, not rounded to bf16.
    back16 = norm.inverse_transform(zt.to(torch.bfloat16), t)
    assert back16.dtype == torch.float32


def test_zscore_and_minmax_statistics() -> None:
    da = _cube()
    z = ZScoreNormalizer().fit(da).transform(da).values
    assert np.nanmean(z) == pytest.approx(0, abs=1e-5)
    assert np.nanstd(z) == pytest.approx(1, abs=1e-4)
    m = MinMaxNormalizer().fit(da).transform(da).values
    assert np.nanmin(m) == pytest.approx(-1) and np.nanmax(m) == pytest.approx(1)
    m01 = MinMaxNormalizer((0, 1)).fit(da).transform(da).values
    assert np.nanmin(m01) == pytest.approx(0) and np.nanmax(m01) == pytest.approx(1)


def test_anomalies_are_standardised_and_deseasonalised() -> None:
    da = _cube(noise=0.5)
    z = AnomalyNormalizer(3).fit(da).transform(da).values
    assert np.nanstd(z) == pytest.approx(1, abs=0.01)
    # No seasonal cycle left: monthly means of the anomalies are near zero.
    months = da.time.dt.month.values
    monthly = [np.nanmean(z[months == m]) for m in range(1, 13)]
    assert np.max(np.abs(monthly)) < 0.05


@pytest.mark.parametrize("kind", ["anomaly", "zscore", "minmax"])
def test_save_and_load_give_the_same_transform(tmp_path, kind: str) -> None:
    da = _cube()
    norm = make_normalizer(kind).fit(da)
    path = norm.save(tmp_path / "norm.nc")
    again = load_normalizer(path)
    assert type(again) is type(norm)
    assert again.field_dims == ("lat", "lon") and again.units == "degC"
    np.testing.assert_array_equal(again.transform(da).values, norm.transform(da).values)
    np.testing.assert_array_equal(again.fitted_cells(), norm.fitted_cells())


def test_clear_errors() -> None:
    norm = AnomalyNormalizer(2).fit(_cube())
    with pytest.raises(SstcastError, match="needs the valid times"):
        norm.transform(np.zeros((2, 3, 4)))
    with pytest.raises(SstcastError, match="does not end with"):
        norm.transform(np.zeros((2, 5, 4)), np.array(["2020-01-01"] * 2, dtype="datetime64[ns]"))
    with pytest.raises(SstcastError, match="unknown"):
        make_normalizer("robust")
    with pytest.raises(SstcastError, match="not found"):
        load_normalizer("/nonexistent/norm.nc")
