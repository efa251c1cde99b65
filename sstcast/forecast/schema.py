"""The forecast file: its two layouts, a validator, an opener and an in-memory mock.

A forecast file is what ``sstcast forecast`` writes (through
:class:`sstcast.forecast.writer.ForecastWriter`) and what ``sstcast evaluate`` and
``sstcast maps`` read. Two layouts exist, one per cube kind:

- ``"sst"``: ``sst(init_time, lead_time, lat, lon)`` float32 in degC, NaN over land;
- ``"taxibj"``: ``flow(init_time, lead_time, direction, y, x)`` float32 counts per 30-min
  slot, ``direction`` a string coordinate (inflow, outflow), ``y``/``x`` integer grid indices.

Both carry ``init_time`` (datetime64, strictly increasing), ``lead_time`` (timedelta64,
strictly increasing) and the auxiliary coordinate ``valid_time(init_time, lead_time)`` =
``init_time + lead_time``. The attribute tables below are the single source of truth for
the variable metadata: the writer puts them on disk, :func:`mock_forecast` uses them in
memory, so a test of a later stage sees the same names and units as a real file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from sstcast.cube import require_variable
from sstcast.errors import SstcastError
from sstcast.utils.timeaxis import is_month_lead, valid_times

__all__ = [
    "COORD_ATTRS",
    "DIRECTIONS",
    "FORECAST_DIMS",
    "KINDS",
    "LAYOUTS",
    "SST_KIND",
    "TAXIBJ_KIND",
    "TIME_ATTRS",
    "ForecastLayout",
    "forecast_template",
    "layout_for_kind",
    "layout_for_variable",
    "mock_forecast",
    "open_forecast",
    "validate_forecast",
]

SST_KIND = "sst"
TAXIBJ_KIND = "taxibj"
KINDS = (SST_KIND, TAXIBJ_KIND)

#: The leading dimensions of every forecast variable.
FORECAST_DIMS = ("init_time", "lead_time")

#: The two flow directions of the TaxiBJ layout, in channel order.
DIRECTIONS = ("inflow", "outflow")

#: Metadata of the time coordinates (units, calendar and the decoding hints are the
#: writer's business: they depend on the values).
TIME_ATTRS: dict[str, dict[str, str]] = {
    "init_time": {
        "standard_name": "forecast_reference_time",
        "long_name": "forecast initialisation time (time of the last input field)",
    },
    "lead_time": {
        "standard_name": "forecast_period",
        "long_name": "forecast lead time (valid_time - init_time)",
    },
    "valid_time": {
        "standard_name": "time",
        "long_name": "time the forecast is valid for (init_time + lead_time)",
    },
}

#: Metadata of the space coordinates, by dimension name.
COORD_ATTRS: dict[str, dict[str, str]] = {
    "lat": {
        "standard_name": "latitude",
        "long_name": "latitude",
        "units": "degrees_north",
        "axis": "Y",
    },
    "lon": {
        "standard_name": "longitude",
        "long_name": "longitude",
        "units": "degrees_east",
        "axis": "X",
    },
    "direction": {"long_name": "crowd flow direction (inflow or outflow)"},
    "y": {"long_name": "grid row index (0 = first row of the TaxiBJ grid)", "units": "1"},
    "x": {"long_name": "grid column index (0 = first column of the TaxiBJ grid)", "units": "1"},
}


@dataclass(frozen=True)
class ForecastLayout:
    """One forecast layout: the data variable, its space dimensions and its metadata."""

    kind: str
    variable: str
    space_dims: tuple[str, ...]
    var_attrs: dict[str, str] = field(default_factory=dict)
    description: str = ""
    #: Space dims are latitude/longitude (checked ascending, geospatial attributes).
    geographic: bool = False
    #: The usual time step (mock forecasts).
    step: str = "1D"

    @property
    def dims(self) -> tuple[str, ...]:
        """All dimensions of the data variable, in order."""
        return (*FORECAST_DIMS, *self.space_dims)


LAYOUTS: dict[str, ForecastLayout] = {
    SST_KIND: ForecastLayout(
        kind=SST_KIND,
        variable="sst",
        space_dims=("lat", "lon"),
        var_attrs={
            "standard_name": "sea_surface_temperature",
            "long_name": "sea surface temperature forecast",
            "units": "degC",
            "coverage_content_type": "modelResult",
        },
        description="sea surface temperature",
        geographic=True,
        step="1D",
    ),
    TAXIBJ_KIND: ForecastLayout(
        kind=TAXIBJ_KIND,
        variable="flow",
        space_dims=("direction", "y", "x"),
        var_attrs={
            "long_name": "crowd flow count per 30 min",
            "units": "1",
            "coverage_content_type": "modelResult",
        },
        description="TaxiBJ crowd flow",
        geographic=False,
        step="30min",
    ),
}


def layout_for_kind(kind: str) -> ForecastLayout:
    """The layout of a cube kind (``"sst"`` or ``"taxibj"``); SstcastError otherwise."""
    if kind not in LAYOUTS:
        raise SstcastError(f"unknown forecast kind {kind!r}, expected one of {list(KINDS)}")
    return LAYOUTS[kind]


def layout_for_variable(variable: str) -> ForecastLayout | None:
    """The layout whose data variable is ``variable``; None for a variable of neither."""
    for layout in LAYOUTS.values():
        if layout.variable == variable:
            return layout
    return None


# --------------------------------------------------------------------------------------
# Building in memory
# --------------------------------------------------------------------------------------
def _as_datetime(values: Any) -> np.ndarray:
    return np.atleast_1d(np.asarray(values, dtype="datetime64[ns]"))


def _as_timedelta(values: Any) -> np.ndarray:
    """Leads as timedelta64[ns]; whole calendar months (integers) stay int64."""
    values = np.atleast_1d(np.asarray(values))
    if is_month_lead(values):
        return values.astype(np.int64)
    if np.issubdtype(values.dtype, np.timedelta64):
        return values.astype("timedelta64[ns]")
    return pd.to_timedelta(values).to_numpy().astype("timedelta64[ns]")


def _lead_attrs(lead: np.ndarray) -> dict[str, Any]:
    """The lead_time coordinate's attributes; month leads say their unit."""
    attrs = dict(TIME_ATTRS["lead_time"])
    if is_month_lead(lead):
        attrs["units"] = "months"
    return attrs


