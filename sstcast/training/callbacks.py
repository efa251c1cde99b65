"""Lightning callbacks and the CSV logger of a run: progress with the whole run's ETA, the
``--max-time`` budget, the per-epoch metrics (``metrics.csv``) and the reference scores file."""

from __future__ import annotations

import csv
import math
import os
import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import lightning as L
from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.pytorch.callbacks import Callback, ModelCheckpoint, RichProgressBar
from lightning.pytorch.loggers import CSVLogger

from sstcast.utils.io import atomic_path, write_json
from sstcast.utils.report import hms


class RunProgressBar(RichProgressBar):
    """Lightning's rich bar plus ``run ETA``: the time left for the whole run at the mean
    pace of the epochs so far (the bar's own estimate covers the current epoch only)."""

    def __init__(self) -> None:
        super().__init__(leave=True)
        self._start: float | None = None
        self._first_epoch = 0

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_start(trainer, pl_module)
        self._start = time.monotonic()
        self._first_epoch = trainer.current_epoch  # > 0 after --resume

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        items = super().get_metrics(trainer, pl_module)
        items.pop("v_num", None)
        batches = trainer.num_training_batches
        if self._start is None or not batches or batches == float("inf"):
            return items
        in_epoch = trainer.fit_loop.epoch_loop.batch_progress.current.ready
        done = trainer.current_epoch - self._first_epoch + min(in_epoch, batches) / batches
        if done <= 0:
            return items
        remaining = trainer.max_epochs - self._first_epoch - done
        left = remaining * (time.monotonic() - self._start) / done
        items["run ETA"] = hms(max(0.0, left))
        return items


class RunCheckpoint(ModelCheckpoint):
    """``best.ckpt`` by ``val_rmse``, and ``last.ckpt`` at the end of *every* epoch.

    Lightning's own "last" is written together with the top-k check at validation end; here
    it is written after the epoch is complete (``on_train_epoch_end``, also when the budget
    or early stopping ends the run), so a kill or a ``--max-time`` stop always leaves the
    state of the latest finished epoch and a resume redoes nothing. The best score is
    restored on resume even when the run folder was copied or moved (Lightning drops it
    when the checkpoint's folder differs, and a worse epoch would then overwrite best.ckpt).
    """

    def __init__(self, dirpath: Path) -> None:
        super().__init__(
            dirpath=dirpath,
            filename="best",
            monitor="val_rmse",
            mode="min",
            save_top_k=1,
            save_last=False,
            auto_insert_metric_name=False,
            enable_version_counter=False,
        )

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        super().on_train_epoch_end(trainer, module)
        if trainer.sanity_checking or trainer.state.fn != "fit":
            return
        path = Path(self.dirpath) / "last.ckpt"
        tmp = path.with_name(".last.ckpt.tmp")
        self.last_model_path = str(path)
        trainer.save_checkpoint(tmp)  # written by rank 0 only
        if trainer.is_global_zero:
            os.replace(tmp, path)  # a kill never leaves half a last.ckpt

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        saved_dir = state_dict.get("dirpath", self.dirpath)
        state = dict(state_dict)
        if saved_dir != self.dirpath:  # a moved or copied run folder: the same files here
            here = Path(self.dirpath)

            def moved(path: Any) -> Any:
                return str(here / Path(path).name) if path else path

            state["dirpath"] = self.dirpath
            for key in ("best_model_path", "kth_best_model_path", "last_model_path"):
                if key in state:
                    state[key] = moved(state[key])
            if "best_k_models" in state:
                state["best_k_models"] = {moved(k): v for k, v in state["best_k_models"].items()}
        super().load_state_dict(state)


class EpochBudget(Callback):
    """``--max-time`` as a budget for this invocation that the run stays within, counted
    from ``start`` (``fit`` passes the moment it began, so that loading the data and the
    time estimate are inside the budget) or else from the start of training.

    Checked after every training batch: when the next batch and a validation pass (as long
    as the last one took) would end past the budget, the epoch is cut short there —
    Lightning still validates it, so the run keeps a scored checkpoint — which holds the
    budget even when a single epoch is longer than the whole budget (a slow or busy
    machine, a large grid). And checked at the end of each epoch: a next epoch is not
    started when less than a quarter of its training (at the pace of the latest epoch)
    would fit before its validation; otherwise it starts and the batch check ends it in
    time, so the budget is used rather than left idle (stopping whenever a whole epoch did
    not fit used 55 % of a 10-minute budget for a model with 4.5-minute epochs). A resumed
    run gets a fresh budget (nothing of this callback is checkpointed).
    """

    #: The least share of an epoch's training worth starting a next epoch for.
    MIN_EPOCH_SHARE = 0.25

    def __init__(
        self, duration: timedelta, val_seconds: float = 0.0, start: float | None = None
    ) -> None:
        self.budget = duration.total_seconds()
        self._given_start = start  # time.monotonic() when the invocation began, if known
        self._start = self._epoch_start = self._batch_start = time.monotonic()
        self._val_start = self._start
        self._val_seconds = float(val_seconds)  # the estimate, until one is timed
        self.stopped_early = False

    def on_train_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        # From the start of ``fit`` when given: loading the data and the time estimate count.
        self._start = self._given_start if self._given_start is not None else time.monotonic()

    def on_train_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._epoch_start = time.monotonic()

    def on_train_batch_start(self, trainer: L.Trainer, module: L.LightningModule, *_: Any) -> None:
        self._batch_start = time.monotonic()

    def on_train_batch_end(self, trainer: L.Trainer, module: L.LightningModule, *_: Any) -> None:
        now = time.monotonic()
        batch = now - self._batch_start
        if (now - self._start) + batch + self._val_seconds > self.budget:
            self.stopped_early = True
            trainer.should_stop = True

    def on_validation_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._val_start = time.monotonic()

    def on_validation_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._val_seconds = time.monotonic() - self._val_start

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        now = time.monotonic()
        room = self.budget - (now - self._start) - self._val_seconds  # training time left
        training = max((now - self._epoch_start) - self._val_seconds, 0.0)  # the epoch's
        if room < self.MIN_EPOCH_SHARE * training:
            self.stopped_early = True
            trainer.should_stop = True


