"""Training: a Lightning module around any registry model, and :func:`fit` for a pipeline.

``fit`` reads a pipeline (``pipelines/*.yaml``), opens its cube, cuts training and
validation samples (:class:`~sstcast.data.windows.WindowDataset` for SST,
:class:`~sstcast.data.stresnet.STResNetDataset` for TaxiBJ), builds the model from the
registry and trains it with :class:`lightning.Trainer`, writing a run directory
(:mod:`sstcast.runs`) that ``sstcast forecast`` can load on its own.

What the loop does, and why:

* The loss is the mean squared error in normalised space over ocean cells only (land cells
  are zero-filled inputs, never targets).
* Validation reports the RMSE in physical units (°C for SST, flow counts for TaxiBJ) per
  lead, area-weighted by cos(latitude) over ocean cells, accumulated over all validation
  windows (not averaged over batches). On the first validation the same windows are scored
  for persistence (and, for anomaly normalisation, anomaly persistence) as a reference.
* Reproducibility: the shuffling order derives from ``(seed, epoch)`` and every step's
  random draws (teacher forcing, dropout) from ``(seed, step, rank)``, so ``--resume`` from an end-of-epoch checkpoint
  replays exactly what an uninterrupted run would have done; deterministic algorithms are
  on (warn-only on CUDA, where some kernels have no deterministic version).
* A NaN/inf loss stops the run naming the step; a short timing before training prints the
  estimated time per epoch and warns when a CPU run would take more than an hour.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import logging
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import pandas as pd
import torch
from lightning.pytorch.callbacks import (
    Callback,
    EarlyStopping,
    ModelCheckpoint,
    RichProgressBar,
    Timer,
)
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor
from torch.utils.data import DataLoader, Sampler

from sstcast import runs
from sstcast.config import (
    Catalog,
    ConfigError,
    Pipeline,
    load_catalog,
    load_pipeline,
    parse_max_time,
)
from sstcast.data.windows import expand_extra
from sstcast.errors import SstcastError

Echo = Callable[[str], None]

#: Where ``--region NAME`` looks for ``NAME.yaml`` (after ``./pipelines``).
PACKAGE_PIPELINES = Path(__file__).resolve().parent.parent / "pipelines"

CPU_WARN_SECONDS = 3600.0


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def _quiet_lightning() -> Iterator[None]:
    """Hide Lightning's info lines (hardware, tips) and a known deprecation warning: our
    own lines say what runs where."""
    log = logging.getLogger("lightning.pytorch")
    level = log.level
    log.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*treespec, LeafSpec.*")
            warnings.filterwarnings("ignore", message=".*does not have many workers.*")
            warnings.filterwarnings("ignore", message=".*exists and is not empty.*")
            yield
    finally:
        log.setLevel(level)


# --------------------------------------------------------------------------------------
# Samplers
# --------------------------------------------------------------------------------------
class EpochShuffleSampler(Sampler[int]):
    """A random permutation per epoch drawn from ``seed + epoch`` alone.

    Unlike ``shuffle=True`` (which draws from the global RNG), the order of epoch ``k`` does
    not depend on what ran before it, so a run resumed at epoch ``k`` sees the same batches
    as an uninterrupted one. Lightning calls :meth:`set_epoch` before every epoch.
    """

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.seed, self.epoch = int(n), int(seed), 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        g = torch.Generator()
        g.manual_seed(self.seed + 7919 * self.epoch)
        return iter(torch.randperm(self.n, generator=g).tolist())


# --------------------------------------------------------------------------------------
# The Lightning module
# --------------------------------------------------------------------------------------
class ForecastModule(L.LightningModule):
    """Any registry model as a Lightning module.

    All constructor arguments are plain Python values (saved as hyperparameters, so a
    checkpoint loads with ``weights_only=True`` and describes itself). ``signature`` names
    the task, model, variable, grid and channels; it is compared before weights are loaded.

    Args:
        task: "sst" (sequence models, windows) or "taxibj" (ST-ResNet samples).
        model, preset, model_kwargs: ``sstcast.models.create(model, preset, **model_kwargs)``.
        signature: see :func:`sstcast.runs.check_signature`.
        n_out: leads trained on (1 for ST-ResNet).
        optim, schedule: the pipeline's ``optim`` and ``schedule`` sections as dicts.
        teacher_forcing, teacher_forcing_decay_epochs: scheduled sampling — the probability
            of feeding the true previous frame starts at ``teacher_forcing`` and falls
            linearly to 0 over ``teacher_forcing_decay_epochs`` epochs (0: constant).
        seed: base seed of the per-epoch random streams.
    """

    def __init__(
        self,
        *,
        task: str,
        model: str,
        preset: str,
        model_kwargs: dict[str, Any],
        signature: dict[str, Any],
        n_out: int,
        optim: dict[str, Any],
        schedule: dict[str, Any],
        teacher_forcing: float = 0.0,
        teacher_forcing_decay_epochs: int = 0,
        seed: int = 42,
    ) -> None:
        super().__init__()
        from sstcast.models import create, get_entry

        self.save_hyperparameters()
        self.kind = get_entry(model).kind
        self.model = create(model, preset, **model_kwargs)
        self.n_out = n_out
        # Set by fit() (or attach_units) for validation in physical units.
        self.to_physical: PhysicalUnits | None = None
        self.register_buffer("area_weight", torch.ones(1, 1), persistent=False)
        self.baselines: dict[str, list[float]] | None = None
        self.last_val: dict[str, float] = {}
        self._reset_train()
        self._reset_val()

    # -- data in, prediction out ---------------------------------------------------------
    def attach_units(self, units: PhysicalUnits, area_weight: np.ndarray) -> None:
        """Give the module the map back to physical units and the (H, W) cell weights."""
        self.to_physical = units
        self.area_weight = torch.as_tensor(area_weight, dtype=torch.float32)

    def teacher_forcing_probability(self, epoch: int) -> float:
        """Scheduled sampling: the start probability decayed linearly to 0."""
        p = float(self.hparams.teacher_forcing)
        decay = int(self.hparams.teacher_forcing_decay_epochs)
        if decay > 0:
            p *= max(0.0, 1.0 - epoch / decay)
        return p

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        """Prediction in normalised space, (batch, n_out, channels, H, W)."""
        if self.kind == "stresnet":
            ext = batch.get("ext") if self.model.ext_dim else None
            out = self.model(batch["xc"], batch.get("xp"), batch.get("xt"), ext)
            return out.unsqueeze(1)
        p = self.teacher_forcing_probability(self.current_epoch) if self.training else 0.0
        return self.model(
            batch["x"],
            self.n_out,
            extra=expand_extra(batch),
            target=batch["y"] if p > 0 else None,
            teacher_forcing=p,
        )

    def target(self, batch: dict[str, Tensor]) -> Tensor:
        """The truth in normalised space, (batch, n_out, channels, H, W)."""
        y = batch["y"]
        return y.unsqueeze(1) if self.kind == "stresnet" else y

    def ocean(self, batch: dict[str, Tensor], like: Tensor) -> Tensor:
        """Boolean mask broadcastable to ``like`` (B, T, C, H, W): True where scored."""
        if "mask" in batch:
            return batch["mask"].bool()[:, None, None]
        return torch.ones((1, 1, 1, *like.shape[-2:]), dtype=torch.bool, device=like.device)

    def masked_mse(self, pred: Tensor, y: Tensor, ocean: Tensor) -> Tensor:
        """Mean squared error over ocean cells (float32 whatever the autocast dtype)."""
        ocean = ocean.expand_as(pred)
        sq = torch.where(ocean, (pred.float() - y.float()) ** 2, 0.0)
        return sq.sum() / ocean.sum().clamp_min(1)

    # -- training ------------------------------------------------------------------------
    def _reset_train(self) -> None:
        self._train_sum = torch.zeros((), dtype=torch.float64)
        self._train_count = torch.zeros((), dtype=torch.float64)

    def on_train_epoch_start(self) -> None:
        # Each epoch's random stream depends only on (seed, epoch, rank): exact resume.
        seed = int(self.hparams.seed) + 1000 * self.current_epoch + self.global_rank
        L.seed_everything(seed % 2**32, workers=True, verbose=False)
        self._reset_train()
        self._epoch_started = time.perf_counter()

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        pred = self(batch)
        loss = self.masked_mse(pred, self.target(batch), self.ocean(batch, pred))
        if not torch.isfinite(loss):
            raise SstcastError(
                f"training loss is {loss.item()} at step {self.global_step} (epoch "
                f"{self.current_epoch}, batch {batch_idx}); lower optim.lr, keep "
                "trainer.grad_clip, or check the cube for bad values"
            )
        n = pred.shape[0]
        self._train_sum = self._train_sum.to(loss.device) + loss.detach().double() * n
        self._train_count = self._train_count.to(loss.device) + n
        self.log("loss", loss.detach(), prog_bar=True, on_step=True, on_epoch=False, batch_size=n)
        return loss

    def train_loss(self) -> float:
        """Mean training loss of the current epoch over all ranks (nan before any step)."""
        total = self.trainer.strategy.reduce(self._train_sum.clone(), reduce_op="sum")
        count = self.trainer.strategy.reduce(self._train_count.clone(), reduce_op="sum")
        return float(total / count) if float(count) > 0 else float("nan")

    # -- validation ----------------------------------------------------------------------
    def _reset_val(self) -> None:
        self._val = {}

    def _add(self, name: str, value: Tensor) -> None:
        self._val[name] = self._val[name] + value if name in self._val else value

    def on_validation_epoch_start(self) -> None:
        self._reset_val()

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        pred = self(batch)
        y = self.target(batch)
        ocean = self.ocean(batch, pred)
        self._add("loss_sum", self.masked_mse(pred, y, ocean).double() * pred.shape[0])
        self._add("loss_count", torch.tensor(float(pred.shape[0]), device=pred.device))
        if self.to_physical is None:
            return
        weight = torch.where(ocean, self.area_weight.to(pred.device), 0.0).expand_as(pred)
        # Sum of weights per lead (the same for every lead).
        self._add("weight", weight[:, 0].double().sum())
        truth = self.to_physical.target(batch, y.float())
        model = self.to_physical.target(batch, pred.float())
        self._add("sse", self._weighted_sse(model, truth, weight))
        if self.baselines is None:
            for name, guess in self.to_physical.baselines(batch, self.n_out).items():
                self._add(f"sse_{name}", self._weighted_sse(guess, truth, weight))

    @staticmethod
    def _weighted_sse(a: Tensor, b: Tensor, weight: Tensor) -> Tensor:
        """Per-lead sum of weight · (a - b)² (NaN on land is ignored)."""
        sq = torch.where(weight > 0, (a - b).double() ** 2, 0.0)
        return (sq * weight.double()).sum(dim=(0, 2, 3, 4))

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking or not self._val:
            return
        strategy = self.trainer.strategy
        total = {k: strategy.reduce(v.clone(), reduce_op="sum") for k, v in self._val.items()}
        metrics = {"val_loss": float(total["loss_sum"] / total["loss_count"].clamp_min(1))}
        if "sse" in total:
            w = total["weight"].clamp_min(1e-12)
            rmse = torch.sqrt(total["sse"] / w).tolist()
            metrics["val_rmse"] = float(np.mean(rmse))
            for k, value in enumerate(rmse, start=1):
                metrics[f"val_rmse_lead{k}"] = float(value)
            if self.baselines is None:
                self.baselines = {}
                for key in [k for k in total if k.startswith("sse_")]:
                    name = key.removeprefix("sse_")
                    per_lead = torch.sqrt(total[key] / w).tolist()
                    self.baselines[name] = [float(v) for v in per_lead]
                    metrics[f"{name}_rmse"] = float(np.mean(per_lead))
        else:
            metrics["val_rmse"] = math.sqrt(metrics["val_loss"])
        self.last_val = metrics
        bar = {"val_rmse"}
        for name, value in metrics.items():
            # Already reduced over ranks: sync_dist averages identical values (no change).
            self.log(name, value, prog_bar=name in bar, sync_dist=True)

    # -- prediction ----------------------------------------------------------------------
    def predict_step(
        self, batch: dict[str, Tensor], batch_idx: int, dataloader_idx: int = 0
    ) -> Tensor:
        """The forecast in normalised space, (batch, n_out, channels, H, W); the run's
        normaliser (``inverse_transform`` at the valid times) turns it into °C."""
        return self(batch).float()

    # -- optimisation --------------------------------------------------------------------
    def configure_optimizers(self) -> Any:
        opt_cfg, sch_cfg = self.hparams.optim, self.hparams.schedule
        params = [p for p in self.parameters() if p.requires_grad]
        lr, wd = float(opt_cfg["lr"]), float(opt_cfg["weight_decay"])
        if opt_cfg["name"] == "adam":
            optimizer = torch.optim.Adam(params, lr=lr, weight_decay=wd)
        elif opt_cfg["name"] == "adamw":
            optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=wd)
        else:
            optimizer = torch.optim.SGD(
                params, lr=lr, weight_decay=wd, momentum=float(opt_cfg.get("momentum", 0.9))
            )
        total = self.trainer.estimated_stepping_batches
        epochs = max(1, self.trainer.max_epochs or 1)
        total = int(total) if math.isfinite(total) else 10**9
        warmup = round(float(sch_cfg.get("warmup_epochs", 0.0)) * total / epochs)
        self._warmup_steps = warmup
        name = sch_cfg["name"]
        if name == "plateau":
            scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer,
                mode="min",
                factor=float(sch_cfg["plateau_factor"]),
                patience=int(sch_cfg["plateau_patience"]),
                min_lr=float(sch_cfg["min_lr"]),
            )
            return {
                "optimizer": optimizer,
                "lr_scheduler": {
                    "scheduler": scheduler,
                    "monitor": "val_rmse",
                    "interval": "epoch",
                },
            }
        if name == "onecycle":
            if total < 3:
                raise SstcastError(f"schedule onecycle needs at least 3 steps, got {total}")
            # Warmup share of the steps; each of the two phases needs at least one step.
            pct = warmup / total if warmup else 0.3
            pct = min(max(pct, 2.0 / total), 1.0 - 1.0 / total)
            min_lr = float(sch_cfg["min_lr"])
            scheduler = torch.optim.lr_scheduler.OneCycleLR(
                optimizer,
                max_lr=lr,
                total_steps=total,
                pct_start=pct,
                final_div_factor=max(1.0, lr / 25.0 / min_lr) if min_lr > 0 else 1e4,
            )
            return {
                "optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
            }
        if name == "none" and warmup == 0:
            return optimizer
        factor = _lr_factor(name, warmup, total, float(sch_cfg["min_lr"]) / lr)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        # The step's random draws (teacher forcing, dropout) depend on (seed, step, rank)
        # only, whatever consumed the global generator before (loader iterators, a resume).
        torch.manual_seed(
            (int(self.hparams.seed) * 1_000_003 + 7 * self.global_step + self.global_rank) % 2**63
        )
        # Warmup for "plateau" (the other schedules include it in their factor).
        if self.hparams.schedule["name"] != "plateau" or not self._warmup_steps:
            return
        step = self.global_step
        if step <= self._warmup_steps:
            frac = min(1.0, (step + 1) / self._warmup_steps)
            for group in self.optimizers().optimizer.param_groups:
                group["lr"] = float(self.hparams.optim["lr"]) * frac

    # -- checkpoints ---------------------------------------------------------------------
    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        saved = runs.checkpoint_signature(checkpoint)
        runs.check_signature(saved, self.hparams.signature, "checkpoint")


def _lr_factor(name: str, warmup: int, total: int, min_ratio: float) -> Callable[[int], float]:
    """Multiplier of the base learning rate at optimiser step ``step`` (LambdaLR)."""

    def factor(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        if name == "cosine":
            span = max(1, total - warmup)
            progress = min(1.0, (step - warmup) / span)
            return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))
        return 1.0

    return factor


# --------------------------------------------------------------------------------------
# Physical units
# --------------------------------------------------------------------------------------
class PhysicalUnits:
    """Maps normalised tensors back to physical units for one validation dataset, and makes
    the reference forecasts (persistence, anomaly persistence) on the same samples."""

    def __init__(self, dataset: Any, task: str) -> None:
        self.task = task
        if task == "taxibj":
            self.scaler = dataset.scaler
            return
        self.normalizer = dataset.normalizer
        self.target_times = np.asarray(dataset.target_times)  # (N, n_out) datetime64[ns]

    def target(self, batch: dict[str, Tensor], z: Tensor) -> Tensor:
        """(B, n_out, C, H, W) normalised -> physical at the samples' valid times."""
        if self.task == "taxibj":
            return self.scaler.inverse_transform(z)
        index = batch["index"].cpu().numpy()
        return self.normalizer.inverse_transform(z, self.target_times[index][:, : z.shape[1]])

    def baselines(self, batch: dict[str, Tensor], n_out: int) -> dict[str, Tensor]:
        """Reference forecasts in physical units, (B, n_out, C, H, W) each."""
        if self.task == "taxibj":
            last = batch["xc"][:, :2].float()  # newest closeness frame (t-1)
            phys = self.scaler.inverse_transform(last)
            return {"persistence": phys[:, None]}
        last = batch["x"][:, -1:].float()  # (B, 1, C, H, W)
        init = batch["init_time"].cpu().numpy()[:, None]
        phys_last = self.normalizer.inverse_transform(last, init)
        out = {"persistence": phys_last.expand(-1, n_out, -1, -1, -1)}
        if self.normalizer.kind == "anomaly":
            # Climatology at the valid time plus the last observed (scaled) anomaly.
            out["anomaly_persistence"] = self.target(batch, last.expand(-1, n_out, -1, -1, -1))
        return out


