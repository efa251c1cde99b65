"""Write a forecast to one CF-1.8 / ACDD-1.3 NetCDF4 file, a block of init times at a time.

A forecast over a long period is larger than memory (every init time holds a field per
lead), so :class:`ForecastWriter` appends blocks along an unlimited ``init_time``
dimension with netCDF4 directly and never holds more than the block it is given::

    with ForecastWriter(
        "forecast.nc", variable="sst", lead_time=leads, space={"lat": lat, "lon": lon},
        attrs={"model": "convlstm", "checkpoint_sha256": digest},
    ) as writer:
        for init_times, values in blocks:  # values: (n, n_lead, n_lat, n_lon) float32
            writer.append(init_times, values)

The file is written at a hidden temporary path beside the target
(:func:`sstcast.utils.io.atomic_path`) and renamed into place when the ``with`` block ends
without error; on error (or with nothing appended) nothing is left at the target.

On disk, times are float64 counts of ``days`` or ``hours`` (``since 1970-01-01`` for the
init and valid times; minutes or seconds only for times that need them), chosen so that
every value is exact in float64 and decodes exactly to the nanosecond. ``lead_time`` also
carries ``dtype = "timedelta64[ns]"`` (what xarray itself writes for timedeltas): the
default ``CFTimedeltaCoder`` of the installed xarray (2026.9) decodes a variable with time
units into timedelta64 only when it has that attribute (``decode_via_dtype=True``,
``decode_via_units=False``; earlier releases decoded units alone, with a FutureWarning
announcing the change). So::

    ds = xarray.open_dataset("forecast.nc")             # datetime64 / timedelta64 times
    ds = xarray.open_dataset("forecast.nc", chunks={})  # dask, chunked like the file

Coordinates carry no ``_FillValue``; the data variable is zlib-compressed float32 whose
NaN (land, missing) are stored as the netCDF default float fill value ``_FillValue``, which
xarray turns back into NaN.

Text coordinates (TaxiBJ's ``direction``: inflow, outflow) are char arrays
``direction(direction, direction_strlen)`` with ``_Encoding = "utf-8"``, which xarray
decodes into the string index of ``direction``. CF coordinate variables must be numeric
(a string one also crashes compliance-checker's monotonicity check), and listing the labels
in the data variable's ``coordinates`` (a CF 6.1 label) draws the checker's medium
"shares the same name as one of its dimensions" recommendation, which fails ``cchecker.py``
under its default criteria; so the labels are a plain variable there, and both layouts
pass ``cchecker.py --test=cf:1.8`` without a single issue. ``y``/``x`` are int32 grid
indices with ``long_name`` and ``units = "1"``, which the checker accepts as they are.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import netCDF4
import numpy as np

from sstcast.cube import history_line, sstcast_version
from sstcast.errors import SstcastError
from sstcast.forecast.schema import (
    COORD_ATTRS,
    DIRECTIONS,
    FORECAST_DIMS,
    LAYOUTS,
    TIME_ATTRS,
    ForecastLayout,
    layout_for_variable,
    validate_forecast,
)
from sstcast.utils.io import atomic_path
from sstcast.utils.timeaxis import is_month_lead, valid_times

__all__ = [
    "CHUNK_BYTES",
    "CONVENTIONS",
    "FILL_VALUE",
    "ForecastWriter",
    "chunk_shape",
    "netcdf_attr",
    "time_unit",
    "write_forecast",
]

#: The ``Conventions`` global attribute of every forecast file.
CONVENTIONS = "CF-1.8, ACDD-1.3"
#: The standard names used are in every table version; v93 is the one compliance-checker
#: ships, so checking a file needs no download.
STANDARD_NAME_VOCABULARY = "CF Standard Name Table v93"
#: Target size of one chunk of the data variable (uncompressed).
CHUNK_BYTES = 4 * 2**20
#: Most init times in one chunk (tiny grids would otherwise make huge init chunks).
MAX_INIT_CHUNK = 64
#: Chunk length along init_time of the init_time and valid_time coordinates.
TIME_CHUNK = 1024
#: zlib level of the data variable: about the knee of size against time for float fields.
COMPLEVEL = 4
#: The netCDF default fill of float32; NaN values are written as this.
FILL_VALUE = np.float32(netCDF4.default_fillvals["f4"])
#: Reference time of ``... since`` units.
EPOCH = np.datetime64("1970-01-01T00:00:00", "ns")
_EPOCH_TEXT = "1970-01-01 00:00:00"

_NS = {
    "days": 86_400 * 10**9,
    "hours": 3_600 * 10**9,
    "minutes": 60 * 10**9,
    "seconds": 10**9,
}
#: Below days, a unit may hold values to 1/16 of itself: k/16 is exact in float64, and so
#: is xarray's decoding of it to the nanosecond (whole seconds for hours and minutes).
_FRACTION = 16
_TIME_NAMES = ("init_time", "lead_time", "valid_time")
_TIME_RESERVED = ("units", "calendar", "dtype")
_INT32 = np.iinfo(np.int32)


# --------------------------------------------------------------------------------------
# Times
# --------------------------------------------------------------------------------------
def _granule(unit: str) -> int:
    """Smallest step (ns) a value in ``unit`` may have: a whole day, else 1/16 of the unit."""
    return _NS[unit] if unit == "days" else _NS[unit] // _FRACTION


def time_unit(values_ns: np.ndarray) -> str | None:
    """The coarsest of days, hours, minutes, seconds holding every value exactly.

    ``values_ns`` are int64 nanoseconds (timedeltas, or datetimes since the epoch). Days
    are used only for whole days; the others allow steps of 1/16 unit (30 min leads are
    0.5 hours). None when not even 1/16 second divides the values.
    """
    values = np.asarray(values_ns, dtype=np.int64)
    for unit in _NS:
        if np.all(values % _granule(unit) == 0):
            return unit
    return None


def _encode(values_ns: np.ndarray, unit: str) -> np.ndarray:
    """int64 ns as float64 counts of ``unit``, exactly (integer division, then /16)."""
    granule = _granule(unit)
    per_unit = _NS[unit] // granule
    return (np.asarray(values_ns, dtype=np.int64) // granule).astype(np.float64) / per_unit


def _iso(value: np.datetime64) -> str:
    """ISO 8601 UTC text of a datetime64, to the second (ACDD time_coverage_*)."""
    return f"{np.datetime_as_string(value, unit='s')}Z"


# --------------------------------------------------------------------------------------
# Attributes
# --------------------------------------------------------------------------------------
def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (dt.datetime, dt.date, np.datetime64)):
        return str(value)
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def netcdf_attr(value: Any, *, numeric_arrays: bool = False) -> Any:
    """``value`` as something netCDF4 stores as an attribute; None means "drop it".

    Text stays text; bools become int32 0/1; integers int32 (text when too large: int64
    attributes are not classic-model types); floats stay floats; dates become ISO text;
    paths text; dicts, and lists (unless ``numeric_arrays`` and all numbers, as for
    ``flag_values`` of a variable), become JSON text. Anything else becomes ``str(value)``.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return np.int32(int(value))
    if isinstance(value, (int, np.integer)):
        return np.int32(value) if _INT32.min <= int(value) <= _INT32.max else str(int(value))
    if isinstance(value, (float, np.floating)):
        return np.float32(value) if isinstance(value, np.float32) else np.float64(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, np.datetime64):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return json.dumps(dict(value), default=_json_default)
    if isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
        items = list(value.tolist() if isinstance(value, np.ndarray) else value)
        if numeric_arrays and items and all(_is_number(v) for v in items):
            array = np.asarray(items)
            if array.dtype.kind in "iu":
                if array.min() >= _INT32.min and array.max() <= _INT32.max:
                    return array.astype(np.int32)
                return array.astype(np.float64)
            return array.astype(np.float64)
        return json.dumps(items, default=_json_default)
    return str(value)


