"""Sequence windows cut from a cube, as torch samples, at memory speed.

A window is ``n_in + n_out`` consecutive steps of the cube's time axis: the first ``n_in``
are the inputs ``x``, the rest the targets ``y``. Its *init time* is the time of its last
input step. Windows lie wholly inside one split and one contiguous run of the time axis
(:mod:`sstcast.data.splits`), so no window bridges missing days or touches another split.

Speed: on first access (in each DataLoader worker) the split's time range is read once,
normalised, NaN-filled and stored as one contiguous float32 array ``(time, C, H, W)``;
``__getitem__`` is then a slice and ``torch.from_numpy``. ``__getitems__`` gathers a whole
batch with one fancy index (the DataLoader uses it automatically; :func:`make_loader`'s
collate function passes the ready batch through). When the range is larger than the memory
available (``in_memory=None`` decides; or ``in_memory=False``), blocks of the cube's time
chunks are read on demand and kept in a small LRU cache instead.

Sample (a dict of tensors):

``x``          (n_in, C, H, W) float32, normalised, 0 on land
``y``          (n_out, C, H, W) float32, normalised, 0 on land
``extra``      (n_in + n_out, E, H, W) float32 given channels, present only when E > 0:
               static channels (``mask`` 0/1, ``lat`` and ``lon`` scaled to [-1, 1] over the
               grid) then, with ``day_of_year=True``, ``doy_sin``/``doy_cos`` of each step's
               date. Static channels are returned as broadcast views (no copy) when they are
               the only extra channels.
``mask``       (H, W) bool, True on ocean cells (the cube's mask, and a training value exists)
``init_time``  int64 nanoseconds since 1970 (the last input step's time)
``valid_time`` (n_out,) int64 nanoseconds since 1970: the targets' times, so that what is
               computed from a batch (physical units, metrics) never looks a window up
``index``      int64, the window's position in this dataset
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import xarray as xr
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    RandomSampler,
    SequentialSampler,
    default_collate,
)

from sstcast.config.pipeline import SPLIT_NAMES
from sstcast.cube import as_dataset
from sstcast.data.normalize import Normalizer, harmonic_design, make_normalizer
from sstcast.data.splits import time_splits, window_span, window_starts
from sstcast.errors import SstcastError
from sstcast.utils.memory import available_bytes
from sstcast.utils.report import track

STATIC_CHANNELS: tuple[str, ...] = ("mask", "lat", "lon")
DOY_CHANNELS: tuple[str, ...] = ("doy_sin", "doy_cos")
_LOAD_BLOCK_BYTES = 64 * 2**20  # raw values normalised per block while loading


def _scaled(values: np.ndarray) -> np.ndarray:
    """Coordinates mapped linearly to [-1, 1] (0 for a single value)."""
    lo, hi = float(values.min()), float(values.max())
    if hi == lo:
        return np.zeros_like(values, dtype=np.float32)
    return (2.0 * (values - lo) / (hi - lo) - 1.0).astype(np.float32)


def scored_cells(normalizer: Normalizer, ds: xr.Dataset, variable: str) -> np.ndarray:
    """(H, W) bool: the cells a model sees and is scored on — the cube's ``mask`` (if any)
    and the cells the normaliser has parameters for (a training value existed)."""
    da = ds[variable]
    valid = normalizer.fitted_cells()
    if valid.ndim == 3:
        valid = valid.all(axis=0)
    if valid.shape != tuple(da.shape[-2:]):
        raise SstcastError(
            f"normaliser fitted on a field of shape {valid.shape}, the cube's is {da.shape[-2:]}"
        )
    if "mask" in ds.variables and ds["mask"].dims == da.dims[-2:]:
        valid = valid & np.asarray(ds["mask"].values).astype(bool)
    return valid


def static_planes(
    ds: xr.Dataset, names: Sequence[str], mask: np.ndarray, spatial_dims: tuple[str, str]
) -> torch.Tensor | None:
    """The static extra channels ``names`` (E_s, H, W): ``mask`` 0/1, ``lat`` and ``lon``
    scaled to [-1, 1] over the grid; None when there are none."""
    planes = []
    h, w = mask.shape
    for name in names:
        if name == "mask":
            planes.append(mask.astype(np.float32))
            continue
        dim = {"lat": spatial_dims[0], "lon": spatial_dims[1]}[name]
        if dim not in ds.coords:
            raise SstcastError(f"static_channels: the cube has no {name} coordinate")
        vals = _scaled(np.asarray(ds[dim].values, dtype=np.float64))
        plane = vals[:, None] if name == "lat" else vals[None, :]
        planes.append(np.broadcast_to(plane, (h, w)).astype(np.float32))
    return torch.from_numpy(np.stack(planes)) if planes else None


def doy_planes(times: Any) -> np.ndarray:
    """``doy_sin``, ``doy_cos`` of each time's date: float32 (len(times), 2)."""
    g = harmonic_design(np.asarray(times), 1)[:, 1:]
    return np.ascontiguousarray(g[:, ::-1], dtype=np.float32)


