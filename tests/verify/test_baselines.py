"""The reference forecasts, each against its definition on a field known at every point."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr

from sstcast.verify import baselines as refs


def _truth() -> xr.DataArray:
    times = pd.date_range("2020-01-01", periods=20, freq="D")
    t = np.arange(20, dtype=float)[:, None, None]
    values = 10.0 + t + np.arange(6).reshape(1, 2, 3)  # x(t) = 10 + t + cell
    return xr.DataArray(
        values.astype(np.float32),
        dims=("time", "lat", "lon"),
        coords={"time": times, "lat": [30.0, 30.25], "lon": [120.0, 120.25, 120.5]},
        name="sst",
        attrs={"units": "degC"},
    )


def _clim(times: np.ndarray) -> np.ndarray:
    """C(t) = 2 · day index + cell (a known climatology)."""
    days = (np.asarray(times, "datetime64[D]") - np.datetime64("2020-01-01", "D")).astype(float)
    return 2.0 * days[..., None, None] + np.arange(6).reshape(2, 3)


INITS = np.array(["2020-01-05", "2020-01-09"], dtype="datetime64[ns]")
LEADS = np.array([1, 3], dtype="timedelta64[D]").astype("timedelta64[ns]")


def test_persistence_is_the_init_field() -> None:
    out = refs.Persistence(_truth())(INITS, LEADS)
    assert out.dims == ("init_time", "lead_time", "lat", "lon")
    np.testing.assert_allclose(out.sel(lat=30.0, lon=120.0).values, [[14, 14], [18, 18]])
    assert (out["valid_time"].values[1] == INITS[1] + LEADS).all()


def test_climatology_is_the_valid_time_climatology() -> None:
    out = refs.Climatology(_truth(), _clim)(INITS, LEADS)
    # valid days 5, 7 and 9, 11 -> C = 2·day
    np.testing.assert_allclose(out.sel(lat=30.0, lon=120.0).values, [[10, 14], [18, 22]])


def test_anomaly_persistence_keeps_the_last_anomaly() -> None:
    out = refs.AnomalyPersistence(_truth(), _clim)(INITS, LEADS)
    # x(t0) - C(t0) = 10 + t0 - 2 t0 = 10 - t0 (cell 0); plus C(t) = 2 t
    t0 = np.array([4, 8])[:, None]
    t = t0 + np.array([1, 3])[None, :]
    np.testing.assert_allclose(out.sel(lat=30.0, lon=120.0).values, 10 - t0 + 2 * t)


def test_array_functions_work_on_torch_and_numpy() -> None:
    last = torch.ones(2, 1, 1, 3, 3)
    assert refs.persistence(last, 4).shape == (2, 4, 1, 3, 3)
    assert refs.persistence(last.numpy(), 4).shape == (2, 4, 1, 3, 3)
    clim_init, clim_valid = torch.zeros(2, 1, 1, 3, 3), torch.full((2, 4, 1, 3, 3), 5.0)
    assert torch.equal(
        refs.anomaly_persistence(last, clim_init, clim_valid), last + 5.0 + 0 * clim_valid
    )


def test_an_init_without_observation_is_refused() -> None:
    from sstcast.errors import DataError

    with pytest.raises(DataError, match="not in the observations"):
        refs.Persistence(_truth())(np.array(["2021-01-01"], "datetime64[ns]"), LEADS)


def test_a_cube_without_sample_provenance_has_no_bound() -> None:
    ds = _truth().to_dataset()
    assert refs.toy_ocean_for_cube(ds) is None
    ds.attrs["source_files"] = '[{"path": "/nowhere/sst/a.nc"}]'
    assert refs.toy_ocean_for_cube(ds) is None