# --------------------------------------------------------------------------------------
# Callbacks
# --------------------------------------------------------------------------------------
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
        items["run ETA"] = _hms(max(0.0, left))
        return items


class EpochBudget(Timer):
    """``--max-time`` as a budget for this invocation, checked at the end of each epoch.

    Lightning's own ``max_time`` stops mid-epoch (a resumed run would then skip the rest of
    that epoch) and restores the time already spent from the checkpoint (a resumed run
    would stop at once). Here the run stops at the first epoch end past the budget, so the
    last checkpoint is a clean epoch boundary and ``--resume`` continues exactly; a resumed
    run gets a fresh budget.
    """

    def __init__(self, duration: timedelta) -> None:
        super().__init__(duration=duration, interval="epoch", verbose=False)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Ignore the time spent before the interruption (see the class docstring)."""


class MetricsCSV(Callback):
    """Appends one row per epoch to ``metrics.csv`` (rank 0): epoch, step, train and
    validation loss, val RMSE (mean and per lead), learning rate, seconds."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, module: ForecastModule) -> None:
        train_loss = module.train_loss()  # collective: every rank takes part
        if trainer.global_rank != 0 or trainer.sanity_checking:
            return
        row: dict[str, Any] = {
            "epoch": trainer.current_epoch,
            "step": trainer.global_step,
            "train_loss": train_loss,
            "val_loss": module.last_val.get("val_loss", float("nan")),
            "val_rmse": module.last_val.get("val_rmse", float("nan")),
        }
        for k in range(1, module.n_out + 1):
            row[f"val_rmse_lead{k}"] = module.last_val.get(f"val_rmse_lead{k}", float("nan"))
        row["lr"] = trainer.optimizers[0].param_groups[0]["lr"]
        started = getattr(module, "_epoch_started", self._start)
        row["epoch_seconds"] = round(time.perf_counter() - started, 3)
        new = not self.path.exists()
        with open(self.path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)
        module.last_val = {}


