"""Normalisation fitted on the training split, saved with the run, inverted back to °C.

Three kinds, all affine per value, ``z = (x - offset) / scale``:

``anomaly`` (default for SST)
    ``offset`` is a day-of-year climatology fitted per cell by least squares on
    ``[1, cos(k·φ), sin(k·φ)]`` for ``k = 1..K`` (``K = harmonics``), with
    ``φ = 2π · (days since 2000-01-01) / 365.25`` — the day of year as a smooth phase that
    does not jump at leap years. ``scale`` is the standard deviation of the training anomalies,
    one number for the whole field by default (``scale="global"``: the network's loss is then
    proportional to the squared error in °C, the quantity the metrics report) or per cell
    (``scale="cell"``). The climatology can be evaluated at any datetime, so forecasts for
    future valid times get theirs.
``zscore``
    One mean and one standard deviation over all training values.
``minmax``
    Training minimum and maximum mapped to ``feature_range``, ``(-1, 1)`` by default
    (``(0, 1)`` also allowed).

Cells that have no value in the training period (land) get NaN parameters: they stay NaN in
both directions; the windowed dataset fills them with 0 for the network and masks them out.

:meth:`Normalizer.transform` and :meth:`Normalizer.inverse_transform` accept an
:class:`xarray.DataArray` (times from ``times=``, else a ``valid_time`` coordinate, else
``time``), a numpy array or a torch tensor (any device). Arrays must end with the fitted
field's shape (e.g. ``(lat, lon)``); ``times`` is aligned with the leading axes from the left,
so model output ``(batch, lead, 1, lat, lon)`` takes ``times`` of shape ``(batch, lead)``.
A fitted normaliser round-trips through a small NetCDF file (:meth:`save`, :func:`load_normalizer`).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import xarray as xr

from sstcast.errors import SstcastError
from sstcast.utils.io import atomic_path
from sstcast.utils.report import track

EPOCH = np.datetime64("2000-01-01T00:00:00", "ns")
YEAR_DAYS = 365.25
_NS_PER_DAY = 86_400 * 10**9
_BLOCK_BYTES = 64 * 2**20  # values read per block while fitting


def _as_ns(times: Any) -> np.ndarray:
    """Datetimes (numpy, pandas, xarray, int64 ns) as an int64-ns numpy array, shape kept."""
    if isinstance(times, xr.DataArray):
        times = times.values
    if isinstance(times, pd.Timestamp | np.datetime64):
        times = np.asarray(times)
    if isinstance(times, pd.DatetimeIndex | pd.Series):
        times = times.to_numpy()
    if hasattr(times, "detach"):  # torch tensor of int64 ns
        times = times.detach().cpu().numpy()
    arr = np.asarray(times)
    if arr.dtype.kind == "M":
        return arr.astype("datetime64[ns]").view(np.int64)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    if arr.dtype == object:
        return (
            pd.to_datetime(arr.ravel())
            .to_numpy()
            .astype("datetime64[ns]")
            .view(np.int64)
            .reshape(arr.shape)
        )
    raise SstcastError(f"times: expected datetimes or int64 nanoseconds, got dtype {arr.dtype}")


def harmonic_design(times: Any, harmonics: int) -> np.ndarray:
    """The least-squares design matrix ``(..., 1 + 2K)``: 1, cos(kφ), sin(kφ) for k = 1..K."""
    ns = _as_ns(times)
    days = (ns - EPOCH.view(np.int64)).astype(np.float64) / _NS_PER_DAY
    phase = 2.0 * np.pi * days / YEAR_DAYS
    cols = [np.ones_like(phase)]
    for k in range(1, harmonics + 1):
        cols += [np.cos(k * phase), np.sin(k * phase)]
    return np.stack(cols, axis=-1)


def _time_blocks(data: xr.DataArray) -> Sequence[slice]:
    """Slices along time holding about ``_BLOCK_BYTES`` each (dask-friendly, bounded memory);
    iterating them draws a progress bar when there are several (:func:`track`)."""
    per_step = max(1, int(np.prod([data.sizes[d] for d in data.dims if d != "time"])) * 8)
    step = max(1, _BLOCK_BYTES // per_step)
    n = data.sizes["time"]
    blocks = [slice(a, min(n, a + step)) for a in range(0, n, step)]
    return track(blocks, f"fitting the normaliser ({n} steps)")


def _check_fit_input(data: Any) -> xr.DataArray:
    if isinstance(data, xr.Dataset):
        raise SstcastError("normaliser: fit takes a DataArray (one variable), got a Dataset")
    if not isinstance(data, xr.DataArray) or "time" not in data.dims:
        raise SstcastError("normaliser: fit takes an xarray DataArray with a 'time' dimension")
    if data.sizes["time"] == 0:
        raise SstcastError("normaliser: no training time steps to fit on")
    if data.chunks is not None and data.size * 8 <= _BLOCK_BYTES * 8:
        data = data.compute()  # small enough: read the store once, not once per pass
    return data.transpose("time", ...)


class Normalizer(ABC):
    """Base class: fitted parameters give ``offset`` and ``scale`` for any valid times."""

    kind: ClassVar[str] = ""
    needs_times: ClassVar[bool] = False

    def __init__(self) -> None:
        self.field_dims: tuple[str, ...] = ()
        self.field_coords: dict[str, np.ndarray] = {}
        self.units: str = ""

    # -- fitting ----------------------------------------------------------------------
    def fit(self, data: xr.DataArray) -> Normalizer:
        """Fit on training data (``time`` plus field dims); returns ``self``."""
        data = _check_fit_input(data)
        self.field_dims = tuple(str(d) for d in data.dims[1:])
        self.field_coords = {
            d: np.asarray(data[d].values) for d in self.field_dims if d in data.coords
        }
        self.units = str(data.attrs.get("units", ""))
        self._fit(data)
        return self

    @abstractmethod
    def _fit(self, data: xr.DataArray) -> None: ...

    @property
    def field_shape(self) -> tuple[int, ...]:
        """Shape of one field (the trailing axes every array passed in must have)."""
        return tuple(self._scale_field().shape)

    @abstractmethod
    def _scale_field(self) -> np.ndarray: ...

    def fitted_cells(self) -> np.ndarray:
        """Boolean field: the cells that had a training value (have parameters)."""
        return np.isfinite(self._scale_field())

    # -- parameters -------------------------------------------------------------------
    @abstractmethod
    def params(
        self, times: Any = None, lead_shape: tuple[int, ...] = ()
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(offset, scale)`` as float64 arrays broadcastable to ``lead_shape + field_shape``."""
        ...

    # -- applying ---------------------------------------------------------------------
    def transform(self, data: Any, times: Any = None) -> Any:
        """Physical units → normalised, same type (and device) as ``data``."""
        return self._apply(data, times, inverse=False)

    def inverse_transform(self, data: Any, times: Any = None) -> Any:
        """Normalised → physical units (°C for SST), same type (and device) as ``data``."""
        return self._apply(data, times, inverse=True)

    def _apply(self, data: Any, times: Any, inverse: bool) -> Any:
        if isinstance(data, xr.DataArray):
            return self._apply_xarray(data, times, inverse)
        fshape = self.field_shape
        nf = len(fshape)
        shape = tuple(data.shape)
        if shape[len(shape) - nf :] != fshape or len(shape) < nf:
            raise SstcastError(
                f"normaliser: data of shape {shape} does not end with the fitted field shape {fshape}"
            )
        lead = shape[: len(shape) - nf]
        tns = None
        if self.needs_times:
            if times is None:
                raise SstcastError(
                    "normaliser: anomaly normalisation needs the valid times of the data (times=)"
                )
            tns = _as_ns(times)
            if tns.ndim > len(lead):
                raise SstcastError(
                    f"normaliser: times of shape {tns.shape} for data of shape {shape}"
                )
            tns = tns.reshape(tns.shape + (1,) * (len(lead) - tns.ndim))
        offset, scale = self.params(tns, lead)
        if hasattr(data, "detach"):  # torch
            import torch

            # At least float32: bf16/fp16 would lose ~0.1 °C on a 27 °C offset.
            dtype = (
                torch.promote_types(data.dtype, torch.float32)
                if data.is_floating_point()
                else torch.float32
            )
            off = torch.as_tensor(offset, dtype=dtype, device=data.device)
            sc = torch.as_tensor(scale, dtype=dtype, device=data.device)
            data = data.to(dtype)
            return data * sc + off if inverse else (data - off) / sc
        arr = np.asarray(data)
        dtype = arr.dtype if arr.dtype.kind == "f" else np.float64
        out = arr * scale + offset if inverse else (arr - offset) / scale
        return out.astype(dtype, copy=False)

    def _apply_xarray(self, data: xr.DataArray, times: Any, inverse: bool) -> xr.DataArray:
        missing = [d for d in self.field_dims if d not in data.dims]
        if missing:
            raise SstcastError(f"normaliser: data lacks the fitted dimension(s) {missing}")
        lead_dims = [d for d in data.dims if d not in self.field_dims]
        ordered = data.transpose(*lead_dims, *self.field_dims)
        tvals = None
        if self.needs_times:
            if times is None:
                for name in ("valid_time", "time"):
                    if name in data.coords:
                        times = data[name]
                        break
            if times is None:
                raise SstcastError(
                    "normaliser: anomaly normalisation needs times (a 'valid_time' or 'time' "
                    "coordinate, or times=)"
                )
            if isinstance(times, xr.DataArray):
                tvals = times.broadcast_like(
                    ordered.isel({d: 0 for d in self.field_dims}, drop=True)
                )
                tvals = tvals.transpose(*lead_dims).values
            else:
                tvals = times
        values = self._apply(ordered.values, tvals, inverse)
        out = ordered.copy(data=values).transpose(*data.dims)
        out.attrs = dict(data.attrs)
        if inverse and self.units:
            out.attrs["units"] = self.units
        elif not inverse:
            out.attrs["units"] = "1"
        return out

    # -- persistence ------------------------------------------------------------------
    def to_dataset(self) -> xr.Dataset:
        """The fitted parameters as a small Dataset (what :meth:`save` writes)."""
        ds = xr.Dataset(self._variables())
        for d, v in self.field_coords.items():
            ds = ds.assign_coords({d: (d, v)})
        ds.attrs.update(
            sstcast_normalizer=self.kind,
            field_dims=json.dumps(list(self.field_dims)),
            units=self.units,
            **self._attrs(),
        )
        return ds

    @abstractmethod
    def _variables(self) -> dict[str, Any]: ...

    def _attrs(self) -> dict[str, Any]:
        return {}

    def save(self, path: str | Path) -> Path:
        """Write the fitted parameters to a NetCDF file; returns its path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            self.to_dataset().to_netcdf(tmp)
        return path

    @classmethod
    @abstractmethod
    def _from_dataset(cls, ds: xr.Dataset) -> Normalizer: ...


# --------------------------------------------------------------------------------------
class AnomalyNormalizer(Normalizer):
    """Standardised anomalies from a harmonic day-of-year climatology (see module docstring)."""

    kind = "anomaly"
    needs_times = True

    def __init__(self, harmonics: int = 3, scale: str = "global") -> None:
        super().__init__()
        if harmonics < 0:
            raise SstcastError(f"normaliser: harmonics must be >= 0, got {harmonics}")
        if scale not in ("global", "cell"):
            raise SstcastError(f"normaliser: scale must be 'global' or 'cell', got {scale!r}")
        self.harmonics = harmonics
        self.scale_mode = scale
        self.coef: np.ndarray | None = None  # (1 + 2K, *field)
        self.scale: np.ndarray | None = None  # field shape (constant when global)

    def _fit(self, data: xr.DataArray) -> None:
        p = 1 + 2 * self.harmonics
        fshape = tuple(data.shape[1:])
        nf = int(np.prod(fshape))
        times = data["time"].values
        blocks = _time_blocks(data)
        gtg = np.zeros((p, p))  # sum of g gᵀ over all times
        gty = np.zeros((p, nf))  # sum of g y over the finite values
        miss = np.zeros((nf, p, p))  # sum of g gᵀ over the times where a cell is missing
        count = np.zeros(nf)
        for sl in blocks:
            y = np.asarray(data.isel(time=sl).values, dtype=np.float64).reshape(-1, nf)
            g = harmonic_design(times[sl], self.harmonics)
            ok = np.isfinite(y)
            gg = g.T @ g
            gtg += gg
            gty += g.T @ np.where(ok, y, 0.0)
            n_ok = ok.sum(axis=0)
            count += n_ok
            none = n_ok == 0
            miss[none] += gg
            some = np.flatnonzero(~none & (n_ok < len(y)))
            if some.size:  # Σ_t missing(t, f) g(t) g(t)ᵀ as one matrix product
                outer = (g[:, :, None] * g[:, None, :]).reshape(len(g), p * p)
                gaps = (~ok[:, some]).astype(np.float64)
                miss[some] += (gaps.T @ outer).reshape(-1, p, p)
        coef = np.full((p, nf), np.nan)
        enough = count >= max(p, 2) * 2
        if enough.any():
            a = gtg[None] - miss[enough]
            a += np.eye(p)[None] * (1e-10 * np.trace(gtg) / p)
            coef[:, enough] = np.linalg.solve(a, gty[:, enough].T[..., None])[..., 0].T
        few = (count > 0) & ~enough  # too few values for the harmonics: the mean only
        if few.any():
            coef[:, few] = 0.0
            coef[0, few] = gty[0, few] / count[few]
        # Second pass: spread of the anomalies.
        ss = np.zeros(nf)
        for sl in blocks:
            y = np.asarray(data.isel(time=sl).values, dtype=np.float64).reshape(-1, nf)
            anom = y - harmonic_design(times[sl], self.harmonics) @ coef
            ss += np.nansum(anom**2, axis=0)
        valid = count > 0
        if not valid.any():
            raise SstcastError("normaliser: the training data has no finite values")
        glob = float(np.sqrt(ss[valid].sum() / count[valid].sum()))
        glob = glob if glob > 0 else 1.0
        if self.scale_mode == "global":
            scale = np.where(valid, glob, np.nan)
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                scale = np.sqrt(ss / count)
            scale = np.where(valid, np.maximum(scale, 1e-3 * glob), np.nan)
        self.coef = coef.reshape((p, *fshape))
        self.scale = scale.reshape(fshape)

    def _scale_field(self) -> np.ndarray:
        if self.scale is None:
            raise SstcastError("normaliser: not fitted")
        return self.scale

    def climatology(self, times: Any) -> Any:
        """The fitted climatology (physical units) at ``times``: shape ``times.shape + field``;
        an xarray DataArray (dims of ``times`` + field dims) when ``times`` is one."""
        if self.coef is None:
            raise SstcastError("normaliser: not fitted")
        g = harmonic_design(times, self.harmonics)
        clim = np.tensordot(g, self.coef, axes=(-1, 0))
        if isinstance(times, xr.DataArray):
            coords = {d: v for d, v in self.field_coords.items()}
            out = xr.DataArray(
                clim, dims=(*times.dims, *self.field_dims), coords={**dict(times.coords), **coords}
            )
            out.attrs["units"] = self.units
            return out
        return clim

    def params(
        self, times: Any = None, lead_shape: tuple[int, ...] = ()
    ) -> tuple[np.ndarray, np.ndarray]:
        if times is None:
            raise SstcastError("normaliser: anomaly normalisation needs times")
        return self.climatology(times), self._scale_field()

    def _variables(self) -> dict[str, Any]:
        dims = self.field_dims
        return {
            "coef": (("term", *dims), self.coef),
            "scale": (dims, self.scale),
        }

    def _attrs(self) -> dict[str, Any]:
        return {
            "harmonics": self.harmonics,
            "scale_mode": self.scale_mode,
            "epoch": str(EPOCH),
            "year_days": YEAR_DAYS,
            "terms": "1, cos(k phi), sin(k phi) for k = 1..harmonics; "
            "phi = 2 pi (days since epoch) / year_days",
        }

    @classmethod
    def _from_dataset(cls, ds: xr.Dataset) -> AnomalyNormalizer:
        self = cls(int(ds.attrs["harmonics"]), str(ds.attrs["scale_mode"]))
        self.coef = np.asarray(ds["coef"].values, dtype=np.float64)
        self.scale = np.asarray(ds["scale"].values, dtype=np.float64)
        return self


class ZScoreNormalizer(Normalizer):
    """One mean and one standard deviation over all training values."""

    kind = "zscore"

    def __init__(self) -> None:
        super().__init__()
        self.mean: float = np.nan
        self.std: float = np.nan
        self.valid: np.ndarray | None = None  # field: cells with any training value

    def _fit(self, data: xr.DataArray) -> None:
        s = ss = n = 0.0
        valid = np.zeros(data.shape[1:], dtype=bool)
        for sl in _time_blocks(data):
            y = np.asarray(data.isel(time=sl).values, dtype=np.float64)
            ok = np.isfinite(y)
            s += float(y[ok].sum())
            ss += float((y[ok] ** 2).sum())
            n += float(ok.sum())
            valid |= ok.any(axis=0)
        if n == 0:
            raise SstcastError("normaliser: the training data has no finite values")
        self.mean = s / n
        var = max(ss / n - self.mean**2, 0.0)
        self.std = float(np.sqrt(var)) if var > 0 else 1.0
        self.valid = valid

    def _scale_field(self) -> np.ndarray:
        if self.valid is None:
            raise SstcastError("normaliser: not fitted")
        return np.where(self.valid, self.std, np.nan)

    def params(
        self, times: Any = None, lead_shape: tuple[int, ...] = ()
    ) -> tuple[np.ndarray, np.ndarray]:
        return np.where(self._scale_field() > 0, self.mean, np.nan), self._scale_field()

    def _variables(self) -> dict[str, Any]:
        return {"valid": (self.field_dims, self.valid.astype(np.int8))}

    def _attrs(self) -> dict[str, Any]:
        return {"mean": self.mean, "std": self.std}

    @classmethod
    def _from_dataset(cls, ds: xr.Dataset) -> ZScoreNormalizer:
        self = cls()
        self.mean = float(ds.attrs["mean"])
        self.std = float(ds.attrs["std"])
        self.valid = np.asarray(ds["valid"].values).astype(bool)
        return self


class MinMaxNormalizer(Normalizer):
    """Training minimum/maximum mapped linearly onto ``feature_range`` ((-1, 1) or (0, 1))."""

    kind = "minmax"

    def __init__(self, feature_range: tuple[float, float] = (-1.0, 1.0)) -> None:
        super().__init__()
        lo, hi = (float(v) for v in feature_range)
        if not hi > lo:
            raise SstcastError(
                f"normaliser: feature_range must be (low, high), got {feature_range}"
            )
        self.feature_range = (lo, hi)
        self.min: float = np.nan
        self.max: float = np.nan
        self.valid: np.ndarray | None = None

    def _fit(self, data: xr.DataArray) -> None:
        lo, hi = np.inf, -np.inf
        valid = np.zeros(data.shape[1:], dtype=bool)
        for sl in _time_blocks(data):
            y = np.asarray(data.isel(time=sl).values, dtype=np.float64)
            ok = np.isfinite(y)
            if ok.any():
                lo, hi = min(lo, float(y[ok].min())), max(hi, float(y[ok].max()))
            valid |= ok.any(axis=0)
        if not np.isfinite(lo):
            raise SstcastError("normaliser: the training data has no finite values")
        self.min, self.max = lo, hi if hi > lo else lo + 1.0
        self.valid = valid

    def _scale_field(self) -> np.ndarray:
        if self.valid is None:
            raise SstcastError("normaliser: not fitted")
        a, b = self.feature_range
        return np.where(self.valid, (self.max - self.min) / (b - a), np.nan)

    def params(
        self, times: Any = None, lead_shape: tuple[int, ...] = ()
    ) -> tuple[np.ndarray, np.ndarray]:
        # z = a + (x - min) (b - a) / (max - min)  ⇔  z = (x - offset) / scale
        a, _ = self.feature_range
        scale = self._scale_field()
        return self.min - a * scale, scale

    def _variables(self) -> dict[str, Any]:
        return {"valid": (self.field_dims, self.valid.astype(np.int8))}

    def _attrs(self) -> dict[str, Any]:
        return {"min": self.min, "max": self.max, "feature_range": list(self.feature_range)}

    @classmethod
    def _from_dataset(cls, ds: xr.Dataset) -> MinMaxNormalizer:
        self = cls(tuple(np.atleast_1d(ds.attrs["feature_range"]).tolist()))
        self.min = float(ds.attrs["min"])
        self.max = float(ds.attrs["max"])
        self.valid = np.asarray(ds["valid"].values).astype(bool)
        return self


class FlowScaler(Normalizer):
    """TaxiBJ flows: one training min/max for all cells mapped onto [-1, 1] (DeepST's
    ``MinMaxNormalization``), plus the training ranges of temperature and wind speed that
    scale the external vector onto [0, 1]. A field of shape ``()``: it applies to any array.
    """

    kind = "flow_minmax"

    def __init__(self, min: float = 0.0, max: float = 1.0, external: dict | None = None) -> None:
        super().__init__()
        self.min, self.max = float(min), float(max)
        self.external: dict[str, tuple[float, float]] = {
            k: (float(v[0]), float(v[1])) for k, v in (external or {}).items()
        }
        self.units = "1"

    @classmethod
    def from_training(
        cls,
        flows: np.ndarray,
        temperature: np.ndarray | None = None,
        wind_speed: np.ndarray | None = None,
    ) -> FlowScaler:
        """Fit on training flows and, when given, training temperature and wind speed."""
        lo, hi = _finite_range(np.asarray(flows, dtype=np.float64))
        return cls(lo, hi, _external_ranges(temperature, wind_speed))

    def _fit(self, data: xr.DataArray) -> None:
        self.min, self.max = _finite_range(np.asarray(data.values, dtype=np.float64))
        self.field_dims, self.field_coords = (), {}

    def _scale_field(self) -> np.ndarray:
        span = self.max - self.min if self.max > self.min else 1.0
        return np.asarray(span / 2.0)

    def params(
        self, times: Any = None, lead_shape: tuple[int, ...] = ()
    ) -> tuple[np.ndarray, np.ndarray]:
        # z = (x - min) / span * 2 - 1  ⇔  z = (x - offset) / scale, scale = span / 2
        scale = self._scale_field()
        return np.asarray(self.min + scale), scale

    def scale_external(self, name: str, values: np.ndarray) -> np.ndarray:
        """Temperature or wind speed -> [0, 1] with the training range (NaN -> 0)."""
        lo, hi = self.external.get(name, (0.0, 1.0))
        span = hi - lo if hi > lo else 1.0
        return np.nan_to_num((np.asarray(values, dtype=np.float64) - lo) / span, nan=0.0)

    def _variables(self) -> dict[str, Any]:
        return {}

    def _attrs(self) -> dict[str, Any]:
        return {"min": self.min, "max": self.max, "external": json.dumps(self.external)}

    @classmethod
    def _from_dataset(cls, ds: xr.Dataset) -> FlowScaler:
        return cls(ds.attrs["min"], ds.attrs["max"], json.loads(ds.attrs.get("external", "{}")))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FlowScaler:
        """Read the JSON form that runs written before sstcast 0.2 stored (normalizer.json)."""
        if data.get("kind", "minmax") != "minmax":
            raise SstcastError(f"scaler: kind is {data.get('kind')!r}, expected 'minmax'")
        return cls(data["min"], data["max"], data.get("external", {}))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FlowScaler) and (self.min, self.max, self.external) == (
            other.min,
            other.max,
            other.external,
        )

    __hash__ = None  # type: ignore[assignment]


class FlowAnomalyScaler(FlowScaler):
    """TaxiBJ flows as anomalies from the training weeks' historical average.

    ``offset(t)`` is the mean flow of ``t``'s slot of the week (day of week and half hour)
    per direction and cell over the training days — the historical-average reference of
    the ST-ResNet paper — and ``scale`` the largest absolute training anomaly, so training
    anomalies lie in [-1, 1] like DeepST's min-max flows (ST-ResNet ends in tanh). A network
    that outputs 0 is the historical average; it learns only what closeness, period, trend
    and the external factors add to it. The external vector is scaled as
    :class:`FlowScaler` does. A field of shape ``(direction, y, x)``; needs times.
    """

    kind = "flow_anomaly"
    needs_times = True

    def __init__(
        self,
        mean: np.ndarray | None = None,
        scale: float = 1.0,
        slots_per_day: int = 48,
        external: dict | None = None,
    ) -> None:
        super().__init__(0.0, 1.0, external)
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float64)
        self.scale = float(scale)
        self.slots_per_day = int(slots_per_day)

    @classmethod
    def from_training(  # type: ignore[override]
        cls,
        flows: np.ndarray,
        times: Any,
        temperature: np.ndarray | None = None,
        wind_speed: np.ndarray | None = None,
        slots_per_day: int = 48,
    ) -> FlowAnomalyScaler:
        """Fit on training flows ``(time, 2, y, x)`` at ``times``; temperature and wind as
        :meth:`FlowScaler.from_training`. A slot of the week without any training value
        gets the mean of all training flows."""
        flows = np.asarray(flows, dtype=np.float64)
        self = cls(None, 1.0, slots_per_day, _external_ranges(temperature, wind_speed))
        key = self._slot(times)
        n_slots = 7 * self.slots_per_day
        total = np.zeros((n_slots, *flows.shape[1:]))
        count = np.zeros((n_slots, *flows.shape[1:]))
        finite = np.isfinite(flows)
        np.add.at(total, key, np.where(finite, flows, 0.0))
        np.add.at(count, key, finite)
        overall = np.nanmean(flows, axis=0) if finite.any() else np.zeros(flows.shape[1:])
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(count > 0, total / np.maximum(count, 1), overall[None])
        self.mean = mean
        anomaly = flows - mean[key]
        largest = float(np.nanmax(np.abs(anomaly))) if np.isfinite(anomaly).any() else 1.0
        self.scale = largest if largest > 0 else 1.0
        self.field_dims, self.field_coords = ("direction", "y", "x"), {}
        return self

    def _slot(self, times: Any) -> np.ndarray:
        """Slot of the week (0 = Monday 00:00) of each time, same shape as ``times``."""
        ns = _as_ns(times)
        t = pd.DatetimeIndex(ns.ravel())
        minutes = t.hour.to_numpy() * 60 + t.minute.to_numpy()
        slot = t.day_of_week.to_numpy() * self.slots_per_day + minutes * self.slots_per_day // 1440
        return slot.reshape(ns.shape).astype(np.int64)

    def _fit(self, data: xr.DataArray) -> None:
        fitted = FlowAnomalyScaler.from_training(
            np.asarray(data.values), data["time"].values, slots_per_day=self.slots_per_day
        )
        self.mean, self.scale = fitted.mean, fitted.scale

    def _scale_field(self) -> np.ndarray:
        if self.mean is None:
            raise SstcastError("normaliser: not fitted")
        return np.full(self.mean.shape[1:], self.scale)

    def params(
        self, times: Any = None, lead_shape: tuple[int, ...] = ()
    ) -> tuple[np.ndarray, np.ndarray]:
        if times is None:
            raise SstcastError("normaliser: flow anomalies need the times of the data")
        assert self.mean is not None
        return self.mean[self._slot(times)], np.asarray(self.scale)

    def historical_average(self, times: Any) -> np.ndarray:
        """The training weeks' mean flow at ``times``: ``times.shape + (2, y, x)``."""
        return self.params(times)[0]

    def _variables(self) -> dict[str, Any]:
        return {"mean": (("slot_of_week", *self.field_dims), self.mean)}

    def _attrs(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "slots_per_day": self.slots_per_day,
            "external": json.dumps(self.external),
            "slot_of_week": "day of week (0 = Monday) * slots_per_day + slot of the day",
        }

    @classmethod
    def _from_dataset(cls, ds: xr.Dataset) -> FlowAnomalyScaler:
        return cls(
            np.asarray(ds["mean"].values, dtype=np.float64),
            float(ds.attrs["scale"]),
            int(ds.attrs["slots_per_day"]),
            json.loads(ds.attrs.get("external", "{}")),
        )

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, FlowAnomalyScaler)
            and self.scale == other.scale
            and self.external == other.external
            and self.mean is not None
            and other.mean is not None
            and np.array_equal(self.mean, other.mean)
        )

    __hash__ = None  # type: ignore[assignment]