def _clean_attrs(
    attrs: Mapping[str, Any] | None,
    where: str,
    *,
    reserved: tuple[str, ...] = (),
    numeric_arrays: bool = False,
) -> dict[str, Any]:
    """Caller attributes made storable; names starting with "_" or ``reserved`` refused."""
    out: dict[str, Any] = {}
    for name, value in (attrs or {}).items():
        name = str(name)
        if name.startswith("_") or name in reserved:
            raise SstcastError(f"{where}: attribute {name!r} is set by the forecast writer")
        stored = netcdf_attr(value, numeric_arrays=numeric_arrays)
        if stored is not None:
            out[name] = stored
    return out


def _set_attrs(target: Any, attrs: Mapping[str, Any], where: str) -> None:
    for name, value in attrs.items():
        try:
            target.setncattr(name, value)
        except Exception as err:
            raise SstcastError(f"{where}: cannot store attribute {name!r} ({err})") from None


# --------------------------------------------------------------------------------------
# Layout helpers
# --------------------------------------------------------------------------------------
def chunk_shape(
    n_lead: int, space_shape: tuple[int, ...], itemsize: int = 4, target: int = CHUNK_BYTES
) -> tuple[int, ...]:
    """Chunk sizes (init, lead, *space) of about ``target`` bytes.

    Whole fields are kept together (a map or a score reads whole fields): as many init
    times as fit (at most :data:`MAX_INIT_CHUNK`), else leads of one init, else the
    leading space dimension is split.
    """
    field = math.prod(space_shape) * itemsize
    per_init = n_lead * field
    if per_init <= target:
        return (max(1, min(MAX_INIT_CHUNK, target // per_init)), n_lead, *space_shape)
    if field <= target:
        return (1, max(1, target // field), *space_shape)
    chunks = list(space_shape)
    for i in range(len(chunks)):
        rest = math.prod(chunks[i + 1 :]) * itemsize
        if rest <= target:
            chunks[i] = max(1, target // rest)
            break
        chunks[i] = 1
    return (1, 1, *chunks)


def _space_values(dim: str, values: Any, where: str) -> np.ndarray:
    """1-D coordinate values in a netCDF-friendly dtype (text, int32, float32/64)."""
    array = np.asarray(values)
    if array.ndim != 1 or array.size == 0:
        raise SstcastError(f"{where}: space coordinate {dim!r} must be 1-D and non-empty")
    if array.dtype.kind in "USO":
        return np.array([str(v) for v in array], dtype=object)
    if array.dtype.kind in "iu":
        if array.min() < _INT32.min or array.max() > _INT32.max:
            raise SstcastError(f"{where}: space coordinate {dim!r} does not fit in int32")
        return array.astype(np.int32)
    if array.dtype.kind == "f":
        return array.astype(np.float32 if array.dtype.itemsize <= 4 else np.float64)
    raise SstcastError(f"{where}: space coordinate {dim!r} has unsupported dtype {array.dtype}")


def _check_layout_space(
    layout: ForecastLayout, space: Mapping[str, np.ndarray], where: str
) -> None:
    """Refuse space coordinates the reader (:func:`validate_forecast`) would refuse."""
    if tuple(space) != layout.space_dims:
        raise SstcastError(
            f"{where}: {layout.variable} needs space dims {layout.space_dims}, got {tuple(space)}"
        )
    if layout.geographic:
        for dim in ("lat", "lon"):
            values = space[dim]
            if values.dtype.kind != "f" and values.dtype.kind not in "iu":
                raise SstcastError(f"{where}: {dim} must be numbers")
            if values.size > 1 and not np.all(np.diff(values) > 0):
                raise SstcastError(f"{where}: {dim} must be strictly ascending")
    else:
        names = [str(v) for v in space["direction"]]
        if names != list(DIRECTIONS):
            raise SstcastError(f"{where}: direction must be {list(DIRECTIONS)}, got {names}")
        for dim in ("y", "x"):
            if space[dim].dtype.kind not in "iu":
                raise SstcastError(f"{where}: {dim} must be integer grid indices")


# --------------------------------------------------------------------------------------
# The writer
# --------------------------------------------------------------------------------------
class ForecastWriter:
    """Write ``variable(init_time, lead_time, *space)`` to ``path`` block by block.

    Parameters
    ----------
    path:
        The NetCDF file to make; an existing file there is replaced only on success.
    variable:
        ``"sst"`` or ``"flow"`` (the two layouts of :mod:`sstcast.forecast.schema`, whose
        metadata and space dims are then enforced), or another name for a free layout.
    lead_time:
        The leads, timedelta64 (strictly increasing, at least one).
    space:
        Ordered mapping of space dimension -> coordinate values, e.g. ``{"lat": lat,
        "lon": lon}`` or ``{"direction": ["inflow", "outflow"], "y": y, "x": x}``.
    attrs:
        Global attributes added to (and overriding) the ACDD defaults: provenance such as
        model, preset, run folder, checkpoint sha256, training period, cube and its
        sources. Values are made storable by :func:`netcdf_attr` (dicts/lists to JSON,
        bools to ints, None dropped). A given ``history`` is kept and this write appended.
    var_attrs:
        Attributes of the data variable, over the layout's (``coordinates`` is reserved).
    coord_attrs:
        Per-coordinate attributes (name -> attrs) over the schema's; the encoding
        attributes of the time coordinates (units, calendar, dtype) are reserved.
    complevel, chunk_bytes:
        zlib level and target chunk size of the data variable.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        variable: str,
        lead_time: Any,
        space: Mapping[str, Any],
        *,
        attrs: Mapping[str, Any] | None = None,
        var_attrs: Mapping[str, Any] | None = None,
        coord_attrs: Mapping[str, Mapping[str, Any]] | None = None,
        complevel: int = COMPLEVEL,
        chunk_bytes: int = CHUNK_BYTES,
    ) -> None:
        self.path = Path(path)
        self.variable = str(variable)
        where = str(self.path)
        self.layout = layout_for_variable(self.variable)

        lead = np.atleast_1d(np.asarray(lead_time))
        #: Leads in whole calendar months (integers) for monthly data, else durations.
        self.month_leads = is_month_lead(lead)
        if (
            lead.ndim != 1
            or lead.size == 0
            or not (self.month_leads or np.issubdtype(lead.dtype, np.timedelta64))
        ):
            raise SstcastError(
                f"{where}: lead_time must be a non-empty 1-D timedelta64 array (or integer months)"
            )
        if self.month_leads:
            lead = lead.astype(np.int64)
            if lead[0] < 1 or not np.all(np.diff(lead) > 0):
                raise SstcastError(f"{where}: month leads must be increasing whole months >= 1")
            self.lead_units = "months"
        else:
            lead = lead.astype("timedelta64[ns]")
            if np.isnat(lead).any() or not np.all(np.diff(lead) > np.timedelta64(0, "ns")):
                raise SstcastError(f"{where}: lead_time must be strictly increasing, without NaT")
            lead_unit = time_unit(lead.astype(np.int64))
            if lead_unit is None:
                raise SstcastError(f"{where}: lead times must be multiples of 1/16 second")
            self.lead_units = lead_unit
        self.lead_time = lead

        names = [str(d) for d in space]
        clash = set(names) & {*_TIME_NAMES, self.variable}
        if not names or clash or len(set(names)) != len(names):
            raise SstcastError(
                f"{where}: space dims must be distinct, non-empty and not "
                f"{[*_TIME_NAMES, self.variable]}, got {names}"
            )
        self.space = {str(d): _space_values(str(d), v, where) for d, v in space.items()}
        if self.layout is not None:
            _check_layout_space(self.layout, self.space, where)
        self.block_shape = (lead.size, *(v.size for v in self.space.values()))

        known = {*_TIME_NAMES, *self.space}
        unknown = sorted(set(coord_attrs or {}) - known)
        if unknown:
            raise SstcastError(f"{where}: coord_attrs for unknown coordinates {unknown}")
        self._coord_attrs: dict[str, dict[str, Any]] = {}
        for name in known:
            given = (coord_attrs or {}).get(name)
            reserved = _TIME_RESERVED if name in _TIME_NAMES else ()
            base = TIME_ATTRS.get(name, COORD_ATTRS.get(name, {}))
            extra = _clean_attrs(given, where, reserved=reserved, numeric_arrays=True)
            self._coord_attrs[name] = {**base, **extra}
        default_var = dict(self.layout.var_attrs) if self.layout is not None else {}
        extra_var = _clean_attrs(
            var_attrs, where, reserved=("coordinates", "missing_value"), numeric_arrays=True
        )
        self._var_attrs = {**default_var, **extra_var, "coordinates": "valid_time"}
        self._attrs = _clean_attrs(attrs, where)

        self.complevel = int(complevel)
        self.chunks = chunk_shape(lead.size, self.block_shape[1:], 4, chunk_bytes)
        self.time_units: str | None = None
        self.n_init = 0
        self._last_init: np.datetime64 | None = None
        # the first and last valid times written: the file's ACDD time coverage
        self._first_valid: np.datetime64 | None = None
        self._last_valid: np.datetime64 | None = None
        self._closed = False  # no more appends (finished or discarded)
        self._done = False  # finished: the file is at path
        self._nc: netCDF4.Dataset | None = None
        self._stack = contextlib.ExitStack()
        if self.path.is_dir():
            raise SstcastError(f"{where}: is a folder; give the forecast file's name")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._stack.enter_context(atomic_path(self.path))
            self._nc = netCDF4.Dataset(tmp, "w", format="NETCDF4")
        except OSError as err:
            self._discard()
            raise SstcastError(f"{where}: cannot create the forecast file ({err})") from None
        try:
            self._define()
        except BaseException:
            self._discard()
            raise

    # ------------------------------------------------------------------ file structure
    def _define(self) -> None:
        """Dimensions, variables and the attributes known before the first block."""
        nc = self._nc
        assert nc is not None
        where = str(self.path)
        nc.createDimension("init_time", None)
        nc.createDimension("lead_time", self.lead_time.size)
        for dim, values in self.space.items():
            nc.createDimension(dim, values.size)

        init = nc.createVariable(
            "init_time", "f8", ("init_time",), chunksizes=(TIME_CHUNK,), fill_value=False
        )
        _set_attrs(
            init, {**self._coord_attrs["init_time"], "calendar": "proleptic_gregorian"}, where
        )
        if self.month_leads:
            # Calendar months have no fixed length: whole months as integers (udunits'
            # "months" is a unit of time, so CF accepts it; xarray leaves it as numbers).
            lead = nc.createVariable("lead_time", "i4", ("lead_time",), fill_value=False)
            lead_attrs = {
                **self._coord_attrs["lead_time"],
                "units": "months",
                "long_name": "forecast lead time in calendar months",
                "comment": "valid_time is the init month moved by lead_time calendar months, "
                "stamped as the observations stamp that month",
            }
            _set_attrs(lead, lead_attrs, where)
            lead[:] = self.lead_time.astype(np.int32)
        else:
            lead = nc.createVariable("lead_time", "f8", ("lead_time",), fill_value=False)
            lead_attrs = {
                **self._coord_attrs["lead_time"],
                "units": self.lead_units,
                # xarray's default decoding makes a timedelta only with this attribute
                "dtype": "timedelta64[ns]",
            }
            _set_attrs(lead, lead_attrs, where)
            lead[:] = _encode(self.lead_time.astype(np.int64), self.lead_units)
        valid = nc.createVariable(
            "valid_time",
            "f8",
            FORECAST_DIMS,
            chunksizes=(TIME_CHUNK, self.lead_time.size),
            fill_value=False,
        )
        _set_attrs(
            valid, {**self._coord_attrs["valid_time"], "calendar": "proleptic_gregorian"}, where
        )
        for dim, values in self.space.items():
            if values.dtype == object:
                # Text labels as a char array named like its dimension, so that xarray
                # makes it the string index; not a CF coordinate variable (those must be
                # numeric), and deliberately not in ``coordinates`` (see the module doc).
                text = np.array([str(v) for v in values])
                strlen = max(1, max(len(v.encode("utf-8")) for v in text))
                nc.createDimension(f"{dim}_strlen", strlen)
                coord = nc.createVariable(dim, "S1", (dim, f"{dim}_strlen"), fill_value=False)
                coord.setncattr("_Encoding", "utf-8")
                _set_attrs(coord, self._coord_attrs[dim], where)
                coord[:] = text
            else:
                coord = nc.createVariable(dim, values.dtype, (dim,), fill_value=False)
                _set_attrs(coord, self._coord_attrs[dim], where)
                coord[:] = values

        data = nc.createVariable(
            self.variable,
            "f4",
            (*FORECAST_DIMS, *self.space),
            compression="zlib",
            complevel=self.complevel,
            shuffle=True,
            chunksizes=self.chunks,
            fill_value=FILL_VALUE,
        )
        data.set_auto_maskandscale(False)
        _set_attrs(data, self._var_attrs, where)
        _set_attrs(nc, self._global_attrs(), where)

    def _global_attrs(self) -> dict[str, Any]:
        """ACDD/CF global attributes, then the caller's.

        The caller's override the defaults (title, summary, keywords, source, ...) but not
        what the writer computes: Conventions, date_created, sstcast_kind, the geospatial
        bounds of lat/lon and (at close) time_coverage_start/end; a given history is kept
        with this write appended as its last line.
        """
        version = sstcast_version()
        if self.layout is not None:
            what = self.layout.description
            kind: dict[str, Any] = {"sstcast_kind": self.layout.kind}
        else:
            what, kind = self.variable, {}
        keywords = {
            "sst": "sea surface temperature, ocean, forecast, deep learning, sstcast",
            "flow": "crowd flow, taxi, Beijing, forecast, deep learning, sstcast",
        }.get(self.variable, f"{self.variable}, forecast, sstcast")
        dims = ", ".join(self.space)
        base: dict[str, Any] = {
            "Conventions": CONVENTIONS,
            "title": f"sstcast {what} forecast",
            "summary": (
                f"Short-range {what} forecasts made by sstcast: {self.variable}(init_time, "
                f"lead_time, {dims}) for each initialisation time and lead time; "
                "valid_time = init_time + lead_time."
            ),
            "keywords": keywords,
            "source": f"sstcast {version}",
            "product_version": version,
            "processing_level": "model forecast",
            "cdm_data_type": "Grid",
            "standard_name_vocabulary": STANDARD_NAME_VOCABULARY,
            "date_created": _iso(np.datetime64(dt.datetime.now(dt.UTC).replace(tzinfo=None))),
            **kind,
        }
        geo: list[str] = []
        for dim, units in (("lat", "degrees_north"), ("lon", "degrees_east")):
            if dim in self.space:
                base[f"geospatial_{dim}_min"] = np.float64(self.space[dim].min())
                base[f"geospatial_{dim}_max"] = np.float64(self.space[dim].max())
                base[f"geospatial_{dim}_units"] = units
                geo += [f"geospatial_{dim}_{end}" for end in ("min", "max", "units")]
        attrs = {**base, **self._attrs}
        # what the writer knows better than the caller (a re-written file's old values)
        for name in ("Conventions", "date_created", "sstcast_kind", *geo):
            if name in base:
                attrs[name] = base[name]
        action = history_line(f"ForecastWriter wrote {self.variable} to {self.path.name}")
        previous = str(self._attrs.get("history", "")).strip()
        attrs["history"] = f"{previous}\n{action}" if previous else action
        return attrs

    # ------------------------------------------------------------------ appending
    def append(self, init_time: Any, values: Any, valid_time: Any = None) -> None:
        """Write the forecasts of ``init_time`` (n,) with ``values`` (n, n_lead, *space).

        Init times must be strictly increasing, also across calls; values are cast to
        float32 and NaN is stored as the fill value. ``valid_time`` (n, n_lead) defaults to
        init + lead (for month leads: the init's month moved by the lead, at the same place
        in the month; pass the observations' own stamps when known). A refused block
        (one-line SstcastError) leaves the file as it was, so the writer stays usable.
        """
        nc = self._open()
        where = str(self.path)
        try:
            init = np.atleast_1d(np.asarray(init_time, dtype="datetime64[ns]"))
        except (TypeError, ValueError):
            raise SstcastError(f"{where}: init times must be datetimes") from None
        if init.ndim != 1:
            raise SstcastError(f"{where}: init times must be 1-D, got shape {init.shape}")
        values = np.asarray(values)
        expected = (init.size, *self.block_shape)
        if values.shape != expected:
            dims = ", ".join(("init_time", *FORECAST_DIMS[1:], *self.space))
            raise SstcastError(
                f"{where}: forecast block has shape {values.shape}, expected {expected} ({dims})"
            )
        if values.dtype.kind not in "fiu":
            raise SstcastError(f"{where}: forecast values must be numbers, got {values.dtype}")
        if init.size == 0:
            return
        if np.isnat(init).any():
            raise SstcastError(f"{where}: init times contain NaT")
        steps = np.diff(init)
        if np.any(steps <= np.timedelta64(0, "ns")) or (
            self._last_init is not None and init[0] <= self._last_init
        ):
            after = f" after {self._last_init}" if self._last_init is not None else ""
            raise SstcastError(
                f"{where}: init times must be strictly increasing{after}, got {init[0]} .. "
                f"{init[-1]}"
            )
        init_ns = (init - EPOCH).astype(np.int64)
        if valid_time is None:
            valid = valid_times(init, self.lead_time)
        else:
            valid = np.asarray(valid_time, "datetime64[ns]")
            if valid.shape != (init.size, self.lead_time.size):
                raise SstcastError(
                    f"{where}: valid_time has shape {valid.shape}, expected "
                    f"{(init.size, self.lead_time.size)}"
                )
            if np.any(valid <= init[:, None]):
                raise SstcastError(f"{where}: valid times must come after their init times")
        valid_ns = (valid - EPOCH).astype(np.int64)
        if self.time_units is None:
            unit = time_unit(np.concatenate([init_ns, valid_ns.ravel()]))
            if unit is None:
                raise SstcastError(f"{where}: init times must be multiples of 1/16 second")
            self._set_time_units(unit)
        assert self.time_units is not None
        unit = self.time_units.split()[0]
        if not (np.all(init_ns % _granule(unit) == 0) and np.all(valid_ns % _granule(unit) == 0)):
            raise SstcastError(
                f"{where}: init times {init[0]} .. {init[-1]} are not exact in "
                f"{self.time_units!r}, the units the first block fixed"
            )
        data = values.astype(np.float32, copy=False)
        data = np.where(np.isnan(data), FILL_VALUE, data)
        i0, i1 = self.n_init, self.n_init + init.size
        try:
            nc[self.variable][i0:i1] = data
            nc["init_time"][i0:i1] = _encode(init_ns, unit)
            nc["valid_time"][i0:i1, :] = _encode(valid_ns, unit)
        except Exception as err:  # disk full, I/O error: the file is not trustworthy now
            self._discard()
            raise SstcastError(
                f"{where}: writing init times {init[0]} .. {init[-1]} failed "
                f"({err.__class__.__name__}: {' '.join(str(err).split())}); nothing written"
            ) from None
        self.n_init = i1
        if self._first_valid is None:
            self._first_valid = valid[0, 0]
        self._last_init, self._last_valid = init[-1], valid[-1, -1]

    def _set_time_units(self, unit: str) -> None:
        nc = self._open()
        self.time_units = f"{unit} since {_EPOCH_TEXT}"
        nc["init_time"].setncattr("units", self.time_units)
        nc["valid_time"].setncattr("units", self.time_units)

    def _open(self) -> netCDF4.Dataset:
        if self._closed or self._nc is None:
            raise SstcastError(f"{self.path}: the forecast writer is already closed")
        return self._nc

    # ------------------------------------------------------------------ finishing
    def close(self) -> Path:
        """Finish the file and move it to ``path``; SstcastError (nothing written) if empty."""
        if self._done:
            return self.path
        if self._closed:
            raise SstcastError(f"{self.path}: the forecast writer was aborted; nothing written")
        nc = self._open()
        if self.n_init == 0:
            self._discard()
            raise SstcastError(f"{self.path}: no forecast was appended; nothing written")
        try:
            assert self._first_valid is not None and self._last_valid is not None
            nc.setncattr("time_coverage_start", _iso(self._first_valid))
            nc.setncattr("time_coverage_end", _iso(self._last_valid))
            nc.close()
            self._nc = None
            self._stack.close()  # atomic_path renames the temporary into place
        except BaseException:
            self._discard()
            raise
        self._closed = self._done = True
        return self.path

    def abort(self) -> None:
        """Drop everything written so far; nothing is left at ``path`` (or the old file)."""
        if not self._closed:
            self._discard()

    def _discard(self) -> None:
        self._closed = True
        if self._nc is not None:
            with contextlib.suppress(Exception):
                self._nc.close()
            self._nc = None
        # leaving atomic_path with an exception makes it remove the temporary
        err = SstcastError("forecast writer aborted")
        self._stack.__exit__(SstcastError, err, None)

    def __enter__(self) -> ForecastWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def __repr__(self) -> str:
        state = "written" if self._done else "aborted" if self._closed else "open"
        return (
            f"ForecastWriter({str(self.path)!r}, {self.variable!r}, "
            f"{self.n_init} init time(s), {state})"
        )


def write_forecast(
    ds: Any,
    path: str | os.PathLike[str],
    *,
    attrs: Mapping[str, Any] | None = None,
    block_size: int = 64,
) -> Path:
    """Write an in-memory (or dask-backed) forecast Dataset in the schema to ``path``.

    For forecasts already held as a Dataset (tests, :func:`mock_forecast`, small runs):
    it is validated, then written ``block_size`` init times at a time with
    :class:`ForecastWriter`; the Dataset's attributes, then ``attrs``, become the file's.
    """
    validate_forecast(ds, where=f"forecast to write to {path}")
    variable = next(lay.variable for lay in LAYOUTS.values() if lay.variable in ds.data_vars)
    var = ds[variable]
    space = {dim: ds[dim].values for dim in var.dims[2:]}

    def keep(attrs: Mapping[str, Any], reserved: tuple[str, ...]) -> dict[str, Any]:
        return {k: v for k, v in attrs.items() if not k.startswith("_") and k not in reserved}

    coord_attrs = {
        name: keep(ds[name].attrs, _TIME_RESERVED if name in _TIME_NAMES else ())
        for name in (*_TIME_NAMES, *space)
    }
    var_attrs = keep(var.attrs, ("coordinates", "missing_value"))
    global_attrs = {**ds.attrs, **dict(attrs or {})}
    init = ds["init_time"].values
    with ForecastWriter(
        path,
        variable,
        ds["lead_time"].values,
        space,
        attrs=global_attrs,
        var_attrs=var_attrs,
        coord_attrs=coord_attrs,
    ) as writer:
        for start in range(0, init.size, max(1, block_size)):
            stop = start + max(1, block_size)
            writer.append(
                init[start:stop],
                var.isel(init_time=slice(start, stop)).values,
                valid_time=ds["valid_time"].values[start:stop],
            )
    return Path(path)
