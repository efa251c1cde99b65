"""``fit``: train the model of a pipeline — resolve, build, train, summarise.

``fit`` reads a pipeline (``pipelines/*.yaml``), opens its cube, lets the pipeline's task
(:mod:`sstcast.tasks`) cut training and validation samples, builds the model from the
registry and trains it with :class:`lightning.Trainer`, writing a run directory
(:mod:`sstcast.runs`) that ``sstcast forecast`` loads on its own.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import pandas as pd
from lightning.pytorch.callbacks import Callback, EarlyStopping
from lightning.pytorch.utilities import rank_zero_only

from sstcast import runs
from sstcast.config import (
    Pipeline,
    find_catalog,
    load_pipeline,
    parse_max_time,
    pipeline_for_region,
)
from sstcast.config import resolve_cube as _resolve_cube
from sstcast.errors import SstcastError
from sstcast.tasks import Task, TaskData, get_task
from sstcast.training.callbacks import (
    BaselinesJSON,
    EpochBudget,
    MetricsCSV,
    RunCheckpoint,
    RunProgressBar,
)
from sstcast.training.estimate import announce_estimate
from sstcast.training.hardware import (
    quiet_lightning,
    select_device,
    select_precision,
    select_strategy,
)
from sstcast.training.loaders import make_loaders
from sstcast.training.module import ForecastModule
from sstcast.utils.report import run_log

log = logging.getLogger(__name__)


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


# --------------------------------------------------------------------------------------
# resolve
# --------------------------------------------------------------------------------------
def resolve_pipeline(
    pipeline: Pipeline | str | Path | None,
    region: str | None,
    resume: str | Path | None,
    overrides: dict[str, Any],
) -> tuple[Pipeline, Path | None, Path | None]:
    """(pipeline with overrides, run dir, checkpoint) for a new run or a ``--resume``."""
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
    model = changes.pop("model.name", None)
    if model is not None and model != pipe.model.name:
        log.info(
            f"note: --model {model}: the pipeline's options for {pipe.model.name} are not used"
        )
        changes["model.name"] = model
        changes["model.config"] = {}
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
    return pipe, run_dir, ckpt_path


def check_model(task: Task, name: str, preset: str) -> None:
    """One line when the model is unknown, lacks the preset, or is not of the task's kind."""
    from sstcast.models import available, get_entry

    if name not in available():
        raise SstcastError(f"unknown model {name!r}; available: {', '.join(available())}")
    entry = get_entry(name)
    if preset not in entry.presets:
        raise SstcastError(
            f"model {name!r} has no preset {preset!r}; presets: {', '.join(entry.presets)}"
        )
    if entry.kind != task.model_kind:
        raise SstcastError(
            f"model {name!r} is a {entry.kind} model but task {task.name!r} needs a "
            f"{task.model_kind} model"
        )


def resolve_cube(pipeline: Pipeline, catalog: str | Path | None = None) -> str:
    """The pipeline's cube (through the catalog when the pipeline names no ``cube``)."""
    return _resolve_cube(pipeline, find_catalog(catalog) if pipeline.cube is None else None)


# --------------------------------------------------------------------------------------
# build
# --------------------------------------------------------------------------------------
def build_module(task: Task, pipe: Pipeline, data: TaskData) -> ForecastModule:
    """The Lightning module for ``pipe`` with validation in physical units attached."""
    t = pipe.trainer
    L.seed_everything(pipe.seed, workers=True, verbose=False)  # the same initial weights
    try:
        module = ForecastModule(
            task=task.name,
            model=pipe.model.name,
            preset=pipe.model.preset,
            model_kwargs=data.model_kwargs,
            signature=data.signature,
            n_out=task.n_out(pipe),
            optim=pipe.optim.model_dump(mode="json"),
            schedule=pipe.schedule.model_dump(mode="json"),
            teacher_forcing=t.teacher_forcing,
            teacher_forcing_decay_epochs=t.teacher_forcing_decay_epochs,
            seed=pipe.seed,
        )
    except (TypeError, ValueError) as err:
        raise SstcastError(f"model {pipe.model.name!r}: {str(err).splitlines()[0]}") from None
    module.attach_units(data.normalizer, data.area_weight)
    return module


def build_callbacks(
    run_dir: Path, pipe: Pipeline, progress: bool, extra: list[Callback]
) -> tuple[list[Callback], MetricsCSV]:
    """Checkpoints (best and last), metrics, references, early stopping, budget, progress."""
    t = pipe.trainer
    metrics = MetricsCSV(run_dir / "metrics.csv")
    cbs: list[Callback] = [
        metrics,  # the epoch's row first, then its checkpoint
        RunCheckpoint(run_dir / runs.CHECKPOINT_DIR),
        BaselinesJSON(run_dir / "baselines.json"),
    ]
    if t.early_stopping_patience:
        cbs.append(
            EarlyStopping(monitor="val_rmse", mode="min", patience=t.early_stopping_patience)
        )
    max_td = parse_max_time(t.max_time)
    if max_td is not None:
        cbs.append(EpochBudget(max_td))
    if progress:
        cbs.append(RunProgressBar())
    return [*cbs, *extra], metrics


