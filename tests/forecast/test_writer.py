"""ForecastWriter: the on-disk CF layout, default xarray decoding, attributes, atomicity."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import dask.array as da
import netCDF4
import numpy as np
import pytest
import xarray as xr

from sstcast.errors import SstcastError
from sstcast.forecast import ForecastWriter, mock_forecast, open_forecast, write_forecast
from sstcast.forecast.writer import FILL_VALUE, chunk_shape, netcdf_attr, time_unit
from tests.forecast.helpers import assert_same_values, leftovers, one_line_error, write_blocks

DAY = np.timedelta64(1, "D")
SPACE_DIMS = {"sst": ["lat", "lon"], "taxibj": ["direction", "y", "x"]}
VARIABLE = {"sst": "sst", "taxibj": "flow"}


def sst_writer(path: Path, **kwargs) -> ForecastWriter:
    """A writer of a 2-lead, 2x3 SST forecast."""
    space = {"lat": np.array([-1.0, 0.0]), "lon": np.array([10.0, 11.0, 12.0])}
    return ForecastWriter(path, "sst", np.array([1, 2]) * DAY, space, **kwargs)


def block(n: int, start: str = "2021-03-01") -> tuple[np.ndarray, np.ndarray]:
    """n daily init times and matching (n, 2, 2, 3) float32 values."""
    init = np.datetime64(start, "ns") + np.arange(n) * DAY
    return init, np.arange(n * 12, dtype=np.float32).reshape(n, 2, 2, 3)


# ---------------------------------------------------------------------- on-disk layout
def test_on_disk_layout_is_cf(kind: str, mock: xr.Dataset, tmp_path: Path) -> None:
    path = write_blocks(mock, tmp_path / "f.nc", block=3)
    name = VARIABLE[kind]
    with netCDF4.Dataset(path) as nc:
        assert nc.data_model == "NETCDF4"
        assert nc.dimensions["init_time"].isunlimited()
        var = nc[name]
        assert var.dimensions == ("init_time", "lead_time", *SPACE_DIMS[kind])
        assert var.dtype == np.float32
        assert var.getncattr("_FillValue") == FILL_VALUE
        assert var.coordinates == "valid_time"
        filters = var.filters()
        assert filters["zlib"] and filters["complevel"] == 4 and filters["shuffle"]
        assert var.chunking()[0] >= 1 and list(var.chunking()[1:]) == list(var.shape[1:])
        for other in nc.variables:  # no fill value on any coordinate
            if other != name:
                assert "_FillValue" not in nc[other].ncattrs(), other

        init, lead, valid = nc["init_time"], nc["lead_time"], nc["valid_time"]
        assert init.standard_name == "forecast_reference_time"
        assert lead.standard_name == "forecast_period"
        assert valid.standard_name == "time" and valid.dimensions == ("init_time", "lead_time")
        for time in (init, lead, valid):
            assert time.dtype == np.float64  # not int64, which CF tools dislike
        unit = "days" if kind == "sst" else "hours"  # daily leads, 30-min leads
        assert lead.units == unit
        assert lead.getncattr("dtype") == "timedelta64[ns]"
        for time in (init, valid):
            assert time.units == f"{unit} since 1970-01-01 00:00:00"
            assert time.calendar == "proleptic_gregorian"
        if kind == "sst":
            assert lead[:].tolist() == [1.0, 2.0, 3.0, 4.0]
            for axis, units, letter in (
                ("lat", "degrees_north", "Y"),
                ("lon", "degrees_east", "X"),
            ):
                coord = nc[axis]
                assert coord.standard_name == ("latitude" if axis == "lat" else "longitude")
                assert coord.units == units and coord.axis == letter
        else:
            assert lead[:].tolist() == [0.5, 1.0, 1.5, 2.0]
            assert nc["direction"].dimensions == ("direction", "direction_strlen")
            assert nc["direction"][:].tolist() == ["inflow", "outflow"]
            for axis in ("y", "x"):
                assert nc[axis].dtype == np.int32 and "index" in nc[axis].long_name


def test_nan_is_stored_as_the_fill_value(tmp_path: Path) -> None:
    mock = mock_forecast("sst", n_init=2, n_lead=2, shape=(4, 3))
    land = np.isnan(mock["sst"].values)
    assert land.any() and not land.all()
    path = write_forecast(mock, tmp_path / "f.nc")
    with netCDF4.Dataset(path) as nc:
        nc.set_auto_mask(False)
        raw = nc["sst"][:]
    assert not np.isnan(raw).any()
    np.testing.assert_array_equal(raw == FILL_VALUE, land)


# ---------------------------------------------------------------------- xarray decoding
def test_default_open_decodes_times_without_warnings(
    kind: str, mock: xr.Dataset, tmp_path: Path
) -> None:
    path = write_blocks(mock, tmp_path / "f.nc", block=3)
    name = VARIABLE[kind]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with xr.open_dataset(path) as ds:
            ds.load()
    assert ds["init_time"].dtype == np.dtype("datetime64[ns]")
    assert ds["valid_time"].dtype == np.dtype("datetime64[ns]")
    assert ds["lead_time"].dtype == np.dtype("timedelta64[ns]")
    assert "valid_time" in ds.coords and ds["valid_time"].dims == ("init_time", "lead_time")
    for coord in ("init_time", "lead_time", "valid_time", *SPACE_DIMS[kind]):
        np.testing.assert_array_equal(ds[coord].values, mock[coord].values)
    assert ds[name].dims == mock[name].dims
    assert_same_values(ds[name].values, mock[name].values)
    if kind == "sst":
        assert np.isnan(ds["sst"].values[:, :, 0, 0]).all()  # land stays NaN
    else:
        assert ds["direction"].values.tolist() == ["inflow", "outflow"]
        assert ds["y"].dtype == np.int32


def test_lead_time_decodes_only_because_of_the_dtype_attribute(tmp_path: Path) -> None:
    """Current xarray decodes a timedelta from its units only if it also has a timedelta64
    ``dtype`` attribute; without it, lead_time stays float (the reason the writer sets it)."""
    path = write_forecast(mock_forecast("sst"), tmp_path / "f.nc")
    bare = tmp_path / "bare.nc"
    shutil.copy(path, bare)
    with netCDF4.Dataset(bare, "a") as nc:
        nc["lead_time"].delncattr("dtype")
    with xr.open_dataset(bare) as ds:
        assert ds["lead_time"].dtype == np.float64
    with xr.open_dataset(path) as ds:
        assert ds["lead_time"].dtype == np.dtype("timedelta64[ns]")


def test_hourly_inits_and_daily_leads_use_hours(tmp_path: Path) -> None:
    """Init times at 12:00 are not whole days: times go to hours, leads stay in days."""
    path = tmp_path / "f.nc"
    with sst_writer(path) as writer:
        init, values = block(2, "2021-03-01T12:00")
        writer.append(init, values)
    with netCDF4.Dataset(path) as nc:
        assert nc["init_time"].units.startswith("hours since")
        assert nc["lead_time"].units == "days"
    with xr.open_dataset(path) as ds:
        np.testing.assert_array_equal(ds["init_time"].values, init)
        np.testing.assert_array_equal(ds["valid_time"].values[:, 1], init + 2 * DAY)


def test_time_units_are_exact() -> None:
    ns = np.int64(10**9)
    assert time_unit(np.array([1, 2]) * 86_400 * ns) == "days"
    assert time_unit(np.array([1800, 3600]) * ns) == "hours"  # 0.5 h is exact
    assert time_unit(np.array([1200]) * ns) == "minutes"  # 1/3 h is not
    assert time_unit(np.array([1]) * ns) == "seconds"
    assert time_unit(np.array([1])) is None


def test_open_with_chunks_gives_dask_chunked_like_the_file(tmp_path: Path) -> None:
    mock = mock_forecast("sst", n_init=5, n_lead=3, shape=(4, 6))
    path = tmp_path / "f.nc"
    with ForecastWriter(
        path,
        "sst",
        mock["lead_time"].values,
        {"lat": mock["lat"], "lon": mock["lon"]},
        chunk_bytes=3 * 4 * 6 * 4,  # one init time per chunk
    ) as writer:
        writer.append(mock["init_time"].values, mock["sst"].values)
    with xr.open_dataset(path, chunks={}) as ds:
        assert isinstance(ds["sst"].data, da.Array)
        assert ds["sst"].chunks[0] == (1,) * 5
        assert_same_values(ds["sst"].values, mock["sst"].values)


def test_chunk_shape_keeps_whole_fields() -> None:
    assert chunk_shape(4, (3, 4), target=4 * 3 * 4 * 4 * 10) == (10, 4, 3, 4)
    assert chunk_shape(4, (3, 4), target=10**9)[0] == 64  # capped
    assert chunk_shape(10, (100, 100), target=3 * 100 * 100 * 4) == (1, 3, 100, 100)
    assert chunk_shape(10, (100, 100), target=20 * 100 * 4) == (1, 1, 20, 100)


# ---------------------------------------------------------------------- attributes
def test_global_attributes_acdd_and_provenance(tmp_path: Path) -> None:
    mock = mock_forecast("sst", n_init=3, n_lead=4, shape=(4, 5))
    provenance = {
        "model": "convlstm",
        "preset": "tiny",
        "run_folder": tmp_path / "runs" / "r1",
        "checkpoint_sha256": "ab" * 32,
        "training_period": ["2010-01-01", "2015-12-31"],
        "cube_sources": {"oisst.nc": {"sha256": "cd" * 32, "size": 123}},
        "residual": True,
        "lead_extrapolation": "leads past the trained horizon (10 days) are extrapolation",
        "institution": "Test Lab",
        "creator_name": "A. Tester",
        "nothing": None,
        "history": "2020-01-01T00:00:00Z made by hand",
        "Conventions": "CF-1.0",
    }
    path = write_forecast(mock, tmp_path / "f.nc", attrs=provenance)
    with xr.open_dataset(path) as ds:
        attrs = dict(ds.attrs)
    assert attrs["Conventions"] == "CF-1.8, ACDD-1.3"
    for name in ("title", "summary", "source", "date_created", "product_version", "keywords"):
        assert isinstance(attrs[name], str) and attrs[name], name
    assert attrs["title"] == "mock sst forecast"  # the Dataset's own attrs are kept
    assert attrs["institution"] == "Test Lab" and attrs["creator_name"] == "A. Tester"
    assert attrs["geospatial_lat_min"] == -10.5 and attrs["geospatial_lat_max"] == -7.5
    assert attrs["geospatial_lon_min"] == 150.5 and attrs["geospatial_lon_max"] == 154.5
    # from the valid times: first init + first lead .. last init + last lead
    assert attrs["time_coverage_start"] == "2020-01-02T00:00:00Z"
    assert attrs["time_coverage_end"] == "2020-01-07T00:00:00Z"
    assert attrs["sstcast_kind"] == "sst"
    history = attrs["history"].splitlines()
    assert history[0] == provenance["history"] and "sstcast" in history[1]
    assert attrs["model"] == "convlstm" and attrs["checkpoint_sha256"] == "ab" * 32
    assert attrs["run_folder"] == str(tmp_path / "runs" / "r1")
    assert json.loads(attrs["training_period"]) == ["2010-01-01", "2015-12-31"]
    assert json.loads(attrs["cube_sources"])["oisst.nc"]["size"] == 123
    assert attrs["residual"] == 1
    assert "nothing" not in attrs


def test_taxibj_has_no_geospatial_bounds_unless_given(tmp_path: Path) -> None:
    mock = mock_forecast("taxibj", n_init=2, n_lead=2)
    path = write_forecast(mock, tmp_path / "a.nc")
    with xr.open_dataset(path) as ds:
        assert not any(k.startswith("geospatial") for k in ds.attrs)
        assert "institution" not in ds.attrs and "creator_name" not in ds.attrs
    path = write_forecast(mock, tmp_path / "b.nc", attrs={"geospatial_lat_min": 39.8})
    with xr.open_dataset(path) as ds:
        assert ds.attrs["geospatial_lat_min"] == 39.8


def test_netcdf_attr_conversions() -> None:
    assert netcdf_attr(None) is None
    assert netcdf_attr(True) == 1 and netcdf_attr(True).dtype == np.int32
    assert netcdf_attr(3).dtype == np.int32
    assert netcdf_attr(2**40) == str(2**40)
    assert netcdf_attr(1.5) == 1.5
    assert json.loads(netcdf_attr({"a": [1, 2], "b": np.float32(0.5)})) == {"a": [1, 2], "b": 0.5}
    assert json.loads(netcdf_attr([1, 2])) == [1, 2]
    assert netcdf_attr([0, 1], numeric_arrays=True).dtype == np.int32
    assert netcdf_attr(np.datetime64("2020-01-01")) == "2020-01-01"


def test_variable_and_coordinate_attributes(tmp_path: Path) -> None:
    path = tmp_path / "f.nc"
    with sst_writer(
        path,
        var_attrs={"comment": "made in a test", "valid_range": [-5.0, 40.0]},
        coord_attrs={"lat": {"comment": "cell centres"}, "init_time": {"comment": "x"}},
    ) as writer:
        writer.append(*block(1))
    with netCDF4.Dataset(path) as nc:
        assert nc["sst"].comment == "made in a test"
        assert nc["sst"].valid_range.tolist() == [-5.0, 40.0]
        assert nc["sst"].standard_name == "sea_surface_temperature"
        assert nc["lat"].comment == "cell centres" and nc["lat"].units == "degrees_north"
        assert nc["init_time"].comment == "x"


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"var_attrs": {"coordinates": "lat lon"}}, "'coordinates'"),
        ({"var_attrs": {"_FillValue": 0.0}}, "'_FillValue'"),
        ({"coord_attrs": {"lead_time": {"units": "hours"}}}, "'units'"),
        ({"coord_attrs": {"depth": {"units": "m"}}}, "depth"),
    ],
)
def test_reserved_attributes_are_refused(tmp_path: Path, kwargs: dict, words: str) -> None:
    with pytest.raises(SstcastError) as excinfo:
        sst_writer(tmp_path / "f.nc", **kwargs)
    one_line_error(excinfo, str(tmp_path / "f.nc"), words)
    assert leftovers(tmp_path) == []


# ---------------------------------------------------------------------- blocks and errors
def test_several_blocks_give_the_same_file_as_one(
    kind: str, mock: xr.Dataset, tmp_path: Path
) -> None:
    one = write_blocks(mock, tmp_path / "one.nc", block=100)
    ones = write_blocks(mock, tmp_path / "ones.nc", block=1)
    threes = write_blocks(mock, tmp_path / "threes.nc", block=3)
    volatile = ("date_created", "history")
    with xr.open_dataset(one) as a:
        a.load()
    for other in (ones, threes):
        with xr.open_dataset(other) as b:
            b.load()
        xr.testing.assert_identical(a.drop_attrs(deep=False), b.drop_attrs(deep=False))
        assert {k: v for k, v in a.attrs.items() if k not in volatile} == {
            k: v for k, v in b.attrs.items() if k not in volatile
        }
        for name in a.variables:
            assert a[name].encoding.get("chunksizes") == b[name].encoding.get("chunksizes")
    assert leftovers(tmp_path) == ["one.nc", "ones.nc", "threes.nc"]


def test_empty_writer_raises_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "f.nc"
    with pytest.raises(SstcastError) as excinfo, sst_writer(path):
        pass
    one_line_error(excinfo, str(path), "nothing written")
    assert leftovers(tmp_path) == []


def test_error_inside_with_leaves_nothing_and_keeps_an_old_file(tmp_path: Path) -> None:
    path = tmp_path / "f.nc"
    with pytest.raises(RuntimeError), sst_writer(path) as writer:
        writer.append(*block(2))
        raise RuntimeError("model crashed")
    assert leftovers(tmp_path) == []

    with sst_writer(path) as writer:
        writer.append(*block(1))
    before = path.read_bytes()
    with pytest.raises(KeyboardInterrupt), sst_writer(path) as writer:
        writer.append(*block(3))
        raise KeyboardInterrupt
    assert path.read_bytes() == before and leftovers(tmp_path) == ["f.nc"]


def test_success_replaces_an_old_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "f.nc"  # the folder is made
    for n in (1, 3):
        with sst_writer(path) as writer:
            writer.append(*block(n))
        with xr.open_dataset(path) as ds:
            assert ds.sizes["init_time"] == n


def test_wrong_block_shape_is_one_line_and_the_writer_stays_usable(tmp_path: Path) -> None:
    path = tmp_path / "f.nc"
    with sst_writer(path) as writer:
        init, values = block(2)
        for bad in (values[:, :1], values[:1], values[..., None], values.astype(bool)):
            with pytest.raises(SstcastError) as excinfo:
                writer.append(init, bad)
            one_line_error(excinfo, str(path))
        with pytest.raises(SstcastError) as excinfo:
            writer.append(init, values[:, :1])
        one_line_error(excinfo, "(2, 1, 2, 3)", "(2, 2, 2, 3)")
        writer.append(init, values)
    with xr.open_dataset(path) as ds:
        assert_same_values(ds["sst"].values, values)


def test_wrong_shape_inside_with_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "f.nc"
    with pytest.raises(SstcastError), sst_writer(path) as writer:
        init, values = block(2)
        writer.append(init, values)
        writer.append(init + 2 * DAY, values[:, :, :1])
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("2021-03-01", "2021-03-02"),  # overlaps the first block's last day
        ("2021-03-05", "2021-03-01"),  # before it
        (None, "2021-03-01"),  # repeated within one block
    ],
)
def test_init_times_must_increase(tmp_path: Path, first: str | None, second: str) -> None:
    path = tmp_path / "f.nc"
    with sst_writer(path) as writer:
        if first is not None:
            writer.append(*block(2, first))
            init, values = block(2, second)
        else:
            init, values = block(2, second)
            init[1] = init[0]
        with pytest.raises(SstcastError) as excinfo:
            writer.append(init, values)
        one_line_error(excinfo, str(path), "strictly increasing")
        writer.append(*block(1, "2021-04-01"))


def test_init_time_not_exact_in_the_first_blocks_units(tmp_path: Path) -> None:
    with sst_writer(tmp_path / "f.nc") as writer:
        writer.append(*block(1, "2021-03-01"))
        with pytest.raises(SstcastError) as excinfo:
            writer.append(*block(1, "2021-03-02T06:00"))
        one_line_error(excinfo, "days since")


@pytest.mark.parametrize(
    ("variable", "space", "lead", "words"),
    [
        ("sst", {"lat": [1.0, 0.0], "lon": [0.0]}, [1], "lat must be strictly ascending"),
        ("sst", {"lon": [0.0], "lat": [0.0]}, [1], "('lat', 'lon')"),
        ("flow", {"direction": ["out", "in"], "y": [0], "x": [0]}, [1], "direction"),
        ("flow", {"direction": ["inflow", "outflow"], "y": [0.5], "x": [0]}, [1], "y must"),
        ("sst", {"lat": [0.0], "lon": [0.0]}, [2, 1], "strictly increasing"),
        ("sst", {"lat": [0.0], "lon": [0.0]}, [], "lead_time"),
        ("sst", {"lat": [0.0], "lon": []}, [1], "'lon'"),
    ],
)
def test_bad_layouts_are_refused(
    tmp_path: Path, variable: str, space: dict, lead: list[int], words: str
) -> None:
    path = tmp_path / "f.nc"
    with pytest.raises(SstcastError) as excinfo:
        ForecastWriter(path, variable, np.array(lead, dtype="m8[D]"), space)
    one_line_error(excinfo, str(path), words)
    assert leftovers(tmp_path) == []


def test_free_layout_for_another_variable(tmp_path: Path) -> None:
    """A variable of neither layout: any space dims, metadata from the caller."""
    path = tmp_path / "f.nc"
    space = {"member": np.arange(3), "site": np.array(["a", "bb"])}
    with ForecastWriter(
        path, "chl", np.array([1], "m8[D]"), space, var_attrs={"units": "mg m-3"}
    ) as writer:
        writer.append(np.array(["2020-01-01"], "M8[ns]"), np.ones((1, 1, 3, 2), np.float32))
    with xr.open_dataset(path) as ds:
        assert ds["chl"].dims == ("init_time", "lead_time", "member", "site")
        assert ds["site"].values.tolist() == ["a", "bb"] and ds["chl"].attrs["units"] == "mg m-3"
        assert "sstcast_kind" not in ds.attrs
    with pytest.raises(SstcastError):
        open_forecast(path)  # a valid file, but not one of the two forecast layouts


def test_closed_writer_refuses_appends(tmp_path: Path) -> None:
    writer = sst_writer(tmp_path / "f.nc")
    writer.append(*block(1))
    assert writer.close() == tmp_path / "f.nc"
    assert writer.close() == tmp_path / "f.nc"  # idempotent
    with pytest.raises(SstcastError) as excinfo:
        writer.append(*block(1, "2022-01-01"))
    one_line_error(excinfo, "closed")
    writer = sst_writer(tmp_path / "g.nc")
    writer.append(*block(1))
    writer.abort()
    assert leftovers(tmp_path) == ["f.nc"]


def test_a_folder_is_not_a_forecast_target(tmp_path: Path) -> None:
    with pytest.raises(SstcastError) as excinfo:
        sst_writer(tmp_path)
    one_line_error(excinfo, str(tmp_path), "folder")


def test_a_failed_write_discards_the_file(tmp_path: Path) -> None:
    path = tmp_path / "f.nc"
    writer = sst_writer(path)
    writer.append(*block(1))
    writer._nc.close()  # the file goes away under the writer (as on an I/O error)
    with pytest.raises(SstcastError) as excinfo:
        writer.append(*block(1, "2021-04-01"))
    one_line_error(excinfo, str(path), "failed", "nothing written")
    assert leftovers(tmp_path) == []
    with pytest.raises(SstcastError):
        writer.close()


def test_rewriting_an_opened_forecast_keeps_it(kind: str, mock: xr.Dataset, tmp_path: Path) -> None:
    first = write_forecast(mock, tmp_path / "a.nc", attrs={"model": "m"})
    with open_forecast(first) as ds:
        second = write_forecast(ds, tmp_path / "b.nc", block_size=2)
    with xr.open_dataset(first) as a, xr.open_dataset(second) as b:
        xr.testing.assert_identical(a.drop_attrs(deep=False), b.drop_attrs(deep=False))
        assert b.attrs["model"] == "m" and len(b.attrs["history"].splitlines()) == 2