def default_space(kind: str, shape: Sequence[int]) -> dict[str, np.ndarray]:
    """Space coordinates of a small grid of ``shape`` (ny, nx) for a layout.

    SST: a 1-degree grid of cell centres from 10.5 S and 150.5 E (lat ascending, like a
    cube); TaxiBJ: both directions and integer row/column indices.
    """
    layout = layout_for_kind(kind)
    if len(shape) != 2 or min(shape) < 1:
        raise SstcastError(f"forecast grid shape must be (ny, nx) >= 1, got {tuple(shape)}")
    ny, nx = (int(n) for n in shape)
    if layout.geographic:
        return {
            "lat": -10.5 + np.arange(ny, dtype=np.float64),
            "lon": 150.5 + np.arange(nx, dtype=np.float64),
        }
    return {
        "direction": np.array(DIRECTIONS, dtype=object),
        "y": np.arange(ny, dtype=np.int32),
        "x": np.arange(nx, dtype=np.int32),
    }


def forecast_template(
    kind: str,
    init_time: Any,
    lead_time: Any,
    space: Mapping[str, Any],
    *,
    attrs: Mapping[str, Any] | None = None,
    chunks: Mapping[str, int] | None = None,
) -> xr.Dataset:
    """A NaN-filled forecast Dataset of layout ``kind`` in the schema (decoded form).

    ``space`` maps the layout's space dimensions to their coordinate values. With
    ``chunks`` (dim -> size) the data is a lazy dask array, so a template for a long period
    costs no memory; without, it is a NumPy array.
    """
    layout = layout_for_kind(kind)
    if tuple(space) != layout.space_dims:
        raise SstcastError(
            f"{kind} forecast space dims are {tuple(space)}, expected {layout.space_dims}"
        )
    init = _as_datetime(init_time)
    lead = _as_timedelta(lead_time)
    shape = (init.size, lead.size, *(np.asarray(v).size for v in space.values()))
    if chunks is None:
        data: Any = np.full(shape, np.nan, dtype=np.float32)
    else:
        import dask.array as da

        sizes = tuple(chunks.get(d, -1) for d in layout.dims)
        data = da.full(shape, np.nan, dtype=np.float32, chunks=sizes)
    coords: dict[str, Any] = {
        "init_time": ("init_time", init, dict(TIME_ATTRS["init_time"])),
        "lead_time": ("lead_time", lead, _lead_attrs(lead)),
        "valid_time": (
            FORECAST_DIMS,
            valid_times(init, lead),
            dict(TIME_ATTRS["valid_time"]),
        ),
    }
    for dim, values in space.items():
        coords[dim] = (dim, np.asarray(values), dict(COORD_ATTRS.get(dim, {})))
    ds = xr.Dataset(
        {layout.variable: (layout.dims, data, dict(layout.var_attrs))},
        coords=coords,
        attrs={"sstcast_kind": layout.kind, **dict(attrs or {})},
    )
    return ds