class EpochMetrics(Callback):
    """At the end of each epoch, sends the epoch's mean training loss (over all ranks), the
    learning rate and the epoch's seconds to every logger of the trainer, so that with the
    validation scores the module logs they make the epoch's row of ``metrics.csv`` (and
    points in TensorBoard or MLflow). Placed before the checkpoint callback: the row is
    written before the epoch's ``last.ckpt``."""

    def __init__(self) -> None:
        self._epoch_start = time.perf_counter()

    def on_train_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._epoch_start = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, module: Any) -> None:
        train_loss = module.train_loss()  # collective: every rank takes part
        if trainer.sanity_checking:
            return
        row = {
            "epoch": trainer.current_epoch,
            "train_loss": train_loss,
            "lr": trainer.optimizers[0].param_groups[0]["lr"],
            "epoch_seconds": round(time.perf_counter() - self._epoch_start, 3),
        }
        for logger in trainer.loggers:  # the loggers write on rank 0 only
            logger.log_metrics(row, step=trainer.global_step)
            logger.save()


#: Values logged per step that the epoch table leaves out (its ``train_loss`` is the epoch's
#: mean); TensorBoard and MLflow keep them.
PER_STEP_KEYS = ("loss",)
_FIRST_COLUMNS = ("epoch", "step", "train_loss", "val_loss", "val_rmse")
_LAST_COLUMNS = ("lr", "epoch_seconds")


def _column_order(name: str) -> tuple[int, int, str]:
    """epoch, step, losses, val_rmse, val_rmse_lead1..N (by lead), lr, seconds, the rest."""
    if name in _FIRST_COLUMNS:
        return (0, _FIRST_COLUMNS.index(name), "")
    lead = re.fullmatch(r"val_rmse_lead(\d+)", name)
    if lead:
        return (1, int(lead.group(1)), "")
    if name in _LAST_COLUMNS:
        return (2, _LAST_COLUMNS.index(name), "")
    return (3, 0, name)


class EpochTable:
    """The writer behind :class:`EpochCSVLogger`: every value logged with an ``epoch`` goes
    into that epoch's row (the latest value wins), and the whole table is written
    atomically on :meth:`save`. Rows already in the file (a resumed run) are kept."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.rows: dict[int, dict[str, Any]] = {}
        self.metrics: list[dict[str, Any]] = []  # what Lightning's CSVLogger counts steps by
        self._dirty = False
        if self.path.exists():
            with open(self.path, newline="") as f:
                for row in csv.DictReader(f):
                    values = {k: _number(v) for k, v in row.items() if v not in ("", None)}
                    if "epoch" in values:
                        self.rows[int(values["epoch"])] = values

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        """Fold ``metrics`` into the row of ``metrics["epoch"]``; values without an epoch
        (the LearningRateMonitor's per-step rates) and per-step keys are left out."""
        if "epoch" not in metrics:
            return
        epoch = int(metrics["epoch"])
        row = self.rows.setdefault(epoch, {"epoch": epoch})
        for key, value in metrics.items():
            if key in PER_STEP_KEYS or key == "epoch":
                continue
            row[key] = float(value.item() if hasattr(value, "item") else value)
        if step is not None:
            row["step"] = int(step)
        self.metrics.append(metrics)
        self._dirty = True

    def log_hparams(self, params: dict[str, Any]) -> None:
        """Nothing: the run's config.yaml and the checkpoints hold the hyperparameters."""

    def save(self) -> None:
        """Write ``metrics.csv`` (one row per epoch, in epoch order) when something changed."""
        if not self._dirty:
            return
        columns = sorted({k for row in self.rows.values() for k in row}, key=_column_order)
        with atomic_path(self.path) as tmp, open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            for epoch in sorted(self.rows):
                writer.writerow({k: _cell(v) for k, v in self.rows[epoch].items()})
        self._dirty = False


def _number(text: str) -> float | int:
    value = float(text)
    return int(value) if value.is_integer() and "." not in text and "e" not in text else value


def _cell(value: Any) -> Any:
    return "" if isinstance(value, float) and math.isnan(value) else value


class EpochCSVLogger(CSVLogger):
    """Lightning's CSV logger writing ``<run>/metrics.csv`` as one row per epoch (see
    :class:`EpochTable`) instead of one row per logging call: epoch, step, train_loss,
    val_loss, val_rmse, val_rmse_lead1..N, lr, epoch_seconds and, in the first epoch's row,
    the references' mean RMSE (``persistence_rmse``, ...). A resumed run appends to its
    table (rows of epochs it redoes were cut by :func:`sstcast.runs.truncate_metrics`)."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__(save_dir=str(run_dir), name="", version="")
        self.metrics_path = Path(run_dir) / "metrics.csv"

    @property
    @rank_zero_experiment
    def experiment(self) -> EpochTable:  # type: ignore[override]
        if self._experiment is None:
            self._experiment = EpochTable(self.metrics_path)
        return self._experiment


class BaselinesJSON(Callback):
    """Writes ``baselines.json`` (reference RMSE per lead) once they are known (rank 0)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def on_validation_end(self, trainer: L.Trainer, module: Any) -> None:
        if trainer.global_rank != 0 or trainer.sanity_checking or not module.baselines:
            return
        if not self.path.exists():
            write_json(self.path, {"split": "val", "rmse_per_lead": module.baselines})
