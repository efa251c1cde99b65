"""Confidence intervals for an MSE difference between two forecasts, by block bootstrap.

Is model A really better than reference B at lead k, or is the gap noise? The pooled MSE
difference over N inits,

    D = Σ_i (SSE_A,i − SSE_B,i) / Σ_i W_i

(``SSE_i = Σ w·(f − o)²`` and ``W_i = Σ w`` over space, from
:func:`~sstcast.verify.metrics.per_init_sums`) is resampled over inits. Consecutive inits
are not independent: forecasts from inits less than a forecast length apart overlap in
their valid times, and SST errors persist for days to weeks. A plain bootstrap would treat
them as independent and give intervals that are too narrow. The moving-block bootstrap
(Künsch 1989) resamples *blocks* of ``block_length`` consecutive inits, keeping the
dependence within a block; with blocks at least as long as the lead (in init steps), two
inits whose forecasts share valid times mostly fall in the same block.

Here the blocks are circular (Politis & Romano 1992): a block may wrap from the last init to
the first, so every init is equally likely to be drawn. Each resample concatenates
``ceil(N / L)`` blocks with uniformly random starts, cut to N inits, and applies the same
pooled ratio estimator ``Σ ΔSSE / Σ W`` over the drawn inits. The interval is the
percentile interval of the resampled estimates.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable

import numpy as np
import xarray as xr

from sstcast.errors import SstcastError

__all__ = ["MIN_BLOCK_LENGTH", "block_bootstrap_mse_difference", "default_block_length"]

#: Shortest block :func:`default_block_length` proposes. SST forecast errors stay correlated
#: for several days even at lead 1, where forecast windows barely overlap.
MIN_BLOCK_LENGTH = 5


def default_block_length(
    lead_steps: int | np.ndarray | xr.DataArray, minimum: int = MIN_BLOCK_LENGTH
) -> int | np.ndarray | xr.DataArray:
    """Block length for a lead of ``lead_steps`` init steps: ``max(lead_steps, minimum)``.

    Inits closer than the lead share valid times, so the block must be at least the lead;
    the minimum covers the persistence of errors at short leads. Pass the longest lead of
    the forecast window to use one block length for every lead (the safer choice when the
    model rolls out a whole window at once), or a DataArray of lead steps over ``lead_time``
    for one block length per lead (an array gives an array, an int an int).
    """
    if isinstance(lead_steps, xr.DataArray | np.ndarray):
        return np.maximum(lead_steps, int(minimum)).astype(np.int64)
    return max(int(lead_steps), int(minimum))


def _counts(n: int, block: int, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """How often each of ``n`` inits is drawn in each resample: int array (n_resamples, n)."""
    n_blocks = math.ceil(n / block)
    starts = rng.integers(0, n, size=(n_resamples, n_blocks))
    idx = (starts[:, :, None] + np.arange(block)).reshape(n_resamples, -1)[:, :n] % n
    flat = (idx + (np.arange(n_resamples) * n)[:, None]).ravel()
    return np.bincount(flat, minlength=n_resamples * n).reshape(n_resamples, n)


def _as_block_lengths(
    block_length: int | xr.DataArray, template: xr.DataArray, n: int
) -> np.ndarray:
    """Block length per column of ``template`` (dims other than init), clipped to ``n``."""
    if isinstance(block_length, xr.DataArray):
        extra = [d for d in block_length.dims if d not in template.dims]
        if extra:
            raise SstcastError(
                f"block_length has dims {extra} that se_model {tuple(template.dims)} lacks"
            )
        values = np.asarray(block_length.broadcast_like(template).transpose(*template.dims))
    else:
        values = np.full(template.shape, block_length)
    if not np.all(np.isfinite(values)) or np.any(values < 1) or np.any(values % 1 != 0):
        raise SstcastError("block_length must be whole numbers >= 1")
    return np.minimum(values.astype(np.int64), n).ravel()


def block_bootstrap_mse_difference(
    se_model: xr.DataArray,
    se_ref: xr.DataArray,
    weight: xr.DataArray,
    block_length: int | xr.DataArray,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    init_dim: Hashable = "init_time",
) -> xr.Dataset:
    """Pooled MSE difference (model − reference) and its circular block-bootstrap interval.

    Contract: ``se_model`` and ``se_ref`` are per-init weighted *sums* of squared errors
    ``Σ w·(f − o)²`` over space and ``weight`` the per-init sums of pair weights ``Σ w``,
    with dims ``(init_time, lead_time)`` (any dims besides ``init_dim`` are kept), as the
    ``sse`` and ``weight`` of :func:`~sstcast.verify.metrics.per_init_sums`. Both forecasts
    must be scored on the same pairs (the same ``weight``): mask the truth where either is
    missing. Inits are assumed to be in time order at a regular step.

    ``block_length`` is in inits: an int, or a DataArray over ``lead_time`` (one per lead,
    see :func:`default_block_length`); pass at least the lead length in init steps so that
    overlapping forecast windows are not counted as independent. It is clipped to the
    number of inits.

    Returns a Dataset over the non-init dims with ``mean_difference`` (the pooled
    ``Σ ΔSSE / Σ W`` on all inits; negative = the model is better), ``lower`` and ``upper``
    (the ``confidence`` percentile interval of the same estimator over ``n_resamples``
    circular moving-block resamples) and the ``block_length`` used. Deterministic for a
    given ``seed``: the draws depend only on the seed, the number of inits and the block
    length, so leads sharing a block length share resamples.
    """
    for name, da in (("se_model", se_model), ("se_ref", se_ref), ("weight", weight)):
        if not isinstance(da, xr.DataArray) or init_dim not in da.dims:
            raise SstcastError(f"{name} must be a DataArray with an {init_dim!r} dim")
    if not 0 < confidence < 1:
        raise SstcastError(f"confidence must be between 0 and 1, got {confidence}")
    if n_resamples < 1:
        raise SstcastError(f"n_resamples must be >= 1, got {n_resamples}")
    try:
        se_model, se_ref, weight = xr.align(se_model, se_ref, weight, join="exact")
        se_model, se_ref, weight = xr.broadcast(se_model, se_ref, weight)
    except ValueError as err:
        raise SstcastError(f"se_model, se_ref and weight are not aligned: {err}") from None
    other = [d for d in se_model.dims if d != init_dim]
    order = [init_dim, *other]
    diff = np.asarray((se_model - se_ref).transpose(*order), dtype=np.float64)
    w = np.asarray(weight.transpose(*order), dtype=np.float64)
    if not (np.all(np.isfinite(diff)) and np.all(np.isfinite(w))) or np.any(w < 0):
        raise SstcastError(
            "se_model, se_ref and weight must be finite (weight >= 0): pass per-init sums, "
            "in which missing pairs count zero (sstcast.verify.per_init_sums)"
        )
    n = diff.shape[0]
    shape = diff.shape[1:]
    diff = diff.reshape(n, -1)
    w = w.reshape(n, -1)
    if n == 0:
        raise SstcastError(f"no inits to resample: {init_dim!r} is empty")
    by_init = [c for c in se_model.coords if init_dim in se_model[c].dims]
    template = se_model.drop_vars(by_init).isel({init_dim: 0}, drop=True).transpose(*other)
    blocks = _as_block_lengths(block_length, template, n)

    # A column whose inits all have zero weight has no estimate: NaN, quietly.
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        total_w = w.sum(axis=0)
        mean = np.where(total_w > 0, diff.sum(axis=0) / total_w, np.nan)
        alpha = (1.0 - confidence) / 2.0
        lower = np.full(diff.shape[1], np.nan)
        upper = np.full(diff.shape[1], np.nan)
        for block in np.unique(blocks):
            cols = np.flatnonzero(blocks == block)
            rng = np.random.default_rng([int(seed), int(block), n])
            counts = _counts(n, int(block), n_resamples, rng).astype(np.float64)
            num = counts @ diff[:, cols]
            den = counts @ w[:, cols]
            est = np.where(den > 0, num / den, np.nan)
            lower[cols], upper[cols] = np.nanquantile(est, [alpha, 1.0 - alpha], axis=0)

    coords = dict(template.coords)
    attrs = {"units": se_model.attrs["units"]} if "units" in se_model.attrs else {}

    def out(values: np.ndarray, long_name: str) -> xr.DataArray:
        return xr.DataArray(
            values.reshape(shape),
            dims=other,
            coords=coords,
            attrs={"long_name": long_name, **attrs},
        )

    return xr.Dataset(
        {
            "mean_difference": out(mean, "pooled MSE of the model minus that of the reference"),
            "lower": out(lower, f"lower end of the {confidence:.0%} bootstrap interval"),
            "upper": out(upper, f"upper end of the {confidence:.0%} bootstrap interval"),
            "block_length": xr.DataArray(
                blocks.reshape(shape), dims=other, coords=coords, attrs={"units": "inits"}
            ),
        },
        attrs={
            "method": "circular moving-block bootstrap, pooled ratio estimator",
            "n_inits": n,
            "n_resamples": int(n_resamples),
            "seed": int(seed),
            "confidence": float(confidence),
        },
    )
