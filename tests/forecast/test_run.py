"""``sstcast forecast`` end to end on a tiny trained run: the file, its inits and leads,
the operational case, leads past the trained horizon, TaxiBJ, and the one-line errors."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from typer.testing import CliRunner

from sstcast.cli import app
from sstcast.cube import open_cube
from sstcast.errors import SstcastError
from sstcast.forecast.rollout import ModelForecaster, open_run
from tests.forecast.helpers import cf_failures, cf_report, quiet_forecast

runner = CliRunner()


def one_error_line(result) -> str:
    """Non-zero exit, no traceback, exactly one ``error:`` line."""
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("error")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_test_period_file_opens_with_datetimes_and_passes_cf(
    trained_sst_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = quiet_forecast(
        trained_sst_run,
        lead=3,
        out=tmp_path / "f.nc",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = xr.open_dataset(made.path)
    assert ds["init_time"].dtype.kind == "M" and ds["valid_time"].dtype.kind == "M"
    assert ds["lead_time"].dtype.kind == "m"
    assert ds["sst"].dims == ("init_time", "lead_time", "lat", "lon")
    assert ds["sst"].attrs["units"] == "degC"
    np.testing.assert_array_equal(ds["lead_time"].values, np.arange(1, 4) * np.timedelta64(1, "D"))
    # test period of the tiny pipeline: inputs and valid times all inside it
    test, n_in = pd.Timestamp("2011-05-07"), 4  # the pipeline already leaves the 6-step gap
    assert pd.Timestamp(ds["init_time"].values[0]) == test + pd.Timedelta(days=n_in - 1)
    assert pd.Timestamp(ds["valid_time"].values[-1, -1]) == pd.Timestamp("2011-08-23")
    # land is NaN, ocean finite, in °C
    cube = open_cube(made.run_dir.parent.parent.parent.parent / "tiny.zarr")
    land = cube["mask"].values == 0
    assert np.isnan(ds["sst"].values[..., land]).all()
    assert np.isfinite(ds["sst"].values[..., ~land]).all()
    assert 5 < float(ds["sst"].mean()) < 30
    # provenance
    for key in ("model", "checkpoint_sha256", "run_folder", "training_period", "cube", "history"):
        assert key in ds.attrs, key
    assert ds.attrs["Conventions"].startswith("CF-1.8")
    report = cf_report(made.path, tmp_path, monkeypatch)
    assert cf_failures(report["high_priorities"]) == []
    assert cf_failures(report["medium_priorities"]) == []


def test_model_forecast_matches_the_validation_windows(trained_sst_run: Path) -> None:
    """The forecaster sees exactly what training's validation windows give the model."""
    import torch

    from sstcast.data.windows import WindowDataset

    run = open_run(trained_sst_run)
    fc = ModelForecaster(run, device="cpu")
    val = WindowDataset.from_pipeline(
        run.pipeline, "val", run.cube, run.normalizer, compact_extra=True, stride=1
    )
    batch = val.__getitems__([0, 5, 17]).batch
    with torch.no_grad():
        expected = run.task.to_physical(
            run.normalizer, batch, run.task.forward(run.model, batch, 3, 0.0)
        )[:, :, 0].numpy()
    got = fc(val.init_times[[0, 5, 17]].values, fc.lead_times(3)).values
    np.testing.assert_allclose(np.nan_to_num(got), np.where(val.mask, expected, 0), atol=1e-5)


