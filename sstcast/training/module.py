"""Any registry model as a Lightning module, trained and validated through a task object.

What the loop does, and why:

* The loss is the mean squared error in normalised space over scored cells only (land cells
  are zero-filled inputs, never targets). A sequence model configured with
  ``loss_on_inputs: true`` is trained, as the SwinLSTM and DatLSTM references train, on its
  T_in − 1 warm-up predictions of input frames 2..T_in as well; validation always scores
  the forecasts only.
* Validation scores in physical units (°C for SST, flow counts for TaxiBJ) per lead with
  :class:`sstcast.verify.streaming.LeadAccumulator` — the one definition of "area-weighted
  RMSE per lead over ocean" that ``sstcast evaluate`` also uses — pooled over all validation
  windows (not averaged over batches). On the first validation the task's reference
  forecasts (persistence, climatology, anomaly persistence) are scored on the same windows.
* Reproducibility: every epoch's random stream derives from ``(seed, epoch, rank)`` and every
  step's from ``(seed, step, rank)``, so ``--resume`` from an end-of-epoch checkpoint replays
  exactly what an uninterrupted run would have done.
"""

from __future__ import annotations

import math
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import Tensor

from sstcast import runs
from sstcast.data.normalize import Normalizer
from sstcast.errors import SstcastError
from sstcast.models.base import warmup_outputs
from sstcast.tasks import get_task
from sstcast.training.optim import build_optimizer, build_schedule, warmup_steps
from sstcast.verify.streaming import SUM_KEYS, LeadAccumulator, metrics_from_sums


