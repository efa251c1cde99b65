"""``fit``: train the model of a pipeline — resolve, build, train, summarise.

``fit`` reads a pipeline (``pipelines/*.yaml``), opens its cube, lets the pipeline's task
(:mod:`sstcast.tasks`) cut training and validation samples, builds the model from the
registry and trains it with :class:`lightning.Trainer`, writing a run directory
(:mod:`sstcast.runs`) that ``sstcast forecast`` loads on its own.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import pandas as pd
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, LearningRateMonitor
from lightning.pytorch.loggers import Logger
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
    EpochCSVLogger,
    EpochMetrics,
    RunCheckpoint,
    RunProgressBar,
)
from sstcast.training.estimate import announce_estimate
from sstcast.training.hardware import (
    compile_mode,
    external_launcher,
    quiet_lightning,
    select_device,
    select_precision,
    select_strategy,
)
from sstcast.training.loaders import make_loaders
from sstcast.training.memory import (
    check_step_memory,
    free_bytes,
    measure_step_memory,
    out_of_memory_as_error,
)
from sstcast.training.module import ForecastModule
from sstcast.utils.report import progress_setting, run_log

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
        # the file's model options go first; options given for the new model still apply
        changes = {"model.config": {}, "model.name": model, **changes}
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


def named_overrides(**options: Any) -> dict[str, Any]:
    """The dotted pipeline keys of ``fit``'s keyword options that are given (not None)."""
    keys = {
        "model": "model.name",
        "preset": "model.preset",
        "epochs": "trainer.epochs",
        "batch_size": "trainer.batch_size",
        "max_time": "trainer.max_time",
        "device": "trainer.device",
        "devices": "trainer.devices",
        "strategy": "trainer.strategy",
        "num_nodes": "trainer.num_nodes",
    }
    return {keys[k]: v for k, v in options.items() if v is not None}


def resolved_config(
    pipeline: Pipeline | str | Path | None = None,
    *,
    region: str | None = None,
    catalog: str | Path | None = None,
    resume: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    **options: Any,
) -> Pipeline:
    """The pipeline ``fit`` would train with the same arguments, without training: the file
    (or the run's config.yaml on ``resume``) with ``overrides`` and the keyword options
    (``epochs=...``, as :func:`fit` takes them) applied, the model checked and the cube
    path made absolute (it need not exist yet). For ``sstcast train --print-config``."""
    changes = {**(overrides or {}), **named_overrides(**options)}
    pipe, _, _ = resolve_pipeline(pipeline, region, resume, changes)
    check_model(get_task(pipe), pipe.model.name, pipe.model.preset)
    cube = pipe.cube_path(find_catalog(catalog) if pipe.cube is None else None)
    return pipe.with_overrides({"cube": cube})


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
    run_dir: Path,
    pipe: Pipeline,
    progress: bool,
    extra: list[Callback],
    val_seconds: float = 0.0,
    start: float | None = None,
) -> list[Callback]:
    """Metrics, checkpoints (best and last), references, learning rate, early stopping,
    budget (``val_seconds``: the estimated validation pass, kept free at the budget's
    end until a real one has been timed; ``start``: the ``time.monotonic()`` it counts
    from, default the start of training), progress."""
    t = pipe.trainer
    cbs: list[Callback] = [
        EpochMetrics(),  # the epoch's row first, then its checkpoint
        RunCheckpoint(run_dir / runs.CHECKPOINT_DIR),
        BaselinesJSON(run_dir / "baselines.json"),
        LearningRateMonitor(logging_interval="step"),
    ]
    if t.early_stopping_patience:
        cbs.append(
            EarlyStopping(monitor="val_rmse", mode="min", patience=t.early_stopping_patience)
        )
    max_td = parse_max_time(t.max_time)
    if max_td is not None:
        cbs.append(EpochBudget(max_td, val_seconds=val_seconds, start=start))
    if progress:
        cbs.append(RunProgressBar())
    return [*cbs, *extra]


