"""Run × inits → forecasts in physical units with their coordinates.

:class:`ModelForecaster` loads a trained run and forecasts from any init time whose inputs
are in a cube, in batches of inits, on the CPU or CUDA. For SST the model rolls out
``n_lead`` steps autoregressively (the rollout of :mod:`sstcast.models.base`); leads past
the horizon it was trained on (``n_out``) are extrapolation, and say so. For TaxiBJ the
one-step ST-ResNet is fed its own forecasts back through the closeness frames, with the
period and trend frames (a day and a week back) and the external factors taken from the
data.

It follows the forecaster interface of :mod:`sstcast.verify.baselines`: called with init
times and lead times it returns ``(init_time, lead_time, *space)`` in physical units; its
:meth:`ModelForecaster.blocks` yields the same batch by batch for the incremental writer.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import xarray as xr

from sstcast import runs
from sstcast.config import Pipeline
from sstcast.cube import open_cube
from sstcast.data.normalize import Normalizer
from sstcast.data.windows import doy_planes, scored_cells, static_planes
from sstcast.errors import DataError, SstcastError
from sstcast.tasks import SstTask, Task, TaxiBJTask, get_task
from sstcast.utils.timeaxis import (
    IRREGULAR,
    infer_frequency,
    lead_label,
    lead_times,
    months_per_step,
    step_back,
    to_offset,
    valid_times,
)

#: Inits per model call.
DEFAULT_BATCH = 64


@dataclass
class TrainedRun:
    """A run folder opened for forecasting: the model and everything about it."""

    run_dir: Path
    checkpoint: Path
    model: torch.nn.Module
    normalizer: Normalizer
    pipeline: Pipeline
    cube: str
    record: dict[str, Any]
    task: Task

    @property
    def n_in(self) -> int:
        return int(self.record["signature"].get("n_in", 0))

    @property
    def n_out(self) -> int:
        return int(self.record["signature"].get("n_out", 1))


def open_run(
    run_dir: str | Path | None = None,
    checkpoint: str | Path | None = None,
    device: str = "cpu",
) -> TrainedRun:
    """Open a run folder (its best checkpoint) or a checkpoint inside one, on ``device``.

    A folder missing pieces (config.yaml, run.json, the normaliser, a checkpoint) gives a
    one-line :class:`SstcastError` naming what is missing.
    """
    if checkpoint is not None:
        ckpt = Path(checkpoint)
        if not ckpt.is_file():
            raise SstcastError(f"--checkpoint {ckpt}: no such file")
        run_dir = ckpt.parent.parent if ckpt.parent.name == runs.CHECKPOINT_DIR else ckpt.parent
    if run_dir is None:
        raise SstcastError("give a run folder (--run) or a checkpoint (--checkpoint)")
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise SstcastError(f"--run {run_dir}: no such run folder")
    for name in ("config.yaml", "run.json"):
        if not (run_dir / name).exists():
            raise SstcastError(f"{run_dir}: not a complete run folder (no {name})")
    if not any((run_dir / n).exists() for n in (runs.NORMALIZER, runs.LEGACY_SCALER)):
        raise SstcastError(f"{run_dir}: not a complete run folder (no {runs.NORMALIZER})")
    ckpt_path = (
        Path(checkpoint) if checkpoint is not None else runs.checkpoint_path(run_dir, "best")
    )
    loaded = runs.load_run(run_dir, device=device, checkpoint=ckpt_path)
    record = runs.read_record(run_dir)
    return TrainedRun(
        run_dir=run_dir,
        checkpoint=ckpt_path,
        model=loaded.model,
        normalizer=loaded.normalizer,
        pipeline=loaded.pipeline,
        cube=loaded.cube,
        record=record,
        task=get_task(loaded.pipeline),
    )


def latest_run(root: str | Path, pipeline: str) -> Path:
    """The newest finished run of a pipeline under ``root`` (``root/<pipeline>/<model>/<time>``)."""
    base = Path(root) / pipeline
    found = [
        p
        for p in base.glob("*/*")
        if (p / "config.yaml").exists()
        and (p / runs.CHECKPOINT_DIR).is_dir()
        and any((p / runs.CHECKPOINT_DIR).glob("*.ckpt"))
    ]
    if not found:
        raise SstcastError(
            f"no trained run of pipeline {pipeline!r} under {base} (train one with "
            f"`sstcast train --region {pipeline}`, or give --run DIR)"
        )
    return max(found, key=lambda p: (p.name, p.stat().st_mtime))


def cube_step(times: pd.DatetimeIndex, frequency: str | None) -> pd.Timedelta | None:
    """The cube's fixed time step (daily, weekly, hourly, 30 min...), None for calendar
    months (whose leads are counted in months, :mod:`sstcast.utils.timeaxis`)."""
    if frequency and frequency != IRREGULAR:
        if months_per_step(frequency):
            return None
        try:
            return pd.Timedelta(to_offset(frequency))
        except (ValueError, TypeError):
            raise DataError(
                f"the cube's time step {frequency!r} is neither a fixed length nor calendar months"
            ) from None
    if len(times) < 2:
        raise DataError("the cube has fewer than two time steps: no time step to forecast with")
    return pd.Timedelta(np.median(np.diff(times.asi8)))


# --------------------------------------------------------------------------------------
# The forecaster
# --------------------------------------------------------------------------------------
class ModelForecaster:
    """A trained run as a forecaster over a cube (see the module docstring)."""

    def __init__(
        self,
        run: TrainedRun,
        cube: xr.Dataset | str | Path | None = None,
        batch_size: int = DEFAULT_BATCH,
        device: str = "cpu",
    ) -> None:
        self.run = run
        self.name = str(run.pipeline.model.name)
        self.ds = open_cube(cube or run.cube) if not isinstance(cube, xr.Dataset) else cube
        self.variable = run.task.variable
        if self.variable not in self.ds.data_vars:
            raise DataError(f"cube {cube or run.cube}: no variable {self.variable!r}")
        grid = list(self.ds[self.variable].shape[-2:])
        if grid != list(run.record["signature"]["grid"]):
            raise DataError(
                f"cube {cube or run.cube}: grid {grid} differs from the run's "
                f"{run.record['signature']['grid']}"
            )
        for dim, values in run.normalizer.field_coords.items():
            if dim in self.ds.coords and np.issubdtype(np.asarray(values).dtype, np.number):
                here = np.asarray(self.ds[dim].values, dtype=np.float64)
                if here.shape != np.shape(values) or not np.allclose(here, values, atol=1e-4):
                    raise DataError(
                        f"cube {cube or run.cube}: its {dim} differs from the grid the run was "
                        "trained on (same shape, another region?)"
                    )
        self.times = pd.DatetimeIndex(self.ds["time"].values).as_unit("ns")
        self.frequency: str | None = self.ds.attrs.get("frequency") or infer_frequency(self.times)
        self.step = cube_step(self.times, self.frequency)
        self.batch_size = int(batch_size)
        self.device = torch.device(device)
        self.impl = _ROLLOUTS[type(run.task)](self)

    # -- inits -----------------------------------------------------------------------------
    def lead_times(self, n_lead: int) -> np.ndarray:
        """Lead times 1..n_lead steps: timedelta64[ns], or int64 months for monthly cubes."""
        if n_lead < 1:
            raise SstcastError(f"--lead {n_lead}: must be at least 1")
        return lead_times(self.frequency, n_lead, self.step)

    def shift(self, times: Any, steps: Any) -> np.ndarray:
        """``times`` moved by whole ``steps`` (broadcast, negative = back): calendar months
        for a monthly cube, stamped as the cube stamps them."""
        return step_back(times, -np.asarray(steps, np.int64), self.frequency, self.step, self.times)

    def valid_times(self, init_times: Any, lead_time: np.ndarray) -> np.ndarray:
        """Valid times ``(n_init, n_lead)`` of ``lead_time`` from each init, stamped as the
        cube stamps its steps (:func:`sstcast.utils.timeaxis.valid_times`)."""
        return valid_times(init_times, lead_time, reference=self.times)

    @property
    def step_label(self) -> str:
        """One step as people say it ("1 day", "1 month", "30 min")."""
        return lead_label(self.lead_times(1)[0])

    def check_inits(self, init_times: Sequence[Any], n_lead: int = 1) -> np.ndarray:
        """Init times as datetime64[ns]; a one-line error naming the first init whose inputs
        (for ``n_lead`` leads) are not all in the cube (before the record, in a gap, after
        its end)."""
        inits = np.asarray(pd.DatetimeIndex(init_times).as_unit("ns").values)
        if len(inits) == 0:
            raise DataError("no init times to forecast from")
        needed = self.impl.needed_times(inits, n_lead)  # (n_init, k)
        found = self.times.get_indexer(needed.ravel()).reshape(needed.shape) >= 0
        ok = found.all(axis=1)
        if not ok.all():
            bad = pd.Timestamp(inits[np.flatnonzero(~ok)[0]])
            missing = pd.Timestamp(needed[~ok][~found[~ok]][0])
            raise DataError(
                f"init {bad:%Y-%m-%d %H:%M}: input {missing:%Y-%m-%d %H:%M} is not in the cube "
                f"({self.times[0]:%Y-%m-%d} .. {self.times[-1]:%Y-%m-%d})"
            )
        return inits

    # -- forecasting -------------------------------------------------------------------------
    def blocks(
        self, init_times: Sequence[Any], lead_time: np.ndarray
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(init_times, values)`` per batch: values float32 (n, n_lead, *space) in
        physical units, NaN where no cell is scored (land)."""
        n_lead = len(lead_time)
        inits = self.check_inits(init_times, n_lead)
        self.run.model.to(self.device).eval()
        for start in range(0, len(inits), self.batch_size):
            chunk = inits[start : start + self.batch_size]
            with torch.no_grad():
                values = self.impl.forecast(chunk, n_lead)
            yield chunk, values

    def __call__(self, init_times: Sequence[Any], lead_time: np.ndarray) -> xr.DataArray:
        """All inits at once as a DataArray ``(init_time, lead_time, *space)``."""
        lead_time = np.asarray(lead_time)
        chunks, parts = zip(*self.blocks(init_times, lead_time), strict=True)
        inits, values = np.concatenate(chunks), np.concatenate(parts)
        return xr.DataArray(
            values,
            dims=("init_time", "lead_time", *self.space_dims),
            coords={
                "init_time": inits,
                "lead_time": lead_time,
                "valid_time": (("init_time", "lead_time"), self.valid_times(inits, lead_time)),
                **self.space,
            },
            name=self.variable,
        )

    @property
    def space(self) -> dict[str, np.ndarray]:
        """Spatial (and channel) coordinates of the output, in order."""
        return self.impl.space()

    @property
    def space_dims(self) -> tuple[str, ...]:
        return tuple(self.space)