class BaselinesJSON(Callback):
    """Writes ``baselines.json`` (persistence RMSE per lead) once they are known (rank 0)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def on_validation_end(self, trainer: L.Trainer, module: ForecastModule) -> None:
        if trainer.global_rank != 0 or trainer.sanity_checking or not module.baselines:
            return
        if not self.path.exists():
            runs.write_json(self.path, {"split": "val", "rmse_per_lead": module.baselines})


# --------------------------------------------------------------------------------------
# Pipelines, cubes and data
# --------------------------------------------------------------------------------------
def pipeline_for_region(region: str, search: list[Path] | None = None) -> Path:
    """``pipelines/<region>.yaml`` from the working directory, else from the checkout."""
    folders = search if search is not None else [Path("pipelines"), PACKAGE_PIPELINES]
    for folder in folders:
        path = folder / f"{region}.yaml"
        if path.exists():
            return path
    known = sorted({p.stem for f in folders if f.is_dir() for p in f.glob("*.yaml")})
    raise ConfigError(
        f"no pipeline file for region {region!r} (looked for pipelines/{region}.yaml); "
        f"known: {', '.join(known) or 'none'}"
    )


def _catalog(path: str | Path | None) -> Catalog | None:
    if path is not None:
        return load_catalog(path)
    for candidate in (Path("data_catalog.yaml"), PACKAGE_PIPELINES.parent / "data_catalog.yaml"):
        if candidate.exists():
            return load_catalog(candidate)
    return None


def resolve_cube(pipeline: Pipeline, catalog: Catalog | None) -> str:
    """The cube path of a pipeline; a one-line error naming the ingest command when the
    cube does not exist yet."""
    if pipeline.cube is None and catalog is not None:
        catalog.source(pipeline.source)  # unknown source: clear error
        if pipeline.region is not None:
            catalog.region(pipeline.region)
    path = pipeline.cube_path(catalog)
    local = "://" not in path
    if local and not Path(path).exists():
        command = f"sstcast ingest {pipeline.source}"
        if pipeline.region:
            command += f" --region {pipeline.region}"
        hint = ""
        if catalog is not None and pipeline.source in catalog.sources:
            if catalog.sources[pipeline.source].sample:
                command += " --sample"
                hint = " (--sample writes the built-in sample files first when missing)"
        raise SstcastError(f"cube {path} does not exist; make it with `{command}`{hint}")
    return path


@dataclass
class TaskData:
    """Training and validation data of a pipeline, and what the model and run need."""

    train: Any
    val: Any
    model_kwargs: dict[str, Any]
    signature: dict[str, Any]
    info: dict[str, Any]
    area_weight: np.ndarray
    units: PhysicalUnits
    normalizer: Any


def build_data(
    pipeline: Pipeline, cube_path: str, model_name: str, preset: str, model_config: dict[str, Any]
) -> TaskData:
    """Datasets for ``pipeline`` on ``cube_path`` with the model's data-dependent arguments."""
    if pipeline.task == "taxibj":
        return _taxibj_data(pipeline, cube_path, model_name, preset, model_config)
    return _sst_data(pipeline, cube_path, model_name, preset, model_config)