#: ``trainer.logger`` names: (modules any of which makes it work, the pip package to install).
LOGGER_PACKAGES: dict[str, tuple[tuple[str, ...], str]] = {
    "tensorboard": (("tensorboard", "tensorboardX"), "tensorboard"),
    "mlflow": (("mlflow",), "mlflow"),
}


def _require_logger_package(name: str) -> None:
    """One line naming the pip package when a logger asked for is not installed."""
    modules, package = LOGGER_PACKAGES[name]
    for module in modules:
        try:
            importlib.import_module(module)
            return
        except ImportError:
            continue
    raise SstcastError(
        f"trainer.logger: {name} needs the {package} package, which is not installed: "
        f"pip install {package}"
    )


def build_loggers(run_dir: Path, pipe: Pipeline) -> list[Logger]:
    """Lightning loggers of a run: the epoch table ``metrics.csv`` always; TensorBoard
    (``<run>/tensorboard``) and MLflow (``$MLFLOW_TRACKING_URI``, else ``<run>/mlflow.db``)
    when ``trainer.logger`` names them. All receive the per-lead validation RMSE, the
    losses and the learning rate (per step, from the LearningRateMonitor)."""
    loggers: list[Logger] = [EpochCSVLogger(run_dir)]
    for name in dict.fromkeys(pipe.trainer.logger):
        if name == "csv":
            continue
        _require_logger_package(name)
        if name == "tensorboard":
            from lightning.pytorch.loggers import TensorBoardLogger

            loggers.append(
                TensorBoardLogger(
                    save_dir=str(run_dir), name="tensorboard", version="", default_hp_metric=False
                )
            )
        elif name == "mlflow":
            loggers.append(_mlflow_logger(run_dir, pipe))
    return loggers


def _mlflow_logger(run_dir: Path, pipe: Pipeline) -> Logger:
    """MLflow at ``$MLFLOW_TRACKING_URI``, else in ``<run>/mlflow.db`` (SQLite); the store
    is opened at once on rank 0, so that a bad address is one line before training."""
    from lightning.pytorch.loggers import MLFlowLogger

    uri = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(run_dir / 'mlflow.db').resolve()}"
    try:
        logger = MLFlowLogger(experiment_name=pipe.name, run_name=run_dir.name, tracking_uri=uri)
        if rank_zero_only.rank == 0:
            logger.experiment  # noqa: B018 - creates the experiment and the run now
    except Exception as err:  # MLflow raises many kinds
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise SstcastError(f"trainer.logger: mlflow at {uri}: {first.strip()}") from None
    return logger


def build_trainer(
    pipe: Pipeline,
    dev: str,
    precision: str,
    callbacks: list[Callback],
    run_dir: Path,
    progress: bool,
    loggers: list[Logger] | None = None,
) -> L.Trainer:
    """The Lightning trainer for ``pipe`` on ``dev``, logging to ``loggers``."""
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
            logger=loggers or False,
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


def fit_schedule_to_budget(
    pipe: Pipeline, seconds_per_epoch: float, spent: float = 0.0
) -> Pipeline:
    """With ``--max-time`` and a cosine schedule, let the decay span the epochs that fit in
    what is left of the budget (``spent`` seconds are gone: data, the estimate) at the
    estimated pace (``schedule.epochs``), so that the learning rate has come down when the
    budget stops the run instead of being cut off high. Recorded in the run's config.yaml,
    so a ``--resume`` follows the same schedule (at ``min_lr`` after it)."""
    budget = parse_max_time(pipe.trainer.max_time)
    if budget is None or seconds_per_epoch <= 0 or pipe.schedule.name != "cosine":
        return pipe
    if pipe.schedule.epochs is not None:
        return pipe
    fits = max(budget.total_seconds() - spent, 0.01 * seconds_per_epoch) / seconds_per_epoch
    if fits >= pipe.trainer.epochs:
        return pipe
    # Fractional: a model whose epoch is longer than the budget decays within it too.
    fits = round(fits, 2) if fits < 10 else float(int(fits))
    shown = f"{fits:.1f}" if fits < 10 else f"{fits:.0f}"
    changes: dict[str, Any] = {"schedule.epochs": fits}
    warmup = pipe.schedule.warmup_epochs
    if warmup > fits / 4:  # a warmup longer than a quarter of the budget's steps: shortened
        changes["schedule.warmup_epochs"] = round(fits / 4, 3)
    log.info(
        f"note: --max-time {budget} fits about {shown} of the {pipe.trainer.epochs} epochs at "
        f"the estimated pace; the cosine schedule decays over {shown}"
        + (f" (warmup {changes['schedule.warmup_epochs']:g})" if len(changes) > 1 else "")
    )
    return pipe.with_overrides(changes)


