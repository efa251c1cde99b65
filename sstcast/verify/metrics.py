"""Deterministic verification scores: small pure functions over xarray with named dims.

Every score compares a ``forecast`` with the ``truth`` it verifies against: DataArrays with
the same named dims, typically ``(init_time, lead_time, lat, lon)``, already aligned (the
same coordinate labels; a mismatch is an error, never a silent inner join). ``truth`` may be
NaN where nothing verifies (land, gaps).

Pairs and weights
    A cell counts only where forecast and truth are both finite and its weight is > 0.
    ``weights`` is a DataArray over the spatial dims (from
    :func:`~sstcast.verify.weights.area_weights`) or None for equal weights. A missing pair
    gets weight 0, so NaN never propagates into a score; a score with no valid pair at all
    is NaN. All sums are done in float64.

Pooling
    A score over ``dims`` (default: every dim except ``lead_time``) is one weighted mean
    pooled over all of them, e.g. for the MSE

        MSE = Σ w·(f − o)² / Σ w        (Σ over init_time, lat, lon, …)

    rather than a mean of per-init means; inits with more valid cells weigh more.

The scores follow the WeatherBench 2 conventions (Rasp et al. 2024): RMSE is the root of the
pooled MSE, ACC is computed per init over space and then averaged over inits.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import TypeVar

import numpy as np
import xarray as xr

from sstcast.errors import SstcastError

__all__ = [
    "acc",
    "bias",
    "gain_captured",
    "mae",
    "mse",
    "per_cell_rmse",
    "per_init_mse",
    "per_init_sums",
    "rmse",
    "skill_score",
]

LEAD_DIM = "lead_time"
INIT_DIM = "init_time"

Dims = str | Iterable[Hashable] | None
Score = TypeVar("Score", xr.DataArray, float, np.ndarray)


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------
def _dim_list(dims: Dims, da: xr.DataArray, default_exclude: Iterable[Hashable]) -> list[Hashable]:
    """``dims`` as a list checked against ``da``; None -> every dim not in default_exclude."""
    if dims is None:
        exclude = set(default_exclude)
        return [d for d in da.dims if d not in exclude]
    out = [dims] if isinstance(dims, str) else list(dims)
    missing = [d for d in out if d not in da.dims]
    if missing:
        raise SstcastError(f"dims {missing} are not dims of the forecast {tuple(da.dims)}")
    return out


def _aligned(forecast: xr.DataArray, **others: xr.DataArray | None) -> None:
    """Raise a one-line error unless ``others`` lie on the forecast's dims with the same labels."""
    named = {"forecast": forecast, **{k: v for k, v in others.items() if v is not None}}
    for name, a in named.items():
        if not isinstance(a, xr.DataArray):
            raise SstcastError(f"{name} must be an xarray DataArray, got {type(a).__name__}")
        if not set(a.dims) <= set(forecast.dims):
            raise SstcastError(
                f"{name} has dims {tuple(a.dims)} that the forecast {tuple(forecast.dims)} lacks"
            )
    try:
        xr.align(*named.values(), join="exact", copy=False)
    except ValueError as err:
        first = str(err).splitlines()[0] if str(err) else "coordinates differ"
        raise SstcastError(f"{', '.join(named)} are not aligned: {first}") from None


def _finite(da: xr.DataArray) -> xr.DataArray:
    return xr.apply_ufunc(np.isfinite, da, dask="allowed")


def _pair_weights(
    weights: xr.DataArray | None, *arrays: xr.DataArray
) -> tuple[xr.DataArray, xr.DataArray]:
    """``(valid, w)``: where every array is finite and the weight is finite and > 0, and the
    weight there (0 elsewhere), float64, broadcast over all the arrays' dims."""
    valid = _finite(arrays[0])
    for a in arrays[1:]:
        valid = valid & _finite(a)
    if weights is None:
        return valid, xr.where(valid, 1.0, 0.0)
    w64 = weights.astype(np.float64)
    valid = valid & _finite(w64) & (w64 > 0)
    return valid, xr.where(valid, w64, 0.0)


def _pairs(
    forecast: xr.DataArray, truth: xr.DataArray, weights: xr.DataArray | None
) -> tuple[xr.DataArray, xr.DataArray]:
    """The error ``f − o`` and the pair weight, both 0 where the pair is unused, float64."""
    _aligned(forecast, truth=truth, weights=weights)
    f = forecast.astype(np.float64)
    o = truth.astype(np.float64)
    valid, w = _pair_weights(weights, f, o)
    # Zero the unused entries before subtracting: no inf − inf, no NaN anywhere.
    error = f.where(valid, 0.0) - o.where(valid, 0.0)
    return error, w


def _weighted_mean(values: xr.DataArray, w: xr.DataArray, dims: list[Hashable]) -> xr.DataArray:
    """Σ w·values / Σ w over dims; NaN where Σ w = 0 (values must be 0 where w is 0)."""
    total = w.sum(dims)
    return (values * w).sum(dims) / total.where(total > 0)


