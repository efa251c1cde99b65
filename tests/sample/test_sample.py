"""The built-in sample: toy-ocean physics, the OISST file layout, determinism, the forecast bound.

One short leap year (2012) with a reduced spin-up is written once for the module; everything
else uses short runs of the same ocean so the file takes seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import netCDF4
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from sstcast.errors import SstcastError
from sstcast.sample import MANIFEST, sst_file_name, write_sample
from sstcast.sample.toyocean import FREEZING_C, ToyOcean, grid_centres, land_mask

SEED = 3
SPINUP = 150  # days; enough for the anomaly to reach most of its equilibrium variance
YEAR = 2012  # a leap year


def ocean_for_tests(seed: int = SEED) -> ToyOcean:
    return ToyOcean(seed=seed, spinup_days=SPINUP)


@pytest.fixture(scope="module")
def ocean() -> ToyOcean:
    return ocean_for_tests()


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory, ocean: ToyOcean) -> Path:
    out = tmp_path_factory.mktemp("sample")
    paths = write_sample(out, seed=SEED, years=[YEAR], taxibj=False, progress=False, ocean=ocean)
    assert paths == [out / "sst" / sst_file_name(YEAR), out / MANIFEST]
    return out


@pytest.fixture(scope="module")
def sst(sample: Path) -> xr.DataArray:
    with xr.open_dataset(sample / "sst" / sst_file_name(YEAR)) as ds:
        return ds["sst"].load()


def area_box(da: xr.DataArray, lat: tuple[float, float], lon: tuple[float, float]) -> xr.DataArray:
    return da.sel(lat=slice(*lat), lon=slice(*lon))


# ------------------------------------------------------------------ file layout
def test_file_has_oisst_conventions(sample: Path, sst: xr.DataArray) -> None:
    path = sample / "sst" / sst_file_name(YEAR)
    with netCDF4.Dataset(path) as nc:
        assert nc.data_model == "NETCDF4"
        assert nc.dimensions["time"].isunlimited()
        var = nc["sst"]
        assert var.dtype == np.float32
        assert var.dimensions == ("time", "lat", "lon")
        assert var.units == "degC"
        assert var.long_name == "Daily Mean of Sea Surface Temperature"
        assert np.float32(var.missing_value) == np.float32(-9.96921e36)
        assert np.float32(var._FillValue) == np.float32(-9.96921e36)
        assert var.filters()["zlib"]
        assert nc["time"].dtype == np.float64
        assert nc["time"].units == "days since 1800-01-01 00:00:00"
        assert nc["time"][0] == (pd.Timestamp(f"{YEAR}-01-01") - pd.Timestamp("1800-01-01")).days
        assert nc["lat"].dtype == np.float32 and nc["lat"].units == "degrees_north"
        assert nc["lon"].dtype == np.float32 and nc["lon"].units == "degrees_east"
        for name in ("title", "Conventions", "source"):
            assert getattr(nc, name)
        raw = var[:]  # masked where the fill value is stored
        assert raw.mask.any() and not raw.mask.all()

    assert sst.sizes == {"time": 366, "lat": 48, "lon": 48}  # leap year
    assert np.issubdtype(sst["time"].dtype, np.datetime64)
    assert sst["time"].values[0] == np.datetime64(f"{YEAR}-01-01")
    assert (np.diff(sst["time"].values) == np.timedelta64(1, "D")).all()
    lat, lon = sst["lat"].values, sst["lon"].values
    assert np.all(np.diff(lat) > 0) and np.all(np.diff(lon) > 0)
    np.testing.assert_allclose(lat[[0, -1]], [30.125, 41.875])
    np.testing.assert_allclose(lon[[0, -1]], [115.125, 126.875])
    assert np.all((lon >= 0) & (lon < 360))
    # Land is NaN at every time, ocean never is.
    land = sst.isnull()
    assert (land.all("time") == land.any("time")).all()
    assert float(sst.min()) >= FREEZING_C - 1e-6
    assert float(sst.max()) < 35.0


def test_land_is_in_the_right_places(sst: xr.DataArray) -> None:
    ocean_cells = sst.isel(time=0).notnull()
    assert 900 <= int(ocean_cells.sum()) <= 1100

    def is_ocean(lat: float, lon: float) -> bool:
        return bool(ocean_cells.sel(lat=lat, lon=lon, method="nearest"))

    assert not is_ocean(36.4, 119.1)  # Shandong peninsula, inland
    assert not is_ocean(37.1, 122.1)  # Shandong peninsula, near the tip
    assert not is_ocean(37.1, 126.9)  # Korea, west coast near Seoul
    assert not is_ocean(39.1, 125.9)  # North Korea
    assert not is_ocean(31.1, 121.4)  # Shanghai
    assert is_ocean(39.0, 120.0)  # Bohai centre
    assert is_ocean(35.1, 123.9)  # Yellow Sea
    assert is_ocean(31.1, 124.9)  # East China Sea
    bohai = area_box(ocean_cells, (37, 41), (117.5, 122.5))
    assert bohai.shape == (16, 20)
    assert 140 <= int(bohai.sum()) <= 190


def test_grid_helpers_work_for_any_box(ocean: ToyOcean) -> None:
    lat, lon = grid_centres(37.0, 41.0, 117.5, 122.5)
    assert (len(lat), len(lon)) == (16, 20)
    sub = land_mask(lat, lon)
    full = land_mask(ocean.lat, ocean.lon)
    j0 = int(np.argmin(np.abs(ocean.lat - lat[0])))
    i0 = int(np.argmin(np.abs(ocean.lon - lon[0])))
    np.testing.assert_array_equal(sub, full[j0 : j0 + 16, i0 : i0 + 20])
    np.testing.assert_array_equal(land_mask(lat, lon + 360.0), sub)  # 0..360 longitudes
    np.testing.assert_array_equal(full, ~ocean.ocean_mask)
    with pytest.raises(SstcastError):
        grid_centres(41.0, 37.0, 117.5, 122.5)


def test_manifest_rebuilds_the_ocean(sample: Path, ocean: ToyOcean) -> None:
    manifest = json.loads((sample / MANIFEST).read_text())
    assert manifest["seed"] == SEED
    assert manifest["years"] == [YEAR]
    assert manifest["grid"]["shape"] == [48, 48]
    assert manifest["grid"]["n_ocean"] == ocean.n_ocean
    rebuilt = ToyOcean.from_manifest(sample / MANIFEST)
    assert rebuilt.parameters() == ocean.parameters()
    np.testing.assert_array_equal(rebuilt.u, ocean.u)
    np.testing.assert_array_equal(rebuilt.v, ocean.v)


def test_no_temporary_files_left(sample: Path) -> None:
    leftovers = [p.name for p in sample.rglob("*") if ".tmp-" in p.name]
    assert leftovers == []


# ------------------------------------------------------------------ determinism
def test_same_seed_same_values_and_overlap(sst: xr.DataArray) -> None:
    # A fresh ocean with the same seed and first day reproduces the file's first days
    # exactly, although it runs 10 days instead of a year.
    again = ocean_for_tests().simulate(pd.date_range(f"{YEAR}-01-01", periods=10, freq="D"))
    np.testing.assert_array_equal(again.values.astype(np.float32), sst.isel(time=slice(0, 10)))
    other = ToyOcean(seed=SEED + 1, spinup_days=SPINUP).simulate(again["time"].values[:5])
    assert not np.allclose(
        other.values[np.isfinite(other.values)], again.values[:5][np.isfinite(other.values)]
    )


def test_forcing_depends_on_the_calendar_day_only() -> None:
    ocean = ToyOcean(seed=SEED, spinup_days=5)
    np.testing.assert_array_equal(ocean._daily_forcing(100), ocean._daily_forcing(100))
    assert not np.array_equal(ocean._daily_forcing(100), ocean._daily_forcing(101))


# ------------------------------------------------------------------ climatology
def test_climatology_seasons_and_geography(ocean: ToyOcean) -> None:
    clim = ocean.climatology(pd.date_range("2011-01-01", "2011-12-31", freq="D"))
    bohai = area_box(clim, (37, 41), (117.5, 122.5)).mean(("lat", "lon"))
    monthly = bohai.groupby("time.month").mean()
    assert monthly.sel(month=2) == pytest.approx(1.5, abs=0.5)
    assert monthly.sel(month=8) == pytest.approx(27.0, abs=0.7)
    assert int(monthly.idxmax()) == 8 and int(monthly.idxmin()) in (1, 2)
    assert float(clim.min()) >= FREEZING_C
    annual = clim.mean("time")
    amplitude = clim.max("time") - clim.min("time")
    # Warmer to the south and offshore; bigger seasons to the north and near the coast.
    assert (
        float(annual.sel(lat=30.125, lon=126.125)) > float(annual.sel(lat=39.125, lon=120.125)) + 5
    )
    assert (
        float(amplitude.sel(lat=30.125, lon=126.125))
        < float(amplitude.sel(lat=39.125, lon=120.125)) - 8
    )
    assert np.isnan(clim.sel(lat=36.375, lon=119.125)).all()  # land


# ------------------------------------------------------------------ anomaly dynamics
def test_anomaly_size_and_persistence(ocean: ToyOcean, sst: xr.DataArray) -> None:
    anomaly = (sst - ocean.climatology(sst["time"].values).values).values[:, ocean.ocean_mask]
    anomaly = anomaly[60:]  # let the spin-up settle a little more
    assert 0.6 < float(anomaly.std()) < 1.5

    def lag_corr(lag: int) -> float:
        x, y = anomaly[:-lag], anomaly[lag:]
        x = x - x.mean(0)
        y = y - y.mean(0)
        return float(np.mean((x * y).sum(0) / np.sqrt((x * x).sum(0) * (y * y).sum(0))))

    lag1, lag30 = lag_corr(1), lag_corr(30)
    assert lag1 > 0.9
    assert lag30 < 0.6
    assert lag30 < lag1 - 0.35


def test_currents_are_divergence_free_and_stay_off_land(ocean: ToyOcean) -> None:
    u, v = ocean.u, ocean.v
    div = (u[:, 1:] - u[:, :-1]) + (v[1:, :] - v[:-1, :])
    assert np.abs(div).max() < 1e-12
    m = ocean.ocean_mask
    wet_x = np.zeros(u.shape, dtype=bool)
    wet_x[:, 1:-1] = m[:, :-1] & m[:, 1:]
    wet_y = np.zeros(v.shape, dtype=bool)
    wet_y[1:-1, :] = m[:-1, :] & m[1:, :]
    assert np.all(u[~wet_x] == 0) and np.all(v[~wet_y] == 0)
    rms = np.sqrt((u[wet_x] ** 2).mean() + (v[wet_y] ** 2).mean())
    assert rms == pytest.approx(ocean.u0)
    cu = np.maximum(np.abs(u[:, :-1]), np.abs(u[:, 1:]))
    cv = np.maximum(np.abs(v[:-1, :]), np.abs(v[1:, :]))
    assert ocean.dt / ocean.substeps * (cu + cv).max() <= ocean.cfl_max + 1e-12


def test_scheme_conserves_mass_and_makes_no_new_extrema() -> None:
    ocean = ToyOcean(seed=SEED, tau=1e12, spinup_days=0)  # no damping
    rng = np.random.default_rng(0)
    a = rng.standard_normal(ocean.ocean_mask.shape) * ocean.ocean_mask
    total, lo, hi = a.sum(), a.min(), a.max()
    for _ in range(100):
        a = ocean.step(a)
    assert a.sum() == pytest.approx(total, abs=1e-9)
    assert np.all(a[~ocean.ocean_mask] == 0)
    assert a.min() >= lo - 1e-9 and a.max() <= hi + 1e-9
    assert a.std() < rng.standard_normal(1000).std()  # stirring and mixing do smooth it


# ------------------------------------------------------------------ noise-free forecast
def test_noise_free_forecast_beats_persistence(ocean: ToyOcean, sst: xr.DataArray) -> None:
    lead = 5
    inits = sst["time"].values[100:140]  # spring: the season changes fast
    fc = ocean.forecast(sst.sel(time=inits), n_leads=lead)
    assert fc.dims == ("init_time", "lead_time", "lat", "lon")
    assert fc["lead_time"].values[lead] == np.timedelta64(lead, "D")
    np.testing.assert_array_equal(
        fc["valid_time"].values[:, lead], inits + np.timedelta64(lead, "D")
    )
    # Lead 0 is the initial state (up to the file's float32 rounding), NaN over land.
    np.testing.assert_allclose(fc.isel(lead_time=0).values, sst.sel(time=inits).values, atol=1e-5)

    truth = sst.sel(time=inits + np.timedelta64(lead, "D")).values
    init = sst.sel(time=inits).values
    clim = ocean.climatology_values
    anomaly_persistence = clim(inits + np.timedelta64(lead, "D")) + init - clim(inits)

    def rmse(pred: np.ndarray) -> float:
        return float(np.sqrt(np.nanmean((pred - truth) ** 2)))

    bound = rmse(fc.isel(lead_time=lead).values)
    assert bound < 0.8 * rmse(anomaly_persistence)
    assert bound < 0.6 * rmse(init)  # persistence


def test_forecast_from_one_field_and_bad_grid(ocean: ToyOcean, sst: xr.DataArray) -> None:
    one = sst.isel(time=100)  # (lat, lon) with a scalar time coordinate
    fc = ocean.forecast(one, n_leads=2)
    assert fc.sizes == {"init_time": 1, "lead_time": 3, "lat": 48, "lon": 48}
    assert fc["init_time"].values[0] == sst["time"].values[100]
    with pytest.raises(SstcastError, match="full grid"):
        ocean.forecast(area_box(sst.isel(time=100), (37, 41), (117.5, 122.5)), n_leads=1)


# ------------------------------------------------------------------ errors and wiring
def test_bad_inputs_raise_clear_errors(tmp_path: Path) -> None:
    ocean = ToyOcean(seed=SEED, spinup_days=0)
    with pytest.raises(SstcastError, match="consecutive days"):
        ocean.simulate(pd.to_datetime(["2012-01-01", "2012-01-03"]))
    with pytest.raises(SstcastError, match="increasing"):
        write_sample(tmp_path, seed=SEED, years=[2013, 2012], taxibj=False, progress=False)
    with pytest.raises(SstcastError, match="dt"):
        ToyOcean(dt=0.3)
    bad = tmp_path / MANIFEST
    bad.write_text(json.dumps({"toyocean": {"seed": 1, "speed": 2.0}}))
    with pytest.raises(SstcastError, match="unknown toy-ocean parameters"):
        ToyOcean.from_manifest(bad)
    with pytest.raises(SstcastError, match="not a readable sample manifest"):
        ToyOcean.from_manifest(tmp_path / "missing.json")


def test_taxibj_is_written_beside_the_sst(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sstcast.sample.toycity

    calls: list[tuple[Path, int, bool]] = []

    def fake(out_dir: Path, seed: int, progress: bool = True) -> list[Path]:
        calls.append((out_dir, seed, progress))
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / "BJ_Holiday.txt"
        path.write_text("20160404\n")
        return [path]

    monkeypatch.setattr(sstcast.sample.toycity, "write_taxibj_sample", fake)
    # A small, coarse-stepped ocean: this test is about the wiring, not the physics.
    ocean = ToyOcean(
        seed=SEED, south=37.0, north=41.0, west=117.5, east=122.5, dt=1.0, u0=0.05, spinup_days=0
    )
    paths = write_sample(tmp_path, seed=SEED, years=[2013], progress=False, ocean=ocean)
    assert calls == [(tmp_path / "taxibj", SEED, False)]
    assert tmp_path / "taxibj" / "BJ_Holiday.txt" in paths
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert manifest["taxibj_files"] == ["taxibj/BJ_Holiday.txt"]
