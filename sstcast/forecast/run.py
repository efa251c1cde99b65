"""``sstcast forecast``: a trained run, a set of init times, a CF NetCDF file.

:func:`forecast` resolves the run (``--run``, ``--checkpoint`` or the latest run of a
pipeline), chooses the inits (dates, a period, a split, or the latest day of the cube),
rolls the model out in batches and appends each batch to the file, so a long period never
holds the whole forecast in memory.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from sstcast import runs
from sstcast.config import SPLIT_NAMES, load_pipeline, pipeline_for_region
from sstcast.errors import DataError, SstcastError
from sstcast.forecast.rollout import ModelForecaster, TrainedRun, latest_run, open_run
from sstcast.forecast.writer import ForecastWriter
from sstcast.utils.report import progress_bar
from sstcast.utils.timeaxis import lead_label

log = logging.getLogger(__name__)


def default_name(init: Sequence[str] | None, period: str | None, inits: np.ndarray) -> str:
    """The forecast's file name inside the run folder, after what was forecast, so that
    forecasts of other inits never overwrite each other: ``forecast_test.nc``,
    ``forecast_latest.nc``, ``forecast_20210301.nc``, ``forecast_20210101-20210630.nc``."""

    def day(t: Any) -> str:
        return f"{pd.Timestamp(t):%Y%m%d}"

    if init:
        if [str(i).strip().lower() for i in init] == ["latest"]:
            return "forecast_latest.nc"
        span = day(inits[0]) if len(inits) == 1 else f"{day(inits[0])}-{day(inits[-1])}"
        return f"forecast_{span}.nc"
    period = period or "test"
    if period in SPLIT_NAMES:
        return f"forecast_{period}.nc"
    first, last = _period_bounds(period)
    return f"forecast_{day(first)}-{day(last)}.nc"


@dataclass
class ForecastResult:
    """What :func:`forecast` made."""

    path: Path
    run_dir: Path
    n_inits: int
    lead_time: np.ndarray
    first_init: np.datetime64
    last_init: np.datetime64
    verifiable: bool  #: some valid time is in the cube (evaluate can score it)
    extrapolated_leads: int  #: leads past the trained horizon
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------
# Which run, which inits
# --------------------------------------------------------------------------------------
def resolve_run(
    run: str | Path | None = None,
    checkpoint: str | Path | None = None,
    region: str | None = None,
    pipeline: str | Path | None = None,
    runs_root: str | Path = "runs",
    device: str = "cpu",
) -> TrainedRun:
    """The run to forecast with: ``run`` or ``checkpoint`` as given, else the latest run of
    the pipeline (``--pipeline FILE`` or ``--region NAME``) under ``runs_root``."""
    if run is None and checkpoint is None:
        if pipeline is None and region is None:
            raise SstcastError(
                "give --run DIR, --checkpoint PATH, --pipeline FILE or --region NAME"
            )
        pipe = load_pipeline(pipeline if pipeline is not None else pipeline_for_region(region))
        run = latest_run(runs_root, pipe.name)
        log.info(f"run: {run} (the latest of pipeline {pipe.name!r})")
    return open_run(run, checkpoint, device=device)


def _period_bounds(text: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    try:
        first, last = (pd.Timestamp(p.strip()) for p in text.split(":", 1))
    except ValueError:
        first = last = pd.NaT
    if pd.isna(first) or pd.isna(last):
        raise SstcastError(
            f"--period {text!r}: use test, val, train or FIRST:LAST dates (2021-01-01:2021-06-30)"
        )
    if last < first:
        raise SstcastError(f"--period {text!r}: the last date is before the first")
    return first, last


def select_inits(
    fc: ModelForecaster,
    init: Sequence[str] | None = None,
    period: str | None = "test",
    n_lead: int = 1,
) -> np.ndarray:
    """The init times to forecast from.

    * ``init``: dates (``2021-03-01``) or ``latest`` (the last time step of the cube: the
      operational case, a forecast for days that have not happened yet);
    * else ``period``: a split name of the run's pipeline (``test``, ``val``, ``train``) —
      every init whose inputs and valid times all lie in that period, so a split's score
      uses nothing outside it — or ``FIRST:LAST``: every cube time in that range whose
      inputs are in the cube (valid times past the cube's end are left unverified).
    """
    times = fc.times
    if init:
        chosen = []
        for text in init:
            if str(text).strip().lower() == "latest":
                chosen.append(times[-1])
                continue
            try:
                chosen.append(pd.Timestamp(text))
            except ValueError:
                raise SstcastError(
                    f"--init {text!r}: not a date (2021-03-01) or 'latest'"
                ) from None
        return fc.check_inits(sorted(set(chosen)), n_lead)
    period = period or "test"
    if period in SPLIT_NAMES:
        first, last = _split_period(fc.run, period)
        start = fc.impl.first_split_init(first)
        # every lead's valid time inside the split too (scored against observations)
        valid_last = fc.shift(np.asarray(times.values, "datetime64[ns]"), n_lead)
        candidates = times[(times >= start) & (valid_last <= np.datetime64(last, "ns"))]
    else:
        first, last = _period_bounds(period)
        candidates = times[(times >= first) & (times <= last)]
    if len(candidates) == 0:
        raise DataError(
            f"--period {period}: no init in {first:%Y-%m-%d}..{last:%Y-%m-%d} within the cube "
            f"({times[0]:%Y-%m-%d} .. {times[-1]:%Y-%m-%d})"
        )
    needed = fc.impl.needed_times(np.asarray(candidates.values, "datetime64[ns]"), n_lead)
    found = times.get_indexer(needed.ravel()).reshape(needed.shape) >= 0
    ok = found.all(axis=1)
    keep = candidates[ok]
    if len(keep) == 0:
        raise DataError(f"--period {period}: no init in it has all its inputs in the cube")
    if not ok.all():
        log.info(
            f"note: --period {period}: {int((~ok).sum())} init(s) without all their inputs in "
            f"the cube are left out (the first: {candidates[~ok][0]:%Y-%m-%d %H:%M})"
        )
    return np.asarray(keep.values, "datetime64[ns]")


def _split_period(run: TrainedRun, split: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    span = run.record.get(f"{split}_period")
    if not span:
        raise SstcastError(f"{run.run_dir}: the run records no {split} period")
    first, last = pd.Timestamp(span[0]), pd.Timestamp(span[-1])
    if last == last.normalize():  # a date: the whole day
        last = last + pd.Timedelta(hours=23, minutes=59, seconds=59)
    return first, last


# --------------------------------------------------------------------------------------
# Provenance
# --------------------------------------------------------------------------------------
def provenance(run: TrainedRun, fc: ModelForecaster, n_lead: int) -> dict[str, Any]:
    """Global attributes naming everything the forecast came from."""
    import sstcast

    rec = run.record
    beyond = max(0, n_lead - run.n_out)
    horizon = lead_label(fc.lead_times(run.n_out)[-1])
    attrs: dict[str, Any] = {
        "title": f"sstcast {run.pipeline.model.name} forecast of {fc.variable} ({run.pipeline.name})",
        "institution": "sstcast",
        "model": run.pipeline.model.name,
        "model_preset": run.pipeline.model.preset,
        "model_parameters": rec.get("n_parameters"),
        "pipeline": run.pipeline.name,
        "run_folder": str(run.run_dir.resolve()),
        "checkpoint": str(run.checkpoint.resolve()),
        "checkpoint_sha256": runs.file_sha256(run.checkpoint),
        "training_period": " .. ".join(rec.get("train_period", [])),
        "validation_period": " .. ".join(rec.get("val_period", [])),
        "test_period": " .. ".join(rec.get("test_period", [])),
        "cube": str(fc.ds.encoding.get("source") or rec.get("cube") or run.cube),
        "cube_region": fc.ds.attrs.get("region"),
        "cube_sources": fc.ds.attrs.get("source_files"),
        "normalization": run.normalizer.kind,
        "n_in": run.n_in or None,
        "trained_lead_steps": run.n_out,
        "trained_horizon": horizon,
        "time_step": fc.step_label,
        "sstcast_version": sstcast.__version__,
        # the cube's own history first; the writer adds this forecast's line after it
        "history": "\n".join(
            line for line in (str(fc.ds.attrs.get("history", "")).strip(), _command()) if line
        ),
        "torch_version": torch.__version__,
        "comment": (
            f"Leads 1..{run.n_out} are within the horizon the model was trained for; "
            + (
                f"the {beyond} lead(s) past it are autoregressive extrapolation of the model's "
                "own output and were never trained on."
                if beyond
                else "no lead is extrapolated."
            )
        ),
    }
    if isinstance(attrs["cube_sources"], list):
        attrs["cube_sources"] = json.dumps(attrs["cube_sources"])
    return {k: v for k, v in attrs.items() if v is not None}


def _command() -> str:
    """The command line, when sstcast runs as a command (for the history attribute)."""
    import sys

    name = Path(sys.argv[0]).name if sys.argv else ""
    return f"command: sstcast {' '.join(sys.argv[1:])}" if name == "sstcast" else ""


# --------------------------------------------------------------------------------------
# forecast
# --------------------------------------------------------------------------------------
def forecast(
    run: str | Path | None = None,
    *,
    checkpoint: str | Path | None = None,
    region: str | None = None,
    pipeline: str | Path | None = None,
    runs_root: str | Path = "runs",
    init: Sequence[str] | None = None,
    period: str | None = None,
    lead: int = 10,
    out: str | Path | None = None,
    cube: str | Path | None = None,
    device: str = "auto",
    batch_size: int = 64,
    progress: bool = True,
) -> ForecastResult:
    """Forecast ``lead`` steps from each chosen init and write one CF NetCDF file.

    The file goes to ``out`` (default ``<run>/forecast_<what>.nc``, :func:`default_name`);
    see :func:`select_inits` for
    the inits and :func:`resolve_run` for the run. Returns what was written.
    """
    from sstcast.training.hardware import select_device

    dev = select_device(device)
    trained = resolve_run(run, checkpoint, region, pipeline, runs_root, device=dev)
    fc = ModelForecaster(trained, cube=cube, batch_size=batch_size, device=dev)
    lead_time = fc.lead_times(lead)
    inits = select_inits(fc, init, period, lead)
    path = Path(out) if out is not None else trained.run_dir / default_name(init, period, inits)
    if str(path) == "" or path.is_dir():
        raise SstcastError(f"--out {path}: give a file name (e.g. forecast.nc)")
    path.parent.mkdir(parents=True, exist_ok=True)
    attrs = provenance(trained, fc, lead)
    log.info(
        f"forecast: {trained.pipeline.model.name}, {len(inits)} init(s) "
        f"{pd.Timestamp(inits[0]):%Y-%m-%d}..{pd.Timestamp(inits[-1]):%Y-%m-%d} × {lead} leads "
        f"of {fc.step_label}, {dev}"
    )
    if lead > trained.n_out:
        log.info(
            f"note: leads {trained.n_out + 1}..{lead} are past the {trained.n_out} steps the model "
            "was trained for (autoregressive extrapolation)"
        )
    with ForecastWriter(path, fc.variable, lead_time, fc.space, attrs=attrs) as writer:
        with progress_bar(progress) as bar:
            task = bar.add_task("forecasting inits", total=len(inits))
            for chunk, values in fc.blocks(inits, lead_time):
                writer.append(chunk, values, valid_time=fc.valid_times(chunk, lead_time))
                bar.advance(task, len(chunk))
    valid = fc.valid_times(inits[[0, -1]], lead_time[[0, -1]])
    valid_last = valid[-1, -1]
    return ForecastResult(
        path=path,
        run_dir=trained.run_dir,
        n_inits=len(inits),
        lead_time=lead_time,
        first_init=inits[0],
        last_init=inits[-1],
        verifiable=bool(valid[0, 0] <= fc.times[-1].to_datetime64()),
        extrapolated_leads=max(0, lead - trained.n_out),
        notes=[]
        if valid_last <= fc.times[-1].to_datetime64()
        else ["valid times run past the cube's end"],
    )
