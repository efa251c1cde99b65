"""The real NOAA ERSSTv5 file through the whole journey with ``pipelines/ersst.yaml``:
ingest the western North Pacific box, train on a tiny budget, forecast the test months
1-3 months ahead, evaluate against the references, draw the maps. Skipped where
``../shared`` (the file) is absent, as on a user's machine."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml
from typer.testing import CliRunner

from sstcast.cli import app
from sstcast.cube import open_cube

REPO = Path(__file__).resolve().parents[1]


def test_ersst_monthly_journey(
    ersst_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(REPO / "data_catalog.yaml", tmp_path / "data_catalog.yaml")
    pipe = yaml.safe_load((REPO / "pipelines" / "ersst.yaml").read_text())
    assert pipe["data"]["split"]["test"] == ["2019-01-01", "2020-08-31"]
    pipe["trainer"].update(epochs=2)
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "ersst.yaml").write_text(yaml.safe_dump(pipe))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    result = runner.invoke(
        app, ["ingest", "ersst", "--files", str(ersst_file), "--region", "west_pacific"]
    )
    assert result.exit_code == 0, result.output
    cube = open_cube(tmp_path / "data/cubes/ersst_west_pacific.zarr")
    assert cube.attrs["frequency"] == "1MS" and cube.sizes["time"] == 128
    assert (cube.attrs["geospatial_lon_min"], cube.attrs["geospatial_lon_max"]) == (120.0, 180.0)

    result = runner.invoke(app, ["train", "--pipeline", "pipelines/ersst.yaml", "--no-progress"])
    assert result.exit_code == 0, result.output

    result = runner.invoke(
        app, ["forecast", "--pipeline", "pipelines/ersst.yaml", "--lead", "3", "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert "RMSE (degC) / lead (months)" in result.output
    run = next((tmp_path / "runs" / "ersst" / "convlstm").iterdir())
    ds = xr.open_dataset(run / "forecast_test.nc")
    # test months 2019-01..2020-08 are the targets: inits 2018-12..2020-05
    assert str(ds["init_time"].values[0])[:7] == "2018-12"
    assert str(ds["init_time"].values[-1])[:7] == "2020-05"
    assert ds["lead_time"].values.tolist() == [1, 2, 3] and ds["lead_time"].units == "months"
    assert str(ds["valid_time"].values[0, 0])[:10] == "2019-01-01"  # ERSST stamps the 1st
    assert np.isfinite(ds["sst"].values).any()
    ds.close()

    metrics = xr.open_dataset(run / "forecast_test_metrics.nc")
    rmse = metrics["value"].sel(metric="rmse")
    assert set(rmse["model"].values) >= {
        "convlstm", "persistence", "climatology", "anomaly_persistence"
    }  # fmt: skip
    assert np.isfinite(rmse.values).all() and (rmse.values > 0).all()
    assert (rmse.values < 10).all()  # degC: monthly SST errors, not normalised units
    assert metrics["lead_time_months"].values.tolist() == [1, 2, 3]
    metrics.close()
    maps = run / "forecast_test_maps"
    assert (maps / "map_sst_init20181201_lead01mo.png").exists()
    assert (maps / "lead_time_skill.png").stat().st_size > 10_000
