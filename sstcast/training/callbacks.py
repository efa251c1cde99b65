"""Lightning callbacks of a run: progress with the whole run's ETA, the ``--max-time``
budget, the per-epoch metrics table and the reference scores file."""

from __future__ import annotations

import csv
import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback, ModelCheckpoint, RichProgressBar

from sstcast.utils.io import write_json
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
    """``--max-time`` as a budget for this invocation that the run stays within.

    Checked at the end of each epoch: the run stops there when one more epoch, at the pace
    of the latest one, would end past the budget. So a run never overshoots by an epoch
    (it ends within the budget unless a single epoch is longer than the budget itself),
    the last checkpoint is a clean epoch boundary, and ``--resume`` continues exactly;
    a resumed run gets a fresh budget (nothing of this callback is checkpointed).
    """

    def __init__(self, duration: timedelta) -> None:
        self.budget = duration.total_seconds()
        self._start = self._epoch_start = time.monotonic()
        self.stopped_early = False

    def on_train_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._start = time.monotonic()

    def on_train_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._epoch_start = time.monotonic()

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        now = time.monotonic()
        if (now - self._start) + (now - self._epoch_start) > self.budget:
            self.stopped_early = True
            trainer.should_stop = True


class MetricsCSV(Callback):
    """Appends one row per epoch to ``metrics.csv`` (rank 0) and keeps the rows in
    :attr:`rows`: epoch, step, train and validation loss, val RMSE (mean and per lead),
    learning rate, seconds."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.rows: list[dict[str, Any]] = []
        self._epoch_start = time.perf_counter()

    def on_train_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._epoch_start = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, module: Any) -> None:
        train_loss = module.train_loss()  # collective: every rank takes part
        if trainer.global_rank != 0 or trainer.sanity_checking:
            return
        val = module.last_val
        row: dict[str, Any] = {
            "epoch": trainer.current_epoch,
            "step": trainer.global_step,
            "train_loss": train_loss,
            "val_loss": val.get("val_loss", float("nan")),
            "val_rmse": val.get("val_rmse", float("nan")),
        }
        for k in range(1, module.n_out + 1):
            row[f"val_rmse_lead{k}"] = val.get(f"val_rmse_lead{k}", float("nan"))
        row["lr"] = trainer.optimizers[0].param_groups[0]["lr"]
        row["epoch_seconds"] = round(time.perf_counter() - self._epoch_start, 3)
        self.rows.append(row)
        new = not self.path.exists()
        with open(self.path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)


class BaselinesJSON(Callback):
    """Writes ``baselines.json`` (reference RMSE per lead) once they are known (rank 0)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def on_validation_end(self, trainer: L.Trainer, module: Any) -> None:
        if trainer.global_rank != 0 or trainer.sanity_checking or not module.baselines:
            return
        if not self.path.exists():
            write_json(self.path, {"split": "val", "rmse_per_lead": module.baselines})
