"""Run directories: everything a training run leaves behind, and how to load it back.

A run lives in ``runs/<pipeline>/<model>/<YYYYmmdd-HHMMSS>/``::

    config.yaml         the resolved pipeline (overrides applied, cube path absolute)
    run.json            cube and its provenance (source files, SHA-256), grid, variable,
                        channels, periods, signature, overrides, best score
    normalizer.nc       normalisation statistics fitted on the training split (any task;
                        runs written before 0.2 have normalizer.json for TaxiBJ: still read)
    version.json        sstcast, numpy, xarray, zarr, dask, timm, torch, lightning, python,
                        CUDA and GPU, git commit
    metrics.csv         one row per epoch (Lightning's CSV logger): losses, val RMSE per
                        lead, learning rate, time
    tensorboard/        TensorBoard events, with ``trainer.logger: [csv, tensorboard]``
    train.log           everything the run logged (with times)
    baselines.json      reference RMSE per lead on the validation windows
    checkpoints/best.ckpt, checkpoints/last.ckpt

:func:`load_run` turns a run directory back into ``(model, normalizer, pipeline, cube)``,
which is all that ``sstcast forecast`` needs. Checkpoints are read with
``torch.load(weights_only=True)``: they hold only tensors and plain Python values.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

from sstcast.config import ConfigError, Pipeline, load_pipeline, save_pipeline
from sstcast.data.normalize import FlowScaler, Normalizer
from sstcast.data.normalize import load_normalizer as _load_normalizer_file
from sstcast.errors import SstcastError
from sstcast.utils.io import atomic_path, exclusive_lock, sha256_file, write_json
from sstcast.utils.io import read_json as _read_json
from sstcast.utils.provenance import cube_provenance, software_versions

RUN_DIR_ENV = "SSTCAST_RUN_DIR"
"""When set, :func:`create_run_dir` uses this folder (DDP ranks and multi-node launchers
share one run directory this way)."""

CHECKPOINT_DIR = "checkpoints"
BEST = "best.ckpt"
LAST = "last.ckpt"
NORMALIZER = "normalizer.nc"
TRAIN_LOG = "train.log"
LEGACY_SCALER = "normalizer.json"


class LoadedRun(NamedTuple):
    """What :func:`load_run` returns: unpack as ``model, normalizer, pipeline, cube``."""

    model: nn.Module
    normalizer: Any
    pipeline: Pipeline
    cube: str


# --------------------------------------------------------------------------------------
# Creating a run
# --------------------------------------------------------------------------------------
def create_run_dir(
    root: str | Path, pipeline: str, model: str, now: datetime | None = None
) -> Path:
    """Make ``root/<pipeline>/<model>/<timestamp>/checkpoints`` and return the run folder.

    The timestamp is UTC to the second; a second run in the same second gets ``-2``, ``-3``...
    When the environment variable ``SSTCAST_RUN_DIR`` is set, that folder is used instead.
    """
    if os.environ.get(RUN_DIR_ENV):
        run_dir = Path(os.environ[RUN_DIR_ENV])
        (run_dir / CHECKPOINT_DIR).mkdir(parents=True, exist_ok=True)
        return run_dir
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    base = Path(root) / pipeline / model
    run_dir = base / stamp
    n = 2
    while run_dir.exists():
        run_dir = base / f"{stamp}-{n}"
        n += 1
    (run_dir / CHECKPOINT_DIR).mkdir(parents=True)
    return run_dir


def git_commit(path: str | Path | None = None) -> tuple[str | None, bool | None]:
    """(commit hash, working tree has changes) of the repository holding ``path``;
    (None, None) outside a git checkout or without git."""
    where = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10
        )
        if head.returncode != 0:
            return None, None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return head.stdout.strip(), bool(status.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return None, None


def version_info() -> dict[str, Any]:
    """Versions of the code that made a run: sstcast and its git commit, numpy, xarray,
    zarr, dask, timm, torch, lightning, python, CUDA and the GPU (``version.json``)."""
    commit, dirty = git_commit()
    return {
        **software_versions(),
        "git_commit": commit,
        "git_dirty": dirty,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def read_json(path: str | Path) -> dict[str, Any]:
    """Read a JSON file of a run; a one-line error when it is missing or broken."""
    return _read_json(path, "file (is this a run directory?)")


def run_record(pipeline: Pipeline, task: str, data: Any, module: Any) -> dict[str, Any]:
    """The run record (``run.json``) of a new run: what was trained on what (with the cube's
    provenance: its source files and their SHA-256); kept in memory by ``fit`` and written
    at the start and the end of training."""
    return {
        "pipeline": pipeline.name,
        "task": task,
        "model": pipeline.model.name,
        "preset": pipeline.model.preset,
        **data.info,
        "cube_provenance": cube_provenance(data.info["cube"]),
        "signature": data.signature,
        "n_parameters": sum(p.numel() for p in module.model.parameters()),
        "checkpoints": {"best": f"{CHECKPOINT_DIR}/{BEST}", "last": f"{CHECKPOINT_DIR}/{LAST}"},
    }


def read_record(run_dir: str | Path) -> dict[str, Any]:
    """The run record of an existing run (``run.json``)."""
    return read_json(Path(run_dir) / "run.json")


def write_record(run_dir: str | Path, record: dict[str, Any]) -> None:
    """Write the run record (atomically)."""
    write_json(Path(run_dir) / "run.json", record)


def write_run_files(
    run_dir: Path, pipeline: Pipeline, record: dict[str, Any], normalizer: Normalizer
) -> None:
    """Write config.yaml, run.json, normalizer.nc and version.json into ``run_dir``."""
    save_pipeline(pipeline, run_dir / "config.yaml")
    write_record(run_dir, record)
    normalizer.save(Path(run_dir) / NORMALIZER)
    write_json(run_dir / "version.json", version_info())


def load_normalizer(run_dir: str | Path) -> Normalizer:
    """The normaliser fitted on the run's training split (``normalizer.nc``; the
    ``normalizer.json`` of TaxiBJ runs written before sstcast 0.2 is read too)."""
    run_dir = Path(run_dir)
    if not (run_dir / NORMALIZER).exists() and (run_dir / LEGACY_SCALER).exists():
        return FlowScaler.from_dict(read_json(run_dir / LEGACY_SCALER))
    return _load_normalizer_file(run_dir / NORMALIZER)


def run_lock(run_dir: str | Path) -> contextlib.AbstractContextManager[None]:
    """An exclusive lock on ``run_dir/.lock`` while a process trains in it; a second training
    of the same folder gets one clear line."""
    busy = f"{run_dir}: another sstcast train is running in this run folder; wait for it"
    return exclusive_lock(Path(run_dir) / ".lock", busy)


def truncate_metrics(run_dir: str | Path, last_epoch: int) -> None:
    """Drop the ``metrics.csv`` rows after ``last_epoch`` (those a resume will redo), so a
    resumed run never has two rows for one epoch. The rows kept are kept as written."""
    import csv

    path = Path(run_dir) / "metrics.csv"
    if not path.exists():
        return
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        rows = list(reader)
    if header is None or "epoch" not in header:
        return
    at = header.index("epoch")
    kept = [row for row in rows if row and float(row[at]) <= last_epoch]
    if len(kept) != len(rows):
        with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(kept)


# --------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------
def checkpoint_path(run_dir: str | Path, which: str = "best") -> Path:
    """``run_dir/checkpoints/{best,last}.ckpt`` (best falls back to last when absent)."""
    ckpt_dir = Path(run_dir) / CHECKPOINT_DIR
    if which not in ("best", "last"):
        raise SstcastError(f"checkpoint must be 'best' or 'last', got {which!r}")
    path = ckpt_dir / (BEST if which == "best" else LAST)
    if which == "best" and not path.exists() and (ckpt_dir / LAST).exists():
        path = ckpt_dir / LAST
    if not path.exists():
        raise SstcastError(f"{path}: no checkpoint (has the run finished an epoch?)")
    return path


def resolve_resume(target: str | Path) -> tuple[Path, Path]:
    """``--resume RUN_DIR_OR_CKPT`` as (run directory, checkpoint to continue from)."""
    target = Path(target)
    if target.is_dir():
        return target, checkpoint_path(target, "last")
    if target.is_file():
        run_dir = target.parent.parent if target.parent.name == CHECKPOINT_DIR else target.parent
        if not (run_dir / "config.yaml").exists():
            raise SstcastError(f"{target}: not inside a run directory (no config.yaml beside it)")
        return run_dir, target
    raise SstcastError(f"--resume {target}: no such run directory or checkpoint")


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a Lightning checkpoint safely (``weights_only=True``) onto the CPU."""
    path = Path(path)
    if not path.exists():
        raise SstcastError(f"{path}: checkpoint not found")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # unpickling errors come in many types
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise SstcastError(f"{path}: cannot read checkpoint safely ({first})") from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise SstcastError(f"{path}: not a Lightning checkpoint (no state_dict)")
    return ckpt


