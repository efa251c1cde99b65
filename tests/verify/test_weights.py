"""Area weights: cos(latitude), zero on land, mean 1 over ocean cells."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from sstcast.errors import SstcastError
from sstcast.verify import area_weights
from tests.builders_verify import mock_truth


def _mask(values: list[list[int]], lat: list[float]) -> xr.DataArray:
    n_lon = len(values[0])
    return xr.DataArray(
        np.asarray(values, dtype=np.int8),
        dims=("lat", "lon"),
        coords={"lat": lat, "lon": np.arange(n_lon, dtype=float)},
    )


def test_cos_lat_ratio_zero_on_land_and_mean_one() -> None:
    mask = _mask([[1, 1], [1, 0], [1, 1]], [0.0, 30.0, 60.0])
    w = area_weights(mask["lat"], mask)
    assert w.dims == ("lat", "lon")
    assert w.dtype == np.float64
    assert float(w.sel(lat=30.0).isel(lon=1)) == 0.0
    ocean = mask.values == 1
    assert w.values[ocean].mean() == pytest.approx(1.0, abs=1e-14)
    # cos 60° / cos 0° = 1/2, cos 30° / cos 0° = √3/2
    assert float(w.sel(lat=60.0)[0] / w.sel(lat=0.0)[0]) == pytest.approx(0.5, rel=1e-12)
    assert float(w.sel(lat=30.0)[0] / w.sel(lat=0.0)[0]) == pytest.approx(np.sqrt(3) / 2)
    # on paper: raw cos over ocean = 1, 1, √3/2, 1/2, 1/2 -> mean (3 + √3/2) / 5
    mean_raw = (3.0 + np.sqrt(3) / 2) / 5
    assert float(w.sel(lat=0.0)[0]) == pytest.approx(1.0 / mean_raw, rel=1e-12)
    # coordinates of the mask are kept
    np.testing.assert_array_equal(w["lat"].values, mask["lat"].values)


def test_numpy_lat_and_boolean_mask() -> None:
    t = mock_truth()
    w_da = area_weights(t["lat"], t["mask"])
    w_np = area_weights(t["lat"].values, t["mask"] == 1)
    xr.testing.assert_identical(w_da, w_np)
    assert (w_np.values[t["mask"].values == 0] == 0).all()


def test_grid_without_latitude_gets_ones_on_the_mask() -> None:
    mask = xr.DataArray(np.array([[1, 0, 1], [1, 1, 1]]), dims=("y", "x"))
    for lat in (None, np.array([39.9, 40.0])):
        w = area_weights(lat, mask)
        np.testing.assert_array_equal(w.values, [[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]])


def test_nan_in_mask_is_land() -> None:
    mask = _mask([[1, 1]], [45.0]).astype(float)
    mask[0, 1] = np.nan
    w = area_weights(mask["lat"], mask)
    np.testing.assert_array_equal(w.values, [[1.0, 0.0]])


def test_two_dimensional_latitude() -> None:
    lat2d = xr.DataArray([[0.0, 60.0]], dims=("y", "x"))
    mask = xr.DataArray([[1, 1]], dims=("y", "x"))
    w = area_weights(lat2d, mask)
    np.testing.assert_allclose(w.values, [[4 / 3, 2 / 3]], rtol=1e-12)


def test_errors_are_one_line() -> None:
    mask = _mask([[0, 0], [0, 0]], [10.0, 20.0])
    with pytest.raises(SstcastError, match="no ocean cell") as info:
        area_weights(mask["lat"], mask)
    assert "\n" not in str(info.value)
    ocean = _mask([[1, 1], [1, 1]], [10.0, 20.0])
    with pytest.raises(SstcastError, match="latitudes"):
        area_weights(np.array([10.0, 20.0, 30.0]), ocean)
    with pytest.raises(SstcastError, match=r"-90\.\.90"):
        area_weights(np.array([10.0, 95.0]), ocean)