def mock_forecast(
    kind: str = SST_KIND,
    n_init: int = 3,
    n_lead: int = 4,
    shape: Sequence[int] = (4, 5),
    *,
    init_start: str = "2020-01-01",
    init_step: Any = None,
    lead_step: Any = None,
    space: Mapping[str, Any] | None = None,
    land: bool = True,
    seed: int = 0,
) -> xr.Dataset:
    """A small in-memory forecast in the schema, with plausible deterministic values.

    For tests of every stage that reads forecasts (the WeatherBench2 ``mock_*`` idea).
    Init times start at ``init_start`` every ``init_step`` (default 1 day for SST, 30 min
    for TaxiBJ); leads are 1..n_lead times ``lead_step`` (same defaults). SST values are
    about 15-28 degC with NaN over a fixed land patch (the first column, southern half of
    the rows) when ``land``; TaxiBJ values are non-negative whole counts. ``space``
    replaces the default grid of ``shape`` (see :func:`default_space`).
    """
    layout = layout_for_kind(kind)
    default_step = pd.Timedelta(layout.step).to_timedelta64()
    init_step = default_step if init_step is None else pd.Timedelta(init_step).to_timedelta64()
    lead_step = default_step if lead_step is None else pd.Timedelta(lead_step).to_timedelta64()
    if n_init < 1 or n_lead < 1:
        raise SstcastError(f"mock_forecast needs n_init, n_lead >= 1, got {n_init}, {n_lead}")
    init = np.datetime64(init_start, "ns") + np.arange(n_init) * init_step.astype("m8[ns]")
    lead = np.arange(1, n_lead + 1) * lead_step.astype("m8[ns]")
    space = dict(default_space(kind, shape) if space is None else space)
    ds = forecast_template(kind, init, lead, space, attrs={"title": f"mock {kind} forecast"})
    rng = np.random.default_rng(seed)
    var = ds[layout.variable]
    if layout.geographic:
        lat = np.asarray(space["lat"], dtype=np.float64)
        base = 28.0 - 13.0 * np.abs(np.sin(np.deg2rad(lat)))[:, None]
        base = np.broadcast_to(base, var.shape[2:])
        drift = 0.05 * np.arange(n_lead)[None, :, None, None]
        values = base + drift + 0.3 * rng.standard_normal(var.shape)
        if land:
            ny = var.shape[2]
            values[:, :, : max(1, (ny + 1) // 2), 0] = np.nan
    else:
        values = rng.poisson(40.0, size=var.shape).astype(np.float64)
    ds[layout.variable] = var.copy(data=values.astype(np.float32))
    return ds


# --------------------------------------------------------------------------------------
# Validation and opening
# --------------------------------------------------------------------------------------
def _is_increasing(values: np.ndarray) -> bool:
    return values.size < 2 or bool(np.all(values[1:] > values[:-1]))


def _require(ds: xr.Dataset, name: str, dims: tuple[str, ...], where: str) -> xr.DataArray:
    return require_variable(
        ds, name, dims, where, missing="not a forecast: missing variable or coordinate"
    )


def forecast_variable(ds: xr.Dataset, where: str = "forecast") -> str:
    """The data variable of a forecast Dataset (``sst`` or ``flow``), by its layout."""
    return _find_layout(ds, where).variable


def _find_layout(ds: xr.Dataset, where: str) -> ForecastLayout:
    found = [lay for lay in LAYOUTS.values() if lay.variable in ds.data_vars]
    if len(found) != 1:
        expected = " or ".join(repr(lay.variable) for lay in LAYOUTS.values())
        have = sorted(str(v) for v in ds.data_vars)
        what = "both" if found else "no data variable"
        raise SstcastError(f"{where}: not a forecast: {what} {expected} (data variables: {have})")
    layout = found[0]
    kind = ds.attrs.get("sstcast_kind", layout.kind)
    if kind != layout.kind:
        raise SstcastError(
            f"{where}: attribute sstcast_kind is {kind!r} but the file holds "
            f"{layout.variable!r} (a {layout.kind!r} forecast)"
        )
    return layout


def validate_forecast(ds: xr.Dataset, where: str = "forecast") -> None:
    """Check that ``ds`` is a forecast in one of the two layouts; SstcastError otherwise.

    Checks structure only (the data variable's dims and dtype, the time coordinates'
    dims, dtypes, ordering and ``valid_time = init_time + lead_time``, the space
    coordinates); the forecast values are never read, so this is cheap on a large file.
    """
    layout = _find_layout(ds, where)
    var = _require(ds, layout.variable, layout.dims, where)
    if var.dtype != np.float32:
        raise SstcastError(f"{where}: {layout.variable} is {var.dtype}, expected float32")
    init = _require(ds, "init_time", ("init_time",), where)
    if not np.issubdtype(init.dtype, np.datetime64):
        raise SstcastError(f"{where}: init_time is {init.dtype}, expected datetime64")
    if init.size == 0:
        raise SstcastError(f"{where}: init_time is empty")
    if not _is_increasing(init.values):
        raise SstcastError(f"{where}: init_time is not strictly increasing")
    lead = _require(ds, "lead_time", ("lead_time",), where)
    months = is_month_lead(lead.values)
    if months and lead.attrs.get("units") != "months":
        raise SstcastError(f"{where}: integer lead_time without units 'months'")
    if not (months or np.issubdtype(lead.dtype, np.timedelta64)):
        raise SstcastError(
            f"{where}: lead_time is {lead.dtype}, expected timedelta64 or whole months "
            "(open the file with xarray's default decoding)"
        )
    if not _is_increasing(lead.values):
        raise SstcastError(f"{where}: lead_time is not strictly increasing")
    valid = _require(ds, "valid_time", FORECAST_DIMS, where)
    if not np.issubdtype(valid.dtype, np.datetime64):
        raise SstcastError(f"{where}: valid_time is {valid.dtype}, expected datetime64")
    valid_ns = valid.values.astype("datetime64[ns]")
    init_ns = init.values.astype("datetime64[ns]")
    if months:  # the init's month moved by the lead (the product's own stamp of it)
        got = pd.DatetimeIndex(valid_ns.ravel())
        got_month = (got.year * 12 + got.month).to_numpy().reshape(valid_ns.shape)
        start = pd.DatetimeIndex(init_ns)
        want = (start.year * 12 + start.month).to_numpy()[:, None] + lead.values[None, :]
        if not np.array_equal(got_month, want):
            raise SstcastError(f"{where}: valid_time is not init_time's month + lead_time")
    elif not np.array_equal(valid_ns, init_ns[:, None] + lead.values.astype("m8[ns]")):
        raise SstcastError(f"{where}: valid_time is not init_time + lead_time")
    if layout.geographic:
        for axis in ("lat", "lon"):
            coord = _require(ds, axis, (axis,), where)
            if not np.issubdtype(coord.dtype, np.number):
                raise SstcastError(f"{where}: {axis} is {coord.dtype}, expected numbers")
            if not _is_increasing(coord.values):
                raise SstcastError(f"{where}: {axis} is not strictly ascending")
        units = var.attrs.get("units")
        if units != "degC":
            raise SstcastError(f"{where}: sst units are {units!r}, expected 'degC'")
    else:
        direction = _require(ds, "direction", ("direction",), where)
        names = [str(v) for v in direction.values]
        if names != list(DIRECTIONS):
            raise SstcastError(
                f"{where}: direction coordinate is {names}, expected {list(DIRECTIONS)}"
            )
        for axis in ("y", "x"):
            coord = _require(ds, axis, (axis,), where)
            if not np.issubdtype(coord.dtype, np.integer):
                raise SstcastError(f"{where}: {axis} is {coord.dtype}, expected integers")


def open_forecast(
    path: str | os.PathLike[str], chunks: Mapping[str, int] | None = None
) -> xr.Dataset:
    """Open a forecast file with plain :func:`xarray.open_dataset` and validate it.

    The result is lazy (values are read when used); pass ``chunks={}`` for dask arrays
    chunked like the file. A missing file, a file that is not NetCDF, or a NetCDF file that
    is not a forecast gives a one-line SstcastError naming ``path``.
    """
    path = Path(path)
    if not path.exists():
        raise SstcastError(f"{path}: no forecast file there (run `sstcast forecast` first)")
    if path.is_dir():
        raise SstcastError(f"{path}: is a folder, not a forecast NetCDF file")
    try:
        ds = xr.open_dataset(path) if chunks is None else xr.open_dataset(path, chunks=chunks)
    except Exception as err:
        raise SstcastError(
            f"{path}: not a readable NetCDF file ({err.__class__.__name__})"
        ) from None
    try:
        validate_forecast(ds, where=str(path))
    except SstcastError:
        ds.close()
        raise
    return ds