class _WindowBatch(Sequence):
    """A batch gathered in one go that still looks like a list of samples.

    :func:`collate_windows` returns ``batch`` as is; torch's ``default_collate`` sees a
    sequence of per-sample dicts and stacks them (slower, same result).
    """

    def __init__(self, batch: dict[str, torch.Tensor]) -> None:
        self.batch = batch

    def __len__(self) -> int:
        return int(self.batch["index"].shape[0])

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:  # type: ignore[override]
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        return {k: v[i] for k, v in self.batch.items()}


def expand_extra(batch: Mapping[str, torch.Tensor]) -> torch.Tensor | None:
    """The model's extra channels (B, L, E, H, W) from a batch in either form.

    ``extra`` is returned as it is; the compact form (``extra_static`` (B, E_s, H, W) and
    ``extra_doy`` (B, L, 2), see ``WindowDataset(compact_extra=True)``) is broadcast here, on
    the batch's device, static channels first as in ``WindowDataset.extra_channels``.
    """
    if "extra" in batch:
        return batch["extra"]
    doy = batch.get("extra_doy")
    if doy is None:
        return None
    b, length = doy.shape[:2]
    h, w = batch["mask"].shape[-2:]
    parts = []
    static = batch.get("extra_static")
    if static is not None:
        parts.append(static[:, None].expand(b, length, *static.shape[1:]))
    parts.append(doy[..., None, None].expand(b, length, doy.shape[-1], h, w))
    return torch.cat(parts, dim=2)


def collate_windows(samples: Any) -> dict[str, torch.Tensor]:
    """Collate for :class:`WindowDataset`: a pre-gathered batch passes through untouched."""
    if isinstance(samples, _WindowBatch):
        return samples.batch
    return default_collate(samples)


class _ChunkStore:
    """Normalised blocks of the cube read on demand, the last ``max_blocks`` kept (LRU)."""

    def __init__(self, load: Any, t0: int, t1: int, block: int, max_blocks: int) -> None:
        self._load = load  # (a, b) -> float32 array (b - a, C, H, W), absolute positions
        self.t0, self.t1, self.block, self.max_blocks = t0, t1, block, max_blocks
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()

    def _get_block(self, k: int) -> np.ndarray:
        if k in self._cache:
            self._cache.move_to_end(k)
            return self._cache[k]
        a = self.t0 + k * self.block
        arr = self._load(a, min(self.t1, a + self.block))
        self._cache[k] = arr
        while len(self._cache) > self.max_blocks:
            self._cache.popitem(last=False)
        return arr

    def get(self, a: int, b: int) -> np.ndarray:
        """Steps [a, b) (absolute positions) as a new float32 array."""
        k0 = (a - self.t0) // self.block
        k1 = (b - 1 - self.t0) // self.block
        parts = []
        for k in range(k0, k1 + 1):
            base = self.t0 + k * self.block
            blk = self._get_block(k)
            parts.append(blk[max(a, base) - base : min(b, base + len(blk)) - base])
        return parts[0].copy() if len(parts) == 1 else np.concatenate(parts)