def _period(times: Any) -> list[str]:
    times = np.asarray(times).ravel()
    return [
        str(np.datetime_as_string(times.min(), unit="s")),
        str(np.datetime_as_string(times.max(), unit="s")),
    ]


def _sst_data(
    pipeline: Pipeline, cube_path: str, model_name: str, preset: str, model_config: dict[str, Any]
) -> TaskData:
    from sstcast.data.windows import WindowDataset

    d = pipeline.data
    options = dict(
        n_in=d.n_in,
        n_out=d.n_out,
        splits=d.split,
        stride=d.stride,
        normalization=d.normalization,
        harmonics=d.harmonics,
        static_channels=tuple(d.static_channels),
        day_of_year=d.day_of_year,
        compact_extra=True,  # day-of-year planes are broadcast on the device (expand_extra)
    )
    train = WindowDataset(cube_path, split="train", **options)
    with warnings.catch_warnings():  # the train split already warned about trimmed gaps
        warnings.simplefilter("ignore", UserWarning)
        val = WindowDataset(
            cube_path, split="val", normalizer=train.normalizer, **{**options, "stride": 1}
        )
    h, w = train.mask.shape
    model_kwargs = {
        **model_config,
        "in_channels": train.n_channels,
        "extra_channels": train.n_extra,
    }
    signature = {
        "task": "sst",
        "model": model_name,
        "preset": preset,
        "variable": train.variable,
        "grid": [int(h), int(w)],
        "channels": list(train.channels),
        "extra_channel_names": list(train.extra_channels),
        "in_channels": train.n_channels,
        "extra_channels": train.n_extra,
        "n_in": d.n_in,
        "n_out": d.n_out,
        "normalization": train.normalizer.kind,
        "model_kwargs": model_kwargs,
    }
    coords = train.coords
    lat = coords.get(train.spatial_dims[0])
    weight = np.ones((h, w), dtype=np.float32)
    if lat is not None and train.spatial_dims[0] == "lat":
        weight *= np.cos(np.deg2rad(lat)).astype(np.float32)[:, None]
    weight = np.where(train.mask, weight, 0.0).astype(np.float32)
    if weight.sum() > 0:
        weight /= weight[train.mask].mean()
    info = {
        "cube": cube_path,
        "variable": train.variable,
        "units": train.normalizer.units,
        "grid": {dim: int(n) for dim, n in zip(train.spatial_dims, (h, w), strict=True)},
        "frequency": train.frequency,
        "n_train_windows": len(train),
        "n_val_windows": len(val),
        "train_period": _period(train.times[train.split_slices["train"]].values),
        "val_period": _period(val.times[val.split_slices["val"]].values),
        "test_period": _period(val.times[val.split_slices["test"]].values),
        "ocean_cells": int(train.mask.sum()),
    }
    return TaskData(
        train,
        val,
        model_kwargs,
        signature,
        info,
        weight,
        PhysicalUnits(val, "sst"),
        train.normalizer,
    )