def _external_ranges(
    temperature: np.ndarray | None, wind_speed: np.ndarray | None
) -> dict[str, tuple[float, float]]:
    """Training ranges of the external temperature and wind speed (those given)."""
    external = {}
    if temperature is not None:
        external["temperature"] = _finite_range(np.asarray(temperature, dtype=np.float64))
    if wind_speed is not None:
        external["wind_speed"] = _finite_range(np.asarray(wind_speed, dtype=np.float64))
    return external


def _finite_range(values: np.ndarray) -> tuple[float, float]:
    """(min, max) ignoring NaN; (0, 1) when there is no finite value."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return (0.0, 1.0)
    return (float(finite.min()), float(finite.max()))


NORMALIZERS: dict[str, type[Normalizer]] = {
    c.kind: c
    for c in (AnomalyNormalizer, ZScoreNormalizer, MinMaxNormalizer, FlowScaler, FlowAnomalyScaler)
}


def make_normalizer(kind: str, **options: Any) -> Normalizer:
    """An unfitted normaliser by name: ``anomaly`` (``harmonics``, ``scale``), ``zscore``,
    ``minmax`` (``feature_range``)."""
    if kind not in NORMALIZERS:
        raise SstcastError(f"normalization {kind!r}: unknown; use one of {', '.join(NORMALIZERS)}")
    return NORMALIZERS[kind](**options)


def normalizer_from_dataset(ds: xr.Dataset) -> Normalizer:
    """Rebuild a fitted normaliser from :meth:`Normalizer.to_dataset`'s output."""
    kind = ds.attrs.get("sstcast_normalizer")
    if kind not in NORMALIZERS:
        raise SstcastError(f"normaliser file: unknown or missing kind {kind!r}")
    self = NORMALIZERS[kind]._from_dataset(ds)
    self.field_dims = tuple(json.loads(ds.attrs["field_dims"]))
    self.field_coords = {d: np.asarray(ds[d].values) for d in self.field_dims if d in ds.coords}
    self.units = str(ds.attrs.get("units", ""))
    return self


def load_normalizer(path: str | Path) -> Normalizer:
    """Read a normaliser written by :meth:`Normalizer.save`."""
    path = Path(path)
    if not path.exists():
        raise SstcastError(f"{path}: normaliser file not found")
    with xr.open_dataset(path) as ds:
        return normalizer_from_dataset(ds.load())
