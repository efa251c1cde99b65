"""CF NetCDF sea-surface temperature (OISST, ERSST, OSTIA, CMIP ``tos``, ...).

:func:`open_sst` turns one or many files into the standard SST dataset:

- dims ``time, lat, lon``; ``lat`` ascending float64, ``lon`` ascending float64;
- ``sst(time, lat, lon)`` float32 in degC (NaN where there is no value) and
  ``mask(lat, lon)`` int8 CF ``sea_binary_mask``, 1 where any time has a value (sea);
- lazy (dask): nothing is read until the values are asked for.

Files are accepted as real products ship them: latitude ascending or descending, longitude
0..360 or -180..180, packed values (``scale_factor``/``add_offset``) with ``_FillValue`` or
``missing_value`` (xarray's CF decoding masks and scales), Kelvin or Celsius by the
``units`` attribute, singleton depth dimensions, many files with unsorted or duplicated
times. The SST variable and its latitude, longitude and time coordinates are found by
their CF attributes through cf-xarray (``standard_name``, ``units`` such as
``degrees_north``, ``axis``, the ``coordinates`` attribute), with a few usual names as the
fallback for files without them. Anything else is answered with one SstcastError line
naming the file.

:func:`cut_region` cuts a latitude/longitude box, also across the 0 or 180 degree meridian.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import cf_xarray  # noqa: F401  (registers the ``.cf`` accessor used to read CF attributes)
import numpy as np
import pandas as pd
import xarray as xr

from sstcast.errors import SstcastError
from sstcast.sources import Bbox, InputFile, fetch_inputs, file_format, named_errors

log = logging.getLogger(__name__)

#: standard_name values that identify an SST variable, in order of preference.
SST_STANDARD_NAMES = (
    "sea_surface_temperature",
    "sea_surface_foundation_temperature",
    "sea_surface_subskin_temperature",
    "sea_surface_skin_temperature",
    "sea_water_temperature",
)
#: variable names that identify an SST variable when no standard_name does.
SST_NAMES = ("sst", "analysed_sst", "tos", "SST", "sea_surface_temperature", "thetao")

KELVIN_UNITS = {"k", "kelvin", "kelvins", "degk", "degreek", "degreesk"}
CELSIUS_UNITS = {
    "degc",
    "celsius",
    "degcelsius",
    "degreec",
    "degreesc",
    "degreecelsius",
    "degreescelsius",
}
#: How each horizontal coordinate is recognised: its cf-xarray coordinate key (standard_name,
#: units such as degrees_north, _CoordinateAxisType), its CF axis letter (a coordinate with
#: ``axis: Y`` and no other meaning: no standard_name, plain or no degree units) and the
#: names that are the fallback for files without CF attributes.
_AXES = {
    "lat": ("latitude", "Y", ("lat", "latitude", "nav_lat")),
    "lon": ("longitude", "X", ("lon", "longitude", "nav_lon")),
}
#: Global attributes of the source files kept in the cube (the first file's), and the name
#: each gets there: ``title`` is the cube's own, so the source's becomes ``source_title``.
CARRIED_ATTRS = {
    "title": "source_title",
    "institution": "institution",
    "source": "source",
    "references": "references",
    "license": "license",
}

#: Attributes of the cube's ``mask`` (CF ``sea_binary_mask``: 1 on sea). A cell counts as
#: sea when any time has an SST value there, so 0 is land or never observed.
MASK_ATTRS = {
    "standard_name": "sea_binary_mask",
    "long_name": "sea mask (1 where any time has an SST value)",
    "flag_values": np.array([0, 1], dtype="int8"),
    "flag_meanings": "land sea",
    "coverage_content_type": "auxiliaryInformation",  # ACDD
}

#: Uncompressed bytes per dask chunk when reading a file (about one cube chunk).
READ_CHUNK_BYTES = 4 * 2**20
#: HDF5 chunk cache per open variable while reading. netCDF-C's default (64 MiB) is kept
#: by every file xarray holds open, so 40 yearly files could pin 2.5 GB; values are read
#: once, in order, so a small cache costs nothing.
CHUNK_CACHE_BYTES = 4 * 2**20


# --------------------------------------------------------------------------------------
# Recognising variables and coordinates
# --------------------------------------------------------------------------------------
def _norm_units(units: object) -> str:
    return str(units).strip().lower().replace("°", "deg").replace(" ", "").replace("_", "")


def celsius_offset(units: object, where: str) -> float:
    """What to add to values in ``units`` to get degC (0 or -273.15); error if unknown."""
    u = _norm_units(units)
    if u in CELSIUS_UNITS:
        return 0.0
    if u in KELVIN_UNITS:
        return -273.15
    shown = "missing" if units is None else repr(units)
    raise SstcastError(
        f"{where}: unknown temperature units {shown} (expected Kelvin or degrees Celsius)"
    )


def _names(found: Iterable[object]) -> str:
    return ", ".join(repr(str(n)) for n in found)


def find_sst_variable(ds: xr.Dataset, variable: str | None, where: str) -> str:
    """The name of the SST variable: ``variable`` if given, else the one whose CF
    ``standard_name`` (cf-xarray's ``ds.cf.standard_names``) comes first in
    :data:`SST_STANDARD_NAMES`, else one with a usual name (:data:`SST_NAMES`). Only data
    variables with at least two dimensions count; two with the same standard name are
    ambiguous (an error asking for ``--variable``)."""
    if variable is not None:
        if variable not in ds.data_vars:
            names = ", ".join(map(str, ds.data_vars)) or "none"
            raise SstcastError(f"{where}: no variable {variable!r}; variables there: {names}")
        return variable
    gridded = {str(n) for n, v in ds.data_vars.items() if v.ndim >= 2}
    by_standard_name = ds.cf.standard_names
    for standard_name in SST_STANDARD_NAMES:
        found = [str(n) for n in by_standard_name.get(standard_name, []) if str(n) in gridded]
        if len(found) > 1:
            raise SstcastError(
                f"{where}: ambiguous SST variable: {_names(found)} all have standard_name "
                f"{standard_name} (pick one with --variable)"
            )
        if found:
            return found[0]
    for name in SST_NAMES:
        if name in gridded:
            return name
    names = ", ".join(map(str, ds.data_vars)) or "none"
    raise SstcastError(
        f"{where}: no SST-like variable (by standard_name or a name like sst, analysed_sst, "
        f"tos); variables there: {names} (pick one with --variable)"
    )


def _with_candidate_coords(ds: xr.Dataset, name: str) -> xr.Dataset:
    """``ds`` with every other 1-D or 2-D data variable that lies along ``name``'s
    dimensions made a coordinate, so that latitude/longitude stored as plain variables
    (``lat(y)``, or 2-D ``nav_lat(y, x)`` without a ``coordinates`` attribute) are seen as
    ``name``'s coordinates (cf-xarray, like CF, looks only at coordinates)."""
    dims = set(ds[name].dims)
    others = [
        n for n, v in ds.data_vars.items() if n != name and v.ndim in (1, 2) and set(v.dims) <= dims
    ]
    return ds.set_coords(others)


def _plain_degrees(var: xr.DataArray) -> bool:
    """A coordinate that says nothing against being latitude/longitude: no standard_name
    (``grid_latitude`` of a rotated pole, ``projection_y_coordinate``, ... are not), and no
    units or plain degrees."""
    units = str(var.attrs.get("units", "degrees")).strip().lower()
    return "standard_name" not in var.attrs and units in ("degrees", "degree", "")


def _find_axis(var: xr.DataArray, axis: str, where: str) -> str:
    """Name of the latitude (``axis="lat"``) or longitude coordinate of ``var``.

    Looked for among ``var``'s coordinates (its dimensions' coordinates and those its
    ``coordinates`` attribute names), in this order: by cf-xarray's ``latitude`` /
    ``longitude`` criteria (``standard_name``, units ``degrees_north``/``degrees_east`` and
    variants); by a CF ``axis: Y``/``X`` attribute (with no contrary standard_name or
    units); by a usual name. A 1-D coordinate along one of ``var``'s dimensions is taken;
    two are ambiguous; only a 2-D one is a curvilinear grid (not supported).
    """
    key, letter, names = _AXES[axis]
    candidates = list(var.cf.coordinates.get(key, []))
    if not candidates:
        candidates = [n for n in var.cf.axes.get(letter, []) if _plain_degrees(var[n])]
    if not candidates:
        candidates = [n for n in var.coords if str(n).lower() in names]
    if not candidates:
        raise SstcastError(
            f"{where}: variable {var.name!r} has no latitude/longitude coordinates "
            f"(dims {tuple(var.dims)})"
        )
    one_d = sorted(str(n) for n in candidates if var[n].ndim == 1)
    if len(one_d) > 1:
        raise SstcastError(
            f"{where}: variable {var.name!r} has several {key} coordinates ({_names(one_d)}); "
            "cannot tell which one to use"
        )
    if not one_d:
        name = str(sorted(map(str, candidates))[0])
        raise SstcastError(
            f"{where}: {name!r} is {var[name].ndim}-D: curvilinear grids are not supported yet "
            "(only regular lat/lon grids with 1-D coordinates)"
        )
    return one_d[0]


def _is_time(var: xr.DataArray, dim: str) -> bool:
    """Whether dimension ``dim`` of ``var`` is time: its coordinate is a CF time for
    cf-xarray (``standard_name: time``, ``axis: T``, ...), holds dates, or is named time."""
    if dim not in var.coords:  # a dimension without values cannot be dated
        return False
    cf_time = set(var.cf.coordinates.get("time", [])) | set(var.cf.axes.get("T", []))
    coord = var[dim]
    return (
        dim in cf_time
        or np.issubdtype(coord.dtype, np.datetime64)
        or coord.dtype == object
        or dim == "time"
    )


def _decode_time(values: np.ndarray, where: str) -> np.ndarray:
    """Decoded time values to datetime64[ns] (cftime dates of real-day calendars too)."""
    if np.issubdtype(values.dtype, np.datetime64):
        return values.astype("datetime64[ns]")
    if values.dtype == object:
        try:
            return xr.CFTimeIndex(values).to_datetimeindex(time_unit="ns").values
        except (TypeError, ValueError) as err:
            raise SstcastError(f"{where}: time cannot be converted to dates ({err})") from None
    raise SstcastError(f"{where}: time has no CF units (values are {values.dtype}, not dates)")


# --------------------------------------------------------------------------------------
# One file
# --------------------------------------------------------------------------------------
@contextlib.contextmanager
def netcdf_chunk_cache(size: int | None = None) -> Iterator[None]:
    """Files opened inside get an HDF5 chunk cache of ``size`` bytes (default
    ``CHUNK_CACHE_BYTES``) instead of netCDF-C's 64 MiB; the old setting is restored after."""
    import netCDF4

    old = netCDF4.get_chunk_cache()
    netCDF4.set_chunk_cache(size=CHUNK_CACHE_BYTES if size is None else size)
    try:
        yield
    finally:
        netCDF4.set_chunk_cache(*old)


def _check_readable(path: Path) -> None:
    """Reject files that are not NetCDF/HDF5, and truncated classic NetCDF files.

    HDF5 (NetCDF-4) truncation is caught by the library when the file is opened; a
    truncated classic file opens fine and reads zeros, so its size is checked here by
    mapping it with scipy's reader, which checks every variable's extent.
    """
    kind = file_format(path)
    if kind == "unknown":
        raise SstcastError(f"{path}: not a NetCDF or HDF5 file")
    if kind == "netcdf3":
        with open(path, "rb") as f:
            version = f.read(4)[3]
        if version == 5:  # CDF-5 is not readable by scipy; netCDF-C checks it
            return
        import scipy.io

        failure = None
        with warnings.catch_warnings():
            # scipy warns when a half-opened memory map is closed by the garbage collector
            warnings.simplefilter("ignore")
            try:
                nc = scipy.io.netcdf_file(path, mode="r", mmap=True)
                nc.variables.clear()
                nc.close()
            except Exception as err:
                failure = err.__class__.__name__
                gc.collect()
        if failure is not None:
            raise SstcastError(f"{path}: truncated or corrupt NetCDF file ({failure})")


def _open_file(path: Path, variable: str | None) -> tuple[xr.Dataset, float, str]:
    """One file as ``sst(time, lat, lon)`` with lazily indexed (not yet dask) values.

    Returns the dataset (values still in the file's units), the offset to degC and the
    name of the source variable. Latitude/longitude are renamed but not reordered.
    """
    _check_readable(path)
    try:
        raw = xr.open_dataset(path, engine="netcdf4", chunks=None, mask_and_scale=True)
    except OSError as err:
        reason = str(err).split(":")[-1].strip() or err.__class__.__name__
        raise SstcastError(f"{path}: cannot be read as NetCDF ({reason}; truncated?)") from None
    except (ValueError, TypeError) as err:
        # CF decoding failed (most often the time units): say what xarray said, on one line.
        reason = " ".join(str(err).split())[:200] or err.__class__.__name__
        raise SstcastError(f"{path}: cannot decode the file's CF metadata ({reason})") from None
    where = str(path)
    name = find_sst_variable(raw, variable, where)
    raw = _with_candidate_coords(raw, name)
    var = raw[name]
    lat_name = _find_axis(var, "lat", where)
    lon_name = _find_axis(var, "lon", where)
    lat_dim, lon_dim = raw[lat_name].dims[0], raw[lon_name].dims[0]
    if lat_dim == lon_dim:
        raise SstcastError(
            f"{where}: {lat_name!r} and {lon_name!r} lie along the same dimension {lat_dim!r} "
            "(not a latitude/longitude grid)"
        )
    offset = celsius_offset(var.attrs.get("units"), f"{where}: variable {name!r}")

    # Time: the dimension along a CF time coordinate; a file without one is one step.
    others = [d for d in var.dims if d not in (lat_dim, lon_dim)]
    time_dim = next((d for d in others if _is_time(var, str(d))), None)
    for d in others:
        if d != time_dim and var.sizes[d] != 1:
            raise SstcastError(
                f"{where}: variable {name!r} has {var.sizes[d]} values along {d!r}; "
                "only time, lat, lon and singleton depth dimensions are supported"
            )
    var = var.isel({d: 0 for d in others if d != time_dim}, drop=True)
    if time_dim is None:
        scalar_times = [
            c
            for c in var.coords
            if var[c].ndim == 0
            and (np.issubdtype(var[c].dtype, np.datetime64) or var[c].dtype == object)
        ]
        if not scalar_times:
            raise SstcastError(f"{where}: variable {name!r} has no time dimension or coordinate")
        stamp = var[scalar_times[0]].values
        var = var.drop_vars(scalar_times).expand_dims(time=[stamp])
        time_dim = "time"
    if var.sizes[time_dim] == 0:
        raise SstcastError(f"{where}: variable {name!r} has no time steps ({time_dim} is empty)")
    times = _decode_time(np.asarray(var[time_dim].values), where)

    lat = np.asarray(raw[lat_name].values, dtype="float64")
    lon = np.asarray(raw[lon_name].values, dtype="float64")
    for axis, values in ((lat_name, lat), (lon_name, lon)):
        steps = np.diff(values)
        if not np.isfinite(values).all() or not (np.all(steps > 0) or np.all(steps < 0)):
            raise SstcastError(
                f"{where}: coordinate {axis!r} has missing or unordered values "
                f"({int((~np.isfinite(values)).sum())} not finite); the file's grid is broken"
            )
    var = var.reset_coords(drop=True).drop_vars(
        [c for c in (time_dim, lat_dim, lon_dim) if c in var.coords]
    )
    var = var.rename({time_dim: "time", lat_dim: "lat", lon_dim: "lon"})
    var = var.transpose("time", "lat", "lon")
    var = var.assign_coords(time=times, lat=lat, lon=lon)
    valid = _valid_range(raw[name], where)
    attrs = {k: v for k, v in var.attrs.items() if k in ("long_name", "units", "standard_name")}
    var.attrs = attrs
    ds = xr.Dataset({"sst": var}, attrs=_carried_attrs(raw.attrs))
    if valid is not None:
        ds.attrs["_valid_range"] = valid
    return ds, offset, name


def _carried_attrs(attrs: dict[str, object]) -> dict[str, str]:
    """The global attributes of a file kept in the cube (:data:`CARRIED_ATTRS`; any case,
    e.g. OISST's ``References``), renamed as the cube names them."""
    out = {}
    for key, value in attrs.items():
        target = CARRIED_ATTRS.get(str(key).lower())
        if target is not None and target not in out and str(value).strip():
            out[target] = str(value)
    return out


def _valid_range(var: xr.DataArray, where: str) -> tuple[float, float] | None:
    """The variable's CF ``valid_range`` (or ``valid_min``/``valid_max``) in its decoded
    units: CF gives them in the stored (packed) units, so packing is applied to them."""
    attrs = {**var.encoding, **var.attrs}
    lo, hi = -np.inf, np.inf
    if "valid_range" in attrs:
        pair = np.asarray(attrs["valid_range"], dtype=np.float64).ravel()
        if pair.size != 2:
            raise SstcastError(f"{where}: valid_range {attrs['valid_range']!r} is not two numbers")
        lo, hi = float(pair[0]), float(pair[1])
    lo = float(attrs.get("valid_min", lo))
    hi = float(attrs.get("valid_max", hi))
    if not (np.isfinite(lo) or np.isfinite(hi)):
        return None
    scale = float(attrs.get("scale_factor", 1.0))
    add = float(attrs.get("add_offset", 0.0))
    lo, hi = sorted((lo * scale + add, hi * scale + add))
    return (lo, hi)


# --------------------------------------------------------------------------------------
# Region cutting
# --------------------------------------------------------------------------------------
def _lon_window(bbox: Bbox) -> tuple[float, float]:
    """(start, width) of the box's longitudes: the output convention is -180..180 unless
    the box crosses 180 degrees, then 0..360."""
    _, _, west, east = bbox
    width = (east - west) % 360.0
    if width == 0:
        width = 360.0
    start = (west + 180.0) % 360.0 - 180.0
    if start + width > 180.0 + 1e-9:
        start = start % 360.0
    return start, width


def _runs(indices: np.ndarray) -> list[slice]:
    """Consecutive ascending integer runs as slices."""
    breaks = np.flatnonzero(np.diff(indices) != 1) + 1
    return [slice(int(r[0]), int(r[-1]) + 1) for r in np.split(indices, breaks) if r.size]


def cut_region(
    ds: xr.Dataset,
    bbox: Bbox,
    *,
    chunks: dict[str, int] | None = None,
    where: str = "data",
) -> xr.Dataset:
    """The cells of ``ds`` inside ``bbox = (south, north, west, east)`` (edges included).

    Output latitude ascends; output longitude ascends in -180..180, or in 0..360 when the
    box crosses 180 degrees (west > east, e.g. 170, -170). Works on any grid convention
    of ``ds`` and keeps values lazy: the selection is made of slices, so the file reader
    reads only the box. When the box spans the seam of the data's longitudes, the two
    pieces are chunked with ``chunks`` (if given) and concatenated.
    """
    south, north, west, east = (float(v) for v in bbox)
    lat = ds["lat"].values
    lon = ds["lon"].values
    lat_idx = np.flatnonzero((lat >= south - 1e-9) & (lat <= north + 1e-9))
    start, width = _lon_window(bbox)
    shifted = start + (lon - start) % 360.0
    lon_sel = shifted <= start + width + 1e-9
    if lat_idx.size == 0 or not lon_sel.any():
        raise SstcastError(
            f"{where}: region lat {south:g}..{north:g}, lon {west:g}..{east:g} is outside the "
            f"data (lat {lat.min():g}..{lat.max():g}, lon {lon.min():g}..{lon.max():g})"
        )
    lat_slice = slice(int(lat_idx.min()), int(lat_idx.max()) + 1)
    if lat.size > 1 and lat[0] > lat[-1]:
        stop = int(lat_idx.min()) - 1
        lat_slice = slice(int(lat_idx.max()), stop if stop >= 0 else None, -1)
    lon_idx = np.flatnonzero(lon_sel)
    lon_idx = lon_idx[np.argsort(shifted[lon_idx], kind="stable")]
    pieces = []
    for run in _runs(lon_idx):
        piece = ds.isel(lat=lat_slice, lon=run)
        if chunks is not None:
            piece = piece.chunk(chunks)
        pieces.append(piece)
    out = pieces[0] if len(pieces) == 1 else xr.concat(pieces, dim="lon", join="override")
    new_lon = start + (out["lon"].values - start) % 360.0
    return out.assign_coords(lon=new_lon.astype("float64"))


# --------------------------------------------------------------------------------------
# Many files
# --------------------------------------------------------------------------------------
def _read_chunks(ds: xr.Dataset) -> dict[str, int]:
    per_step = 4 * ds.sizes["lat"] * ds.sizes["lon"]
    steps = max(1, min(ds.sizes["time"], READ_CHUNK_BYTES // max(per_step, 1)))
    return {"time": int(steps), "lat": -1, "lon": -1}


def _same_grid(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, atol=1e-6))


def open_sst(
    files: Sequence[str | Path] | Sequence[InputFile] | str | Path,
    variable: str | None = None,
    *,
    bbox: Bbox | None = None,
    notes: list[str] | None = None,
) -> xr.Dataset:
    """Open SST files (paths, globs or URLs, see :func:`sstcast.sources.fetch_inputs`) as the
    standard lazy dataset (see module docstring).

    With ``bbox`` the region is cut from each file before anything is read, so only the
    box is ever read from disk. Times from all files are sorted; a time present in more
    than one file is kept from the first file that has it (the count dropped is logged and
    appended to ``notes``). Files must share one grid. The first file's ``title``,
    ``institution``, ``source``, ``references`` and ``license`` are kept
    (:data:`CARRIED_ATTRS`; a later file that differs is logged at debug level).
    """
    inputs = fetch_inputs(files)
    parts: list[xr.Dataset] = []
    spans: list[list[str]] = []  # [file, first time, last time]: to name a file's problem
    offsets: set[float] = set()
    names: set[str] = set()
    carried: dict[str, str] | None = None
    grid: tuple[Path, np.ndarray, np.ndarray] | None = None
    for item in inputs:
        path = item.local
        with named_errors(item):
            with netcdf_chunk_cache():
                ds, offset, name = _open_file(path, variable)
            valid = ds.attrs.pop("_valid_range", None)
            if carried is None:
                carried = dict(ds.attrs)
            elif ds.attrs != carried:
                differ = sorted(
                    k for k in {*carried, *ds.attrs} if carried.get(k) != ds.attrs.get(k)
                )
                log.debug(
                    "%s: global attributes %s differ from the first file's; the cube keeps "
                    "the first file's",
                    item.name,
                    ", ".join(differ),
                )
            ds.attrs = {}
            if grid is None:
                grid = (path, ds["lat"].values, ds["lon"].values)
            elif not (  # lat order may differ between files: each is sorted below
                _same_grid(np.sort(grid[1]), np.sort(ds["lat"].values))
                and _same_grid(grid[2], ds["lon"].values)
            ):
                raise SstcastError(
                    f"{path}: on a different grid ({ds.sizes['lat']}x{ds.sizes['lon']} "
                    f"lat/lon) than {grid[0].name} ({grid[1].size}x{grid[2].size}); files "
                    "must share one grid"
                )
            if bbox is not None:
                ds = cut_region(ds, bbox, chunks=None, where=str(path))
        ds = _sort_lat(ds)
        ds = ds.chunk(_read_chunks(ds))
        # CF: values outside the valid range are missing; so are non-finite values (lazy)
        sst = ds["sst"]
        keep = np.isfinite(sst)
        if valid is not None:
            keep = keep & (sst >= valid[0]) & (sst <= valid[1])
        ds["sst"] = sst.where(keep)
        if offset:
            ds["sst"] = ds["sst"] + np.float32(offset)
        times = ds["time"].values
        if len(times):
            spans.append([item.name, str(times.min()), str(times.max())])
        parts.append(ds)
        offsets.add(offset)
        names.add(name)

    ds = parts[0] if len(parts) == 1 else xr.concat(parts, dim="time", join="override")
    ds = _order_times(ds, notes)
    sst = ds["sst"].astype("float32")
    sst.attrs = {
        "units": "degC",
        "standard_name": "sea_surface_temperature",
        "long_name": "sea surface temperature",
        "coverage_content_type": "physicalMeasurement",  # ACDD
    }
    ds["sst"] = sst
    ds["mask"] = ds["sst"].notnull().any("time").astype("int8")
    ds["mask"].attrs = dict(MASK_ATTRS)
    ds["lat"].attrs = {
        "units": "degrees_north",
        "standard_name": "latitude",
        "long_name": "latitude",
        "axis": "Y",
    }
    ds["lon"].attrs = {
        "units": "degrees_east",
        "standard_name": "longitude",
        "long_name": "longitude",
        "axis": "X",
    }
    ds["time"].attrs = {"standard_name": "time", "long_name": "time", "axis": "T"}
    ds.attrs = {
        "sstcast_kind": "sst",
        "source_variable": ",".join(sorted(names)),
        "source_units": {frozenset({0.0}): "degC", frozenset({-273.15}): "K"}.get(
            frozenset(offsets), "K and degC"
        ),
        "Conventions": "CF-1.8",
        **(carried or {}),
    }
    ds.encoding["source_spans"] = spans
    return ds


#: SST values (°C) outside this range cannot be true (sea water freezes near -1.9 °C; the
#: warmest open ocean is below 36 °C): a field with any is refused unless allowed.
PLAUSIBLE_SST = (-5.0, 45.0)


def check_plausible(
    sst: xr.DataArray, spans: list[list[str]], limits: tuple[float, float] = PLAUSIBLE_SST
) -> None:
    """Refuse an SST field (°C) with values outside ``limits``, naming the first input file
    that has them, how many cells and the range seen (one dask pass over per-step min/max
    and counts)."""
    lo, hi = limits
    space = ("lat", "lon")
    stats = xr.Dataset(
        {"n": ((sst < lo) | (sst > hi)).sum(space), "lo": sst.min(space), "hi": sst.max(space)}
    ).compute()
    count, low, high = (np.asarray(stats[k].values) for k in ("n", "lo", "hi"))
    if not count.any():
        return
    first = np.flatnonzero(count)[0]
    when = np.datetime64(sst["time"].values[first], "s")
    source = next((f for f, a, b in spans if np.datetime64(a) <= when <= np.datetime64(b)), "input")
    raise SstcastError(
        f"{source}: {int(count.sum())} SST value(s) outside the plausible {lo:g}..{hi:g} °C "
        f"(seen {np.nanmin(low):.4g}..{np.nanmax(high):.4g} °C, first at {str(when)[:10]}); "
        "Kelvin labelled degC, or a missing fill value? (--allow-implausible keeps them)"
    )


def _sort_lat(ds: xr.Dataset) -> xr.Dataset:
    """Latitude ascending (a lazy reversed slice for descending grids)."""
    lat = ds["lat"].values
    if lat.size > 1 and lat[0] > lat[-1]:
        ds = ds.isel(lat=slice(None, None, -1))
    elif lat.size > 1 and not np.all(np.diff(lat) > 0):
        ds = ds.isel(lat=np.argsort(lat, kind="stable"))
    lon = ds["lon"].values
    if lon.size > 1 and not np.all(np.diff(lon) > 0):
        ds = ds.isel(lon=np.argsort(lon, kind="stable"))
    return ds


def _order_times(ds: xr.Dataset, notes: list[str] | None) -> xr.Dataset:
    """Sort by time, keeping the first occurrence of a repeated time (in file order)."""
    times = pd.DatetimeIndex(ds["time"].values)
    first = ~times.duplicated(keep="first")
    dropped = int((~first).sum())
    keep = np.flatnonzero(first)
    order = keep[np.argsort(times.values[keep], kind="stable")]
    if dropped:
        message = f"dropped {dropped} duplicated time step{'s' * (dropped > 1)} (kept the first)"
        log.warning(message)
        if notes is not None:
            notes.append(message)
    if not np.array_equal(order, np.arange(times.size)):
        if notes is not None and np.any(np.diff(times.values[keep]) < np.timedelta64(0)):
            notes.append("sorted time steps that were out of order")
        ds = ds.isel(time=order)
    return ds


def ocean_cells(ds: xr.Dataset) -> int:
    """Number of ocean cells in an SST dataset's mask (reads only the mask)."""
    return int(ds["mask"].sum().values)


def bbox_of(ds: xr.Dataset) -> Bbox:
    """(south, north, west, east) spanned by the dataset's cell centres."""
    return (
        float(ds["lat"].min()),
        float(ds["lat"].max()),
        float(ds["lon"].min()),
        float(ds["lon"].max()),
    )