def _taxibj_data(
    pipeline: Pipeline, cube_path: str, model_name: str, preset: str, model_config: dict[str, Any]
) -> TaskData:
    from sstcast.data.stresnet import STResNetDataset

    d = pipeline.data
    options = dict(
        len_closeness=d.closeness,
        len_period=d.period,
        len_trend=d.trend,
        test_days=d.test_days,
        val_days=d.val_days,
    )
    train = STResNetDataset(cube_path, "train", **options)
    val = STResNetDataset(cube_path, "val", scaler=train.scaler, **options)
    h, w = train.grid
    model_kwargs = {**model_config, **train.config()}
    if not d.external:
        model_kwargs["ext_dim"] = 0
    signature = {
        "task": "taxibj",
        "model": model_name,
        "preset": preset,
        "variable": "flow",
        "grid": [int(h), int(w)],
        "channels": ["inflow", "outflow"],
        "extra_channel_names": list(train.ext_names) if d.external else [],
        "in_channels": 2,
        "extra_channels": int(model_kwargs["ext_dim"]),
        "model_kwargs": model_kwargs,
    }
    info = {
        "cube": cube_path,
        "variable": "flow",
        "units": "flow count per 30 min",
        "grid": {"y": int(h), "x": int(w)},
        "frequency": f"{24 * 60 // train.slots_per_day}min",
        "n_train_windows": len(train),
        "n_val_windows": len(val),
        "train_period": list(train.split_days["train"]),
        "val_period": list(train.split_days.get("val", ())),
        "test_period": list(train.split_days["test"]),
    }
    return TaskData(
        train,
        val,
        model_kwargs,
        signature,
        info,
        np.ones((h, w), np.float32),
        PhysicalUnits(val, "taxibj"),
        train.scaler,
    )


