"""The README's journey through the command line, on a short sample: the one slow test.

sample -> ingest -> train -> load the run back, each step a real ``sstcast`` command, from a
fresh folder holding only a copy of the catalog and a pipeline file.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
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
    x = np.zeros((1, 5, 1, 16, 20), dtype=np.float32)
    import torch

    with torch.no_grad():
        extra = torch.zeros(1, 5 + 3, run.model.extra_channels, 16, 20)
        out = run.model(torch.from_numpy(x), 3, extra=extra)
    assert out.shape == (1, 3, 1, 16, 20)
