"""The README's journey through the command line, on a short sample: the one slow test.

sample -> ingest -> train -> forecast (which evaluates and draws maps), each step a real
``sstcast`` command, from a fresh folder holding only a copy of the catalog and a pipeline
file; then the files are checked as a user would open them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr
import yaml
from typer.testing import CliRunner

from sstcast.cli import app
from sstcast.cube import open_cube
from sstcast.runs import load_run

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_sample_ingest_train_journey(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(REPO / "data_catalog.yaml", tmp_path / "data_catalog.yaml")
    pipe = yaml.safe_load((REPO / "pipelines" / "bohai.yaml").read_text())
    pipe["data"]["split"] = {
        "train": ["2010-01-01", "2010-08-31"],
        "val": ["2010-09-15", "2010-10-31"],
        "test": ["2010-11-15", "2010-12-31"],
    }
    pipe["data"].update(n_in=5, n_out=3)
    pipe["model"] = {"name": "convlstm", "preset": "tiny"}
    pipe["trainer"].update(epochs=2, batch_size=8, limit_train_batches=6, limit_val_batches=3)
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "bohai.yaml").write_text(yaml.safe_dump(pipe))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    result = runner.invoke(app, ["sample", "--out", "data/sample", "--years", "2010"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "data/sample/sst/sst.day.mean.2010.nc").exists()
    assert (tmp_path / "data/sample/taxibj/BJ16_M32x32_T30_InOut.h5").exists()

    result = runner.invoke(app, ["ingest", "sample_sst"])
    assert result.exit_code == 0, result.output
    cube = open_cube(tmp_path / "data/cubes/sample_sst_bohai.zarr")
    assert dict(cube.sizes) == {"time": 365, "lat": 16, "lon": 20}
    assert 150 < int(cube["mask"].sum()) < 180
    assert cube["sst"].attrs["units"] == "degC"

    again = runner.invoke(app, ["ingest", "sample_sst"])
    assert again.exit_code == 0 and "up to date" in again.output

    result = runner.invoke(app, ["train", "--region", "bohai", "--no-progress"])
    assert result.exit_code == 0, result.output
    run_dir = Path(result.output.strip().splitlines()[-1])
    assert (run_dir / "checkpoints" / "best.ckpt").exists()
    metrics = (run_dir / "metrics.csv").read_text().splitlines()
    assert len(metrics) == 1 + 2  # header + one row per epoch

    run = load_run(run_dir)
    assert run.pipeline.name == "bohai"

    result = runner.invoke(
        app, ["forecast", "--region", "bohai", "--lead", "5", "--no-progress", "--map-lead", "1,5"]
    )
    assert result.exit_code == 0, result.output
    fc = xr.open_dataset(run_dir / "forecast_test.nc")
    assert fc["sst"].dims == ("init_time", "lead_time", "lat", "lon")
    assert fc["init_time"].dtype.kind == "M" and fc["lead_time"].dtype.kind == "m"
    assert fc.sizes["lead_time"] == 5 and fc.sizes["init_time"] > 20
    assert fc["init_time"].values[0] >= np.datetime64("2010-11-15")
    ocean = cube["mask"].values == 1
    assert np.isfinite(fc["sst"].values[..., ocean]).all()
    assert np.isnan(fc["sst"].values[..., ~ocean]).all()

    metrics = xr.open_dataset(run_dir / "forecast_test_metrics.nc")
    models = list(metrics["model"].values)
    assert models == ["convlstm", "persistence", "climatology", "anomaly_persistence", "bound"]
    rmse = metrics["value"].sel(metric="rmse")
    assert np.isfinite(rmse).all() and float(rmse.max()) < 5 and float(rmse.min()) > 0.01
    bound = rmse.sel(model="bound").values
    assert (bound <= rmse.sel(model="persistence").values + 1e-6).all()  # the bound is the best
    assert "gain captured" in result.stdout and "bound" in result.stdout

    pngs = sorted((run_dir / "forecast_test_maps").glob("*.png"))
    assert [p.name for p in pngs] == [
        "lead_time_skill.png",
        f"map_sst_init{str(fc['init_time'].values[0])[:10].replace('-', '')}_lead01d.png",
        f"map_sst_init{str(fc['init_time'].values[0])[:10].replace('-', '')}_lead05d.png",
        "skill_map_vs_anomaly_persistence.png",
    ]
    for png in pngs:
        image = plt.imread(png)
        assert image.shape[0] > 300 and image.std() > 0.05, png  # not blank
        assert str(png) in result.stdout