class ForecastModule(L.LightningModule):
    """Any registry model as a Lightning module.

    All constructor arguments are plain Python values (saved as hyperparameters, so a
    checkpoint loads with ``weights_only=True`` and describes itself). ``signature`` names
    the task, model, variable, grid and channels; it is compared before weights are loaded.

    Args:
        task: the pipeline's task name (see :mod:`sstcast.tasks`).
        model, preset, model_kwargs: ``sstcast.models.create(model, preset, **model_kwargs)``.
        signature: see :func:`sstcast.runs.check_signature`.
        n_out: leads trained on.
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
        from sstcast.models import create

        self.save_hyperparameters()
        self.task = get_task(task)
        self.model = create(model, preset, **model_kwargs)
        self.n_out = n_out
        # Set by attach_units for validation in physical units.
        self.normalizer: Normalizer | None = None
        self.register_buffer("area_weight", torch.ones(1, 1), persistent=False)
        #: Reference RMSE per lead on the validation windows (after the first validation).
        self.baselines: dict[str, list[float]] | None = None
        #: The latest validation's metrics (val_loss, val_rmse, val_rmse_lead<k>, ...).
        self.last_val: dict[str, float] = {}
        self._warmup_steps = 0
        self._reset_train()
        self._val: dict[str, Any] = {}
        #: ``(mode, device)`` when the training loop compiles the model (``trainer.compile``);
        #: done in :meth:`configure_model`, i.e. in every process of a distributed run.
        self.compile_with: tuple[str, str] | None = None
        self._compiled = False

    def configure_model(self) -> None:
        """Lightning's per-process set-up hook: compile the model when asked."""
        if self.compile_with is not None and not self._compiled:
            from sstcast.training.hardware import compile_model

            compile_model(self.model, *self.compile_with)
            self._compiled = True

    # -- data in, prediction out ---------------------------------------------------------
    def attach_units(self, normalizer: Normalizer, area_weight: np.ndarray) -> None:
        """Give the module the normaliser (back to physical units) and the (H, W) weights."""
        self.normalizer = normalizer
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
        p = self.teacher_forcing_probability(self.current_epoch) if self.training else 0.0
        return self.task.forward(self.model, batch, self.n_out, p)

    def loss(self, batch: dict[str, Tensor], pred: Tensor, truth: Tensor | None = None) -> Tensor:
        """Mean squared error over scored cells (float32 whatever the autocast dtype) against
        ``truth`` (default: the task's target)."""
        scored = self.task.scored(batch, pred).expand_as(pred)
        y = self.task.target(batch) if truth is None else truth
        sq = torch.where(scored, (pred.float() - y.float()) ** 2, 0.0)
        return sq.sum() / scored.sum().clamp_min(1)

    def loss_with_inputs(self, batch: dict[str, Tensor]) -> Tensor:
        """The references' training loss: the MSE over the warm-up predictions of input
        frames 2..T_in and the forecasts, all frames weighted alike."""
        if "x" not in batch:
            raise SstcastError(
                f"model option loss_on_inputs needs a task whose inputs are the predicted "
                f"frames; task {self.task.name!r} has none"
            )
        with warmup_outputs(self.model):
            pred = self(batch)
        truth = torch.cat([batch["x"][:, 1:], self.task.target(batch)], dim=1)
        return self.loss(batch, pred, truth.to(pred.dtype))

    # -- training ------------------------------------------------------------------------
    def _reset_train(self) -> None:
        self._train_sum = torch.zeros((), dtype=torch.float64)
        self._train_count = torch.zeros((), dtype=torch.float64)

    def on_train_epoch_start(self) -> None:
        # Each epoch's random stream depends only on (seed, epoch, rank): exact resume.
        seed = int(self.hparams.seed) + 1000 * self.current_epoch + self.global_rank
        L.seed_everything(seed % 2**32, workers=True, verbose=False)
        self._reset_train()

    def training_loss(self, batch: dict[str, Tensor]) -> tuple[Tensor, int]:
        """The loss a training step minimises (forecasts, and the warm-up predictions with
        ``loss_on_inputs``) and the number of samples in ``batch``."""
        if getattr(self.model, "loss_on_inputs", False):
            return self.loss_with_inputs(batch), batch["x"].shape[0]
        pred = self(batch)
        return self.loss(batch, pred), pred.shape[0]

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        loss, n = self.training_loss(batch)
        if not torch.isfinite(loss):
            raise SstcastError(
                f"training loss is {loss.item()} at step {self.global_step} (epoch "
                f"{self.current_epoch}, batch {batch_idx}); lower optim.lr, keep "
                "trainer.grad_clip, or check the cube for bad values"
            )
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
    def on_validation_epoch_start(self) -> None:
        self._val = {
            "loss_sum": torch.zeros((), dtype=torch.float64, device=self.device),
            "loss_count": torch.zeros((), dtype=torch.float64, device=self.device),
            "scores": {},
        }

    def _score(self, name: str, forecast: Tensor, truth: Tensor, weight: Tensor) -> None:
        scores = self._val["scores"]
        if name not in scores:
            scores[name] = LeadAccumulator(forecast.shape[1], device=forecast.device)
        scores[name].update(forecast, truth, weight)

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        pred = self(batch)
        n = pred.shape[0]
        self._val["loss_sum"] += self.loss(batch, pred).double() * n
        self._val["loss_count"] += n
        if self.normalizer is None:
            return
        y = self.task.target(batch).float()
        scored = self.task.scored(batch, pred)
        weight = torch.where(scored, self.area_weight.to(pred.device), 0.0)
        truth = self.task.to_physical(self.normalizer, batch, y)
        self._score(
            "model", self.task.to_physical(self.normalizer, batch, pred.float()), truth, weight
        )
        if self.baselines is None:
            for name, guess in self.task.references(self.normalizer, batch, self.n_out).items():
                self._score(name, guess, truth, weight)

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking or not self._val:
            return
        strategy = self.trainer.strategy
        loss_sum = strategy.reduce(self._val["loss_sum"].clone(), reduce_op="sum")
        loss_count = strategy.reduce(self._val["loss_count"].clone(), reduce_op="sum")
        metrics = {"val_loss": float(loss_sum / loss_count.clamp_min(1))}
        rmse: dict[str, list[float]] = {}
        for name, acc in self._val["scores"].items():
            sums = {k: strategy.reduce(acc.sums()[k].clone(), reduce_op="sum") for k in SUM_KEYS}
            rmse[name] = [float(v) for v in metrics_from_sums(sums)["rmse"]]
        if "model" in rmse:
            metrics["val_rmse"] = float(np.mean(rmse["model"]))
            for k, value in enumerate(rmse["model"], start=1):
                metrics[f"val_rmse_lead{k}"] = value
            references = {k: v for k, v in rmse.items() if k != "model"}
            if self.baselines is None and references:
                self.baselines = references
                for name, per_lead in references.items():
                    metrics[f"{name}_rmse"] = float(np.mean(per_lead))
        else:
            metrics["val_rmse"] = math.sqrt(metrics["val_loss"])
        self.last_val = metrics
        for name, value in metrics.items():
            # Already reduced over ranks: sync_dist averages identical values (no change).
            self.log(name, value, prog_bar=name == "val_rmse", sync_dist=True)

    # -- prediction ----------------------------------------------------------------------
    def predict_step(
        self, batch: dict[str, Tensor], batch_idx: int, dataloader_idx: int = 0
    ) -> Tensor:
        """The forecast in normalised space, (batch, n_out, channels, H, W)."""
        return self(batch).float()

    # -- optimisation --------------------------------------------------------------------
    def configure_optimizers(self) -> Any:
        optim, schedule = self.hparams.optim, self.hparams.schedule
        optimizer = build_optimizer(self.named_parameters(), optim)
        total = self.trainer.estimated_stepping_batches
        epochs = max(1, self.trainer.max_epochs or 1)
        span = schedule.get("epochs")
        if span and schedule["name"] == "cosine" and math.isfinite(total):
            total, epochs = total * span / epochs, span  # the decay spans `span` epochs
        self._warmup_steps = warmup_steps(
            schedule, int(total) if math.isfinite(total) else 10**9, epochs
        )
        return build_schedule(optimizer, optim, schedule, total, epochs)

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