# --------------------------------------------------------------------------------------
# Per task
# --------------------------------------------------------------------------------------
class _SstRollout:
    """SST: ``n_in`` observed days in, the model's autoregressive rollout out."""

    def __init__(self, fc: ModelForecaster) -> None:
        self.fc = fc
        run = fc.run
        sig = run.record["signature"]
        self.n_in = int(sig["n_in"])
        self.da = fc.ds[fc.variable]
        self.spatial_dims = tuple(str(d) for d in self.da.dims[-2:])
        self.mask = scored_cells(run.normalizer, fc.ds, fc.variable)
        names = list(sig.get("extra_channel_names", []))
        self.doy = "doy_sin" in names
        statics = [n for n in names if n not in ("doy_sin", "doy_cos")]
        self.static = static_planes(fc.ds, statics, self.mask, self.spatial_dims)
        self._mask_t = torch.from_numpy(self.mask)

    def space(self) -> dict[str, np.ndarray]:
        return {d: np.asarray(self.fc.ds[d].values) for d in self.spatial_dims}

    def first_split_init(self, first: pd.Timestamp) -> pd.Timestamp:
        """SST windows lie inside a split: the first init has all its inputs in it — or,
        with ``data.inputs_before_split``, the first target is the split's first step."""
        ahead = -1 if self.fc.run.pipeline.data.inputs_before_split else self.n_in - 1
        return pd.Timestamp(self.fc.shift(np.datetime64(first, "ns"), ahead).item())

    def needed_times(self, inits: np.ndarray, n_lead: int) -> np.ndarray:
        """The observed times a forecast from each init needs: its ``n_in`` inputs."""
        return self.input_times(inits)

    def input_times(self, inits: np.ndarray) -> np.ndarray:
        back = np.arange(self.n_in - 1, -1, -1)
        return self.fc.shift(inits[:, None], -back[None, :])

    def forecast(self, inits: np.ndarray, n_lead: int) -> np.ndarray:
        fc, run = self.fc, self.fc.run
        times = self.input_times(inits)  # (B, n_in)
        pos = fc.times.get_indexer(times.ravel())
        raw = np.asarray(self.da.isel(time=pos).values, dtype=np.float32)
        raw = raw.reshape(len(inits), self.n_in, *raw.shape[1:])
        if raw.ndim == 4:  # (B, T, H, W) -> one channel
            raw = raw[:, :, None]
        z = run.normalizer.transform(raw, times)
        z = np.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32) * self.mask
        valid = fc.shift(inits[:, None], np.arange(1, n_lead + 1)[None, :])
        batch: dict[str, torch.Tensor] = {
            "x": torch.from_numpy(np.ascontiguousarray(z)),
            "mask": self._mask_t.expand(len(inits), *self.mask.shape),
            "init_time": torch.from_numpy(inits.astype(np.int64)),
            "valid_time": torch.from_numpy(valid.astype(np.int64)),
        }
        b = len(inits)
        if self.doy:
            all_times = np.concatenate([times, valid], axis=1)
            doy = doy_planes(all_times.ravel()).reshape(b, -1, 2)
            batch["extra_doy"] = torch.from_numpy(doy)
            if self.static is not None:
                batch["extra_static"] = self.static.expand(b, *self.static.shape)
        elif self.static is not None:
            batch["extra"] = self.static.expand(b, self.n_in + n_lead, *self.static.shape)
        batch = {k: v.to(fc.device) for k, v in batch.items()}
        pred = run.task.forward(run.model, batch, n_lead, 0.0)
        phys = run.task.to_physical(run.normalizer, batch, pred.float())
        out = phys.cpu().numpy().astype(np.float32)
        out = np.where(self.mask, out, np.nan)
        return out[:, :, 0] if out.shape[2] == 1 else out


