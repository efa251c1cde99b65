"""The CF NetCDF SST reader on synthetic files shaped like real products.

``write_cf`` writes small files with netCDF4 directly, so each test controls exactly the
layout a product ships with (descending latitude, -180..180 longitude, packed int16,
Kelvin, odd names, depth dimensions, ...). The field is a known function of time, latitude
and longitude, so every value that comes back can be checked.
"""

from __future__ import annotations

from pathlib import Path

import dask.array as da
import netCDF4
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from sstcast.errors import SstcastError
from sstcast.sources import infer_frequency
from sstcast.sources.netcdf_sst import (
    celsius_offset,
    cut_region,
    open_sst,
)
from tests.builders import DAYS, LAT, LON, as_days, truth, write_cf


def test_plain_file_standard_dataset(tmp_path: Path) -> None:
    path = write_cf(tmp_path / "a.nc", lat=LAT, lon=LON, days=DAYS)
    ds = open_sst([path])
    assert tuple(ds["sst"].dims) == ("time", "lat", "lon")
    assert ds["sst"].dtype == np.float32
    assert ds["sst"].attrs["units"] == "degC"
    assert ds["time"].dtype == np.dtype("datetime64[ns]")
    assert ds["lat"].dtype == np.float64
    assert isinstance(ds["sst"].data, da.Array), "the reader must stay lazy"
    np.testing.assert_allclose(ds["sst"].values, truth(DAYS, LAT, LON), atol=1e-5)
    assert int(ds["mask"].sum()) == LAT.size * LON.size


def test_descending_latitude_comes_back_ascending(tmp_path: Path) -> None:
    lat = LAT[::-1]
    path = write_cf(tmp_path / "a.nc", lat=lat, lon=LON, days=DAYS)
    ds = open_sst([path], bbox=(21, 25, 101, 104))
    np.testing.assert_array_equal(ds["lat"].values, [21, 22, 23, 24, 25])
    np.testing.assert_allclose(
        ds["sst"].values, truth(DAYS, ds["lat"].values, ds["lon"].values), atol=1e-5
    )


def test_lon_minus180_180_box_across_greenwich(tmp_path: Path) -> None:
    lon = np.arange(-180.0, 180.0, 5.0)
    path = write_cf(tmp_path / "a.nc", lat=LAT, lon=lon, days=DAYS)
    for west, east in [(350.0, 10.0), (-10.0, 10.0)]:
        ds = open_sst([path], bbox=(20, 22, west, east))
        np.testing.assert_array_equal(ds["lon"].values, [-10, -5, 0, 5, 10])
        np.testing.assert_allclose(
            ds["sst"].values, truth(DAYS, ds["lat"].values, ds["lon"].values), atol=1e-5
        )


@pytest.mark.parametrize("lon", [np.arange(0.0, 360.0, 5.0), np.arange(-180.0, 180.0, 5.0)])
def test_box_across_dateline(tmp_path: Path, lon: np.ndarray) -> None:
    """West > east crosses 180: output lon ascends in 0..360 whatever the file's convention."""
    path = write_cf(tmp_path / "a.nc", lat=LAT, lon=lon, days=DAYS)
    ds = open_sst([path], bbox=(20, 23, 170, -170))
    np.testing.assert_array_equal(ds["lon"].values, [170, 175, 180, 185, 190])
    assert np.all(np.diff(ds["lon"].values) > 0)
    np.testing.assert_allclose(
        ds["sst"].values, truth(DAYS, ds["lat"].values, ds["lon"].values), atol=1e-5
    )


def test_packed_int16_with_fill_and_scale(tmp_path: Path) -> None:
    land = np.zeros((LAT.size, LON.size), bool)
    land[2:4, 5:7] = True
    path = write_cf(tmp_path / "a.nc", lat=LAT, lon=LON, days=DAYS, packed=True, land=land)
    with netCDF4.Dataset(path) as nc:  # really packed on disk
        assert nc["sst"].dtype == np.int16
    ds = open_sst([path])
    got = ds["sst"].values
    assert np.isnan(got[:, land]).all()
    np.testing.assert_allclose(got[:, ~land], truth(DAYS, LAT, LON)[:, ~land], atol=0.006)
    assert int(ds["mask"].sum()) == land.size - land.sum()
    assert ds["mask"].dtype == np.int8


def test_kelvin_analysed_sst_found_by_standard_name(tmp_path: Path) -> None:
    path = write_cf(
        tmp_path / "ostia.nc",
        lat=LAT,
        lon=LON,
        days=DAYS,
        name="foundation",
        units="kelvin",
        standard_name="sea_surface_foundation_temperature",
        kelvin=True,
        packed=True,
    )
    ds = open_sst([path])
    assert ds.attrs["source_variable"] == "foundation"
    np.testing.assert_allclose(ds["sst"].values, truth(DAYS, LAT, LON), atol=0.006)