def build_trainer(
    pipe: Pipeline,
    dev: str,
    precision: str,
    callbacks: list[Callback],
    run_dir: Path,
    progress: bool,
) -> L.Trainer:
    """The Lightning trainer for ``pipe`` on ``dev``."""
    t = pipe.trainer
    world = t.devices * t.num_nodes
    deterministic: bool | str = False
    if t.deterministic:
        deterministic = True if dev == "cpu" else "warn"
    with quiet_lightning():
        return L.Trainer(
            accelerator="gpu" if dev == "cuda" else "cpu",
            devices=t.devices,
            num_nodes=t.num_nodes,
            strategy=select_strategy(t.strategy, dev, world),
            precision=precision,
            max_epochs=t.epochs,
            gradient_clip_val=t.grad_clip,
            deterministic=deterministic,
            callbacks=callbacks,
            logger=False,
            enable_progress_bar=progress,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            log_every_n_steps=t.log_every_n_steps,
            limit_train_batches=t.limit_train_batches,
            limit_val_batches=t.limit_val_batches,
            default_root_dir=str(run_dir),
        )


# --------------------------------------------------------------------------------------
# summarise
# --------------------------------------------------------------------------------------
def lead_table(rows: list[dict[str, Any]], baselines: dict[str, list[float]] | None) -> str:
    """Validation RMSE per lead of the best epoch beside the references, as aligned text.

    Empty when the metrics have no per-lead columns (e.g. ST-ResNet's one-step target).
    """
    table = pd.DataFrame(rows)
    leads = [c for c in table.columns if c.startswith("val_rmse_lead")]
    if table.empty or not leads or table["val_rmse"].isna().all():
        return ""
    best = table.loc[table["val_rmse"].idxmin()]
    named = {"model": [float(best[c]) for c in leads], **(baselines or {})}
    width = max(len(name) for name in named)
    lines = [
        f"{'val RMSE / lead':<{width + 2}} "
        + " ".join(f"{k:>6d}" for k in range(1, len(leads) + 1))
    ]
    for name, values in named.items():
        lines.append(f"  {name:<{width}} " + " ".join(f"{v:6.3f}" for v in values[: len(leads)]))
    return "\n".join(lines)