class _MemoryStore:
    """The split's normalised steps in one array, with zero-copy "all windows" views.

    ``x_windows[k]`` is the ``n_in`` steps starting at ``k`` and ``y_windows[k]`` the
    ``n_out`` steps starting at ``k`` (strided views sharing ``array``'s memory), so a batch
    is gathered as whole contiguous blocks — one block copy per window instead of one per
    frame.
    """

    # Below this many bytes per window numpy's fancy indexing is the faster gather,
    # above it torch's index_select (measured; both copy whole blocks).
    _NUMPY_BELOW = 64 * 2**10

    def __init__(self, array: np.ndarray, n_in: int, n_out: int) -> None:
        self.array = array
        self.n_in, self.n_out = n_in, n_out
        t = torch.from_numpy(array)
        frame = tuple(array.shape[1:])
        self.x_windows = t.as_strided(
            (len(array) - n_in + 1, n_in, *frame), (t.stride(0), *t.stride())
        )
        self.y_windows = t.as_strided(
            (len(array) - n_out + 1, n_out, *frame), (t.stride(0), *t.stride())
        )
        self.x_np = self.x_windows.numpy()
        self.y_np = self.y_windows.numpy()
        self.use_numpy = array[0].nbytes * max(n_in, n_out) < self._NUMPY_BELOW

    def gather(
        self, rel: np.ndarray, x: torch.Tensor | None = None, y: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(x, y) for windows starting at positions ``rel``; into ``x``/``y`` when given."""
        if x is None and self.use_numpy:
            return torch.from_numpy(self.x_np[rel]), torch.from_numpy(self.y_np[rel + self.n_in])
        ix = torch.from_numpy(rel)
        x = torch.index_select(self.x_windows, 0, ix, out=x)
        y = torch.index_select(self.y_windows, 0, ix + self.n_in, out=y)
        return x, y


class WindowDataset(Dataset):
    """Windows of ``n_in`` inputs and ``n_out`` targets from one split of a cube.

    Args:
        cube: an opened cube (:class:`xarray.Dataset`) or its path/URL.
        n_in, n_out: input and target steps.
        split: "train", "val" or "test".
        splits: a :class:`sstcast.config.SplitConfig`, a mapping, or None (0.8/0.1/0.1).
        stride: steps between consecutive windows' starts.
        normalization: "anomaly", "zscore", "minmax", or a fitted
            :class:`~sstcast.data.normalize.Normalizer`.
        harmonics: annual harmonics of the anomaly climatology.
        static_channels: any of "mask", "lat", "lon" as extra channels.
        day_of_year: add sin/cos of each step's date as extra channels.
        inputs_before_split: validation and test windows take their inputs from the steps
            just before the split when needed; the splits then need no gap between them
            (:func:`sstcast.data.splits.time_splits`). Training windows stay inside train.
        variable: the cube variable to window ("sst"; "flow" for TaxiBJ cubes).
        in_memory: load the split into memory (True), read chunks on demand (False), or decide
            by size against the available memory (None).
        normalizer: a fitted normaliser to use (wins over ``normalization``). When neither is
            fitted and ``split`` is not "train", the normaliser is fitted on the train split of
            the same cube — never on validation or test data.
        scale: for "anomaly": "global" (one std) or "cell" (per-cell std).
        cache_blocks: blocks kept by the chunked reader.
        compact_extra: with ``day_of_year``, give ``extra_static`` (E_s, H, W) and
            ``extra_doy`` (L, 2) instead of the full ``extra`` (L, E, H, W) planes, and let
            :func:`expand_extra` broadcast them where the model runs (on the GPU): the
            planes are mostly repeats, and building them on the host dominates large grids.
    """

    def __init__(
        self,
        cube: xr.Dataset | str | Path,
        n_in: int,
        n_out: int,
        split: str = "train",
        splits: Any = None,
        stride: int = 1,
        normalization: str | Normalizer = "anomaly",
        harmonics: int = 3,
        static_channels: Sequence[str] = (),
        day_of_year: bool = False,
        variable: str = "sst",
        in_memory: bool | None = None,
        normalizer: Normalizer | None = None,
        scale: str = "global",
        cache_blocks: int = 8,
        compact_extra: bool = False,
        inputs_before_split: bool = False,
    ) -> None:
        super().__init__()
        if split not in SPLIT_NAMES:
            raise SstcastError(f"split {split!r}: use one of {', '.join(SPLIT_NAMES)}")
        if n_in < 1 or n_out < 1 or stride < 1:
            raise SstcastError(
                f"n_in, n_out and stride must be >= 1, got {n_in}, {n_out}, {stride}"
            )
        unknown = [c for c in static_channels if c not in STATIC_CHANNELS]
        if unknown:
            raise SstcastError(
                f"static_channels: unknown {unknown}; choose from {', '.join(STATIC_CHANNELS)}"
            )
        self.n_in, self.n_out, self.stride = int(n_in), int(n_out), int(stride)
        self.length = self.n_in + self.n_out
        self.split = split
        self.variable = variable
        self.static_channels = tuple(static_channels)
        self.day_of_year = bool(day_of_year)
        self.cache_blocks = int(cache_blocks)
        self.compact_extra = bool(compact_extra)

        if isinstance(cube, xr.Dataset):
            self._path: str | None = None
            self._given: xr.Dataset | None = cube
        else:
            self._path, self._given = str(cube), None
        self._pid = os.getpid()
        self._ds: xr.Dataset | None = None
        self._store: _MemoryStore | _ChunkStore | None = None

        ds = self._dataset()
        if variable not in ds.data_vars:
            raise SstcastError(f"{self._where}: no variable {variable!r} in the cube")
        da = ds[variable]
        if da.dims[0] != "time" or da.ndim not in (3, 4):
            raise SstcastError(
                f"{self._where}: {variable} must have dims (time, [channel,] y, x), got {da.dims}"
            )
        self.spatial_dims: tuple[str, str] = (str(da.dims[-2]), str(da.dims[-1]))
        self.channel_dim: str | None = str(da.dims[1]) if da.ndim == 4 else None
        self.channels: list[str] = (
            [str(c) for c in da[self.channel_dim].values]
            if self.channel_dim is not None and self.channel_dim in da.coords
            else [f"{variable}{i}" for i in range(da.shape[1])]
            if self.channel_dim is not None
            else [variable]
        )
        self.times = pd.DatetimeIndex(ds["time"].values).as_unit("ns")
        self.frequency: str | None = ds.attrs.get("frequency") or None

        # Splits and windows.
        self.inputs_before_split = bool(inputs_before_split)
        self.split_slices = time_splits(
            self.times, splits, self.n_in, self.n_out, self.inputs_before_split
        )
        # Training windows never reach out of the train split (its inputs stay training data).
        reach = self.inputs_before_split and split != "train"
        span = window_span(self.split_slices[split], self.n_in, reach)
        self.starts = window_starts(self.times, span, self.length, self.stride, self.frequency)
        if len(self.starts) == 0:
            sl = span
            raise SstcastError(
                f"split {split!r}: no window of {self.length} consecutive steps fits in "
                f"{self.times[sl.start].date()}..{self.times[sl.stop - 1].date()}"
            )
        self._init_ns = self.times.asi8[self.starts + self.n_in - 1]
        self._valid_ns = self.times.asi8[
            self.starts[:, None] + self.n_in + np.arange(self.n_out)[None, :]
        ]
        self._t0 = int(self.starts.min())
        self._t1 = int(self.starts.max()) + self.length

        # Normalisation: given, or fitted on the train split only.
        if normalizer is None and isinstance(normalization, Normalizer):
            normalizer = normalization
        if normalizer is None:
            options: dict[str, Any] = {}
            if normalization == "anomaly":
                options = {"harmonics": harmonics, "scale": scale}
            normalizer = make_normalizer(str(normalization), **options)
            normalizer.fit(da.isel(time=self.split_slices["train"]))
        self.normalizer = normalizer

        self.mask = scored_cells(normalizer, ds, variable)
        self._mask_t = torch.from_numpy(self.mask)

        # Extra channels.
        self._static = static_planes(ds, self.static_channels, self.mask, self.spatial_dims)
        self._doy = None
        if self.day_of_year:
            self._doy = torch.from_numpy(doy_planes(self.times[self._t0 : self._t1].values))
        self.extra_channels: list[str] = list(self.static_channels) + (
            list(DOY_CHANNELS) if self.day_of_year else []
        )

        # Memory or chunks.
        nbytes = (self._t1 - self._t0) * int(np.prod(da.shape[1:])) * 4
        self.in_memory = bool(nbytes < 0.5 * available_bytes()) if in_memory is None else in_memory
        self._nbytes = nbytes

    # -- opening, per process -------------------------------------------------------------
    @property
    def _where(self) -> str:
        return self._path or "cube"

    def _dataset(self) -> xr.Dataset:
        """The cube, reopened lazily in each process (no handle crosses a fork)."""
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._ds = None
            if isinstance(self._store, _ChunkStore):
                self._store = None
        if self._given is not None:
            return self._given
        if self._ds is None:
            self._ds = as_dataset(self._path)
        return self._ds

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_ds"] = None
        state["_store"] = None
        return state

    def _load_range(self, a: int, b: int, label: str | None = None) -> np.ndarray:
        """Steps [a, b) normalised, land and gaps filled with 0: float32 (b - a, C, H, W).
        With ``label``, a progress bar of that name is drawn over the blocks read."""
        da = self._dataset()[self.variable]
        per_step = int(np.prod(da.shape[1:]))
        out = np.empty((b - a, per_step), dtype=np.float32)
        step = max(1, _LOAD_BLOCK_BYTES // (per_step * 8))
        blocks = range(a, b, step)
        for s in track(blocks, label) if label else blocks:
            e = min(b, s + step)
            raw = np.asarray(da.isel(time=slice(s, e)).values)
            z = self.normalizer.transform(raw, self.times[s:e].values)
            out[s - a : e - a] = np.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0).reshape(
                e - s, per_step
            )
        shape = (b - a, len(self.channels), *self.mask.shape)
        out = out.reshape(shape)
        out *= self.mask  # land exactly 0 even where the cube has values there
        return out

    def load(self) -> WindowDataset:
        """Read the split's range into memory now (done lazily on first access otherwise);
        calling it before forking DataLoader workers lets them share the array."""
        self._data()
        return self

    def _data(self) -> _MemoryStore | _ChunkStore:
        if self._pid != os.getpid():
            self._dataset()
        if self._store is None:
            if self.in_memory:
                label = f"loading the {self.split} split ({self._t1 - self._t0} steps)"
                self._store = _MemoryStore(
                    self._load_range(self._t0, self._t1, label), self.n_in, self.n_out
                )
            else:
                da = self._dataset()[self.variable]
                chunks = da.encoding.get("chunks") or (da.chunks and da.chunks[0][:1])
                block = int(chunks[0]) if chunks else 0
                if block <= 0:
                    block = max(1, 16 * 2**20 // (int(np.prod(da.shape[1:])) * 4))
                block = max(block, self.length)
                self._store = _ChunkStore(
                    self._load_range, self._t0, self._t1, block, self.cache_blocks
                )
        return self._store

    # -- properties ---------------------------------------------------------------------
    @property
    def init_times(self) -> pd.DatetimeIndex:
        """The init time (last input step) of every window, in order."""
        return self.times[self.starts + self.n_in - 1]

    @property
    def target_times(self) -> np.ndarray:
        """Valid times of every window's targets: datetime64[ns] (n_windows, n_out)."""
        pos = self.starts[:, None] + self.n_in + np.arange(self.n_out)
        return self.times.values[pos]

    @property
    def coords(self) -> dict[str, np.ndarray]:
        """The spatial coordinates, e.g. ``{"lat": ..., "lon": ...}``."""
        ds = self._dataset()
        return {d: np.asarray(ds[d].values) for d in self.spatial_dims if d in ds.coords}

    @property
    def n_channels(self) -> int:
        return len(self.channels)

    @property
    def n_extra(self) -> int:
        return len(self.extra_channels)

    def to_physical(self, z: Any, index: Any) -> Any:
        """Normalised predictions (..., n_out, C, H, W) for windows ``index`` back to physical
        units (°C for SST) at their target valid times."""
        times = self.target_times[np.asarray(index)]
        return self.normalizer.inverse_transform(z, times)

    def __len__(self) -> int:
        return len(self.starts)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        for i in range(len(self)):
            yield self[i]

    # -- samples ------------------------------------------------------------------------
    def _extra_fields(self, rel: np.ndarray) -> dict[str, torch.Tensor]:
        """The batch fields that carry the extra channels for windows at ``rel``: ``extra``,
        or with ``compact_extra`` and day-of-year, ``extra_static`` and ``extra_doy``."""
        if self.compact_extra and self._doy is not None:
            fields = {
                "extra_doy": self._doy[torch.from_numpy(rel[:, None] + np.arange(self.length))]
            }
            if self._static is not None:
                fields["extra_static"] = self._static.expand(len(rel), *self._static.shape)
            return fields
        extra = self._extra(rel)
        return {} if extra is None else {"extra": extra}

    def _extra(self, rel: np.ndarray) -> torch.Tensor | None:
        """Extra channels (B, L, E, H, W) for windows starting at relative positions ``rel``."""
        b = len(rel)
        h, w = self.mask.shape
        if self._static is None and self._doy is None:
            return None
        if self._doy is None:
            return self._static.expand(b, self.length, *self._static.shape)
        doy = self._doy[torch.from_numpy(rel[:, None] + np.arange(self.length))]  # (B, L, 2)
        if self._static is None:
            return doy[..., None, None].expand(b, self.length, 2, h, w)
        es = self._static.shape[0]
        out = torch.empty((b, self.length, es + 2, h, w), dtype=torch.float32)
        out[:, :, :es] = self._static
        out[:, :, es:] = doy[..., None, None]
        return out

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"window {i} out of range for {n} windows")
        i = int(i) % n
        s = int(self.starts[i])
        store = self._data()
        if isinstance(store, _MemoryStore):
            win = store.array[s - self._t0 : s - self._t0 + self.length]
            x, y = win[: self.n_in].copy(), win[self.n_in :].copy()
        else:
            win = store.get(s, s + self.length)
            x, y = win[: self.n_in], win[self.n_in :].copy()
        sample = {"x": torch.from_numpy(x), "y": torch.from_numpy(y)}
        for key, value in self._extra_fields(np.array([s - self._t0])).items():
            sample[key] = value[0]
        sample["mask"] = self._mask_t
        sample["init_time"] = torch.tensor(self._init_ns[i], dtype=torch.int64)
        sample["valid_time"] = torch.from_numpy(self._valid_ns[i].copy())
        sample["index"] = torch.tensor(i, dtype=torch.int64)
        return sample

    def __getitems__(self, indices: Sequence[int]) -> _WindowBatch:
        """A whole batch gathered with one fancy index per tensor.

        Inside a DataLoader worker, ``x`` and ``y`` are gathered into one shared-memory
        buffer (and ``init_time``/``index`` into another), so that a batch crosses to the main
        process as two storages instead of being copied into shared memory tensor by tensor.
        """
        idx = np.asarray(indices, dtype=np.int64)
        try:
            starts = self.starts[idx]
        except IndexError:
            raise IndexError(f"window index out of range for {len(self)} windows") from None
        idx = idx % len(self)
        rel = starts - self._t0
        store = self._data()
        in_worker = torch.utils.data.get_worker_info() is not None
        if isinstance(store, _MemoryStore) and not in_worker:
            x, y = store.gather(rel)
            init_time = torch.from_numpy(self._init_ns[idx])
            index = torch.from_numpy(idx)
        else:
            x, y, init_time, index = self._gather_shared(store, idx, starts, in_worker)
        batch = {"x": x, "y": y}
        batch.update(self._extra_fields(rel))
        batch["mask"] = self._mask_t.expand(len(idx), *self._mask_t.shape)
        batch["init_time"] = init_time
        batch["valid_time"] = torch.from_numpy(self._valid_ns[idx])
        batch["index"] = index
        return _WindowBatch(batch)

    def _gather_shared(
        self, store: _MemoryStore | _ChunkStore, idx: np.ndarray, starts: np.ndarray, share: bool
    ) -> tuple[torch.Tensor, ...]:
        """(x, y, init_time, index) as views of two buffers, in shared memory if ``share``."""
        b = len(idx)
        frame = (len(self.channels), *self.mask.shape)
        per = int(np.prod(frame))
        buf = torch.empty(b * self.length * per, dtype=torch.float32)
        ints = torch.empty(2 * b, dtype=torch.int64)
        if share:
            buf.share_memory_()
            ints.share_memory_()
        x = buf[: b * self.n_in * per].view(b, self.n_in, *frame)
        y = buf[b * self.n_in * per :].view(b, self.n_out, *frame)
        if isinstance(store, _MemoryStore):
            store.gather(starts - self._t0, x, y)
        else:
            for k, s in enumerate(starts):
                win = store.get(int(s), int(s) + self.length)
                x[k] = torch.from_numpy(win[: self.n_in])
                y[k] = torch.from_numpy(win[self.n_in :])
        ints_np = ints.numpy()
        ints_np[:b] = self._init_ns[idx]
        ints_np[b:] = idx
        return x, y, ints[:b], ints[b:]

    def __repr__(self) -> str:
        return (
            f"WindowDataset({self._where}, split={self.split!r}, windows={len(self)}, "
            f"n_in={self.n_in}, n_out={self.n_out}, channels={self.channels}, "
            f"extra={self.extra_channels}, normalization={self.normalizer.kind!r}, "
            f"in_memory={self.in_memory})"
        )

    # -- construction from a pipeline ------------------------------------------------
    @classmethod
    def from_pipeline(
        cls,
        pipeline: Any,
        split: str,
        cube: xr.Dataset | str | Path | None = None,
        normalizer: Normalizer | None = None,
        **overrides: Any,
    ) -> WindowDataset:
        """A dataset configured by a :class:`sstcast.config.Pipeline`'s ``data`` section.
        ``cube`` defaults to ``pipeline.cube``."""
        data = pipeline.data
        cube = cube if cube is not None else pipeline.cube
        if cube is None:
            raise SstcastError(f"pipeline {pipeline.name!r}: no cube path given")
        kwargs: dict[str, Any] = dict(
            n_in=data.n_in,
            n_out=data.n_out,
            split=split,
            splits=data.split,
            stride=data.stride,
            normalization=data.normalization,
            harmonics=data.harmonics,
            static_channels=tuple(data.static_channels),
            day_of_year=data.day_of_year,
            normalizer=normalizer,
            inputs_before_split=data.inputs_before_split,
        )
        kwargs.update(overrides)
        return cls(cube, **kwargs)