def checkpoint_signature(ckpt: dict[str, Any]) -> dict[str, Any]:
    """The model/grid/variable signature stored by :mod:`sstcast.training`."""
    sig = ckpt.get("hyper_parameters", {}).get("signature")
    if not isinstance(sig, dict):
        raise SstcastError("checkpoint has no sstcast signature (not written by sstcast train)")
    return sig


SIGNATURE_KEYS = (
    "task",
    "model",
    "preset",
    "normalization",
    "variable",
    "grid",
    "channels",
    "in_channels",
    "extra_channel_names",
    "extra_channels",
    "model_kwargs",
)


def check_signature(saved: dict[str, Any], expected: dict[str, Any], path: str | Path) -> None:
    """Raise one clear line when a checkpoint was trained for another model, grid, variable
    or channel layout than the one being built (instead of a load_state_dict traceback)."""
    for key in SIGNATURE_KEYS:
        if key in expected and _plain(saved.get(key)) != _plain(expected[key]):
            raise SstcastError(
                f"{path}: checkpoint is for {key}={_plain(saved.get(key))!r}, "
                f"but this run has {key}={_plain(expected[key])!r}"
            )


def _plain(value: Any) -> Any:
    """Tuples as lists (YAML/JSON round trips), recursively, so comparisons are fair."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


file_sha256 = sha256_file
"""SHA-256 of a file (checkpoint checksums for forecast provenance)."""


# --------------------------------------------------------------------------------------
# Loading a run back
# --------------------------------------------------------------------------------------
def load_run_pipeline(run_dir: str | Path) -> Pipeline:
    """The resolved pipeline of a run (its config.yaml)."""
    path = Path(run_dir) / "config.yaml"
    if not path.exists():
        raise SstcastError(f"{run_dir}: not a run directory (no config.yaml)")
    try:
        return load_pipeline(path)
    except ConfigError as err:
        raise SstcastError(str(err)) from None


def load_run(
    run_dir: str | Path,
    which: str = "best",
    device: str = "cpu",
    expect: dict[str, Any] | None = None,
    checkpoint: str | Path | None = None,
) -> LoadedRun:
    """A trained run as ``(model, normalizer, pipeline, cube)``.

    ``model`` is the registry model in eval mode on ``device`` with the ``which`` checkpoint's
    weights; ``normalizer`` maps model outputs back to physical units
    (``inverse_transform``); ``pipeline`` is the resolved configuration; ``cube`` the path of
    the cube it was trained on. ``expect`` lists signature entries the caller needs (e.g.
    ``{"grid": [16, 20], "variable": "sst"}`` for the cube it will forecast from); a
    checkpoint that differs gives a one-line :class:`SstcastError`. ``checkpoint`` names a
    checkpoint file to use instead of ``which``.
    """
    from sstcast.models import create

    run_dir = Path(run_dir)
    pipeline = load_run_pipeline(run_dir)
    info = read_json(run_dir / "run.json")
    ckpt_path = Path(checkpoint) if checkpoint is not None else checkpoint_path(run_dir, which)
    ckpt = read_checkpoint(ckpt_path)
    saved = checkpoint_signature(ckpt)
    check_signature(saved, {**info["signature"], **(expect or {})}, ckpt_path)
    model = create(saved["model"], saved["preset"], **saved["model_kwargs"])
    state = {
        k.removeprefix("model."): v for k, v in ckpt["state_dict"].items() if k.startswith("model.")
    }
    model.load_state_dict(state)
    model.eval().to(device)
    normalizer = load_normalizer(run_dir)
    return LoadedRun(model, normalizer, pipeline, info["cube"])