class _FlowRollout:
    """TaxiBJ: ST-ResNet one slot ahead, its forecasts fed back through closeness."""

    def __init__(self, fc: ModelForecaster) -> None:
        from sstcast.data.stresnet import EXT_DIM

        self.fc = fc
        kw = fc.run.record["signature"]["model_kwargs"]
        self.lc, self.lp, self.lt = (
            int(kw[k]) for k in ("len_closeness", "len_period", "len_trend")
        )
        self.day = pd.Timedelta("1D").to_timedelta64().astype("timedelta64[ns]")
        self.week = 7 * self.day
        self.ext_dim = EXT_DIM if int(kw.get("ext_dim", 0)) else 0
        self.da = fc.ds["flow"]

    def space(self) -> dict[str, np.ndarray]:
        ds = self.fc.ds
        out = {}
        for d in (str(d) for d in self.da.dims[1:]):
            values = np.asarray(ds[d].values) if d in ds.coords else np.arange(ds.sizes[d])
            out[d] = values if values.dtype.kind in "iuf" else np.array([str(v) for v in values])
        return out

    def _needed(self, inits: np.ndarray, n_lead: int) -> np.ndarray:
        step = self.fc.step.to_timedelta64().astype("timedelta64[ns]")
        closeness = inits[:, None] - (np.arange(self.lc) * step)[None, :]
        targets = inits[:, None] + (np.arange(1, n_lead + 1) * step)[None, :]
        period = (targets[:, :, None] - (np.arange(1, self.lp + 1) * self.day)[None, None]).reshape(
            len(inits), -1
        )
        trend = (targets[:, :, None] - (np.arange(1, self.lt + 1) * self.week)[None, None]).reshape(
            len(inits), -1
        )
        # Period/trend frames later than the init are themselves forecast in a long rollout;
        # only those at or before the init must be observed.
        later = np.concatenate([period, trend], axis=1)
        later = np.where(later <= inits[:, None], later, inits[:, None])
        return np.concatenate([closeness, later], axis=1)

    def needed_times(self, inits: np.ndarray, n_lead: int) -> np.ndarray:
        """Observed frames for ``n_lead`` leads: closeness at the init, and the period and
        trend frames of every target that lie at or before the init (later ones are the
        rollout's own forecasts)."""
        return self._needed(inits, n_lead)

    def _observed(self) -> np.ndarray:
        """The cube's flows, normalised, in memory once: (time, 2, H, W) float32."""
        if getattr(self, "_frames", None) is None:
            raw = np.asarray(self.da.values, np.float32)
            times = np.asarray(self.fc.times.values, "datetime64[ns]")
            self._frames = np.asarray(self.fc.run.normalizer.transform(raw, times), np.float32)
        return self._frames

    def forecast(self, inits: np.ndarray, n_lead: int) -> np.ndarray:
        fc, run = self.fc, self.fc.run
        step = fc.step.to_timedelta64().astype("timedelta64[ns]")
        b = len(inits)
        observed = self._observed()
        made = np.empty((b, n_lead, *self.da.shape[1:]), np.float32)  # normalised forecasts

        def frames(times: np.ndarray) -> np.ndarray:
            """(B, k, 2, H, W) normalised frames at times (B, k): the rollout's own forecast
            for times after the init, the observation at or before it."""
            ahead = ((times - inits[:, None]) // step).astype(np.int64)  # 0: the init
            pos = fc.times.get_indexer(np.minimum(times, inits[:, None]).ravel())
            out = observed[pos].reshape(*times.shape, *observed.shape[1:])
            later = ahead > 0
            if later.any():
                rows, cols = np.nonzero(later)
                out[rows, cols] = made[rows, ahead[rows, cols] - 1]
            return out

        for lead in range(1, n_lead + 1):
            target = inits + lead * step
            newest = target - step
            xc = frames(newest[:, None] - (np.arange(self.lc) * step)[None, :])
            xp = frames(target[:, None] - (np.arange(1, self.lp + 1) * self.day)[None, :])
            xt = frames(target[:, None] - (np.arange(1, self.lt + 1) * self.week)[None, :])
            batch = {
                "xc": torch.from_numpy(xc.reshape(b, -1, *xc.shape[-2:])),
                "xp": torch.from_numpy(xp.reshape(b, -1, *xp.shape[-2:])),
                "xt": torch.from_numpy(xt.reshape(b, -1, *xt.shape[-2:])),
            }
            if self.ext_dim:
                batch["ext"] = torch.from_numpy(self._external(target, inits))
            batch = {k: v.to(fc.device) for k, v in batch.items()}
            made[:, lead - 1] = run.task.forward(run.model, batch, 1, 0.0)[:, 0].float().cpu()
        targets = inits[:, None] + (np.arange(1, n_lead + 1) * step)[None, :]
        return np.maximum(run.normalizer.inverse_transform(made, targets), 0.0)  # counts

    def _external(self, target: np.ndarray, inits: np.ndarray) -> np.ndarray:
        """The 28 external factors of each target slot, as STResNetDataset builds them: day
        of week and weekday of the target, its holiday flag (from the data; 0 past the
        cube's end), and the weather, temperature and wind of the slot before it — for leads
        past the first the last *observed* ones, at the init, carried forward: nothing the
        forecaster could not know at init time is used."""
        ds, run = self.fc.ds, self.fc.run
        step = self.fc.step.to_timedelta64().astype("timedelta64[ns]")
        known = np.minimum(target - step, inits)
        idx_p = self.fc.times.get_indexer(known)
        idx_t = self.fc.times.get_indexer(target)
        dow = pd.DatetimeIndex(target).day_of_week.to_numpy()
        holiday = np.where(
            idx_t >= 0, np.asarray(ds["holiday"].values)[np.maximum(idx_t, 0)], 0
        ).astype(np.float32)
        weather = np.asarray(ds["weather"].values)[idx_p].astype(np.float32)
        temp = np.asarray(ds["temperature"].values, np.float64)[idx_p]
        wind = np.asarray(ds["wind_speed"].values, np.float64)[idx_p]
        return np.concatenate(
            [
                np.eye(7, dtype=np.float32)[dow],
                (dow < 5).astype(np.float32)[:, None],
                holiday[:, None],
                weather,
                run.normalizer.scale_external("temperature", temp)[:, None],
                run.normalizer.scale_external("wind_speed", wind)[:, None],
            ],
            axis=1,
        ).astype(np.float32)

    def first_split_init(self, first: pd.Timestamp) -> pd.Timestamp:
        """TaxiBJ splits by the target's day: the first init is the slot before it."""
        return first - self.fc.step


#: How each task's model is rolled out from an init (by task class).
_ROLLOUTS: dict[type, Any] = {SstTask: _SstRollout, TaxiBJTask: _FlowRollout}