def test_variable_found_by_name_and_option(tmp_path: Path) -> None:
    path = write_cf(tmp_path / "a.nc", lat=LAT, lon=LON, days=DAYS, name="analysed_sst", units="K")
    ds = open_sst([path])
    assert ds.attrs["source_variable"] == "analysed_sst"
    np.testing.assert_allclose(ds["sst"].values, truth(DAYS, LAT, LON) - 273.15, atol=1e-4)
    ds = open_sst([path], variable="analysed_sst")
    assert ds.attrs["source_variable"] == "analysed_sst"
    with pytest.raises(SstcastError, match="no variable 'temp'; variables there: analysed_sst"):
        open_sst([path], variable="temp")


@pytest.mark.parametrize(
    ("units", "offset"),
    [
        ("K", -273.15),
        ("kelvin", -273.15),
        ("degK", -273.15),
        ("degree_K", -273.15),
        ("degC", 0.0),
        ("Celsius", 0.0),
        ("deg_C", 0.0),
        ("degrees_Celsius", 0.0),
        ("degree C", 0.0),
        ("°C", 0.0),
    ],
)
def test_units_recognised(units: str, offset: float) -> None:
    assert celsius_offset(units, "f.nc") == offset


@pytest.mark.parametrize("units", ["degF", "m", None, ""])
def test_unknown_units_rejected(units: str | None) -> None:
    with pytest.raises(SstcastError, match=r"f.nc: unknown temperature units"):
        celsius_offset(units, "f.nc")


def test_duplicated_and_unsorted_times_across_files(tmp_path: Path) -> None:
    late = 78000.0 + np.array([5.0, 6.0, 7.0, 8.0])
    early = 78000.0 + np.array([3.0, 0.0, 1.0, 2.0, 5.0, 4.0, 6.0])  # unsorted, overlaps late
    first = write_cf(tmp_path / "late.nc", lat=LAT, lon=LON, days=late)
    # The second file's values differ, so we can tell which copy of a duplicate was kept.
    second_values = truth(early, LAT, LON) + 100.0
    second = write_cf(tmp_path / "early.nc", lat=LAT, lon=LON, days=early, values=second_values)
    notes: list[str] = []
    ds = open_sst([first, second], notes=notes)
    days = as_days(ds["time"].values)
    np.testing.assert_array_equal(days, 78000.0 + np.arange(9))
    assert any("dropped 2 duplicated time steps" in n for n in notes)
    got = ds["sst"].values
    np.testing.assert_allclose(got[5:], truth(late, LAT, LON), atol=1e-5)  # first file wins
    np.testing.assert_allclose(got[:5], truth(days[:5], LAT, LON) + 100.0, atol=1e-4)


@pytest.mark.parametrize("depth", ["depth", "zlev"])
def test_singleton_depth_squeezed(tmp_path: Path, depth: str) -> None:
    path = write_cf(
        tmp_path / "a.nc",
        lat=LAT,
        lon=LON,
        days=DAYS,
        name="thetao",
        standard_name="sea_water_temperature",
        depth=depth,
    )
    ds = open_sst([path])
    assert tuple(ds["sst"].dims) == ("time", "lat", "lon")
    np.testing.assert_allclose(ds["sst"].values, truth(DAYS, LAT, LON), atol=1e-5)


def test_latitude_longitude_names_and_attrs(tmp_path: Path) -> None:
    """Coordinates named latitude/longitude, or odd names known only by their CF units."""
    path = write_cf(
        tmp_path / "a.nc", lat=LAT, lon=LON, days=DAYS, lat_name="latitude", lon_name="longitude"
    )
    ds = open_sst([path], bbox=(20, 21, 100, 101))
    assert ds.sizes == {"time": 6, "lat": 2, "lon": 2}
    path = write_cf(tmp_path / "b.nc", lat=LAT, lon=LON, days=DAYS, lat_name="yy", lon_name="xx")
    ds = open_sst([path])
    np.testing.assert_array_equal(ds["lat"].values, LAT)


def test_classic_netcdf3_and_single_step_file(tmp_path: Path) -> None:
    path = write_cf(tmp_path / "a.nc", lat=LAT, lon=LON, days=DAYS[:1], fmt="NETCDF3_CLASSIC")
    ds = open_sst([path])
    assert ds.sizes["time"] == 1
    np.testing.assert_allclose(ds["sst"].values, truth(DAYS[:1], LAT, LON), atol=1e-5)


def test_glob_of_files_in_time_order(tmp_path: Path) -> None:
    for year, start in [(2011, 78400.0), (2010, 78000.0)]:
        write_cf(tmp_path / f"sst.day.mean.{year}.nc", lat=LAT, lon=LON, days=start + np.arange(3))
    ds = open_sst([str(tmp_path / "sst.day.mean.*.nc")])
    assert ds.sizes["time"] == 6
    assert np.all(np.diff(ds["time"].values) > np.timedelta64(0))


