"""Finding the SST variable and its latitude, longitude and time by CF attributes (cf-xarray).

Each file is written with netCDF4 directly, with names no table lists (``temp_surface``,
``y``/``x``, ``t``), so only the CF attributes can identify them; the values are the known
field of ``tests.builders.truth``, so a wrong axis shows in the values.
"""

from __future__ import annotations

import logging
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from sstcast.errors import SstcastError
from sstcast.sources.netcdf_sst import open_sst
from tests.builders import DAYS, LAT, LON, truth, write_cf


def odd_file(
    path: Path,
    *,
    name: str = "temp_surface",
    var_attrs: dict[str, str] | None = None,
    lat: tuple[str, dict[str, str]] = ("y", {"axis": "Y"}),
    lon: tuple[str, dict[str, str]] = ("x", {"axis": "X"}),
    time: tuple[str, dict[str, str]] = ("t", {"axis": "T"}),
    extra_lat: tuple[str, dict[str, str]] | None = None,
    aux: bool = False,
) -> Path:
    """``name(t, y, x)`` in degC with the given names and attributes (no standard names
    unless asked). ``aux``: lat/lon are auxiliary coordinates ``glat(j)``/``glon(i)`` named
    by the variable's ``coordinates`` attribute, the dimensions ``j``/``i`` having no values.
    ``extra_lat``: a second coordinate variable along the longitude dimension."""
    var_attrs = {"standard_name": "sea_surface_temperature", "units": "degC"} | (var_attrs or {})
    (lat_name, lat_attrs), (lon_name, lon_attrs), (t_name, t_attrs) = lat, lon, time
    lat_dim, lon_dim = ("j", "i") if aux else (lat_name, lon_name)
    with netCDF4.Dataset(path, "w") as nc:
        nc.createDimension(t_name, DAYS.size)
        nc.createDimension(lat_dim, LAT.size)
        nc.createDimension(lon_dim, LON.size)
        t = nc.createVariable(t_name, "f8", (t_name,))
        t.setncatts({"units": "days since 1800-01-01", **t_attrs})
        t[:] = DAYS
        la = nc.createVariable(lat_name, "f4", (lat_dim,))
        la.setncatts(lat_attrs)
        la[:] = LAT
        lo = nc.createVariable(lon_name, "f4", (lon_dim,))
        lo.setncatts(lon_attrs)
        lo[:] = LON
        if extra_lat is not None:
            ex = nc.createVariable(extra_lat[0], "f4", (lon_dim,))
            ex.setncatts(extra_lat[1])
            ex[:] = LON
        v = nc.createVariable(name, "f4", (t_name, lat_dim, lon_dim))
        v.setncatts(var_attrs)
        if aux:
            v.coordinates = f"{lat_name} {lon_name}"
        v[:] = truth(DAYS, LAT, LON)
    return path


def assert_standard(ds, source_variable: str = "temp_surface") -> None:
    assert tuple(ds["sst"].dims) == ("time", "lat", "lon")
    assert ds.attrs["source_variable"] == source_variable
    np.testing.assert_array_equal(ds["lat"].values, LAT)
    np.testing.assert_array_equal(ds["lon"].values, LON)
    assert ds.sizes["time"] == DAYS.size
    np.testing.assert_allclose(ds["sst"].values, truth(DAYS, LAT, LON), atol=1e-5)


def test_variable_by_standard_name_and_axes_by_axis_attribute(tmp_path: Path) -> None:
    """temp_surface, y, x and t: only standard_name and axis Y/X/T say what they are."""
    assert_standard(open_sst(odd_file(tmp_path / "a.nc")))


def test_axes_by_units_only(tmp_path: Path) -> None:
    path = odd_file(
        tmp_path / "a.nc",
        lat=("y", {"units": "degrees_north"}),
        lon=("x", {"units": "degree_E"}),
        time=("t", {}),
    )
    assert_standard(open_sst(path))


def test_foundation_temperature_and_auxiliary_coordinates(tmp_path: Path) -> None:
    """lat/lon as auxiliary coordinates named by the ``coordinates`` attribute, found by
    their standard names; the dimensions themselves have no coordinate variables."""
    path = odd_file(
        tmp_path / "a.nc",
        name="analysed",
        var_attrs={"standard_name": "sea_surface_foundation_temperature"},
        lat=("glat", {"standard_name": "latitude"}),
        lon=("glon", {"standard_name": "longitude"}),
        aux=True,
    )
    assert_standard(open_sst(path), "analysed")


def test_latitude_longitude_as_plain_variables(tmp_path: Path) -> None:
    """glat(j)/glon(i) with CF units but named by no ``coordinates`` attribute: still found
    (variables along the SST variable's dimensions are candidate coordinates)."""
    path = odd_file(
        tmp_path / "a.nc",
        lat=("glat", {"units": "degrees_north"}),
        lon=("glon", {"units": "degrees_east"}),
        aux=True,
    )
    with netCDF4.Dataset(path, "a") as nc:
        nc["temp_surface"].delncattr("coordinates")
    assert_standard(open_sst(path))