def _with_units(da: xr.DataArray, name: str, units: str | None) -> xr.DataArray:
    da.name = name
    da.attrs = {"units": units} if units else {}
    return da


def _ratio(num: Score, den: Score) -> Score:
    """num / den, NaN where den <= 0 or NaN, without division warnings."""
    if isinstance(num, xr.DataArray) or isinstance(den, xr.DataArray):
        den_da = den if isinstance(den, xr.DataArray) else xr.DataArray(den)
        return num / den_da.where(den_da > 0)
    n = np.asarray(num, dtype=np.float64)
    d = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast_shapes(n.shape, d.shape), np.nan)
    np.divide(n, d, out=out, where=np.broadcast_to(d > 0, out.shape))
    return float(out) if out.ndim == 0 else out


# --------------------------------------------------------------------------------------
# Pooled scores
# --------------------------------------------------------------------------------------
def mse(
    forecast: xr.DataArray,
    truth: xr.DataArray,
    weights: xr.DataArray | None = None,
    dims: Dims = None,
) -> xr.DataArray:
    """Weighted mean squared error pooled over ``dims``: ``Σ w·(f − o)² / Σ w``.

    ``dims`` defaults to every dim except ``lead_time``, so the result is one value per lead.
    Missing pairs (non-finite forecast or truth, weight 0) are left out of both sums.
    """
    error, w = _pairs(forecast, truth, weights)
    out = _weighted_mean(error**2, w, _dim_list(dims, forecast, (LEAD_DIM,)))
    units = forecast.attrs.get("units")
    return _with_units(out, "mse", f"({units})^2" if units else None)


def rmse(
    forecast: xr.DataArray,
    truth: xr.DataArray,
    weights: xr.DataArray | None = None,
    dims: Dims = None,
) -> xr.DataArray:
    """Root of the pooled weighted MSE: ``sqrt(Σ w·(f − o)² / Σ w)``.

    The root is taken after averaging over every dim in ``dims``, inits included (the
    WeatherBench 2 convention), not per init then averaged: the mean of per-init RMSEs is
    smaller (Jensen) and depends on how the inits are grouped. Pooling makes the RMSE of
    a union of evaluation periods follow from their MSEs and weight sums.
    """
    out = np.sqrt(mse(forecast, truth, weights, dims))
    return _with_units(out, "rmse", forecast.attrs.get("units"))


def mae(
    forecast: xr.DataArray,
    truth: xr.DataArray,
    weights: xr.DataArray | None = None,
    dims: Dims = None,
) -> xr.DataArray:
    """Weighted mean absolute error pooled over ``dims``: ``Σ w·|f − o| / Σ w``."""
    error, w = _pairs(forecast, truth, weights)
    out = _weighted_mean(np.abs(error), w, _dim_list(dims, forecast, (LEAD_DIM,)))
    return _with_units(out, "mae", forecast.attrs.get("units"))


def bias(
    forecast: xr.DataArray,
    truth: xr.DataArray,
    weights: xr.DataArray | None = None,
    dims: Dims = None,
) -> xr.DataArray:
    """Weighted mean error (forecast minus truth) pooled over ``dims``: ``Σ w·(f − o) / Σ w``.

    Positive means the forecast is too warm on average.
    """
    error, w = _pairs(forecast, truth, weights)
    out = _weighted_mean(error, w, _dim_list(dims, forecast, (LEAD_DIM,)))
    return _with_units(out, "bias", forecast.attrs.get("units"))


# --------------------------------------------------------------------------------------
# Anomaly correlation
# --------------------------------------------------------------------------------------
def acc(
    forecast: xr.DataArray,
    truth: xr.DataArray,
    climatology: xr.DataArray,
    weights: xr.DataArray | None = None,
    dims: Dims = None,
    init_dim: str = INIT_DIM,
) -> xr.DataArray:
    """Anomaly correlation coefficient, per init over space, then the mean over inits.

    With anomalies ``f' = forecast − climatology`` and ``o' = truth − climatology``, for each
    init (and lead)

        ACC_init = Σ w·f'·o' / sqrt(Σ w·f'² · Σ w·o'²)      (Σ over the spatial ``dims``)

    uncentred (the spatial mean anomaly is not removed), and the result is the plain mean of
    ``ACC_init`` over ``init_dim`` (the WeatherBench 2 convention); inits where ACC is
    undefined (no valid pair, or an all-zero anomaly) are skipped. ``climatology`` must
    broadcast against the forecast by dims: e.g. ``(lat, lon)``, or the climatology of each
    valid time with dims ``(init_time, lead_time, lat, lon)`` (select it with the forecast's
    ``valid_time`` coordinate). ``dims`` defaults to every dim except ``init_dim`` and
    ``lead_time``. Pairs where the climatology is not finite are left out too.
    """
    _aligned(forecast, truth=truth, weights=weights, climatology=climatology)
    spatial = _dim_list(dims, forecast, (init_dim, LEAD_DIM))
    if init_dim in spatial:
        raise SstcastError(f"acc: the init dim {init_dim!r} cannot be one of the spatial dims")
    f = forecast.astype(np.float64)
    o = truth.astype(np.float64)
    clim = climatology.astype(np.float64)
    valid, w = _pair_weights(weights, f, o, clim)
    clim0 = clim.where(valid, 0.0)
    fa = f.where(valid, 0.0) - clim0
    oa = o.where(valid, 0.0) - clim0
    cov = (w * fa * oa).sum(spatial)
    var = (w * fa**2).sum(spatial) * (w * oa**2).sum(spatial)
    per_init = cov / np.sqrt(var.where(var > 0))
    out = per_init.mean(init_dim, skipna=True) if init_dim in per_init.dims else per_init
    return _with_units(out, "acc", "1")