def test_cut_region_outside_data_is_an_error(tmp_path: Path) -> None:
    path = write_cf(tmp_path / "a.nc", lat=LAT, lon=LON, days=DAYS)
    ds = open_sst([path])
    with pytest.raises(SstcastError, match="outside the data"):
        cut_region(ds, (50, 60, 100, 110))
    with pytest.raises(SstcastError, match="outside the data"):
        cut_region(ds, (20, 25, -50, -40))
    sub = cut_region(ds, (22, 24, 103, 105))
    assert sub.sizes["lat"] == 3 and sub.sizes["lon"] == 3


def test_infer_frequency() -> None:
    assert infer_frequency(pd.date_range("2010-01-01", periods=5, freq="D").values) == "1D"
    assert infer_frequency(pd.date_range("2010-01-01", periods=5, freq="MS").values) == "1MS"
    # missing days are gaps in a daily series, not an irregular axis
    gappy = np.array(["2010-01-01", "2010-01-02", "2010-01-03", "2010-01-06"], "M8[ns]")
    assert infer_frequency(gappy) == "1D"
    gappy_months = pd.date_range("2010-01-01", periods=12, freq="MS").delete(4).values
    assert infer_frequency(gappy_months) == "1MS"
    assert infer_frequency(np.array(["2010-01-01"], "M8[ns]")) == "irregular"


def test_small_chunk_cache_while_opening_then_restored(tmp_path: Path) -> None:
    """netCDF-C keeps a 64 MiB chunk cache per open file; the reader uses a small one."""
    from sstcast.sources.netcdf_sst import CHUNK_CACHE_BYTES, netcdf_chunk_cache

    before = netCDF4.get_chunk_cache()
    with netcdf_chunk_cache():
        assert netCDF4.get_chunk_cache()[0] == CHUNK_CACHE_BYTES
    open_sst([write_cf(tmp_path / "a.nc", lat=LAT, lon=LON, days=DAYS)])
    assert netCDF4.get_chunk_cache() == before


def test_expand_files_and_formats(tmp_path: Path) -> None:
    from sstcast.sources import expand_files, file_format

    a = write_cf(tmp_path / "a.nc", lat=LAT, lon=LON, days=DAYS)
    b = write_cf(tmp_path / "b.nc", lat=LAT, lon=LON, days=DAYS, fmt="NETCDF3_64BIT_OFFSET")
    (tmp_path / "c.txt").write_text("text")
    assert expand_files([str(tmp_path / "*.nc"), a]) == [a, b]  # sorted, no repeats
    assert (file_format(a), file_format(b), file_format(tmp_path / "c.txt")) == (
        "hdf5",
        "netcdf3",
        "unknown",
    )
    with pytest.raises(SstcastError, match="no input files given"):
        expand_files([])
    with pytest.raises(SstcastError, match="not a file"):
        expand_files([tmp_path])


def test_files_with_opposite_lat_order_are_one_grid(tmp_path: Path) -> None:
    lat = np.array([10.0, 12.0, 14.0])
    lon = np.array([120.0, 122.0])
    paths = []
    for i, (order, start) in enumerate([(lat, "2000-01-01"), (lat[::-1], "2000-01-04")]):
        values = np.broadcast_to(order.astype(np.float32)[None, :, None], (3, 3, 2)).copy()
        ds = xr.Dataset(
            {"sst": (("time", "lat", "lon"), values, {"units": "degC"})},
            coords={
                "time": pd.date_range(start, periods=3, freq="D"),
                "lat": ("lat", order, {"units": "degrees_north"}),
                "lon": ("lon", lon, {"units": "degrees_east"}),
            },
        )
        paths.append(tmp_path / f"f{i}.nc")
        ds.to_netcdf(paths[-1])
    out = open_sst(paths)
    assert out["lat"].values.tolist() == [10.0, 12.0, 14.0]
    # every value equals its latitude, in both files
    np.testing.assert_array_equal(out["sst"].values, np.broadcast_to(lat[None, :, None], (6, 3, 2)))


def test_values_outside_the_valid_range_are_missing(tmp_path: Path) -> None:
    """CF: valid_range / valid_max (in stored units) mark what is missing."""
    path = write_cf(tmp_path / "a.nc", lat=LAT, lon=LON, days=DAYS)
    expected = truth(DAYS, LAT, LON)
    limit = float(np.median(expected))
    with netCDF4.Dataset(path, "a") as nc:
        nc["sst"].valid_max = np.float32(limit)
    sst = open_sst(path)["sst"].values
    assert np.isnan(sst[expected > limit + 1e-4]).all()
    np.testing.assert_allclose(
        sst[expected < limit - 1e-4], expected[expected < limit - 1e-4], atol=1e-5
    )
