"""The forecast schema: mocks and templates, validation, and opening a file."""

from __future__ import annotations

from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import xarray as xr

from sstcast.errors import SstcastError
from sstcast.forecast import (
    default_space,
    forecast_template,
    mock_forecast,
    open_forecast,
    validate_forecast,
    write_forecast,
)
from tests.forecast.helpers import one_line_error


def test_mock_forecasts_follow_the_schema() -> None:
    sst = mock_forecast("sst", n_init=3, n_lead=4, shape=(4, 5))
    assert sst["sst"].dims == ("init_time", "lead_time", "lat", "lon")
    assert sst["sst"].shape == (3, 4, 4, 5) and sst["sst"].dtype == np.float32
    assert sst["sst"].attrs["units"] == "degC"
    assert sst["sst"].attrs["standard_name"] == "sea_surface_temperature"
    assert np.isnan(sst["sst"].values[:, :, :2, 0]).all()  # land
    assert not np.isnan(sst["sst"].values[:, :, :, 1:]).any()
    assert sst["lead_time"].values[0] == np.timedelta64(1, "D")
    np.testing.assert_array_equal(
        sst["valid_time"].values, sst["init_time"].values[:, None] + sst["lead_time"].values
    )
    assert not np.isnan(mock_forecast("sst", land=False)["sst"].values).any()

    flow = mock_forecast("taxibj", n_init=2, n_lead=3, shape=(3, 2))
    assert flow["flow"].dims == ("init_time", "lead_time", "direction", "y", "x")
    assert flow["direction"].values.tolist() == ["inflow", "outflow"]
    assert flow["lead_time"].values[0] == np.timedelta64(30, "m")
    assert (flow["flow"].values >= 0).all() and flow["flow"].attrs["units"] == "1"
    for ds in (sst, flow):
        validate_forecast(ds)
    xr.testing.assert_identical(mock_forecast("sst", seed=3), mock_forecast("sst", seed=3))


def test_template_is_nan_and_lazy_when_chunked() -> None:
    init = np.array(["2020-01-01", "2020-01-02"], "M8[ns]")
    lead = np.array([1, 2, 3], "m8[D]")
    space = default_space("sst", (2, 3))
    ds = forecast_template("sst", init, lead, space)
    assert np.isnan(ds["sst"].values).all()
    validate_forecast(ds)
    lazy = forecast_template("sst", init, lead, space, chunks={"init_time": 1})
    assert isinstance(lazy["sst"].data, da.Array) and lazy["sst"].chunks[0] == (1, 1)
    with pytest.raises(SstcastError) as excinfo:
        forecast_template("taxibj", init, lead, space)
    one_line_error(excinfo, "('direction', 'y', 'x')")


def _break(ds: xr.Dataset, how: str) -> xr.Dataset:
    if how == "no variable":
        return ds.rename({"sst": "temperature"})
    if how == "dims":
        return ds.transpose("lead_time", "init_time", "lat", "lon")
    if how == "dtype":
        return ds.assign(sst=ds["sst"].astype("float64"))
    if how == "no valid_time":
        return ds.drop_vars("valid_time")
    if how == "valid_time":
        return ds.assign_coords(valid_time=ds["valid_time"] + np.timedelta64(1, "h"))
    if how == "lead float":
        return ds.assign_coords(lead_time=("lead_time", [1.0, 2.0, 3.0, 4.0]))
    if how == "init order":
        return ds.isel(init_time=[1, 0, 2])
    if how == "units":
        out = ds.copy()
        out["sst"].attrs["units"] = "K"
        return out
    if how == "kind":
        return ds.assign_attrs(sstcast_kind="taxibj")
    raise AssertionError(how)


@pytest.mark.parametrize(
    ("how", "words"),
    [
        ("no variable", "not a forecast"),
        ("dims", "dims"),
        ("dtype", "float32"),
        ("no valid_time", "'valid_time'"),
        ("valid_time", "init_time + lead_time"),
        ("lead float", "timedelta64"),
        ("init order", "strictly increasing"),
        ("units", "degC"),
        ("kind", "sstcast_kind"),
    ],
)
def test_validate_refuses_what_is_not_a_forecast(how: str, words: str) -> None:
    ds = _break(mock_forecast("sst"), how)
    with pytest.raises(SstcastError) as excinfo:
        validate_forecast(ds, where="some.nc")
    one_line_error(excinfo, "some.nc", words)


def test_validate_checks_the_taxibj_coordinates() -> None:
    ds = mock_forecast("taxibj")
    with pytest.raises(SstcastError) as excinfo:
        validate_forecast(ds.assign_coords(direction=["in", "out"]), where="f.nc")
    one_line_error(excinfo, "f.nc", "direction")
    with pytest.raises(SstcastError) as excinfo:
        validate_forecast(ds.assign_coords(y=ds["y"].astype("float64")), where="f.nc")
    one_line_error(excinfo, "f.nc", "integers")


def test_open_forecast_reads_and_validates(tmp_path: Path) -> None:
    mock = mock_forecast("taxibj")
    path = write_forecast(mock, tmp_path / "f.nc")
    with open_forecast(path) as ds:
        xr.testing.assert_equal(ds["flow"], mock["flow"])
    with open_forecast(path, chunks={}) as ds:
        assert isinstance(ds["flow"].data, da.Array)


def test_open_forecast_errors_are_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "missing.nc"
    with pytest.raises(SstcastError) as excinfo:
        open_forecast(missing)
    one_line_error(excinfo, str(missing), "no forecast file")

    text = tmp_path / "notes.nc"
    text.write_text("not a netcdf file\n")
    with pytest.raises(SstcastError) as excinfo:
        open_forecast(text)
    one_line_error(excinfo, str(text), "not a readable NetCDF")

    other = tmp_path / "other.nc"
    xr.Dataset({"t": ("time", np.arange(3.0))}).to_netcdf(other)
    with pytest.raises(SstcastError) as excinfo:
        open_forecast(other)
    one_line_error(excinfo, str(other), "not a forecast")

    with pytest.raises(SstcastError) as excinfo:
        open_forecast(tmp_path)
    one_line_error(excinfo, str(tmp_path), "folder")