# --------------------------------------------------------------------------------------
# Relative scores
# --------------------------------------------------------------------------------------
def skill_score(mse_model: Score, mse_ref: Score) -> Score:
    """MSE skill score against a reference: ``1 − MSE_model / MSE_ref``.

    1 is a perfect forecast, 0 no better than the reference (persistence, climatology),
    negative worse. NaN where ``MSE_ref <= 0``. Works on DataArrays, arrays and floats.
    """
    return 1.0 - _ratio(mse_model, mse_ref)


def gain_captured(mse_model: Score, mse_ref: Score, mse_bound: Score) -> Score:
    """Share of the attainable gain over a reference that the model captures.

        (MSE_ref − MSE_model) / (MSE_ref − MSE_bound)

    where ``MSE_bound`` is the best attainable MSE (e.g. the noise-free toy-ocean forecast):
    1 means the model reaches the bound, 0 that it is no better than the reference. NaN
    where the denominator is <= 0 (the reference already at or below the bound).
    """
    return _ratio(mse_ref - mse_model, mse_ref - mse_bound)


# --------------------------------------------------------------------------------------
# Per-init and per-cell pieces
# --------------------------------------------------------------------------------------
def per_init_sums(
    forecast: xr.DataArray,
    truth: xr.DataArray,
    weights: xr.DataArray | None = None,
    spatial_dims: Dims = None,
    init_dim: str = INIT_DIM,
) -> xr.Dataset:
    """Per-init weighted sums over space: ``sse = Σ w·(f − o)²`` and ``weight = Σ w``.

    A Dataset over the remaining dims (usually ``init_time, lead_time``). These are the raw
    pieces of the pooled MSE: ``mse = Σ_init sse / Σ_init weight``; they are the input of
    :func:`~sstcast.verify.bootstrap.block_bootstrap_mse_difference`. ``spatial_dims``
    defaults to every dim except ``init_dim`` and ``lead_time``.
    """
    error, w = _pairs(forecast, truth, weights)
    spatial = _dim_list(spatial_dims, forecast, (init_dim, LEAD_DIM))
    if init_dim in spatial:
        raise SstcastError(f"the init dim {init_dim!r} cannot be one of the spatial dims")
    sse = (w * error**2).sum(spatial)
    units = forecast.attrs.get("units")
    sse.attrs = {"long_name": "per-init sum of weight * squared error"}
    if units:
        sse.attrs["units"] = f"({units})^2"
    weight = w.sum(spatial)
    weight.attrs = {"long_name": "per-init sum of pair weights"}
    return xr.Dataset({"sse": sse, "weight": weight})


def per_init_mse(
    forecast: xr.DataArray,
    truth: xr.DataArray,
    weights: xr.DataArray | None = None,
    spatial_dims: Dims = None,
    init_dim: str = INIT_DIM,
) -> xr.DataArray:
    """Per-init weighted MSE over space, with the per-init weight sums as coordinate ``weight``.

    ``mse_i = Σ w·(f − o)² / Σ w`` over ``spatial_dims`` for each init (and lead); NaN for an
    init without valid pair. The coordinate ``weight`` (same dims) holds ``Σ w`` per init, so
    that the weight-weighted mean over inits is exactly the pooled MSE::

        (m * m.weight).sum("init_time") / m.weight.sum("init_time") == mse(forecast, truth, w)

    (with NaN entries, which have weight 0, skipped).
    """
    sums = per_init_sums(forecast, truth, weights, spatial_dims, init_dim)
    out = sums["sse"] / sums["weight"].where(sums["weight"] > 0)
    out = out.assign_coords(weight=sums["weight"])
    units = forecast.attrs.get("units")
    return _with_units(out, "mse", f"({units})^2" if units else None)


def per_cell_rmse(
    forecast: xr.DataArray,
    truth: xr.DataArray,
    dims: Dims = (INIT_DIM,),
) -> xr.DataArray:
    """RMSE per cell (and lead) over ``dims``, for skill maps: ``sqrt(mean over dims of (f − o)²)``.

    Only finite pairs count; cells without any (land) are NaN. No area weights: each cell
    is its own average.
    """
    error, w = _pairs(forecast, truth, None)
    reduce = _dim_list(dims, forecast, ())
    out = np.sqrt(_weighted_mean(error**2, w, reduce))
    return _with_units(out, "rmse", forecast.attrs.get("units"))