def test_name_fallback_without_cf_attributes(tmp_path: Path) -> None:
    path = write_cf(
        tmp_path / "a.nc", lat=LAT, lon=LON, days=DAYS, lat_name="latitude", coord_attrs=False
    )
    assert_standard(open_sst(path), "sst")


def test_sea_surface_temperature_preferred_to_sea_water_temperature(tmp_path: Path) -> None:
    path = odd_file(tmp_path / "a.nc", name="tsurf")
    with netCDF4.Dataset(path, "a") as nc:
        w = nc.createVariable("thetao", "f4", ("t", "y", "x"))
        w.standard_name, w.units = "sea_water_temperature", "degC"
        w[:] = np.zeros((DAYS.size, LAT.size, LON.size))
    assert_standard(open_sst(path), "tsurf")


def test_two_variables_with_one_standard_name_are_ambiguous(tmp_path: Path) -> None:
    path = odd_file(tmp_path / "two.nc")
    with netCDF4.Dataset(path, "a") as nc:
        w = nc.createVariable("sst_night", "f4", ("t", "y", "x"))
        w.standard_name, w.units = "sea_surface_temperature", "degC"
        w[:] = np.zeros((DAYS.size, LAT.size, LON.size))
    with pytest.raises(SstcastError) as err:
        open_sst(path)
    message = str(err.value)
    assert message.startswith(str(path)) and "\n" not in message
    assert "ambiguous SST variable" in message and "'sst_night', 'temp_surface'" in message
    assert "--variable" in message
    assert open_sst(path, variable="temp_surface").attrs["source_variable"] == "temp_surface"


def test_two_latitude_coordinates_are_ambiguous(tmp_path: Path) -> None:
    """y is a latitude by its axis, but the x dimension also carries degrees_north."""
    path = odd_file(
        tmp_path / "lat2.nc",
        lat=("y", {"units": "degrees_north"}),
        lon=("x", {"units": "degrees_east"}),
        extra_lat=("x_lat", {"units": "degrees_north"}),
    )
    with netCDF4.Dataset(path, "a") as nc:
        nc["temp_surface"].coordinates = "x_lat"
    with pytest.raises(SstcastError, match=r"lat2.nc: .*several latitude coordinates"):
        open_sst(path)


def test_rotated_pole_axis_is_not_latitude(tmp_path: Path) -> None:
    """axis Y on grid_latitude (a rotated pole) is no true latitude: refused, not misread."""
    path = odd_file(
        tmp_path / "rot.nc",
        lat=("rlat", {"axis": "Y", "standard_name": "grid_latitude", "units": "degrees"}),
        lon=("rlon", {"axis": "X", "standard_name": "grid_longitude", "units": "degrees"}),
    )
    with pytest.raises(SstcastError, match=r"rot.nc: .*no latitude/longitude coordinates"):
        open_sst(path)


def test_global_attributes_kept_from_the_first_file(tmp_path: Path, caplog) -> None:
    a = write_cf(tmp_path / "a.nc", lat=LAT, lon=LON, days=DAYS[:3])
    b = write_cf(tmp_path / "b.nc", lat=LAT, lon=LON, days=DAYS[3:])
    with netCDF4.Dataset(a, "a") as nc:
        nc.setncatts(
            {
                "title": "OISST v2.1",
                "institution": "NOAA",
                "References": "https://x",
                "license": "CC0",
            }
        )
    with netCDF4.Dataset(b, "a") as nc:
        nc.setncatts({"title": "OISST v2.1 (interim)", "institution": "NOAA", "source": "AVHRR"})
    with caplog.at_level(logging.DEBUG, logger="sstcast.sources.netcdf_sst"):
        ds = open_sst([a, b])
    assert ds.attrs["source_title"] == "OISST v2.1"
    assert ds.attrs["institution"] == "NOAA"
    assert ds.attrs["references"] == "https://x"  # OISST spells it References
    assert ds.attrs["license"] == "CC0"
    assert "source" not in ds.attrs  # only the second file has one: the first's are kept
    (record,) = [r for r in caplog.records if "differ from the first file" in r.getMessage()]
    assert record.levelno == logging.DEBUG
    assert "b.nc" in record.getMessage() and "source, source_title" in record.getMessage()


def test_mask_is_a_cf_sea_binary_mask(tmp_path: Path) -> None:
    land = np.zeros((LAT.size, LON.size), bool)
    land[:2] = True
    ds = open_sst(write_cf(tmp_path / "a.nc", lat=LAT, lon=LON, days=DAYS, land=land))
    mask = ds["mask"]
    assert mask.dtype == np.int8
    assert mask.attrs["standard_name"] == "sea_binary_mask"
    assert mask.attrs["flag_meanings"] == "land sea"
    assert list(mask.attrs["flag_values"]) == [0, 1]
    np.testing.assert_array_equal(mask.values, (~land).astype("int8"))
