"""``sstcast evaluate``: the same numbers as training's validation, the files, the errors,
TaxiBJ's protocol, and the toy ocean's bound found through a cube's provenance."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from typer.testing import CliRunner

from sstcast.cli import app
from sstcast.errors import SstcastError
from sstcast.verify.evaluate import evaluate
from tests.forecast.helpers import quiet_forecast

runner = CliRunner()


@pytest.fixture(scope="module")
def val_forecast(trained_sst_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("val") / "val.nc"
    return quiet_forecast(
        trained_sst_run,
        period="val",
        lead=3,
        out=out,
    ).path


def test_validation_scores_are_the_same_numbers(trained_sst_run: Path, val_forecast: Path) -> None:
    """One definition of area-weighted RMSE per lead: evaluate on the validation period
    gives what training's validation reported for the best epoch, model and references."""
    ev = evaluate(val_forecast, n_boot=50)
    rmse = ev.metrics["value"].sel(metric="rmse")
    rows = pd.read_csv(trained_sst_run / "metrics.csv")
    best = rows.loc[rows["val_rmse"].idxmin()]
    trained = [best[f"val_rmse_lead{k}"] for k in (1, 2, 3)]
    np.testing.assert_allclose(rmse.sel(model="convlstm").values, trained, rtol=2e-5)
    refs = json.loads((trained_sst_run / "baselines.json").read_text())["rmse_per_lead"]
    for name, values in refs.items():
        np.testing.assert_allclose(rmse.sel(model=name).values, values, rtol=2e-5)
    assert (
        int(ev.metrics["n_inits"].values[0])
        == json.loads((trained_sst_run / "run.json").read_text())["n_val_windows"]
    )


def test_metrics_files_and_their_consistency(val_forecast: Path) -> None:
    ev = evaluate(val_forecast, n_boot=200)
    m = xr.open_dataset(ev.netcdf)
    assert m["value"].dims == ("metric", "model", "lead_time")
    assert m["lead_time"].dtype.kind == "m"
    assert set(m["model"].values) == {
        "convlstm",
        "persistence",
        "climatology",
        "anomaly_persistence",
    }
    v = m["value"]
    mse = v.sel(metric="mse")
    np.testing.assert_allclose(v.sel(metric="rmse"), np.sqrt(mse))
    for ref in ("persistence", "climatology", "anomaly_persistence"):
        skill = v.sel(metric=f"skill_vs_{ref}", model="convlstm")
        np.testing.assert_allclose(skill, 1 - mse.sel(model="convlstm") / mse.sel(model=ref))
    # plausible values in °C, ACC in [-1, 1]
    assert float(v.sel(metric="rmse").max()) < 5 and float(v.sel(metric="rmse").min()) > 0
    accv = v.sel(metric="acc").values
    assert np.nanmax(np.abs(accv)) <= 1
    lo = v.sel(metric="mse_diff_lower", model="convlstm").values
    hi = v.sel(metric="mse_diff_upper", model="convlstm").values
    mid = v.sel(metric="mse_diff_vs_best_ref", model="convlstm").values
    assert (lo <= mid).all() and (mid <= hi).all()
    csv = pd.read_csv(ev.csv)
    assert list(csv.columns) == ["model", "lead_time_days", "metric", "value"]
    assert set(csv["lead_time_days"]) == {1.0, 2.0, 3.0}
    assert "convlstm *" in ev.table and "anomaly_persistence" in ev.table
    assert m["cell_rmse_model"].dims == ("lead_time", "lat", "lon")


