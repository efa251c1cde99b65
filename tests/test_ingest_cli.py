"""``sstcast ingest`` and ``sstcast sample`` through the command line (typer's CliRunner).

Every bad input gets one line on stderr, a non-zero exit and nothing written. The real NOAA
ERSSTv5 file (``ersst_file`` fixture) goes through the whole ingest.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import netCDF4
import numpy as np
import pytest
from typer.testing import CliRunner

from sstcast.cli import app
from sstcast.cube import open_cube
from sstcast.ingest import READERS, SAMPLE_SOURCES, ingest_source, ingest_sst, ingest_taxibj
from tests.builders import DAYS, LAT, LON, truth, write_cf

REPO = Path(__file__).resolve().parents[1]
ERSST_SHA256 = "eade01e2085d841f2ff94fa6886b08a65c5018f576b066c57880726006f28ba6"

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def assert_fails(result, *words: str) -> str:
    """Non-zero exit, exactly one error line on stderr (log lines aside) with ``words``."""
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    lines = [line for line in lines if line.startswith("error")]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    """The project's catalog, copied so that relative paths resolve inside tmp_path."""
    path = tmp_path / "data_catalog.yaml"
    shutil.copy(REPO / "data_catalog.yaml", path)
    return path


# --------------------------------------------------------------------------------------
# The real file
# --------------------------------------------------------------------------------------
def test_real_ersst_east_china_seas(ersst_file: Path, tmp_path: Path, catalog: Path) -> None:
    out = tmp_path / "ersst.zarr"
    result = run(
        "ingest", "ersst", "--files", ersst_file, "--region", "east_china_seas",
        "--out", out, "--catalog", catalog,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "ocean     48 cells" in result.stdout
    assert "2010-01-01" in result.stdout and "2020-08-01" in result.stdout
    cube = open_cube(out)
    assert cube["sst"].shape == (128, 10, 8)
    np.testing.assert_array_equal(cube["lat"].values, np.arange(24.0, 43.0, 2.0))
    np.testing.assert_array_equal(cube["lon"].values, np.arange(116.0, 131.0, 2.0))
    assert int(cube["mask"].sum()) == 48
    sst = cube["sst"].values
    land = cube["mask"].values == 0
    assert np.isnan(sst[:, land]).all()
    assert not np.isnan(sst[:, ~land]).any()
    assert -2.5 < np.nanmin(sst) and np.nanmax(sst) < 33
    # Summer warmer than winter in the north of the box (Yellow Sea, ~36 N).
    yellow = cube["sst"].sel(lat=36, lon=124).load()
    assert float(yellow.sel(time="2015-08-01")) > float(yellow.sel(time="2015-02-01")) + 10
    assert cube.attrs["frequency"] == "1MS"
    assert cube.attrs["region"] == "east_china_seas"
    assert cube.attrs["bbox"] == [24.0, 42.0, 116.0, 130.0]
    (source,) = json.loads(cube.attrs["source_files"])
    assert source["sha256"] == ERSST_SHA256 and source["size"] == 4024972
    assert cube.attrs["source_title"] == "NOAA ERSSTv5 (in situ only)"
    assert cube.attrs["license"] == "No constraints on data access or use"
    assert cube.attrs["references"].startswith("https://www.ncdc.noaa.gov/")  # "References"
    assert cube.attrs["time_coverage_start"] == "2010-01-01T00:00:00Z"
    assert cube.attrs["time_coverage_end"] == "2020-08-01T00:00:00Z"


# --------------------------------------------------------------------------------------
# Synthetic files through the CLI
# --------------------------------------------------------------------------------------
def ocean_file(path: Path, **kw) -> Path:
    land = np.zeros((LAT.size, LON.size), bool)
    land[:, :3] = True  # the west is land
    kw.setdefault("land", land)
    return write_cf(path, lat=LAT, lon=LON, days=DAYS, **kw)


def test_ingest_bbox_then_idempotent_then_force(tmp_path: Path, catalog: Path) -> None:
    src = ocean_file(tmp_path / "a.nc")
    out = tmp_path / "cubes" / "a.zarr"
    args = ["ingest", "--files", src, "--bbox", "21,25,101,106", "--out", out, "--catalog", catalog]
    first = run(*args)
    assert first.exit_code == 0, first.output
    cube = open_cube(out)
    assert cube["sst"].shape == (6, 5, 6)
    assert int(cube["mask"].sum()) == 5 * 4
    np.testing.assert_allclose(
        cube["sst"].values[:, :, 2:], truth(DAYS, cube["lat"].values, cube["lon"].values[2:])
    )
    stamp = (out / "zarr.json").stat().st_mtime_ns
    second = run(*args)
    assert second.exit_code == 0 and "up to date, nothing to do" in second.stdout
    assert (out / "zarr.json").stat().st_mtime_ns == stamp
    other = [
        "ingest",
        "--files",
        src,
        "--bbox",
        "21,26,101,106",
        "--out",
        out,
        "--catalog",
        catalog,
    ]
    assert_fails(run(*other), "different provenance", "--force")
    forced = run(*other, "--force")
    assert forced.exit_code == 0, forced.output
    assert open_cube(out)["sst"].shape == (6, 6, 6)


def test_shell_expanded_files_and_variable(tmp_path: Path, catalog: Path) -> None:
    kw = {"lat": LAT, "lon": LON, "name": "temp", "units": "K", "kelvin": True}
    a = write_cf(tmp_path / "a.nc", days=DAYS[:3], **kw)
    b = write_cf(tmp_path / "b.nc", days=DAYS[3:], **kw)
    out = tmp_path / "c.zarr"
    result = run(
        "ingest", "--files", a, b, "--variable", "temp", "--out", out, "--catalog", catalog
    )
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(open_cube(out)["sst"].values, truth(DAYS, LAT, LON), atol=1e-4)


def test_data_that_cannot_be_true(tmp_path: Path, catalog: Path) -> None:
    """Kelvin-range values labelled K but off by 273 (here: °C values called K), infinities,
    values outside the file's valid range: refused or missing, naming the input file."""
    out = tmp_path / "c.zarr"
    wrong = write_cf(tmp_path / "wrong.nc", lat=LAT, lon=LON, days=DAYS, units="K")
    line = assert_fails(
        run("ingest", "--files", wrong, "--out", out, "--catalog", catalog),
        "wrong.nc",
        "outside the plausible -5..45",
    )
    assert "--allow-implausible" in line and not out.exists()
    ok = run("ingest", "--files", wrong, "--out", out, "--catalog", catalog, "--allow-implausible")
    assert ok.exit_code == 0, ok.output
    import netCDF4

    values = truth(DAYS, LAT, LON).copy()
    values[1, 0, 0] = 1e30  # no fill value declared: implausible, refused
    bad = write_cf(tmp_path / "bad.nc", lat=LAT, lon=LON, days=DAYS, values=values)
    assert_fails(
        run("ingest", "--files", bad, "--out", tmp_path / "d.zarr", "--catalog", catalog),
        "bad.nc",
        "1 SST value(s)",
    )
    inf_only = write_cf(tmp_path / "inf.nc", lat=LAT, lon=LON, days=DAYS)
    with netCDF4.Dataset(inf_only, "a") as nc:
        nc["sst"][0, 0, 0] = np.inf  # non-finite: missing, as CF readers treat it
    result = run("ingest", "--files", inf_only, "--out", tmp_path / "e.zarr", "--catalog", catalog)
    assert result.exit_code == 0, result.output
    cube = open_cube(tmp_path / "e.zarr")
    assert np.isnan(cube["sst"].values[0, 0, 0])  # infinite: missing


def test_memory_url_output(tmp_path: Path, catalog: Path) -> None:
    import fsspec

    src = ocean_file(tmp_path / "a.nc")
    url = "memory://cli-test/a.zarr"
    result = run("ingest", "--files", src, "--out", url, "--catalog", catalog)
    assert result.exit_code == 0, result.output
    assert open_cube(url)["sst"].shape == (6, 10, 10)
    fsspec.filesystem("memory").rm("/cli-test", recursive=True)


def test_scheduler_address(tmp_path: Path, catalog: Path) -> None:
    from distributed import LocalCluster

    src = ocean_file(tmp_path / "a.nc")
    out = tmp_path / "c.zarr"
    with LocalCluster(
        processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None
    ) as cluster:
        result = run(
            "ingest", "--files", src, "--out", out, "--catalog", catalog,
            "--scheduler", cluster.scheduler_address,
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert int(open_cube(out)["mask"].sum()) == 70


# --------------------------------------------------------------------------------------
# Bad input: one line, non-zero exit, nothing written
# --------------------------------------------------------------------------------------
def truncated(path: Path, fmt: str) -> Path:
    full = ocean_file(path.with_suffix(".full.nc"), fmt=fmt)
    data = full.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    full.unlink()
    return path


def curvilinear(path: Path) -> Path:
    with netCDF4.Dataset(path, "w") as nc:
        nc.createDimension("time", 2)
        nc.createDimension("y", 3)
        nc.createDimension("x", 4)
        t = nc.createVariable("time", "f8", ("time",))
        t.units = "days since 2000-01-01"
        t[:] = [0, 1]
        lat = nc.createVariable("nav_lat", "f4", ("y", "x"))
        lat.units, lat.standard_name = "degrees_north", "latitude"
        lon = nc.createVariable("nav_lon", "f4", ("y", "x"))
        lon.units, lon.standard_name = "degrees_east", "longitude"
        lat[:] = np.arange(12).reshape(3, 4)
        lon[:] = np.arange(12).reshape(3, 4)
        v = nc.createVariable("tos", "f4", ("time", "y", "x"))
        v.units, v.coordinates = "degC", "nav_lat nav_lon"
        v[:] = np.ones((2, 3, 4))
    return path


def no_latlon(path: Path) -> Path:
    with netCDF4.Dataset(path, "w") as nc:
        nc.createDimension("time", 2)
        nc.createDimension("y", 3)
        nc.createDimension("x", 4)
        t = nc.createVariable("time", "f8", ("time",))
        t.units = "days since 2000-01-01"
        t[:] = [0, 1]
        v = nc.createVariable("sst", "f4", ("time", "y", "x"))
        v.units = "degC"
        v[:] = np.ones((2, 3, 4))
    return path


def no_sst(path: Path) -> Path:
    write_cf(path, lat=LAT, lon=LON, days=DAYS, name="salinity", units="psu")
    with netCDF4.Dataset(path, "a") as nc:
        w = nc.createVariable("wind", "f4", ("time", "lat", "lon"))
        w[:] = np.zeros((DAYS.size, LAT.size, LON.size))
    return path


def bad_time_units(path: Path) -> Path:
    ocean_file(path)
    with netCDF4.Dataset(path, "a") as nc:
        nc["time"].units = "fortnights since the flood"
    return path


BAD_INPUTS = {
    "missing file": (lambda d: d / "nope.nc", ["nope.nc", "file not found"]),
    "glob matches nothing": (lambda d: d / "sst.*.nc", ["sst.*.nc", "no file matches"]),
    "not netcdf": (
        lambda d: (d / "notes.nc").write_text("hello, not a netcdf file\n" * 40) and d / "notes.nc",
        ["notes.nc", "not a NetCDF or HDF5 file"],
    ),
    "truncated netcdf4": (
        lambda d: truncated(d / "t4.nc", "NETCDF4"),
        ["t4.nc", "cannot be read as NetCDF", "truncated"],
    ),
    "truncated classic": (
        lambda d: truncated(d / "t3.nc", "NETCDF3_CLASSIC"),
        ["t3.nc", "truncated or corrupt"],
    ),
    "no sst variable": (
        lambda d: no_sst(d / "sal.nc"),
        ["sal.nc", "no SST-like variable", "salinity, wind"],
    ),
    "no lat/lon": (lambda d: no_latlon(d / "xy.nc"), ["xy.nc", "no latitude/longitude"]),
    "curvilinear": (
        lambda d: curvilinear(d / "nemo.nc"),
        ["nemo.nc", "curvilinear", "not supported yet"],
    ),
    "unknown units": (
        lambda d: ocean_file(d / "f.nc", units="degF"),
        ["f.nc", "unknown temperature units 'degF'"],
    ),
    "bad time units": (
        lambda d: bad_time_units(d / "f.nc"),
        ["f.nc", "cannot decode", "fortnights since the flood"],
    ),
    "missing units": (
        lambda d: ocean_file(d / "f.nc", units=None),
        ["f.nc", "unknown temperature units missing"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_one_line_nothing_written(case: str, tmp_path: Path, catalog: Path) -> None:
    make, words = BAD_INPUTS[case]
    raw = tmp_path / "raw"
    raw.mkdir()
    path = make(raw)
    out = tmp_path / "out" / "c.zarr"
    assert_fails(run("ingest", "--files", path, "--out", out, "--catalog", catalog), *words)
    assert not (tmp_path / "out").exists()


def test_files_on_different_grids(tmp_path: Path, catalog: Path) -> None:
    a = write_cf(tmp_path / "a.nc", lat=LAT, lon=LON, days=DAYS[:3])
    b = write_cf(tmp_path / "b.nc", lat=LAT[:5], lon=LON, days=DAYS[3:])
    out = tmp_path / "out" / "c.zarr"
    assert_fails(
        run("ingest", "--files", a, "--files", b, "--out", out, "--catalog", catalog),
        "b.nc",
        "different grid",
        "a.nc",
    )
    assert not (tmp_path / "out").exists()


def test_region_outside_and_region_without_ocean(tmp_path: Path, catalog: Path) -> None:
    src = ocean_file(tmp_path / "a.nc")
    out = tmp_path / "out" / "c.zarr"
    outside = run("ingest", "--files", src, "--region", "bohai", "--out", out, "--catalog", catalog)
    assert_fails(outside, "a.nc", "outside the data")
    land = run("ingest", "--files", src, "--bbox", "20,29,100,102", "--out", out,
               "--catalog", catalog)  # fmt: skip
    assert_fails(land, "a.nc", "has no ocean values")
    assert "writing" not in land.stderr  # refused before any cube was started
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("bbox", ["1,2,3", "a,b,c,d", "40,30,100,110", "0,10,100,100"])
def test_bad_bbox(bbox: str, tmp_path: Path, catalog: Path) -> None:
    src = ocean_file(tmp_path / "a.nc")
    assert_fails(run("ingest", "--files", src, f"--bbox={bbox}", "--catalog", catalog), "--bbox")


def test_unknown_source_and_region(tmp_path: Path, catalog: Path) -> None:
    assert_fails(run("ingest", "nosuch", "--catalog", catalog), "unknown source 'nosuch'")
    assert_fails(
        run("ingest", "ersst", "--region", "mars", "--catalog", catalog), "unknown region 'mars'"
    )
    assert_fails(run("ingest", "--catalog", tmp_path / "none.yaml"), "none.yaml", "not found")


def test_default_source_without_raw_data_points_to_sample(catalog: Path) -> None:
    line = assert_fails(run("ingest", "--catalog", catalog), "source oisst", "no raw data")
    assert "sstcast sample" in line and "sstcast ingest sample_sst" in line
    assert "--sample" in line
    line = assert_fails(run("ingest", "sample_sst", "--catalog", catalog), "run `sstcast sample`")


@pytest.fixture
def fake_sample(monkeypatch):
    """A stand-in for ``sstcast.sample.write_sample`` writing two tiny OISST-like years."""
    calls = []

    def write_sample(out, seed=0, years=None, progress=True):
        calls.append({"out": Path(out), "seed": seed, "years": years})
        sst = Path(out) / "sst"
        sst.mkdir(parents=True, exist_ok=True)
        lat = np.arange(36.0, 42.0, 0.5)
        lon = np.arange(117.0, 123.0, 0.5)
        for i, year in enumerate(years or [2010, 2011]):
            days = 76700.0 + 365 * i + np.arange(4)
            write_cf(sst / f"sst.day.mean.{year}.nc", lat=lat, lon=lon, days=days)

    import sstcast.sample

    monkeypatch.setattr(sstcast.sample, "write_sample", write_sample)
    return calls


def test_ingest_sample_generates_it_when_missing(fake_sample, catalog: Path) -> None:
    result = run("ingest", "--sample", "--catalog", catalog)
    assert result.exit_code == 0, result.output
    assert len(fake_sample) == 1 and fake_sample[0]["out"] == catalog.parent / "data" / "sample"
    cube = open_cube(catalog.parent / "data" / "cubes" / "sample_sst_bohai.zarr")
    assert cube.attrs["region"] == "bohai"
    assert cube.sizes["time"] == 8
    again = run("ingest", "--sample", "--catalog", catalog)
    assert again.exit_code == 0 and "nothing to do" in again.stdout
    assert len(fake_sample) == 1, "an existing sample is not written again"


def test_sample_command_passes_options(fake_sample, tmp_path: Path) -> None:
    result = run("sample", "--out", tmp_path / "s", "--seed", "7", "--years", "2010-2012")
    assert result.exit_code == 0, result.output
    assert fake_sample[-1] == {"out": tmp_path / "s", "seed": 7, "years": [2010, 2011, 2012]}
    result = run("sample", "--out", tmp_path / "s", "--years", "2010,2014")
    assert fake_sample[-1]["years"] == [2010, 2014]
    assert_fails(run("sample", "--years", "ten"), "--years 'ten'")


def test_library_ingest_sst_and_source(tmp_path: Path, catalog: Path) -> None:
    src = ocean_file(tmp_path / "a.nc")
    result = ingest_sst([src], tmp_path / "c.zarr", (20, 29, 100, 109), progress=False)
    assert result.written and result.ocean_cells == 70
    assert result.sizes == {"time": 6, "lat": 10, "lon": 10}
    again = ingest_source(
        catalog, "ersst", files=[str(src)], bbox=(20, 29, 100, 109), out=str(tmp_path / "c.zarr"),
        progress=False,
    )  # fmt: skip
    # Same files and box but another region label: a different provenance.
    assert again.path == str(tmp_path / "c.zarr") or again.written


def test_sst_cube_attributes_cf_and_acdd(tmp_path: Path) -> None:
    """Source attributes carried, ACDD extent (a box across 180°: lon_min > lon_max), the
    mask a CF sea_binary_mask; TaxiBJ cubes have no mask and no geospatial extent."""
    lon = np.arange(160.0, 200.0, 5.0)  # 160..195 in the file: across the date line
    src = write_cf(tmp_path / "a.nc", lat=LAT, lon=lon, days=DAYS)
    with netCDF4.Dataset(src, "a") as nc:
        nc.setncatts({"title": "Toy OISST", "institution": "Lab", "license": "CC-BY-4.0"})
    result = ingest_sst([src], tmp_path / "c.zarr", (21, 24, 170, -170), progress=False)
    cube = open_cube(result.path)
    attrs = cube.attrs
    assert attrs["Conventions"] == "CF-1.8, ACDD-1.3"
    assert attrs["title"] == "sea surface temperature, region bbox_21_24_170_-170"
    assert attrs["source_title"] == "Toy OISST"
    assert (attrs["institution"], attrs["license"]) == ("Lab", "CC-BY-4.0")
    assert "references" not in attrs and "source" not in attrs  # the file has none
    assert (attrs["geospatial_lat_min"], attrs["geospatial_lat_max"]) == (21.0, 24.0)
    assert (attrs["geospatial_lon_min"], attrs["geospatial_lon_max"]) == (170.0, -170.0)
    assert attrs["geospatial_lat_units"] == "degrees_north"
    assert attrs["geospatial_lon_units"] == "degrees_east"
    assert attrs["time_coverage_start"] == "2013-07-23T00:00:00Z"
    assert attrs["time_coverage_end"] == "2013-07-28T00:00:00Z"
    assert "region bbox_21_24_170_-170" in attrs["summary"] and "Toy OISST" in attrs["summary"]
    assert "sea surface temperature" in attrs["keywords"]
    assert cube["sst"].attrs["coverage_content_type"] == "physicalMeasurement"
    mask = cube["mask"]
    assert mask.dtype == np.int8 and int(mask.sum()) == 4 * 5
    assert mask.attrs["standard_name"] == "sea_binary_mask"
    assert list(mask.attrs["flag_values"]) == [0, 1]
    assert mask.attrs["flag_meanings"] == "land sea"

    write_taxibj_raw(tmp_path / "bj")
    bj = open_cube(
        ingest_taxibj(
            [tmp_path / "bj" / "BJ16_M32x32_T30_InOut.h5"], tmp_path / "bj.zarr", progress=False
        ).path
    )
    assert "mask" not in bj and not any(k.startswith("geospatial") for k in bj.attrs)


def write_taxibj_raw(folder: Path, days: int = 2) -> None:
    """A tiny TaxiBJ set in the real layout: flows, meteorology and holidays."""
    import h5py

    folder.mkdir(parents=True, exist_ok=True)
    codes = [f"201603{d + 1:02d}{s:02d}".encode() for d in range(days) for s in range(1, 49)]
    codes = codes[:-3]  # the last day misses three slots
    rng = np.random.default_rng(0)
    data = rng.uniform(-1, 50, (len(codes), 2, 32, 32))
    with h5py.File(folder / "BJ16_M32x32_T30_InOut.h5", "w") as f:
        f["data"] = data
        f["date"] = np.array(codes, dtype="S10")
    all_codes = [f"201603{d + 1:02d}{s:02d}".encode() for d in range(days) for s in range(1, 49)]
    weather = np.zeros((len(all_codes), 17))
    weather[:, 0] = 1
    with h5py.File(folder / "BJ_Meteorology.h5", "w") as f:
        f["date"] = np.array(all_codes, dtype="S10")
        f["Temperature"] = np.linspace(-2, 8, len(all_codes))
        f["WindSpeed"] = np.full(len(all_codes), 3.0)
        f["Weather"] = weather
    (folder / "BJ_Holiday.txt").write_text("20160302\n")


def test_ingest_taxibj_source(tmp_path: Path, catalog: Path) -> None:
    write_taxibj_raw(tmp_path / "data" / "raw" / "taxibj")
    result = run("ingest", "taxibj", "--catalog", catalog)
    assert result.exit_code == 0, result.output
    assert "1 incomplete day(s): 2016-03-02" in result.stdout
    cube = open_cube(tmp_path / "data" / "cubes" / "taxibj_beijing.zarr")
    assert cube.attrs["sstcast_kind"] == "taxibj"
    assert cube["flow"].shape == (93, 2, 32, 32)
    assert float(cube["flow"].min()) >= 0
    assert int(cube["holiday"].sum()) == 45
    assert len(json.loads(cube.attrs["source_files"])) == 3
    again = run("ingest", "taxibj", "--catalog", catalog)
    assert again.exit_code == 0 and "nothing to do" in again.stdout


def test_every_source_kind_has_a_reader_and_a_sample_source() -> None:
    from typing import get_args

    from sstcast.config import Source, load_catalog

    kinds = set(get_args(Source.model_fields["kind"].annotation))
    assert set(READERS) == kinds == set(SAMPLE_SOURCES)
    catalog = load_catalog(REPO / "sstcast" / "data_catalog.yaml")
    for kind, name in SAMPLE_SOURCES.items():
        assert catalog.source(name).kind == kind and catalog.source(name).sample