class _Batches(torch.utils.data.Dataset):
    """Whole-batch access for STResNetDataset (its ``get_batch``) through ``__getitems__``."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> Any:
        return self.dataset[i]

    def __getitems__(self, indices: list[int]) -> list[dict[str, Tensor]]:
        return [self.dataset.get_batch(indices)]


def _first(batch: list[dict[str, Tensor]]) -> dict[str, Tensor]:
    return batch[0]


def make_loaders(
    data: TaskData, pipeline: Pipeline, distributed: bool, pin_memory: bool = False
) -> tuple[DataLoader, DataLoader]:
    """Training (shuffled per epoch, reproducibly) and validation loaders.

    ``pin_memory`` (for CUDA) makes host-to-device copies asynchronous."""
    t = pipeline.trainer
    if pipeline.task == "taxibj":
        train_ds, val_ds, collate = _Batches(data.train), _Batches(data.val), _first
    else:
        from sstcast.data.windows import collate_windows

        train_ds, val_ds, collate = data.train, data.val, collate_windows
        if t.num_workers > 0:
            data.train.load()
            data.val.load()
    common = dict(
        batch_size=t.batch_size,
        num_workers=t.num_workers,
        collate_fn=collate,
        persistent_workers=t.num_workers > 0,
        pin_memory=pin_memory,
    )
    if distributed:  # Lightning swaps in a DistributedSampler (seeded, set_epoch)
        train = DataLoader(train_ds, shuffle=True, drop_last=False, **common)
    else:
        sampler = EpochShuffleSampler(len(train_ds), pipeline.seed)
        train = DataLoader(train_ds, sampler=sampler, **common)
    val = DataLoader(val_ds, shuffle=False, **common)
    return train, val


# --------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------
def estimate_epoch_seconds(
    module: ForecastModule,
    loader: DataLoader,
    n_val_batches: int,
    device: torch.device,
    bf16: bool,
    batches: int = 2,
) -> tuple[float, float]:
    """(seconds per training batch, seconds per validation batch), timed on a copy of the
    model (forward + backward, then forward only) after one warm-up batch."""
    model = copy.deepcopy(module).to(device)
    model.train()
    it = iter(loader)
    timings = []
    val_time = 0.0
    for i in range(batches + 1):
        try:
            batch = next(it)
        except StopIteration:
            break
        batch = {k: v.to(device) for k, v in batch.items()}
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            pred = model(batch)
            loss = model.masked_mse(pred, model.target(batch), model.ocean(batch, pred))
        loss.backward()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i > 0:
            timings.append(time.perf_counter() - start)
        if i == batches:
            model.eval()
            start = time.perf_counter()
            with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                model(batch)
            if device.type == "cuda":
                torch.cuda.synchronize()
            val_time = time.perf_counter() - start
    del model
    if not timings:
        return 0.0, 0.0
    return float(np.median(timings)), val_time


def _batches_per_epoch(n: int, limit: int | float | None, world: int) -> int:
    """Batches one process runs per epoch, given Lightning's ``limit_*_batches``."""
    n = math.ceil(n / world)
    if isinstance(limit, int):
        return min(n, limit)
    if isinstance(limit, float):
        return max(1, int(n * limit))
    return n


def _announce_estimate(
    module: ForecastModule,
    train_loader: DataLoader,
    val_loader: DataLoader,
    t: Any,
    dev: str,
    precision: str,
    world: int,
    say: Echo,
) -> None:
    """Print the estimated time per epoch; warn when a CPU run would exceed an hour."""
    n_train = _batches_per_epoch(len(train_loader), t.limit_train_batches, world)
    n_val = _batches_per_epoch(len(val_loader), t.limit_val_batches, world)
    per_train, per_val = estimate_epoch_seconds(
        module, train_loader, n_val, torch.device(dev), precision == "bf16-mixed"
    )
    per_epoch = per_train * n_train + per_val * n_val
    total = per_epoch * t.epochs
    max_td = parse_max_time(t.max_time)
    say(
        f"estimated time per epoch: {_hms(per_epoch)} ({n_train} batches of {t.batch_size}); "
        f"{t.epochs} epochs: {_hms(total)}"
        + (f", capped by --max-time {max_td}" if max_td is not None else "")
    )
    budget = min(total, max_td.total_seconds()) if max_td is not None else total
    if dev == "cpu" and budget > CPU_WARN_SECONDS:
        say(
            f"warning: this CPU run would take about {_hms(budget)}; set --max-time or "
            "--epochs, shrink the model (--preset), or train on a GPU (--device cuda)"
        )


def lead_table(metrics_csv: Path, baselines: dict[str, list[float]] | None) -> str:
    """Validation RMSE per lead of the best epoch beside the baselines, as aligned text.

    Empty when the metrics have no per-lead columns (e.g. ST-ResNet's one-step target).
    """
    if not metrics_csv.exists():
        return ""
    table = pd.read_csv(metrics_csv)
    leads = [c for c in table.columns if c.startswith("val_rmse_lead")]
    if table.empty or not leads:
        return ""
    best = table.loc[table["val_rmse"].idxmin()]
    rows = {"model": [float(best[c]) for c in leads], **(baselines or {})}
    width = max(len(name) for name in rows)
    header = f"{'val RMSE / lead':<{width + 2}} "
    lines = [header + " ".join(f"{k:>6d}" for k in range(1, len(leads) + 1))]
    for name, values in rows.items():
        lines.append(f"  {name:<{width}} " + " ".join(f"{v:6.3f}" for v in values[: len(leads)]))
    return "\n".join(lines)