def test_latest_is_an_operational_forecast_written_and_mapped(
    trained_sst_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "latest.nc"
    result = runner.invoke(
        app,
        [
            "forecast",
            "--run",
            str(trained_sst_run),
            "--init",
            "latest",
            "--lead",
            "5",
            "--out",
            str(out),
            "--no-progress",
            "--device",
            "cpu",
            "--map-lead",
            "1,5",
        ],
    )
    assert result.exit_code == 0, result.output
    ds = xr.open_dataset(out)
    cube_end = pd.Timestamp("2010-01-01") + pd.Timedelta(days=599)
    assert pd.Timestamp(ds["init_time"].values[0]) == cube_end
    assert (ds["valid_time"].values > cube_end.to_datetime64()).all()
    assert "not verified" in result.stdout
    assert not (tmp_path / "latest_metrics.nc").exists()
    maps = sorted((tmp_path / "latest_maps").glob("*.png"))
    assert [p.name for p in maps] == [
        "map_sst_init20110823_lead01d.png",
        "map_sst_init20110823_lead05d.png",
    ]


def test_leads_past_the_trained_horizon_are_marked(trained_sst_run: Path, tmp_path: Path) -> None:
    made = quiet_forecast(
        trained_sst_run,
        init=["2011-06-01"],
        lead=8,
        out=tmp_path / "x.nc",
    )
    ds = xr.open_dataset(made.path)
    assert ds.sizes["lead_time"] == 8 and made.extrapolated_leads == 5
    assert int(ds.attrs["trained_lead_steps"]) == 3
    assert "extrapolation" in ds.attrs["comment"] and "5 lead(s)" in ds.attrs["comment"]
    assert np.isfinite(ds["sst"].values[0, -1][~np.isnan(ds["sst"].values[0, 0])]).all()


def test_init_outside_the_cube_is_one_line(trained_sst_run: Path, tmp_path: Path) -> None:
    for init, words in (
        ("2009-06-01", "init 2009-06-01"),  # before the record
        ("2010-01-02", "input 2009-12-30"),  # needs days before the record
        ("2013-01-01", "2010-01-01 .. 2011-08-23"),  # after its end
    ):
        result = runner.invoke(
            app,
            [
                "forecast",
                "--run",
                str(trained_sst_run),
                "--init",
                init,
                "--out",
                str(tmp_path / "no.nc"),
                "--no-progress",
                "--device",
                "cpu",
            ],
        )
        line = one_error_line(result)
        assert words in line, line
        assert not (tmp_path / "no.nc").exists()


def test_run_folder_missing_pieces_is_one_line(trained_sst_run: Path, tmp_path: Path) -> None:
    expected = {
        "config.yaml": "(no config.yaml)",
        "run.json": "(no run.json)",
        "normalizer.nc": "(no normalizer.nc)",
        "checkpoints": "no checkpoint",
    }
    for piece, words in expected.items():
        broken = tmp_path / f"no_{piece}"
        shutil.copytree(trained_sst_run, broken)
        target = broken / piece
        shutil.rmtree(target) if target.is_dir() else target.unlink()
        result = runner.invoke(
            app, ["forecast", "--run", str(broken), "--no-progress", "--device", "cpu"]
        )
        line = one_error_line(result)
        assert words in line, line


def test_forecast_options_are_checked(trained_sst_run: Path) -> None:
    with pytest.raises(SstcastError, match="--period 'spring'"):
        quiet_forecast(
            trained_sst_run,
            period="spring",
        )
    with pytest.raises(SstcastError, match="not a date"):
        quiet_forecast(
            trained_sst_run,
            init=["yesterday"],
        )
    result = runner.invoke(app, ["forecast", "--run", str(trained_sst_run), "--device", "tpu"])
    assert result.exit_code == 2 and "auto, cpu or cuda" in result.stderr


def test_latest_run_of_a_pipeline_is_found(
    trained_sst_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = trained_sst_run.parents[3]  # the folder holding tiny.yaml and runs/
    monkeypatch.chdir(root)
    made = quiet_forecast(
        pipeline="tiny.yaml",
        init=["2011-06-01"],
        lead=2,
        out=tmp_path / "p.nc",
    )
    assert made.run_dir.resolve() == trained_sst_run.resolve()


def test_taxibj_forecast_feeds_its_output_back(trained_taxibj_run: Path, tmp_path: Path) -> None:
    made = quiet_forecast(
        trained_taxibj_run,
        lead=3,
        out=tmp_path / "bj.nc",
    )
    ds = xr.open_dataset(made.path)
    assert ds["flow"].dims == ("init_time", "lead_time", "direction", "y", "x")
    assert list(ds["direction"].values) == ["inflow", "outflow"]
    assert ds["lead_time"].values[0] == np.timedelta64(30, "m")
    assert (ds["flow"].values >= 0).all() and np.isfinite(ds["flow"].values).all()
    # lead 1 equals the one-step model on the dataset's own samples
    run = open_run(trained_taxibj_run)
    from sstcast.data.stresnet import STResNetDataset
    from sstcast.tasks.taxibj import stresnet_options

    test = STResNetDataset(
        run.cube, "test", scaler=run.normalizer, **stresnet_options(run.pipeline)
    )
    first = ds["init_time"].values[0] + np.timedelta64(30, "m")
    k = int(np.flatnonzero(test.target_times == first)[0])
    import torch

    batch = test.get_batch([k])
    with torch.no_grad():
        one = run.task.to_physical(
            run.normalizer, batch, run.task.forward(run.model, batch, 1, 0.0)
        )
    np.testing.assert_allclose(ds["flow"].values[0, 0], np.maximum(one[0, 0].numpy(), 0), atol=1e-3)


def test_taxibj_latest_is_forecast_past_the_cube_end(
    trained_taxibj_run: Path, tmp_path: Path
) -> None:
    """Operational TaxiBJ: the external factors past the cube's end come from the calendar
    and the last observed weather; nothing after the init is used."""
    made = quiet_forecast(
        trained_taxibj_run,
        init=["latest"],
        lead=3,
        out=tmp_path / "op.nc",
    )
    ds = xr.open_dataset(made.path)
    assert np.isfinite(ds["flow"].values).all()
    assert made.notes == ["valid times run past the cube's end"]


def test_default_names_never_overwrite_other_forecasts() -> None:
    from sstcast.forecast.run import default_name

    one = np.array(["2021-03-01"], "datetime64[ns]")
    two = np.array(["2021-03-01", "2021-03-09"], "datetime64[ns]")
    assert default_name(None, None, two) == "forecast_test.nc"
    assert default_name(None, "val", two) == "forecast_val.nc"
    assert default_name(["latest"], None, one) == "forecast_latest.nc"
    assert default_name(["2021-03-01"], None, one) == "forecast_20210301.nc"
    assert default_name(["2021-03-01", "2021-03-09"], None, two) == "forecast_20210301-20210309.nc"
    assert default_name(None, "2021-01-01:2021-06-30", two) == "forecast_20210101-20210630.nc"
