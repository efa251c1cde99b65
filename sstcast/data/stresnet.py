"""ST-ResNet sampling of a TaxiBJ cube: closeness, period and trend frames plus external factors.

This follows the DeepST preparation of TaxiBJ (Zhang, Zheng & Qi, AAAI 2017):

* days with fewer than ``slots_per_day`` slots are dropped before sampling;
* for a target slot ``t`` the inputs are the closeness frames ``t-1 .. t-lc`` (slots), the
  period frames ``t - j * period_interval`` days (``j = 1 .. lp``) and the trend frames
  ``t - j * trend_interval`` days (``j = 1 .. lt``); a target is sampled only when every one
  of these slots, and the previous slot ``t-1`` (for the weather), is in the time axis. The
  look-up uses the timestamps, so gaps in the data are respected;
* the test split is the last ``test_days`` days (4 weeks by default, as in the paper); a
  validation split of ``val_days`` days can be carved from the end of the remaining data;
  everything before is training. Splits are by the target's day;
* flows are min-max scaled to [-1, 1] with the minimum and maximum of the training period
  (every kept slot before the first held-out day), so held-out data never shapes the scaling.

Frame layout (what :class:`sstcast.models.stresnet.STResNet` takes): the frames of a branch
are stacked frame-major on the channel axis, newest first, each frame its two channels in
order inflow, outflow::

    xc = [in(t-1), out(t-1), in(t-2), out(t-2), ..., in(t-lc), out(t-lc)]   (2 lc, H, W)
    xp = [in(t-1d), out(t-1d), in(t-2d), ...]                                (2 lp, H, W)
    xt = [in(t-7d), out(t-7d), in(t-14d), ...]                               (2 lt, H, W)

External vector (28 values, :data:`EXT_NAMES`): day-of-week one-hot of the target (7,
Monday first), weekday flag (1 on Monday-Friday, 0 at weekends, as DeepST's
``timestamp2vec``), holiday flag of the target day (1), weather one-hot of the previous slot
(17), then temperature and wind speed of the previous slot, each min-max scaled to [0, 1]
with the training period's range (2). Meteorology is taken at ``t-1`` because the weather of
the slot being forecast is not known yet. Without meteorology (NaN in the cube) those two
values are 0.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
import xarray as xr
from torch.utils.data import Dataset

from sstcast.config.pipeline import SPLIT_NAMES
from sstcast.cube import as_dataset
from sstcast.data.normalize import FlowAnomalyScaler, FlowScaler
from sstcast.errors import SstcastError
from sstcast.sources.taxibj import WEATHER_CLASSES

__all__ = ["EXT_DIM", "EXT_NAMES", "FlowScaler", "STResNetDataset", "stresnet_splits"]


def _snake_case(name: str) -> str:
    """``"ModerateRain"`` -> ``"moderate_rain"``: a TaxiBJ weather class as a feature name."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
#: Names of the external vector's entries, in order.
EXT_NAMES: tuple[str, ...] = (
    *(f"dow_{d}" for d in _DAYS),
    "weekday",
    "holiday",
    *(f"weather_{_snake_case(w)}" for w in WEATHER_CLASSES),
    "temperature",
    "wind_speed",
)
EXT_DIM = len(EXT_NAMES)

Split = Literal["train", "val", "test"]