def _hms(seconds: float) -> str:
    """A duration for people: ``0.42 s``, ``3m07s``, ``2h05m00s``."""
    if seconds < 60:
        return f"{seconds:.2g} s" if seconds < 10 else f"{seconds:.0f} s"
    seconds = round(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


# --------------------------------------------------------------------------------------
# fit
# --------------------------------------------------------------------------------------
@dataclass
class FitResult:
    """What :func:`fit` returns."""

    run_dir: Path
    best_checkpoint: Path | None
    last_checkpoint: Path | None
    best_val_rmse: float | None
    epochs: int
    baselines: dict[str, list[float]] | None
    rank: int = 0  # this process's global rank (DDP children re-run the command)


def _select_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise SstcastError("--device cuda: no CUDA device is available (use --device cpu)")
    return device


def _precision(requested: str, device: str, echo: Echo) -> str:
    if device != "cuda":
        if requested not in ("auto", "32-true"):
            echo(f"note: precision {requested} is for CUDA only; training on CPU in float32")
        return "32-true"
    if requested == "auto":
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "32-true"
    return requested


def _check_model(pipeline: Pipeline, name: str, preset: str) -> None:
    from sstcast.models import available, get_entry

    if name not in available():
        raise SstcastError(f"unknown model {name!r}; available: {', '.join(available())}")
    entry = get_entry(name)
    if preset not in entry.presets:
        raise SstcastError(
            f"model {name!r} has no preset {preset!r}; presets: {', '.join(entry.presets)}"
        )
    want = "stresnet" if pipeline.task == "taxibj" else "sequence"
    if entry.kind != want:
        raise SstcastError(
            f"model {name!r} is a {entry.kind} model but task {pipeline.task!r} needs a {want} model"
        )


def fit(
    pipeline: Pipeline | str | Path | None = None,
    *,
    region: str | None = None,
    catalog: str | Path | None = None,
    model: str | None = None,
    preset: str | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    max_time: str | float | None = None,
    device: str | None = None,
    devices: int | None = None,
    strategy: str | None = None,
    num_nodes: int | None = None,
    out: str | Path = "runs",
    resume: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    progress: bool = True,
    callbacks: list[Callback] | None = None,
    echo: Echo | None = None,
) -> FitResult:
    """Train the model of a pipeline; returns where the run went and how it did.

    ``pipeline`` is a :class:`Pipeline` or a YAML path; ``region`` picks
    ``pipelines/<region>.yaml`` instead. Keyword options override the file (``overrides``
    takes dotted keys such as ``{"trainer.limit_train_batches": 4}``). ``resume`` is a run
    directory or a checkpoint: the run's own config.yaml is used and training continues in
    the same directory from the checkpoint. ``callbacks`` are extra Lightning callbacks.
    Problems with the files or options raise :class:`SstcastError` or
    :class:`~sstcast.config.ConfigError` with a one-line message.
    """
    say = (echo or _stderr) if rank_zero_only.rank == 0 else (lambda _msg: None)
    overrides = dict(overrides or {})
    callbacks = list(callbacks or [])
    # -- the pipeline and its overrides ----------------------------------------------------
    ckpt_path: Path | None = None
    run_dir: Path | None = None
    if resume is not None:
        run_dir, ckpt_path = runs.resolve_resume(resume)
        pipe = runs.load_run_pipeline(run_dir)
    elif isinstance(pipeline, Pipeline):
        pipe = pipeline
    elif pipeline is not None:
        pipe = load_pipeline(pipeline)
    elif region is not None:
        pipe = load_pipeline(pipeline_for_region(region))
    else:
        raise SstcastError("give a pipeline file (--pipeline) or a region (--region)")
    changes = dict(overrides)
    if model is not None and model != pipe.model.name:
        say(f"note: --model {model}: the pipeline's options for {pipe.model.name} are not used")
        changes["model.name"] = model
        changes["model.config"] = {}
    for key, value in {
        "model.preset": preset,
        "trainer.epochs": epochs,
        "trainer.batch_size": batch_size,
        "trainer.max_time": max_time,
        "trainer.device": device,
        "trainer.devices": devices,
        "trainer.strategy": strategy,
        "trainer.num_nodes": num_nodes,
    }.items():
        if value is not None:
            changes[key] = value
    if (
        resume is not None
        and pipe.schedule.name == "onecycle"
        and changes.get("trainer.epochs", pipe.trainer.epochs) != pipe.trainer.epochs
    ):
        raise SstcastError(
            f"--epochs {changes['trainer.epochs']}: a onecycle schedule is laid out for the "
            f"run's {pipe.trainer.epochs} epochs and cannot be extended on --resume"
        )
    if changes:
        pipe = pipe.with_overrides(changes)
    _check_model(pipe, pipe.model.name, pipe.model.preset)

    # -- cube, data, model -------------------------------------------------------------------
    cube_path = resolve_cube(pipe, _catalog(catalog) if pipe.cube is None else None)
    pipe = pipe.with_overrides({"cube": cube_path})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        data = build_data(
            pipe, cube_path, pipe.model.name, pipe.model.preset, dict(pipe.model.config)
        )
    for w in caught:  # the data stage's notes (e.g. trimmed split gaps) as our own lines
        if w.category is UserWarning:
            say(f"note: {w.message}")
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    t = pipe.trainer
    L.seed_everything(pipe.seed, workers=True, verbose=False)  # the same initial weights
    try:
        module = ForecastModule(
            task=pipe.task,
            model=pipe.model.name,
            preset=pipe.model.preset,
            model_kwargs=data.model_kwargs,
            signature=data.signature,
            n_out=pipe.data.n_out if pipe.task == "sst" else 1,
            optim=pipe.optim.model_dump(mode="json"),
            schedule=pipe.schedule.model_dump(mode="json"),
            teacher_forcing=t.teacher_forcing,
            teacher_forcing_decay_epochs=t.teacher_forcing_decay_epochs,
            seed=pipe.seed,
        )
    except (TypeError, ValueError) as err:
        raise SstcastError(f"model {pipe.model.name!r}: {str(err).splitlines()[0]}") from None
    module.attach_units(data.units, data.area_weight)
    if ckpt_path is not None:  # a clear line before Lightning's own loading
        runs.check_signature(
            runs.checkpoint_signature(runs.read_checkpoint(ckpt_path)), data.signature, ckpt_path
        )

    # -- hardware ----------------------------------------------------------------------------
    dev = _select_device(t.device)
    precision = _precision(t.precision, dev, say)
    world = t.devices * t.num_nodes
    distributed = world > 1
    train_loader, val_loader = make_loaders(data, pipe, distributed, pin_memory=dev == "cuda")

    # -- run directory -----------------------------------------------------------------------
    set_env = False
    if run_dir is None:
        run_dir = runs.create_run_dir(out, pipe.name, pipe.model.name)
    if not os.environ.get(runs.RUN_DIR_ENV):
        os.environ[runs.RUN_DIR_ENV] = str(run_dir.resolve())  # DDP ranks launched later
        set_env = True
    ckpt_dir = run_dir / runs.CHECKPOINT_DIR
    if rank_zero_only.rank == 0:
        info = {
            "pipeline": pipe.name,
            "task": pipe.task,
            "model": pipe.model.name,
            "preset": pipe.model.preset,
            **data.info,
            "signature": data.signature,
            "n_parameters": sum(p.numel() for p in module.model.parameters()),
            "checkpoints": {
                "best": f"{runs.CHECKPOINT_DIR}/{runs.BEST}",
                "last": f"{runs.CHECKPOINT_DIR}/{runs.LAST}",
            },
        }
        if resume is None:
            runs.write_run_files(run_dir, pipe, info, data.normalizer)
        say(
            f"run {run_dir}: {pipe.model.name} ({info['n_parameters']:,} parameters), "
            f"{info['n_train_windows']} training / {info['n_val_windows']} validation samples, "
            f"{dev}, {precision}" + (f", {world} processes" if distributed else "")
        )

    # -- how long will it take? ----------------------------------------------------------------
    max_td = parse_max_time(t.max_time)
    if rank_zero_only.rank == 0:
        _announce_estimate(module, train_loader, val_loader, t, dev, precision, world, say)

    # -- the trainer -----------------------------------------------------------------------------
    cbs: list[Callback] = [
        ModelCheckpoint(
            dirpath=ckpt_dir,
            filename="best",
            monitor="val_rmse",
            mode="min",
            save_top_k=1,
            save_last=True,
            auto_insert_metric_name=False,
            enable_version_counter=False,
        ),
        MetricsCSV(run_dir / "metrics.csv"),
        BaselinesJSON(run_dir / "baselines.json"),
    ]
    if t.early_stopping_patience:
        cbs.append(
            EarlyStopping(monitor="val_rmse", mode="min", patience=t.early_stopping_patience)
        )
    if max_td is not None:
        cbs.append(EpochBudget(max_td))
    if progress:
        cbs.append(RunProgressBar())
    cbs.extend(callbacks)
    if distributed and t.strategy == "auto":
        strategy_arg: Any = "ddp_spawn" if dev == "cpu" else "ddp"
    else:
        strategy_arg = t.strategy
    L.seed_everything(pipe.seed, workers=True, verbose=False)
    with _quiet_lightning():
        trainer = L.Trainer(
            accelerator="gpu" if dev == "cuda" else "cpu",
            devices=t.devices,
            num_nodes=t.num_nodes,
            strategy=strategy_arg,
            precision=precision,
            max_epochs=t.epochs,
            gradient_clip_val=t.grad_clip,
            deterministic=True
            if (t.deterministic and dev == "cpu")
            else ("warn" if t.deterministic else False),
            callbacks=cbs,
            logger=False,
            enable_progress_bar=progress,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            log_every_n_steps=t.log_every_n_steps,
            limit_train_batches=t.limit_train_batches,
            limit_val_batches=t.limit_val_batches,
            default_root_dir=str(run_dir),
        )
    try:
        with _quiet_lightning():
            trainer.fit(module, train_loader, val_loader, ckpt_path=ckpt_path, weights_only=True)
    finally:
        if set_env:
            os.environ.pop(runs.RUN_DIR_ENV, None)

    # -- what came out -----------------------------------------------------------------------------
    ckpt_cb = trainer.checkpoint_callback
    best = Path(ckpt_cb.best_model_path) if ckpt_cb and ckpt_cb.best_model_path else None
    last = ckpt_dir / runs.LAST
    score = ckpt_cb.best_model_score if ckpt_cb else None
    best_rmse = float(score) if score is not None else None
    baselines = module.baselines
    if baselines is None and (run_dir / "baselines.json").exists():
        baselines = runs.read_json(run_dir / "baselines.json")["rmse_per_lead"]
    if rank_zero_only.rank == 0:
        info = runs.read_json(run_dir / "run.json")
        info.update(
            best_val_rmse=best_rmse,
            epochs_completed=trainer.current_epoch,
            global_step=trainer.global_step,
        )
        runs.write_json(run_dir / "run.json", info)
        if best_rmse is not None:
            say(
                f"best val RMSE {best_rmse:.4f} {data.info.get('units', '')} after "
                f"{trainer.current_epoch} epochs; run: {run_dir}"
            )
            table = lead_table(run_dir / "metrics.csv", baselines)
            if table:
                say(table)
    return FitResult(
        run_dir=run_dir,
        best_checkpoint=best if best is not None and best.exists() else None,
        last_checkpoint=last if last.exists() else None,
        best_val_rmse=best_rmse,
        epochs=trainer.current_epoch,
        baselines=baselines,
        rank=trainer.global_rank,
    )