class ArrayBatchSampler(BatchSampler):
    """A :class:`~torch.utils.data.BatchSampler` yielding each batch as one int64 array.

    The wrapped sampler (random, sequential, distributed, ...) is read once per epoch, so a
    batch costs a slice instead of ``batch_size`` Python steps; ``__getitems__`` then gathers
    it with one fancy index. Same constructor as ``BatchSampler``, so Lightning can rebuild it
    around a distributed sampler.
    """

    def __iter__(self) -> Iterator[np.ndarray]:  # type: ignore[override]
        order = np.fromiter(iter(self.sampler), dtype=np.int64)
        stop = len(order) - len(order) % self.batch_size if self.drop_last else len(order)
        for k in range(0, stop, self.batch_size):
            yield order[k : k + self.batch_size]


class WindowLoader(DataLoader):
    """A DataLoader that, without workers, runs its loop directly: sample an index array,
    gather the batch, pin it if asked — skipping the generic single-process iterator's
    per-batch bookkeeping, which costs as much as gathering a small (Bohai-sized) batch.
    With workers it is a plain DataLoader."""

    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]
        if self.num_workers > 0 or self.batch_sampler is None:
            return super().__iter__()
        return self._iter_in_process()

    def _iter_in_process(self) -> Iterator[Any]:
        from torch.utils.data._utils.pin_memory import pin_memory

        getitems = getattr(self.dataset, "__getitems__", None)
        pin = self.pin_memory and torch.cuda.is_available()
        for idx in self.batch_sampler:
            samples = getitems(idx) if getitems else [self.dataset[i] for i in idx]
            batch = self.collate_fn(samples)
            yield pin_memory(batch) if pin else batch


def make_loader(
    dataset: WindowDataset,
    batch_size: int,
    shuffle: bool = False,
    num_workers: int = 0,
    device: str | torch.device | None = None,
    drop_last: bool = False,
    seed: int | None = None,
) -> WindowLoader:
    """A DataLoader over ``dataset`` using the batch fast path; pinned memory on CUDA.

    Batches are drawn as index arrays (:class:`ArrayBatchSampler`) and gathered whole by
    ``WindowDataset.__getitems__``. With workers, the in-memory array is loaded first so that
    forked workers share it. ``seed`` fixes the shuffling order (the same batches whatever
    ``num_workers``).
    """
    dev = torch.device(device) if device is not None else None
    if num_workers > 0 and dataset.in_memory:
        dataset.load()
    generator = None
    if seed is not None:
        generator = torch.Generator()
        generator.manual_seed(seed)
    sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
    return WindowLoader(
        dataset,
        batch_sampler=ArrayBatchSampler(sampler, batch_size, drop_last),
        num_workers=num_workers,
        collate_fn=collate_windows,
        pin_memory=dev is not None and dev.type == "cuda",
        persistent_workers=num_workers > 0,
    )