def _metric_rows(run_dir: Path) -> list[dict[str, Any]]:
    """The rows of the run's ``metrics.csv`` (empty before any epoch)."""
    path = run_dir / "metrics.csv"
    return pd.read_csv(path).to_dict("records") if path.exists() else []


def model_name(pipe: Pipeline) -> str:
    """``model sam_convlstm (preset default)``, for messages."""
    return f"model {pipe.model.name} (preset {pipe.model.preset})"


def step_memory(
    module: ForecastModule, loader: Any, pipe: Pipeline, device: str, precision: str
) -> tuple[str | None, str | None]:
    """Measure a training step's memory and check it against what is free (raises
    :class:`SstcastError` when it cannot fit); (summary line, warning or None)."""
    dev = torch.device(device)
    with out_of_memory_as_error(model_name(pipe), 1):  # not even one sample fits
        need = measure_step_memory(module, loader, dev, precision == "bf16-mixed")
    if need is None:
        return None, None
    t = pipe.trainer
    processes = t.devices if device == "cpu" else 1  # CPU processes share the host
    return check_step_memory(need, t.batch_size, free_bytes(dev), model_name(pipe), processes)


def model_summary(pipe: Pipeline, module: ForecastModule, data: TaskData) -> str:
    """A short block naming the model, its parameter counts, inputs and grid."""
    params = list(module.model.parameters())
    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    sig = data.signature
    channels = list(sig.get("channels", []))
    extra = list(sig.get("extra_channel_names", []))
    inputs = f"{len(channels)} channel{'s' if len(channels) != 1 else ''} ({', '.join(channels)})"
    if extra:
        shown = ", ".join(extra) if len(extra) <= 6 else f"{', '.join(extra[:3])}, …"
        inputs += f" + {len(extra)} extra ({shown})"
    if "n_in" in sig and "n_out" in sig:
        inputs += f"; {sig['n_in']} steps in, {sig['n_out']} out"
    grid = data.info.get("grid") or {}
    shape = " x ".join(str(n) for n in grid.values())
    names = " x ".join(grid)
    return "\n".join(
        [
            f"  model   {pipe.model.name} (preset {pipe.model.preset}): {total:,} parameters, "
            f"{trainable:,} trainable",
            f"  input   {inputs}",
            f"  grid    {shape} ({names})" if grid else "  grid    -",
        ]
    )


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
    ``pipelines/<region>.yaml`` instead. Keyword options override the file, and so does
    ``overrides`` (dotted keys such as ``{"trainer.limit_train_batches": 4}``, as
    ``sstcast train --set`` gives them; the keyword options win over it). The resolved
    pipeline is the run's config.yaml and the overrides are recorded in run.json.
    ``resume`` is a run directory or a checkpoint: the run's own config.yaml is used and
    training continues in the same directory from the checkpoint. ``callbacks`` are extra
    Lightning callbacks. Problems with the files or options raise :class:`SstcastError`
    with a one-line message; progress is logged to the ``sstcast`` logger.
    """
    began = time.monotonic()  # --max-time counts from here: data and the estimate are in it
    with run_log() as to_file, contextlib.ExitStack() as stack:  # logs also go to train.log
        stack.enter_context(progress_setting(progress))  # bars of data loading and fitting
        options = dict(model=model, preset=preset, epochs=epochs, batch_size=batch_size)
        options.update(max_time=max_time, device=device, devices=devices)
        options.update(strategy=strategy, num_nodes=num_nodes)
        changes = {**(overrides or {}), **named_overrides(**options)}
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
        loggers_wanted = [name for name in t.logger if name != "csv"]
        for name in loggers_wanted:  # before any run folder is made
            _require_logger_package(name)
        dev = select_device(t.device)
        precision = select_precision(t.precision, dev)
        world = t.devices * t.num_nodes
        train_loader, val_loader = make_loaders(
            task, data, pipe, world > 1, pin_memory=dev == "cuda"
        )
        rank0 = rank_zero_only.rank == 0
        resumed = run_dir is not None
        launcher = external_launcher() if world > 1 else None
        if launcher and not resumed and not os.environ.get(runs.RUN_DIR_ENV):
            raise SstcastError(
                f"{launcher} started the {world} processes of this run together, and each would "
                f"make its own run folder: set {runs.RUN_DIR_ENV} to one folder on shared "
                "storage for all of them (docs/cluster.md)"
            )
        memory_line = memory_warning = None
        if rank0:  # before any run folder is made: a step that cannot fit is one line
            for ds in (data.train, data.val):  # read now (with a bar), not in the timing
                if hasattr(ds, "load"):
                    ds.load()
            memory_line, memory_warning = step_memory(module, train_loader, pipe, dev, precision)
        if run_dir is None:
            run_dir = runs.create_run_dir(out, pipe.name, pipe.model.name)
        if rank0:  # one training per run folder (a second resume is refused)
            stack.enter_context(runs.run_lock(run_dir))
            if ckpt_path is not None:  # the rows this resume will redo
                runs.truncate_metrics(run_dir, int(ckpt.get("epoch", -1)))
        set_env = not os.environ.get(runs.RUN_DIR_ENV)
        if set_env:  # DDP ranks launched later find the same folder
            os.environ[runs.RUN_DIR_ENV] = str(run_dir.resolve())
        per_epoch = val_seconds = 0.0
        if rank0:
            to_file(run_dir / runs.TRAIN_LOG)
            log.info(
                f"run {run_dir}\n{model_summary(pipe, module, data)}\n"
                f"  data    {data.info['n_train_windows']:,} training / "
                f"{data.info['n_val_windows']:,} validation samples\n"
                f"  device  {dev}, {precision}"
                + (f", {world} processes" if world > 1 else "")
                + (f"\n  memory  {memory_line}" if memory_line else "")
            )
            if memory_warning:
                log.warning(memory_warning)
            per_epoch, val_seconds = announce_estimate(
                module, train_loader, val_loader, t, dev, precision, world
            )
        if not resumed and world == 1:
            pipe = fit_schedule_to_budget(pipe, per_epoch, time.monotonic() - began)
            module.hparams["schedule"] = pipe.schedule.model_dump(mode="json")
        record = (
            runs.run_record(pipe, task.name, data, module)
            if not resumed
            else runs.read_record(run_dir)
        )
        if not resumed:
            record.update(overrides=changes, device=dev, precision=precision)
        if rank0 and not resumed:
            runs.write_run_files(run_dir, pipe, record, data.normalizer)
        # -- train -----------------------------------------------------------------------------
        mode = compile_mode(t.compile)
        if mode is not None:  # after the estimate (eager), in every process (configure_model)
            module.compile_with = (mode, dev)
            if rank0:
                log.info(f"compiling the model (torch.compile, mode {mode}) at the first batch")
        cbs = build_callbacks(
            run_dir, pipe, progress, list(callbacks or []), val_seconds, start=began
        )
        L.seed_everything(pipe.seed, workers=True, verbose=False)
        trainer = build_trainer(
            pipe, dev, precision, cbs, run_dir, progress, build_loggers(run_dir, pipe)
        )
        try:
            with (
                out_of_memory_as_error(model_name(pipe), t.batch_size),
                quiet_lightning(),
                progress_setting(False),
                warnings.catch_warnings(),
            ):
                # Lightning draws its own bar; the epoch rows need no per-step logging
                warnings.filterwarnings("ignore", message=".*smaller than the logging interval")
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
                table = lead_table(_metric_rows(run_dir), baselines)
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
