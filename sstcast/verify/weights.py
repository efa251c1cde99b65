"""Area weights of grid cells for verification scores.

On a regular latitude-longitude grid a cell's area is proportional to cos(latitude), so an
unweighted mean over cells over-counts high latitudes. The scores of
:mod:`sstcast.verify.metrics` therefore take weights

    w(lat, lon) = cos(lat) · ocean(lat, lon) / mean_ocean(cos(lat))

which are 0 on land and average exactly 1 over ocean cells. Normalising to a mean of 1 keeps
weighted sums on the scale of cell counts (a weighted sum over N ocean cells is ≈ N) and
makes equal weights (all ones on the ocean) a special case of the same formula. Training's
validation uses the same weights, so its RMSE per lead and the offline scores agree.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from sstcast.errors import SstcastError

__all__ = ["area_weights"]


def _cos_lat(lat: xr.DataArray | np.ndarray | None, mask: xr.DataArray) -> xr.DataArray | float:
    """cos(latitude) on (a subset of) the mask's dims, or 1.0 where the grid has no latitude."""
    if lat is None:
        return 1.0
    if isinstance(lat, xr.DataArray):
        if lat.ndim == 0 or not set(lat.dims) <= set(mask.dims):
            if "lat" not in mask.dims:
                return 1.0
            raise SstcastError(
                f"area_weights: lat has dims {lat.dims}, not dims of the mask {mask.dims}"
            )
        for dim in lat.dims:
            if lat.sizes[dim] != mask.sizes[dim]:
                raise SstcastError(
                    f"area_weights: lat has {lat.sizes[dim]} values along {dim!r}, "
                    f"the mask {mask.sizes[dim]}"
                )
        # Plain values on the mask's dims: no label alignment (which could silently drop cells).
        values, dims = np.asarray(lat.values, dtype=np.float64), lat.dims
    else:
        if "lat" not in mask.dims:  # e.g. TaxiBJ (y, x): no latitude dimension
            return 1.0
        values = np.asarray(lat, dtype=np.float64)
        if values.ndim != 1 or values.size != mask.sizes["lat"]:
            raise SstcastError(
                f"area_weights: lat has shape {values.shape}, the mask has {mask.sizes['lat']} "
                "latitudes"
            )
        dims = ("lat",)
    if not np.all(np.isfinite(values)) or np.any(np.abs(values) > 90.0):
        raise SstcastError("area_weights: lat must be finite latitudes in degrees (-90..90)")
    return xr.DataArray(np.cos(np.deg2rad(values)), dims=dims)


def area_weights(lat: xr.DataArray | np.ndarray | None, mask: xr.DataArray) -> xr.DataArray:
    """Cell weights on the mask's grid: cos(latitude) on ocean, 0 on land, ocean mean 1.

    ``mask`` is a DataArray over the spatial dims (``lat, lon`` for SST cubes, ``y, x`` for
    TaxiBJ); ocean is where it is true / non-zero (NaN counts as land). ``lat`` is the
    latitude in degrees: a 1-D array along the mask's ``lat`` dim, or a DataArray on some of
    the mask's dims (a 2-D latitude field of a curvilinear grid works too). Where the grid
    has no latitude (``lat`` is None, or the mask has no ``lat`` dim and ``lat`` is not a
    DataArray on its dims) every ocean cell weighs 1.

    Returns ``w = c · ocean / mean(c over ocean)`` with ``c = cos(lat)`` (float64, named
    ``area_weight``, with the mask's dims and coordinates), so that the mean of ``w`` over
    ocean cells is 1 (up to rounding). Raises :class:`~sstcast.errors.SstcastError` when the
    mask has no ocean cell, since no score can then be computed.
    """
    if not isinstance(mask, xr.DataArray):
        raise SstcastError("area_weights: mask must be an xarray DataArray with named dims")
    ocean = mask.fillna(0) != 0
    n_ocean = int(ocean.sum())
    if n_ocean == 0:
        raise SstcastError(f"area_weights: the mask {tuple(mask.dims)} has no ocean cell")
    raw = xr.where(ocean, _cos_lat(lat, mask), 0.0).astype(np.float64)
    raw = raw.broadcast_like(ocean).transpose(*mask.dims)
    mean = float(raw.sum()) / n_ocean
    if not mean > 0:
        raise SstcastError("area_weights: every ocean cell has zero weight (all at the poles?)")
    weights = (raw / mean).assign_coords(mask.coords)
    weights.name = "area_weight"
    weights.attrs = {
        "long_name": "cell area weight (cos latitude), 0 on land, mean 1 over ocean cells",
        "units": "1",
    }
    return weights