def fit_schedule_to_budget(pipe: Pipeline, seconds_per_epoch: float) -> Pipeline:
    """With ``--max-time`` and a cosine schedule, let the decay span the epochs that fit in
    the budget at the estimated pace (``schedule.epochs``), so that the learning rate has
    come down when the budget stops the run instead of being cut off high. Recorded in the
    run's config.yaml, so a ``--resume`` follows the same schedule (at ``min_lr`` after it)."""
    budget = parse_max_time(pipe.trainer.max_time)
    if budget is None or seconds_per_epoch <= 0 or pipe.schedule.name != "cosine":
        return pipe
    if pipe.schedule.epochs is not None:
        return pipe
    fits = max(1, int(budget.total_seconds() // seconds_per_epoch))
    if fits >= pipe.trainer.epochs:
        return pipe
    log.info(
        f"note: --max-time {budget} fits about {fits} of the {pipe.trainer.epochs} epochs at the "
        f"estimated pace; the cosine schedule decays over {fits}"
    )
    return pipe.with_overrides({"schedule.epochs": fits})


def _earlier_rows(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "metrics.csv"
    return pd.read_csv(path).to_dict("records") if path.exists() else []


# --------------------------------------------------------------------------------------
# fit
# --------------------------------------------------------------------------------------
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
) -> FitResult:
    """Train the model of a pipeline; returns where the run went and how it did.

    ``pipeline`` is a :class:`Pipeline` or a YAML path; ``region`` picks
    ``pipelines/<region>.yaml`` instead. Keyword options override the file (``overrides``
    takes dotted keys such as ``{"trainer.limit_train_batches": 4}``). ``resume`` is a run
    directory or a checkpoint: the run's own config.yaml is used and training continues in
    the same directory from the checkpoint. ``callbacks`` are extra Lightning callbacks.
    Problems with the files or options raise :class:`SstcastError` with a one-line message;
    progress is logged to the ``sstcast`` logger.
    """
    with run_log() as to_file, contextlib.ExitStack() as stack:  # logs also go to train.log
        named = {
            "model.name": model,
            "model.preset": preset,
            "trainer.epochs": epochs,
            "trainer.batch_size": batch_size,
            "trainer.max_time": max_time,
            "trainer.device": device,
            "trainer.devices": devices,
            "trainer.strategy": strategy,
            "trainer.num_nodes": num_nodes,
        }
        changes = {**(overrides or {}), **{k: v for k, v in named.items() if v is not None}}
        # -- resolve ---------------------------------------------------------------------------
        pipe, run_dir, ckpt_path = resolve_pipeline(pipeline, region, resume, changes)
        task = get_task(pipe)
        check_model(task, pipe.model.name, pipe.model.preset)
        cube_path = resolve_cube(pipe, catalog)
        pipe = pipe.with_overrides({"cube": cube_path})
        # -- build -----------------------------------------------------------------------------
        data = task.build_data(pipe, cube_path)
        module = build_module(task, pipe, data)
        if ckpt_path is not None:  # a clear line before Lightning's own loading
            ckpt = runs.read_checkpoint(ckpt_path)
            runs.check_signature(runs.checkpoint_signature(ckpt), data.signature, ckpt_path)
        t = pipe.trainer
        dev = select_device(t.device)
        precision = select_precision(t.precision, dev)
        world = t.devices * t.num_nodes
        train_loader, val_loader = make_loaders(
            task, data, pipe, world > 1, pin_memory=dev == "cuda"
        )
        rank0 = rank_zero_only.rank == 0
        resumed = run_dir is not None
        if run_dir is None:
            run_dir = runs.create_run_dir(out, pipe.name, pipe.model.name)
        if rank0:  # one training per run folder (a second resume is refused)
            stack.enter_context(runs.run_lock(run_dir))
            if ckpt_path is not None:  # the rows this resume will redo
                runs.truncate_metrics(run_dir, int(ckpt.get("epoch", -1)))
        set_env = not os.environ.get(runs.RUN_DIR_ENV)
        if set_env:  # DDP ranks launched later find the same folder
            os.environ[runs.RUN_DIR_ENV] = str(run_dir.resolve())
        per_epoch = 0.0
        if rank0:
            to_file(run_dir / runs.TRAIN_LOG)
            n_params = sum(p.numel() for p in module.model.parameters())
            log.info(
                f"run {run_dir}: {pipe.model.name} ({n_params:,} parameters), "
                f"{data.info['n_train_windows']} training / {data.info['n_val_windows']} validation "
                f"samples, {dev}, {precision}" + (f", {world} processes" if world > 1 else "")
            )
            per_epoch = announce_estimate(
                module, train_loader, val_loader, t, dev, precision, world
            )
        if not resumed and world == 1:
            pipe = fit_schedule_to_budget(pipe, per_epoch)
            module.hparams["schedule"] = pipe.schedule.model_dump(mode="json")
        record = (
            runs.run_record(pipe, task.name, data, module)
            if not resumed
            else runs.read_record(run_dir)
        )
        if rank0 and not resumed:
            runs.write_run_files(run_dir, pipe, record, data.normalizer)
        # -- train -----------------------------------------------------------------------------
        cbs, metrics = build_callbacks(run_dir, pipe, progress, list(callbacks or []))
        L.seed_everything(pipe.seed, workers=True, verbose=False)
        trainer = build_trainer(pipe, dev, precision, cbs, run_dir, progress)
        try:
            with quiet_lightning():
                trainer.fit(
                    module, train_loader, val_loader, ckpt_path=ckpt_path, weights_only=True
                )
        except ValueError as err:
            if ckpt_path is not None and "parameter group" in str(err):
                raise SstcastError(
                    f"{ckpt_path}: written by an older sstcast (one optimiser parameter group, "
                    "weight decay on every parameter); it loads for forecasting but cannot be "
                    "resumed — start a new run"
                ) from None
            raise
        finally:
            if set_env:
                os.environ.pop(runs.RUN_DIR_ENV, None)
        # -- summarise ---------------------------------------------------------------------------
        ckpt_cb = trainer.checkpoint_callback
        best = Path(ckpt_cb.best_model_path) if ckpt_cb and ckpt_cb.best_model_path else None
        last = run_dir / runs.CHECKPOINT_DIR / runs.LAST
        score = ckpt_cb.best_model_score if ckpt_cb else None
        best_rmse = float(score) if score is not None else None
        baselines = module.baselines or record.get("baselines")
        if rank0:
            record.update(
                best_val_rmse=best_rmse,
                epochs_completed=trainer.current_epoch,
                global_step=trainer.global_step,
                baselines=baselines,
            )
            runs.write_record(run_dir, record)
            if best_rmse is not None:
                log.info(
                    f"best val RMSE {best_rmse:.4f} {data.info.get('units', '')} after "
                    f"{trainer.current_epoch} epochs; run: {run_dir}"
                )
                rows = _earlier_rows(run_dir) if resumed else metrics.rows
                table = lead_table(rows, baselines)
                if table:
                    log.info(table)
        return FitResult(
            run_dir=run_dir,
            best_checkpoint=best if best is not None and best.exists() else None,
            last_checkpoint=last if last.exists() else None,
            best_val_rmse=best_rmse,
            epochs=trainer.current_epoch,
            baselines=baselines,
            rank=trainer.global_rank,
        )