# --------------------------------------------------------------------------------------
# Index building
# --------------------------------------------------------------------------------------
def _lookup(slots: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``wanted`` slot numbers in the sorted ``slots`` and whether each exists."""
    pos = np.searchsorted(slots, wanted)
    inside = pos < len(slots)
    pos = np.where(inside, pos, 0)
    return pos, inside & (slots[pos] == wanted)


class STResNetDataset(Dataset):
    """ST-ResNet samples of one split of a TaxiBJ cube (see the module docstring).

    ``cube`` is an ``xr.Dataset`` (opened cube or in-memory, e.g. from
    :func:`sstcast.sources.taxibj.open_taxibj`) or the path of a cube. The flows of the kept
    days are read once into memory (TaxiBJ is ~200 MB as float32) and scaled; workers of a
    ``DataLoader`` share that array. Items are dicts of tensors::

        xc (2 lc, H, W), xp (2 lp, H, W), xt (2 lt, H, W) float32 in [-1, 1]
        ext (28,) float32, y (2, H, W) float32 in [-1, 1], time () int64 ns of the target

    ``scaling``: ``"minmax"`` (DeepST: one training min/max onto [-1, 1]) or ``"anomaly"``
    (each frame minus the training weeks' mean of its slot of the week, over the largest
    training anomaly: :class:`~sstcast.data.normalize.FlowAnomalyScaler`).
    """

    def __init__(
        self,
        cube: xr.Dataset | str | Path,
        split: Split = "train",
        len_closeness: int = 3,
        len_period: int = 1,
        len_trend: int = 1,
        period_interval: int = 1,
        trend_interval: int = 7,
        test_days: int = 28,
        val_days: int = 0,
        scaler: FlowScaler | None = None,
        scaling: str = "minmax",
    ) -> None:
        if split not in SPLIT_NAMES:
            raise SstcastError(f"split is {split!r}, expected 'train', 'val' or 'test'")
        for name, value, low in (
            ("len_closeness", len_closeness, 0),
            ("len_period", len_period, 0),
            ("len_trend", len_trend, 0),
            ("period_interval", period_interval, 1),
            ("trend_interval", trend_interval, 1),
            ("test_days", test_days, 1),
            ("val_days", val_days, 0),
        ):
            if int(value) != value or value < low:
                raise SstcastError(f"{name} is {value!r}, expected an integer >= {low}")
        if len_closeness + len_period + len_trend == 0:
            raise SstcastError("len_closeness, len_period and len_trend are all 0: no inputs")
        if split == "val" and val_days == 0:
            raise SstcastError("split 'val' asked for but val_days is 0")
        self.split = split
        self.lengths = {"closeness": len_closeness, "period": len_period, "trend": len_trend}

        ds = as_dataset(cube)
        for name in ("flow", "weather", "temperature", "wind_speed", "holiday"):
            if name not in ds.variables:
                raise SstcastError(f"TaxiBJ cube: missing variable {name!r}")
        flow_var = ds["flow"]
        if flow_var.ndim != 4 or flow_var.dims[0] != "time" or flow_var.shape[1] != 2:
            raise SstcastError(
                f"TaxiBJ cube: flow has dims {flow_var.dims} {flow_var.shape}, "
                "expected (time, 2 directions, y, x)"
            )
        spd = int(ds.attrs.get("slots_per_day", 48))
        self.slots_per_day = spd
        step = np.timedelta64(24 * 60 * 60 // spd, "s").astype("timedelta64[ns]")
        self._step_ns = int(step.astype(np.int64))

        # -- the time axis, with incomplete days removed ---------------------------------
        times = ds["time"].values.astype("datetime64[ns]")
        if len(times) > 1 and not (np.diff(times) > np.timedelta64(0, "ns")).all():
            raise SstcastError("TaxiBJ cube: time is not strictly increasing")
        day = times.astype("datetime64[D]")
        if ((times - day.astype("datetime64[ns]")) % step).astype(np.int64).any():
            raise SstcastError(f"TaxiBJ cube: times are not on the {spd}-slots-a-day grid")
        days, inverse, counts = np.unique(day, return_inverse=True, return_counts=True)
        keep = counts[inverse] == spd
        self.dropped_days = [str(d) for d in days[counts < spd]]
        rows = np.flatnonzero(keep)
        times = times[rows]
        if len(times) == 0:
            raise SstcastError(f"TaxiBJ cube: no complete day of {spd} slots")
        self._times = times
        slots = ((times - times[0]) // step).astype(np.int64)

        # -- which targets have every input frame ----------------------------------------
        offsets = {
            "closeness": np.arange(1, len_closeness + 1, dtype=np.int64),
            "period": spd * period_interval * np.arange(1, len_period + 1, dtype=np.int64),
            "trend": spd * trend_interval * np.arange(1, len_trend + 1, dtype=np.int64),
            "previous": np.array([1], dtype=np.int64),
        }
        positions = {}
        valid = np.ones(len(slots), dtype=bool)
        for name, off in offsets.items():
            pos, found = _lookup(slots, slots[:, None] - off[None, :])
            positions[name] = pos
            valid &= found.all(axis=1)

        # -- split by the target's day ---------------------------------------------------
        kept_days = np.unique(times.astype("datetime64[D]"))
        if len(kept_days) <= test_days + val_days:
            raise SstcastError(
                f"TaxiBJ cube: {len(kept_days)} complete days, too few for test_days="
                f"{test_days} and val_days={val_days} plus training"
            )
        test_start = kept_days[-test_days]
        held_start = kept_days[-(test_days + val_days)]
        target_day = times.astype("datetime64[D]")
        in_split = {
            "train": target_day < held_start,
            "val": (target_day >= held_start) & (target_day < test_start),
            "test": target_day >= test_start,
        }[split]
        self.split_days = {
            "train": (str(kept_days[0]), str(kept_days[kept_days < held_start][-1])),
            "test": (str(test_start), str(kept_days[-1])),
        }
        if val_days:
            self.split_days["val"] = (str(held_start), str(kept_days[kept_days < test_start][-1]))
        chosen = np.flatnonzero(valid & in_split)
        if len(chosen) == 0:
            raise SstcastError(
                f"TaxiBJ cube: no '{split}' sample has all its closeness/period/trend frames"
            )
        self._target = chosen
        self._index = {name: positions[name][chosen] for name in ("closeness", "period", "trend")}
        previous = positions["previous"][chosen, 0]

        # -- values: flows into memory once, scaled with the training period's range ----
        flow = np.asarray(flow_var.isel(time=rows).values, dtype=np.float32)
        temperature = np.asarray(ds["temperature"].values, dtype=np.float64)[rows]
        wind_speed = np.asarray(ds["wind_speed"].values, dtype=np.float64)[rows]
        if scaler is None:
            train_rows = times.astype("datetime64[D]") < held_start
            if scaling == "anomaly":
                scaler = FlowAnomalyScaler.from_training(
                    flow[train_rows],
                    times[train_rows],
                    temperature[train_rows],
                    wind_speed[train_rows],
                    slots_per_day=spd,
                )
            elif scaling == "minmax":
                scaler = FlowScaler.from_training(
                    flow[train_rows], temperature[train_rows], wind_speed[train_rows]
                )
            else:
                raise SstcastError(
                    f"TaxiBJ scaling {scaling!r}: use 'minmax' (DeepST) or 'anomaly' (from the "
                    "historical average)"
                )
        self.scaler = scaler
        self._frames = scaler.transform(flow, times).astype(np.float32)
        self.grid = tuple(int(n) for n in flow.shape[2:])

        target_times = pd.DatetimeIndex(times[chosen])
        dow = target_times.day_of_week.to_numpy()
        weather = np.asarray(ds["weather"].values)[rows][previous].astype(np.float32)
        if weather.shape[1] != len(WEATHER_CLASSES):
            raise SstcastError(
                f"TaxiBJ cube: weather has {weather.shape[1]} classes, "
                f"expected {len(WEATHER_CLASSES)}"
            )
        holiday = np.asarray(ds["holiday"].values)[rows][chosen].astype(np.float32)
        self._ext = np.concatenate(
            [
                np.eye(7, dtype=np.float32)[dow],
                (dow < 5).astype(np.float32)[:, None],
                holiday[:, None],
                weather,
                scaler.scale_external("temperature", temperature[previous])[:, None],
                scaler.scale_external("wind_speed", wind_speed[previous])[:, None],
            ],
            axis=1,
        ).astype(np.float32)

    # -- sizes and metadata --------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._target)

    @property
    def ext_dim(self) -> int:
        return EXT_DIM

    @property
    def ext_names(self) -> tuple[str, ...]:
        return EXT_NAMES

    @property
    def timestamps(self) -> np.ndarray:
        """The time axis after dropping incomplete days (datetime64[ns])."""
        return self._times

    @property
    def target_times(self) -> np.ndarray:
        """Target time of each sample of this split (datetime64[ns])."""
        return self._times[self._target]

    @property
    def external(self) -> np.ndarray:
        """(len, 28) external vectors of the samples."""
        return self._ext

    def frame_times(self, i: int) -> dict[str, np.ndarray]:
        """Datetimes of the frames of sample ``i``: closeness, period, trend and target."""
        out = {name: self._times[idx[i]] for name, idx in self._index.items()}
        out["target"] = self._times[self._target[i : i + 1]]
        return out

    def config(self) -> dict[str, Any]:
        """What the model needs to know about the inputs."""
        return {
            "len_closeness": self.lengths["closeness"],
            "len_period": self.lengths["period"],
            "len_trend": self.lengths["trend"],
            "channels": 2,
            "height": self.grid[0],
            "width": self.grid[1],
            "ext_dim": EXT_DIM,
        }

    # -- items ---------------------------------------------------------------------------
    def _stack(self, idx: np.ndarray) -> np.ndarray:
        """Frames ``idx`` (..., n) -> (..., 2 n, H, W), frame-major, inflow before outflow."""
        frames = self._frames[idx]
        return frames.reshape(*idx.shape[:-1], idx.shape[-1] * 2, *self.grid)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"sample {i} out of range for {len(self)} samples")
        return {
            "xc": torch.from_numpy(self._stack(self._index["closeness"][i])),
            "xp": torch.from_numpy(self._stack(self._index["period"][i])),
            "xt": torch.from_numpy(self._stack(self._index["trend"][i])),
            "ext": torch.from_numpy(self._ext[i].copy()),
            "y": torch.from_numpy(self._frames[self._target[i]].copy()),
            **self._coords(np.array([i]), squeeze=True),
        }

    def get_batch(self, indices: Sequence[int] | np.ndarray) -> dict[str, torch.Tensor]:
        """A whole batch in one gather (faster than collating single items)."""
        idx = np.asarray(indices, dtype=np.int64)
        return {
            "xc": torch.from_numpy(self._stack(self._index["closeness"][idx])),
            "xp": torch.from_numpy(self._stack(self._index["period"][idx])),
            "xt": torch.from_numpy(self._stack(self._index["trend"][idx])),
            "ext": torch.from_numpy(self._ext[idx]),
            "y": torch.from_numpy(self._frames[self._target[idx]]),
            **self._coords(idx),
        }

    def _coords(self, idx: np.ndarray, squeeze: bool = False) -> dict[str, torch.Tensor]:
        """The samples' coordinates as int64 ns since 1970: ``time``/``valid_time`` (the
        target slot) and ``init_time`` (the slot before it, the newest closeness frame)."""
        valid = self._times[self._target[idx]].astype(np.int64)
        init = valid - self._step_ns
        out = {
            "time": torch.from_numpy(valid.copy()),
            "init_time": torch.from_numpy(init),
            "valid_time": torch.from_numpy(valid[:, None].copy()),
        }
        return {k: v[0] for k, v in out.items()} if squeeze else out

    def __repr__(self) -> str:
        lc, lp, lt = self.lengths.values()
        return (
            f"STResNetDataset(split={self.split!r}, samples={len(self)}, closeness={lc}, "
            f"period={lp}, trend={lt}, grid={self.grid}, dropped_days={len(self.dropped_days)})"
        )


def stresnet_splits(
    cube: xr.Dataset | str | Path, val_days: int = 0, **options: Any
) -> dict[str, STResNetDataset]:
    """Train (and val when ``val_days``) and test datasets sharing the training scaler."""
    ds = as_dataset(cube)
    train = STResNetDataset(ds, "train", val_days=val_days, **options)
    out = {"train": train}
    if val_days:
        out["val"] = STResNetDataset(ds, "val", val_days=val_days, scaler=train.scaler, **options)
    out["test"] = STResNetDataset(ds, "test", val_days=val_days, scaler=train.scaler, **options)
    return out
