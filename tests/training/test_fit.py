"""Training: a tiny model learns, resume is exact, runs load back, bad checkpoints fail clearly."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from lightning.pytorch.callbacks import Callback

from sstcast import runs
from sstcast.errors import SstcastError
from sstcast.training import EpochShuffleSampler, fit
from tests.builders import tiny_pipeline_dict, write_pipeline, write_tiny_cube


@pytest.fixture(scope="module")
def cube(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_cube(tmp_path_factory.mktemp("cube") / "tiny.zarr")


@pytest.fixture(scope="module")
def trained(cube: Path, tmp_path_factory: pytest.TempPathFactory):
    """One 3-epoch run shared by the read-only tests."""
    root = tmp_path_factory.mktemp("runs")
    pipe = write_pipeline(root / "tiny.yaml", tiny_pipeline_dict(cube, epochs=3))
    return fit(pipe, out=root / "runs", progress=False)


def read_metrics(run_dir: Path) -> list[dict[str, float]]:
    """metrics.csv as numbers (cells left empty, e.g. the references after epoch 0, skipped)."""
    with open(run_dir / "metrics.csv") as f:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]


def test_tiny_model_learns_and_beats_persistence(trained) -> None:
    rows = read_metrics(trained.run_dir)
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert rows[-1]["val_rmse"] < rows[0]["val_rmse"]
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]
    # A residual model starts as persistence: learning means doing better than it.
    persistence = trained.baselines["persistence"]
    assert len(persistence) == 3 and persistence[0] < persistence[-1]
    assert trained.best_val_rmse < sum(persistence) / 3
    for k in (1, 2, 3):
        assert 0 < rows[-1][f"val_rmse_lead{k}"] < 5  # degC, not normalised units


def test_run_directory_layout(trained) -> None:
    run = trained.run_dir
    assert run.parent.name == "convlstm" and run.parent.parent.name == "tiny"
    for name in ("config.yaml", "run.json", "version.json", "normalizer.nc", "metrics.csv"):
        assert (run / name).exists(), name
    assert (run / "checkpoints" / "best.ckpt").exists()
    assert (run / "checkpoints" / "last.ckpt").exists()
    version = json.loads((run / "version.json").read_text())
    assert version["torch"] == torch.__version__ and "git_commit" in version
    for name in ("numpy", "xarray", "zarr", "dask", "timm", "lightning", "python", "cuda", "gpu"):
        assert version[name], name
    info = json.loads((run / "run.json").read_text())
    assert info["grid"] == {"lat": 8, "lon": 10} and info["variable"] == "sst"
    from sstcast.utils.provenance import cube_provenance

    assert info["cube_provenance"] == cube_provenance(info["cube"])
    assert info["cube_provenance"]["region"] == "tiny" and info["device"] == "cpu"
    header = (run / "metrics.csv").read_text().splitlines()[0].split(",")
    assert header[:10] == [
        "epoch",
        "step",
        "train_loss",
        "val_loss",
        "val_rmse",
        "val_rmse_lead1",
        "val_rmse_lead2",
        "val_rmse_lead3",
        "lr",
        "epoch_seconds",
    ]
    assert "loss" not in header  # per-step values stay out of the epoch table
    assert info["epochs_completed"] == 3 and info["best_val_rmse"] == pytest.approx(
        trained.best_val_rmse
    )
    baselines = json.loads((run / "baselines.json").read_text())["rmse_per_lead"]
    assert set(baselines) == {"persistence", "climatology", "anomaly_persistence"}
    # The resolved config names the cube by absolute path and reloads as a pipeline.
    pipeline = runs.load_run_pipeline(run)
    assert Path(pipeline.cube).is_absolute() and pipeline.trainer.epochs == 3


def test_checkpoint_is_plain_and_self_describing(trained) -> None:
    ckpt = runs.read_checkpoint(trained.run_dir / "checkpoints" / "best.ckpt")  # weights_only
    sig = runs.checkpoint_signature(ckpt)
    assert sig["model"] == "convlstm" and sig["grid"] == [8, 10] and sig["variable"] == "sst"
    assert sig["extra_channel_names"] == ["mask", "lat", "lon"]
    assert "optimizer_states" in ckpt and "lr_schedulers" in ckpt


def test_load_run_gives_model_normalizer_pipeline_cube(trained, cube: Path) -> None:
    model, normalizer, pipeline, cube_path = runs.load_run(trained.run_dir)
    assert not model.training and normalizer.kind == "anomaly"
    assert pipeline.name == "tiny" and Path(cube_path) == cube.resolve()
    ckpt = runs.read_checkpoint(trained.best_checkpoint)
    for name, value in model.state_dict().items():
        assert torch.equal(value, ckpt["state_dict"][f"model.{name}"])
    x = torch.zeros(2, 4, 1, 8, 10)
    extra = torch.zeros(2, 9, 3, 8, 10)  # n_in + n_out steps
    assert model(x, 5, extra=extra).shape == (2, 5, 1, 8, 10)


def test_checkpoint_for_another_grid_or_model_fails_in_one_line(trained) -> None:
    with pytest.raises(SstcastError, match=r"checkpoint is for grid=\[8, 10\].*\[16, 20\]"):
        runs.load_run(trained.run_dir, expect={"grid": [16, 20]})
    with pytest.raises(SstcastError, match=r"checkpoint is for model='convlstm'.*predrnn"):
        fit(resume=trained.run_dir, model="predrnn", progress=False)


class _Interrupt(Callback):
    """Stops the run after its first epoch, as a killed job would (checkpoint saved)."""

    def on_train_epoch_end(self, trainer, module) -> None:
        trainer.should_stop = True


def test_resume_continues_exactly(cube: Path, tmp_path: Path) -> None:
    """2 epochs straight == 1 epoch, interrupt, resume for 1 more (weights, optimiser, lr)."""
    data = tiny_pipeline_dict(cube, epochs=2, teacher_forcing=0.5, teacher_forcing_decay_epochs=2)
    pipe = write_pipeline(tmp_path / "tiny.yaml", data)
    quiet = {"progress": False}
    straight = fit(pipe, out=tmp_path / "a", **quiet)
    first = fit(pipe, out=tmp_path / "b", callbacks=[_Interrupt()], **quiet)
    assert first.epochs == 1
    resumed = fit(resume=first.run_dir, **quiet)
    assert resumed.run_dir == first.run_dir and resumed.epochs == 2

    a = runs.read_checkpoint(straight.last_checkpoint)
    b = runs.read_checkpoint(resumed.last_checkpoint)
    assert a["global_step"] == b["global_step"] == 12
    for name, value in a["state_dict"].items():
        assert torch.equal(value, b["state_dict"][name]), name
    opt_a, opt_b = a["optimizer_states"][0]["state"], b["optimizer_states"][0]["state"]
    for key in opt_a:
        assert torch.equal(opt_a[key]["exp_avg"], opt_b[key]["exp_avg"])
    assert a["lr_schedulers"] == b["lr_schedulers"]
    rows = read_metrics(first.run_dir)
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    assert rows[1]["val_rmse"] == pytest.approx(read_metrics(straight.run_dir)[1]["val_rmse"])
    # the resumed table has the uninterrupted one's numbers (the first validation after a
    # resume scores the references again: they are in that row too)
    for resumed_row, straight_row in zip(rows, read_metrics(straight.run_dir), strict=True):
        for key, value in straight_row.items():
            if key != "epoch_seconds":
                assert resumed_row[key] == pytest.approx(value), key
    assert "persistence_rmse" in rows[0]


class _PoisonWeights(Callback):
    """Sets every weight to NaN before the third training batch."""

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        if batch_idx == 2:
            with torch.no_grad():
                for p in module.parameters():
                    p.fill_(float("nan"))


def test_nan_loss_stops_with_the_step(cube: Path, tmp_path: Path) -> None:
    pipe = write_pipeline(tmp_path / "tiny.yaml", tiny_pipeline_dict(cube, epochs=1))
    with pytest.raises(SstcastError, match=r"training loss is nan at step 2 \(epoch 0, batch 2\)"):
        fit(pipe, out=tmp_path, progress=False, callbacks=[_PoisonWeights()])


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_time_estimate_is_printed(cube: Path, tmp_path: Path) -> None:
    data = tiny_pipeline_dict(cube, epochs=1, limit_train_batches=2, limit_val_batches=1)
    # on the sstcast logger itself: the CLI's setup_logging stops propagation to the root
    # logger (where pytest's caplog listens), and CLI tests may have run before
    records = _Records()
    logging.getLogger("sstcast").addHandler(records)
    try:
        result = fit(write_pipeline(tmp_path / "t.yaml", data), out=tmp_path, progress=False)
    finally:
        logging.getLogger("sstcast").removeHandler(records)
    lines = records.lines
    # everything the run logged is in its train.log too, the early notes included
    log = (result.run_dir / "train.log").read_text()
    assert "estimated time per epoch" in log and "best val RMSE" in log
    assert f"run {result.run_dir}" in log
    # the model summary block at the start
    assert "  model   convlstm (preset tiny): 3,521 parameters, 3,521 trainable" in log
    assert "  input   1 channel (sst) + 3 extra (mask, lat, lon); 4 steps in, 3 out" in log
    assert "  grid    8 x 10 (lat x lon)" in log
    assert any(line.startswith("estimated time per epoch: ") for line in lines)
    assert any("2 batches of 16" in line for line in lines)


def test_schedules_run_and_resume_safely(cube: Path, tmp_path: Path) -> None:
    """Every schedule trains, and its checkpoint loads with weights_only=True."""
    for name in ("none", "plateau", "onecycle"):
        data = tiny_pipeline_dict(cube, epochs=1, limit_train_batches=3, limit_val_batches=1)
        data["schedule"] = {"name": name, "warmup_epochs": 0.5}
        result = fit(
            write_pipeline(tmp_path / f"{name}.yaml", data),
            out=tmp_path / name,
            progress=False,
        )
        ckpt = runs.read_checkpoint(result.last_checkpoint)
        assert ckpt["hyper_parameters"]["schedule"]["name"] == name


def test_epoch_sampler_depends_on_epoch_only() -> None:
    s = EpochShuffleSampler(50, seed=3)
    s.set_epoch(4)
    order = list(s)
    assert sorted(order) == list(range(50))
    other = EpochShuffleSampler(50, seed=3)
    list(other)  # consuming earlier epochs changes nothing
    other.set_epoch(4)
    assert list(other) == order
    other.set_epoch(5)
    assert list(other) != order


def test_cli_train_prints_the_run_directory(cube: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from sstcast.cli import app

    data = tiny_pipeline_dict(cube, epochs=1, limit_train_batches=2, limit_val_batches=1)
    pipe = write_pipeline(tmp_path / "tiny.yaml", data)
    result = CliRunner().invoke(
        app,
        [
            "train",
            "--pipeline",
            str(pipe),
            "--out",
            str(tmp_path / "runs"),
            "--no-progress",
            "--device",
            "cpu",
            "--batch-size",
            "8",
            "--set",
            "optim.lr=2e-3",
            "--set",
            "trainer.batch_size=4",  # --batch-size wins
        ],
    )
    assert result.exit_code == 0, result.output
    run_dir = Path(result.stdout.strip().splitlines()[-1])
    assert (run_dir / "checkpoints" / "last.ckpt").exists()
    resolved = runs.load_run_pipeline(run_dir)
    assert resolved.trainer.batch_size == 8 and resolved.optim.lr == 2e-3
    overrides = json.loads((run_dir / "run.json").read_text())["overrides"]
    assert overrides["optim.lr"] == 2e-3 and overrides["trainer.batch_size"] == 8
    assert "estimated time per epoch" in result.output


def test_stresnet_on_a_taxibj_cube(tmp_path: Path) -> None:
    from sstcast.cube import write_cube
    from tests.builders import tiny_taxibj_dataset, tiny_taxibj_pipeline_dict

    cube = Path(write_cube(tiny_taxibj_dataset(), tmp_path / "bj.zarr", progress=False))
    spec = tiny_taxibj_pipeline_dict(cube)
    spec["data"]["normalization"] = "minmax"  # DeepST's scaler: the one old runs stored
    pipe = write_pipeline(tmp_path / "bj.yaml", spec)
    result = fit(pipe, out=tmp_path / "runs", progress=False)
    rows = read_metrics(result.run_dir)
    assert len(rows) == 2 and "val_rmse_lead1" in rows[0]
    assert rows[-1]["val_rmse"] < rows[0]["val_rmse"]
    assert list(result.baselines) == ["persistence"] and result.baselines["persistence"][0] > 0
    model, scaler, pipeline, cube_path = runs.load_run(result.run_dir)
    assert type(model).__name__ == "STResNet" and model.ext_dim == 28
    assert pipeline.task == "taxibj" and scaler.max > scaler.min
    assert Path(cube_path) == cube.resolve()
    assert (result.run_dir / "normalizer.nc").exists()
    # A run written before 0.2 stored the TaxiBJ scaler as normalizer.json: still loads.
    legacy = {
        "kind": "minmax",
        "min": scaler.min,
        "max": scaler.max,
        "external": {k: list(v) for k, v in scaler.external.items()},
    }
    (result.run_dir / "normalizer.nc").unlink()
    (result.run_dir / "normalizer.json").write_text(json.dumps(legacy))
    assert runs.load_run(result.run_dir).normalizer == scaler


def test_max_time_shorter_than_an_epoch_cuts_it_and_resume_finishes(
    cube: Path, tmp_path: Path
) -> None:
    """A --max-time shorter than one epoch cuts that epoch after a batch (Lightning still
    validates it: a scored checkpoint), and a resumed run gets a fresh budget and finishes."""
    data = tiny_pipeline_dict(cube, epochs=2)
    data["schedule"]["epochs"] = 2
    pipe = write_pipeline(tmp_path / "tiny.yaml", data)
    quiet = {"progress": False}
    capped = fit(pipe, out=tmp_path / "b", max_time=1e-4, **quiet)  # 6 ms: not one epoch
    assert capped.epochs == 1
    first = runs.read_checkpoint(capped.last_checkpoint)["global_step"]
    assert 1 <= first < 6  # cut short of the epoch's 6 batches
    assert float(read_metrics(capped.run_dir)[0]["val_rmse"]) > 0
    resumed = fit(resume=capped.run_dir, **quiet)  # the same 6 ms, afresh: epoch 2 is cut too
    assert resumed.epochs == 2 and len(read_metrics(resumed.run_dir)) == 2
    assert runs.read_checkpoint(resumed.last_checkpoint)["global_step"] > first


def test_resume_with_another_preset_or_extended_onecycle_is_one_line(
    cube: Path, tmp_path: Path
) -> None:
    data = tiny_pipeline_dict(cube, epochs=1)
    data["schedule"] = {"name": "onecycle"}
    pipe = write_pipeline(tmp_path / "tiny.yaml", data)
    quiet = {"progress": False}
    first = fit(pipe, out=tmp_path, **quiet)
    with pytest.raises(SstcastError, match=r"checkpoint is for preset='tiny'.*preset='default'"):
        fit(resume=first.run_dir, preset="default", **quiet)
    with pytest.raises(SstcastError, match=r"onecycle schedule .* cannot be extended"):
        fit(resume=first.run_dir, epochs=3, **quiet)


def test_day_of_year_channels_train_through_the_compact_path(cube: Path, tmp_path: Path) -> None:
    data = tiny_pipeline_dict(cube, epochs=1, limit_train_batches=2, limit_val_batches=1)
    data["data"]["day_of_year"] = True
    result = fit(
        write_pipeline(tmp_path / "t.yaml", data),
        out=tmp_path,
        progress=False,
    )
    run = runs.load_run(result.run_dir)
    assert run.model.extra_channels == 5  # mask, lat, lon, doy_sin, doy_cos
    assert result.best_val_rmse is not None and np.isfinite(result.best_val_rmse)


class _ProbeBar(Callback):
    """Records what the progress bar shows after each training batch."""

    def __init__(self) -> None:
        self.shown: list[dict] = []

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        from sstcast.training.callbacks import RunProgressBar

        bar = next(c for c in trainer.callbacks if isinstance(c, RunProgressBar))
        self.shown.append(bar.get_metrics(trainer, module))


def test_progress_bar_shows_the_whole_run_eta(cube: Path, tmp_path: Path) -> None:
    probe = _ProbeBar()
    data = tiny_pipeline_dict(cube, epochs=3, limit_train_batches=3, limit_val_batches=1)
    fit(write_pipeline(tmp_path / "t.yaml", data), out=tmp_path, callbacks=[probe])
    etas = [m["run ETA"] for m in probe.shown]
    assert len(etas) == 9 and all(isinstance(e, str) and e for e in etas)
    assert "v_num" not in probe.shown[-1]


def test_a_time_budget_lays_the_cosine_decay_out_for_the_epochs_that_fit(
    cube: Path, tmp_path: Path
) -> None:
    from sstcast.config import load_pipeline
    from sstcast.training.fit import fit_schedule_to_budget

    pipe = load_pipeline(write_pipeline(tmp_path / "t.yaml", tiny_pipeline_dict(cube, epochs=15)))
    budgeted = pipe.with_overrides({"trainer.max_time": "00:00:10:00"})
    assert fit_schedule_to_budget(budgeted, 40.0).schedule.epochs is None  # all 15 fit
    assert fit_schedule_to_budget(budgeted, 60.0).schedule.epochs == 10
    assert fit_schedule_to_budget(budgeted, 60.0).trainer.epochs == 15  # may still resume on
    # epochs longer than a tenth of the budget: the decay spans a fractional count, and a
    # warmup longer than a quarter of it is shortened to that quarter
    slow = fit_schedule_to_budget(budgeted.with_overrides({"schedule.warmup_epochs": 0.5}), 350.0)
    assert slow.schedule.epochs == pytest.approx(
        1.71
    ) and slow.schedule.warmup_epochs == pytest.approx(0.4275, abs=1e-3)
    tiny = fit_schedule_to_budget(budgeted, 1500.0)  # one epoch is 2.5 budgets
    assert tiny.schedule.epochs == pytest.approx(0.4)
    assert fit_schedule_to_budget(pipe, 60.0).schedule.epochs is None  # no budget
    one = budgeted.with_overrides({"schedule.name": "onecycle"})
    assert fit_schedule_to_budget(one, 60.0).schedule.epochs is None


def test_the_budget_starts_an_epoch_only_when_a_useful_share_fits() -> None:
    """A next epoch starts while at least a quarter of its training fits before its
    validation (the batch check then ends it in time); with less left the run stops."""
    from datetime import timedelta
    from types import SimpleNamespace

    from sstcast.training.callbacks import EpochBudget

    budget = EpochBudget(timedelta(seconds=100))
    trainer = SimpleNamespace(should_stop=False)
    budget._start, budget._epoch_start = 0.0, 0.0
    import time as _time

    now = _time.monotonic()
    budget._start, budget._epoch_start = now - 55, now - 40  # 55 s spent, epochs of 40 s
    budget.on_train_epoch_end(trainer, None)
    assert trainer.should_stop is False  # 55 + 40 <= 100: a whole epoch fits
    budget._start = now - 80  # 20 s left: half an epoch, cut by the batch check
    budget.on_train_epoch_end(trainer, None)
    assert trainer.should_stop is False
    budget._start = now - 92  # 8 s left: less than a quarter (10 s) of an epoch
    budget.on_train_epoch_end(trainer, None)
    assert trainer.should_stop is True and budget.stopped_early
    # the validation pass is kept free: epochs of 40 s of which 10 s validate
    timed = EpochBudget(timedelta(seconds=100), val_seconds=10.0)
    trainer.should_stop = False
    timed._start, timed._epoch_start = now - 84, now - 40  # 16 - 10 = 6 s < 30 / 4
    timed.on_train_epoch_end(trainer, None)
    assert trainer.should_stop is True


def test_the_budget_cuts_an_epoch_longer_than_itself() -> None:
    """A single epoch longer than the whole budget (a busy machine, a large grid) is cut
    after the batch that leaves no room for the next batch and a validation pass."""
    import time as _time
    from datetime import timedelta
    from types import SimpleNamespace

    from sstcast.training.callbacks import EpochBudget

    budget = EpochBudget(timedelta(seconds=100))
    trainer = SimpleNamespace(should_stop=False, sanity_checking=False)
    now = _time.monotonic()
    budget._start, budget._val_seconds = now - 80, 10.0  # 80 s in, validation takes 10 s
    budget._batch_start = now - 5  # batches of 5 s: 80 + 5 + 10 <= 100, go on
    budget.on_train_batch_end(trainer, None)
    assert trainer.should_stop is False
    budget._start = now - 90  # 90 + 5 + 10 > 100: stop here (Lightning then validates)
    budget.on_train_batch_end(trainer, None)
    assert trainer.should_stop is True and budget.stopped_early
    # before any validation has been timed, the estimated one is kept free
    early = EpochBudget(timedelta(seconds=100), val_seconds=30.0)
    trainer.should_stop = False
    early._start, early._batch_start = now - 66, now - 5  # 66 + 5 + 30 > 100
    early.on_train_batch_end(trainer, None)
    assert trainer.should_stop is True


def test_an_sst_pipeline_without_splits_is_one_line(cube: Path, tmp_path: Path) -> None:
    data = tiny_pipeline_dict(cube)
    del data["data"]["split"]
    with pytest.raises(SstcastError, match=r"data\.split: required for task sst"):
        fit(write_pipeline(tmp_path / "t.yaml", data), out=tmp_path, progress=False)
    assert not (tmp_path / "tiny").exists()


def test_no_weight_decay_on_biases_norms_and_position_tables() -> None:
    from sstcast.training.optim import build_optimizer

    model = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3), torch.nn.LayerNorm(4))
    model.register_parameter("relative_position_bias_table", torch.nn.Parameter(torch.zeros(5, 2)))
    opt = build_optimizer(
        model.named_parameters(), {"name": "adamw", "lr": 1e-3, "weight_decay": 0.05}
    )
    decayed, plain = opt.param_groups
    assert decayed["weight_decay"] == 0.05 and plain["weight_decay"] == 0.0
    assert [tuple(p.shape) for p in decayed["params"]] == [(4, 2, 3, 3)]
    assert len(plain["params"]) == 4  # conv bias, norm weight and bias, the position table


class _WorseAfterFirstEpoch(Callback):
    """Makes every validation after the first one worse (a growing bias on the output)."""

    def on_validation_start(self, trainer, module) -> None:
        if trainer.current_epoch > 0:
            with torch.no_grad():
                head = [p for n, p in module.model.named_parameters() if n.endswith("bias")][-1]
                head.add_(0.5)


def test_last_checkpoint_is_always_the_final_epoch(cube: Path, tmp_path: Path) -> None:
    """Validation stops improving after epoch 0: best.ckpt stays there, last.ckpt still
    follows every epoch; a resume then truncates nothing and redoes nothing."""
    data = tiny_pipeline_dict(cube, epochs=3, limit_train_batches=2, limit_val_batches=1)
    pipe = write_pipeline(tmp_path / "t.yaml", data)
    result = fit(pipe, out=tmp_path / "runs", progress=False, callbacks=[_WorseAfterFirstEpoch()])
    best = runs.read_checkpoint(result.best_checkpoint)
    last = runs.read_checkpoint(result.last_checkpoint)
    assert best["epoch"] == 0
    assert last["epoch"] == 2 and last["global_step"] == 6
    rows = read_metrics(result.run_dir)
    assert [r["epoch"] for r in rows] == [0, 1, 2]


def test_resume_of_a_moved_run_keeps_the_best_score(cube: Path, tmp_path: Path) -> None:
    import shutil

    data = tiny_pipeline_dict(cube, epochs=1, limit_train_batches=2, limit_val_batches=1)
    first = fit(write_pipeline(tmp_path / "t.yaml", data), out=tmp_path / "a", progress=False)
    best_before = runs.read_checkpoint(first.best_checkpoint)
    moved = tmp_path / "moved"
    shutil.copytree(first.run_dir, moved)
    resumed = fit(resume=moved, epochs=2, progress=False, callbacks=[_WorseAfterFirstEpoch()])
    assert resumed.run_dir == moved
    # epoch 1 was worse: best.ckpt of the moved run is still epoch 0 with its score
    best_after = runs.read_checkpoint(moved / "checkpoints" / "best.ckpt")
    assert best_after["epoch"] == 0
    assert resumed.best_val_rmse == pytest.approx(first.best_val_rmse)
    for name, value in best_before["state_dict"].items():
        assert torch.equal(value, best_after["state_dict"][name])


def test_resume_truncates_metrics_rows_it_redoes(cube: Path, tmp_path: Path) -> None:
    data = tiny_pipeline_dict(cube, epochs=2, limit_train_batches=2, limit_val_batches=1)
    first = fit(write_pipeline(tmp_path / "t.yaml", data), out=tmp_path / "a", progress=False)
    # an older last.ckpt (as a run killed after epoch 0 would leave) and rows of epoch 1
    metrics = first.run_dir / "metrics.csv"
    rows_before = metrics.read_text().splitlines()
    assert len(rows_before) == 3
    runs.truncate_metrics(first.run_dir, 0)
    assert metrics.read_text().splitlines() == rows_before[:2]


def test_the_budgeted_schedule_reaches_the_module(cube: Path, tmp_path: Path, monkeypatch) -> None:
    import importlib

    fit_mod = importlib.import_module("sstcast.training.fit")  # the module, not the function

    monkeypatch.setattr(fit_mod, "announce_estimate", lambda *a, **k: (1000.0, 0.0))  # s/epoch
    data = tiny_pipeline_dict(cube, epochs=4, limit_train_batches=2, limit_val_batches=1)
    pipe = write_pipeline(tmp_path / "t.yaml", data)
    result = fit(pipe, out=tmp_path / "r", max_time="00:00:40:00", progress=False)  # 2400 s
    ckpt = runs.read_checkpoint(result.last_checkpoint)
    assert ckpt["hyper_parameters"]["schedule"]["epochs"] == 2.4  # 2400 s / 1000 s
    assert "epochs: 2.4" in (result.run_dir / "config.yaml").read_text()


def test_a_second_training_of_one_run_folder_is_refused(cube: Path, tmp_path: Path) -> None:
    from filelock import FileLock

    data = tiny_pipeline_dict(cube, epochs=1, limit_train_batches=2, limit_val_batches=1)
    first = fit(write_pipeline(tmp_path / "t.yaml", data), out=tmp_path / "a", progress=False)
    with FileLock(str(first.run_dir / ".lock")):  # another process resuming it
        with pytest.raises(SstcastError, match="another sstcast train is running"):
            fit(resume=first.run_dir, epochs=2, progress=False)
    again = fit(resume=first.run_dir, epochs=2, progress=False)
    assert again.epochs == 2


def test_tensorboard_logger_gets_the_per_lead_scores_and_the_learning_rate(
    cube: Path, tmp_path: Path
) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    data = tiny_pipeline_dict(cube, epochs=2, limit_train_batches=2, limit_val_batches=1)
    data["trainer"].update(logger=["csv", "tensorboard"], log_every_n_steps=1)
    result = fit(write_pipeline(tmp_path / "t.yaml", data), out=tmp_path, progress=False)
    events = EventAccumulator(str(result.run_dir / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"val_rmse", "val_rmse_lead1", "val_rmse_lead3", "train_loss", "loss"} <= tags
    assert any(t.startswith("lr-AdamW") for t in tags), tags  # LearningRateMonitor
    lead1 = [e.value for e in events.Scalars("val_rmse_lead1")]
    assert lead1 == pytest.approx([r["val_rmse_lead1"] for r in read_metrics(result.run_dir)])


def test_a_logger_that_is_not_installed_is_one_line(
    cube: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    for module in ("tensorboard", "tensorboardX", "mlflow"):
        monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    for name in ("tensorboard", "mlflow"):
        data = tiny_pipeline_dict(cube, epochs=1)
        data["trainer"]["logger"] = ["csv", name]
        with pytest.raises(
            SstcastError,
            match=rf"^trainer.logger: {name} needs the {name} "
            rf"package, which is not installed: pip install {name}$",
        ):
            fit(write_pipeline(tmp_path / f"{name}.yaml", data), out=tmp_path / "r", progress=False)
    assert not (tmp_path / "r").exists()  # refused before a run folder is made


def test_the_estimate_stops_early_when_batches_are_slow(monkeypatch) -> None:
    """With a time limit the estimate keeps one warm-up batch and times the next one;
    without it, two warm-up and four timed batches run."""
    from sstcast.training import estimate as est

    calls = []

    class Module(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(1))

        def forward(self, batch):
            calls.append(self.training)
            return batch["x"] * self.w

        def training_loss(self, batch):
            return self(batch).sum(), 2

    clock = iter(range(0, 10_000, 10))  # every reading of the clock is 10 s later
    monkeypatch.setattr(est.time, "perf_counter", lambda: float(next(clock)))
    loader = [{"x": torch.ones(2)} for _ in range(8)]
    per_batch, _ = est.estimate_epoch_seconds(Module(), loader, torch.device("cpu"), False)
    assert calls.count(True) == 6 and calls.count(False) == 1
    calls.clear()
    per_batch, per_val = est.estimate_epoch_seconds(
        Module(), loader, torch.device("cpu"), False, time_limit=15.0
    )
    assert calls.count(True) == 2 and calls.count(False) == 1  # one warm-up, one timed
    assert per_batch == 10.0 and per_val == 10.0


def test_the_budget_counts_from_the_start_it_is_given() -> None:
    import time as _time
    from datetime import timedelta
    from types import SimpleNamespace

    from sstcast.training.callbacks import EpochBudget

    trainer = SimpleNamespace(should_stop=False, sanity_checking=False)
    now = _time.monotonic()
    fresh = EpochBudget(timedelta(seconds=100), val_seconds=5.0)  # counts from training
    fresh.on_train_start(trainer, None)
    fresh._batch_start = _time.monotonic() - 1
    fresh.on_train_batch_end(trainer, None)
    assert trainer.should_stop is False  # 0 + 1 + 5 <= 100
    budget = EpochBudget(timedelta(seconds=100), val_seconds=5.0, start=now - 97)
    budget.on_train_start(trainer, None)  # the set-up took 97 s of the budget
    budget._batch_start = _time.monotonic() - 1
    budget.on_train_batch_end(trainer, None)
    assert trainer.should_stop is True  # 97 + 1 + 5 > 100


def test_the_schedule_fits_what_is_left_of_the_budget(cube: Path, tmp_path: Path) -> None:
    from sstcast.config import load_pipeline
    from sstcast.training.fit import fit_schedule_to_budget

    pipe = load_pipeline(write_pipeline(tmp_path / "t.yaml", tiny_pipeline_dict(cube, epochs=15)))
    budgeted = pipe.with_overrides({"trainer.max_time": "00:00:10:00"})
    assert fit_schedule_to_budget(budgeted, 60.0, spent=120.0).schedule.epochs == 8