def test_a_forecast_without_truth_is_one_line(trained_sst_run: Path, tmp_path: Path) -> None:
    made = quiet_forecast(
        trained_sst_run,
        init=["latest"],
        lead=2,
        out=tmp_path / "op.nc",
    )
    result = runner.invoke(app, ["evaluate", str(made.path)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "nothing to verify" in result.stderr
    assert not (tmp_path / "op_metrics.nc").exists()


def test_a_truth_cube_on_another_grid_is_one_line(val_forecast: Path, tmp_path: Path) -> None:
    from tests.builders import write_tiny_cube

    other = write_tiny_cube(tmp_path / "other.zarr", ny=5, nx=6)
    with pytest.raises(SstcastError, match="another grid"):
        evaluate(val_forecast, cube=other, out_dir=tmp_path)
    result = runner.invoke(
        app, ["evaluate", str(val_forecast), "--cube", str(other), "--out", str(tmp_path)]
    )
    assert result.exit_code == 1 and "another grid" in result.stderr
    assert not list(tmp_path.glob("*_metrics.*"))


def test_not_a_forecast_file_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "x.nc"
    xr.Dataset({"a": ("t", [1.0])}).to_netcdf(bad)
    result = runner.invoke(app, ["evaluate", str(bad)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    result = runner.invoke(app, ["evaluate", str(tmp_path / "missing.nc")])
    assert result.exit_code == 1 and "Traceback" not in result.output


def test_taxibj_protocol(trained_taxibj_run: Path, tmp_path: Path) -> None:
    made = quiet_forecast(
        trained_taxibj_run,
        lead=1,
        out=tmp_path / "bj.nc",
    )
    ev = evaluate(made.path, n_boot=50)
    models = list(ev.metrics["model"].values)
    assert models[1:] == ["persistence", "yesterday", "historical_average"]
    rmse = ev.metrics["value"].sel(metric="rmse")
    assert np.isfinite(rmse).all() and (rmse > 0).all()
    # one-step RMSE over both directions and all cells, equal weights
    fc = xr.open_dataset(made.path)["flow"]
    from sstcast.cube import open_cube

    cube = open_cube(json.loads((trained_taxibj_run / "run.json").read_text())["cube"])
    truth = cube["flow"].sel(time=fc["valid_time"].values[:, 0])
    manual = float(np.sqrt(np.mean((fc.values[:, 0] - truth.values) ** 2)))
    assert float(rmse.sel(model=models[0])[0]) == pytest.approx(manual, rel=1e-5)


def test_toy_bound_found_through_the_cube_provenance(tmp_path: Path) -> None:
    from sstcast.cube import open_cube
    from sstcast.ingest import ingest_sst
    from sstcast.sample import write_sample
    from sstcast.sample.toyocean import ToyOcean
    from sstcast.verify.baselines import ToyOceanBound, toy_ocean_for_cube

    ocean = ToyOcean(seed=3, south=36.0, north=40.0, west=118.0, east=122.0, spinup_days=5)
    write_sample(
        tmp_path / "sample", seed=3, years=[2010], taxibj=False, progress=False, ocean=ocean
    )
    files = sorted((tmp_path / "sample" / "sst").glob("*.nc"))
    ingest_sst(files, tmp_path / "cube.zarr", (37.0, 39.0, 119.0, 121.0), progress=False)
    cube = open_cube(tmp_path / "cube.zarr")
    found = toy_ocean_for_cube(cube)
    assert found is not None
    toy, full = found
    assert toy.seed == 3 and full.sizes["lat"] == len(ocean.lat)
    inits = cube["time"].values[[10, 40]]
    leads = (np.array([1, 2]) * np.timedelta64(1, "D")).astype("timedelta64[ns]")
    bound = ToyOceanBound(toy, full, cube["sst"])(inits, leads)
    direct = ocean.forecast(full.sel(time=inits), 2).sel(
        lat=cube["lat"], lon=cube["lon"], method="nearest"
    )
    np.testing.assert_allclose(
        np.nan_to_num(bound.values),
        np.nan_to_num(
            direct.isel(lead_time=[1, 2]).values.astype(np.float32) * np.isfinite(bound.values)
        ),
        atol=1e-4,
    )


def test_every_forecaster_is_scored_on_the_same_pairs() -> None:
    """A reference missing where the model has a value: that pair leaves every score."""
    from sstcast.verify.evaluate import score
    from sstcast.verify.metrics import mse

    rng = np.random.default_rng(0)
    shape = (6, 2, 3, 4)
    coords = {
        "init_time": pd.date_range("2020-01-01", periods=6).values,
        "lead_time": (np.array([1, 2]) * np.timedelta64(1, "D")).astype("timedelta64[ns]"),
        "lat": [30.0, 30.5, 31.0],
        "lon": [120.0, 120.5, 121.0, 121.5],
    }
    dims = ("init_time", "lead_time", "lat", "lon")
    truth = xr.DataArray(rng.normal(size=shape), dims=dims, coords=coords)
    model = truth + 0.1
    ref = truth + 0.5
    ref[0, :, 0, 0] = np.nan  # the reference lacks one cell at the first init
    out = score({"m": model, "persistence": ref}, truth, None, None, "m", n_boot=20)
    keep = np.isfinite(ref)
    expected = mse(model.where(keep), truth.where(keep))
    np.testing.assert_allclose(out["value"].sel(metric="mse", model="m"), expected)
    np.testing.assert_allclose(out["value"].sel(metric="mse", model="m"), 0.01)


def test_taxibj_references_follow_their_definitions() -> None:
    """yesterday = the latest same slot at or before the init; historical average = the
    mean of the same slot of the week over the training weeks only."""
    from sstcast.verify.evaluate import _flow_references

    times = pd.date_range("2016-03-01", periods=48 * 28, freq="30min")
    values = np.arange(len(times), dtype=np.float32)[:, None, None, None] * np.ones((1, 2, 2, 2))
    cube = xr.Dataset(
        {"flow": (("time", "direction", "y", "x"), values.astype(np.float32))},
        coords={"time": times, "direction": ["inflow", "outflow"]},
    )
    record = {"train_period": ["2016-03-01", "2016-03-14"]}  # two training weeks
    inits = np.array(["2016-03-22T10:00"], dtype="datetime64[ns]")
    leads = (np.array([1, 60]) * np.timedelta64(30, "m")).astype("timedelta64[ns]")
    fc = xr.DataArray(
        np.zeros((1, 2, 2, 2, 2), np.float32),
        dims=("init_time", "lead_time", "direction", "y", "x"),
        coords={
            "init_time": inits,
            "lead_time": leads,
            "valid_time": (("init_time", "lead_time"), inits[:, None] + leads[None, :]),
        },
    )
    refs, _ = _flow_references(fc, cube, None, record, 0)
    index = {t: i for i, t in enumerate(times.values)}
    valid = inits[0] + leads
    # lead 1 (10:30): yesterday's 10:30; lead 60 (40:00 h later): two days back
    assert refs["yesterday"].values[0, 0, 0, 0, 0] == index[valid[0] - np.timedelta64(1, "D")]
    assert refs["yesterday"].values[0, 1, 0, 0, 0] == index[valid[1] - np.timedelta64(2, "D")]
    assert (valid[1] - np.timedelta64(2, "D")) <= inits[0]
    # Tuesday 10:30 in the training weeks (1-14 March): the 1st and the 8th, not the 15th
    slot = valid[0]
    expected = (index[slot - np.timedelta64(14, "D")] + index[slot - np.timedelta64(21, "D")]) / 2
    assert refs["historical_average"].values[0, 0, 0, 0, 0] == pytest.approx(expected)
    assert refs["persistence"].values[0, 1, 0, 0, 0] == index[inits[0]]


def test_evaluate_matches_a_hand_computation(val_forecast: Path, trained_sst_run: Path) -> None:
    """RMSE (cos-lat weights, mean 1 over ocean, pooled) and ACC (uncentred, per init then
    averaged) recomputed with plain numpy from the files, for the model and persistence."""
    from sstcast.cube import open_cube
    from sstcast.runs import load_normalizer, read_record

    ev = evaluate(val_forecast, n_boot=20)
    fc = xr.open_dataset(val_forecast)["sst"]
    cube = open_cube(read_record(trained_sst_run)["cube"])
    valid = fc["valid_time"].values
    truth = cube["sst"].sel(time=valid.ravel()).values.reshape(fc.shape)
    inits = fc["init_time"].values
    persistence = np.repeat(cube["sst"].sel(time=inits).values[:, None], fc.sizes["lead_time"], 1)
    lat = np.deg2rad(fc["lat"].values)[:, None] * np.ones(fc.shape[-2:])
    ocean = np.isfinite(fc.values).all(axis=(0, 1))
    w = np.where(ocean, np.cos(lat), 0.0)
    w = w / w[ocean].mean()
    clim = load_normalizer(trained_sst_run).climatology(valid)
    for name, values in (("convlstm", fc.values), ("persistence", persistence)):
        err2 = np.where(ocean, (values - truth) ** 2, 0.0)
        rmse = np.sqrt((err2 * w).sum(axis=(0, 2, 3)) / (w.sum() * len(inits)))
        np.testing.assert_allclose(
            ev.metrics["value"].sel(metric="rmse", model=name), rmse, rtol=1e-5
        )
        fa = np.where(ocean, values - clim, 0.0)
        oa = np.where(ocean, truth - clim, 0.0)
        per_init = (w * fa * oa).sum((2, 3)) / np.sqrt(
            (w * fa**2).sum((2, 3)) * (w * oa**2).sum((2, 3))
        )
        np.testing.assert_allclose(
            ev.metrics["value"].sel(metric="acc", model=name), per_init.mean(0), rtol=1e-5
        )
