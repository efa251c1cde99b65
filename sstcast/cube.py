"""Zarr cubes: write (chunked, atomic, idempotent, with provenance), open and validate.

A cube is the one on-disk format between ingest and everything after it. Two kinds exist,
told apart by the global attribute ``sstcast_kind``:

- ``"sst"``: ``sst(time, lat, lon)`` float32 in degC and ``mask(lat, lon)`` int8 (1 = ocean);
- ``"taxibj"``: ``flow(time, direction, y, x)`` float32 (``direction`` = inflow, outflow;
  xarray forbids a dimension named like its variable) plus external factors over ``time``.

Writing goes through dask one block of time at a time, so memory stays bounded whatever the
size of the input; the cube is first written to a temporary sibling path (or URL prefix) and
moved into place only once complete, so an interrupted run never leaves something at ``out``
that looks like a cube. A cube whose provenance (source checksums, region, variable, sstcast
version) matches the dataset being written is left alone.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import dask
import fsspec
import numpy as np
import xarray as xr

from sstcast.errors import SstcastError
from sstcast.utils.io import exclusive_lock, is_url, sha256_file
from sstcast.utils.provenance import history_line, sstcast_version  # re-exported here
from sstcast.utils.report import progress_bar

log = logging.getLogger(__name__)

SST_KIND = "sst"
TAXIBJ_KIND = "taxibj"
KINDS = (SST_KIND, TAXIBJ_KIND)

#: Target size of one chunk (uncompressed). The contract asks for at least ~1 MB.
CHUNK_BYTES = 4 * 2**20
#: Target size of one write block (several chunks computed together by dask).
BLOCK_BYTES = 128 * 2**20

#: How long to wait for a dask.distributed scheduler before giving up.
SCHEDULER_TIMEOUT = "5s"

#: Global attributes that decide whether an existing cube already holds this dataset.
PROVENANCE_ATTRS = (
    "sstcast_kind",
    "source_files",
    "source_variable",
    "region",
    "bbox",
    "sstcast_version",
)

TAXIBJ_FACTORS = {
    "temperature": ("time",),
    "wind_speed": ("time",),
    "weather": ("time", "weather_class"),
    "holiday": ("time",),
    "day_of_week": ("time",),
}


# --------------------------------------------------------------------------------------
# Provenance helpers (the version and the history line: sstcast.utils.provenance)
# --------------------------------------------------------------------------------------
def file_provenance(
    paths: Iterable[str | Path], known: Iterable[dict[str, Any]] = ()
) -> list[dict[str, Any]]:
    """``[{path, sha256, size, mtime_ns}, ...]`` for the given files, in the given order.

    ``known`` are records from an earlier cube: a file whose path, size and modification
    time all match one of them keeps its recorded checksum instead of being read again (the
    quick check of make and rsync), so re-running an ingest of unchanged inputs reads none
    of them. Any change of size or time means the file is hashed again.
    """
    previous = {
        (r["path"], int(r["size"]), int(r["mtime_ns"])): r["sha256"]
        for r in known
        if {"path", "size", "mtime_ns", "sha256"} <= r.keys()
    }
    out = []
    for p in paths:
        p = Path(p).resolve()
        stat = p.stat()
        key = (str(p), stat.st_size, stat.st_mtime_ns)
        digest = previous.get(key) or sha256_file(p)
        out.append({"path": key[0], "sha256": digest, "size": key[1], "mtime_ns": key[2]})
    return out


def recorded_sources(out: str | Path) -> list[dict[str, Any]]:
    """The ``source_files`` records of the cube at ``out``; empty when there is none."""
    try:
        attrs = xr.open_zarr(str(out), consolidated=False).attrs
        files = attrs.get("source_files", "[]")
        records = json.loads(files) if isinstance(files, str) else files
    except Exception:  # no cube, not a cube, unreadable: nothing is known
        return []
    return [r for r in records if isinstance(r, dict)]


def _provenance_key(attrs: dict[str, Any]) -> dict[str, Any] | None:
    """The comparable part of a cube's provenance; None when the sources are unknown."""
    if "source_files" not in attrs:
        return None
    key: dict[str, Any] = {}
    for name in PROVENANCE_ATTRS:
        value = attrs.get(name)
        if name == "source_files":
            files = json.loads(value) if isinstance(value, str) else value
            # in order: which file wins a duplicated time depends on it
            value = [(f["sha256"], int(f["size"])) for f in files]
        elif name == "bbox" and value is not None:
            value = [round(float(v), 6) for v in np.ravel(value)]
        key[name] = value
    return key


# --------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------
def _is_ascending(values: np.ndarray) -> bool:
    return values.size < 2 or bool(np.all(np.diff(values) > 0))


def require_variable(
    ds: xr.Dataset, name: str, dims: tuple[str, ...], where: str, missing: str = "missing variable"
) -> xr.DataArray:
    """``ds[name]`` when it exists with exactly ``dims``; a one-line error naming ``where``
    otherwise (shared by the cube and forecast-file schema checks)."""
    if name not in ds.variables:
        raise SstcastError(f"{where}: {missing} {name!r}")
    var = ds[name]
    if tuple(var.dims) != dims:
        raise SstcastError(f"{where}: variable {name!r} has dims {var.dims}, expected {dims}")
    return var


def _check_time(ds: xr.Dataset, where: str) -> None:
    time = require_variable(ds, "time", ("time",), where)
    if not np.issubdtype(time.dtype, np.datetime64):
        raise SstcastError(f"{where}: time is {time.dtype}, expected datetime64")
    if not _is_ascending(time.values):
        raise SstcastError(f"{where}: time is not strictly increasing")


def validate_cube(ds: xr.Dataset, where: str = "cube") -> None:
    """Check that ``ds`` follows the SST or TaxiBJ cube schema; SstcastError otherwise.

    Only structure is checked (dims, coordinates, dtypes, ordering, the ``sstcast_kind``
    attribute, a readable ``source_files``); values are not read except for coordinates.
    """
    kind = ds.attrs.get("sstcast_kind")
    if kind not in KINDS:
        raise SstcastError(
            f"{where}: attribute sstcast_kind is {kind!r}, expected one of {list(KINDS)}"
        )
    if "source_files" in ds.attrs:
        try:
            files = json.loads(ds.attrs["source_files"])
            if not all({"path", "sha256", "size"} <= set(f) for f in files):
                raise ValueError
        except (TypeError, ValueError):
            raise SstcastError(
                f"{where}: attribute source_files is not a JSON list of {{path, sha256, size}}"
            ) from None
    _check_time(ds, where)
    _VALIDATORS[kind](ds, where)


def _validate_sst(ds: xr.Dataset, where: str) -> None:
    """The SST cube: ascending lat/lon, float32 ``sst`` in °C, int8 ``mask``."""
    for axis in ("lat", "lon"):
        coord = require_variable(ds, axis, (axis,), where)
        if not _is_ascending(coord.values):
            raise SstcastError(f"{where}: {axis} is not strictly ascending")
    sst = require_variable(ds, "sst", ("time", "lat", "lon"), where)
    if sst.dtype != np.float32:
        raise SstcastError(f"{where}: sst is {sst.dtype}, expected float32")
    if sst.attrs.get("units") != "degC":
        raise SstcastError(f"{where}: sst units are {sst.attrs.get('units')!r}, expected 'degC'")
    mask = require_variable(ds, "mask", ("lat", "lon"), where)
    if mask.dtype != np.int8:
        raise SstcastError(f"{where}: mask is {mask.dtype}, expected int8")


def _validate_taxibj(ds: xr.Dataset, where: str) -> None:
    """The TaxiBJ cube: float32 ``flow`` (time, direction, y, x) and the external factors."""
    flow = require_variable(ds, "flow", ("time", "direction", "y", "x"), where)
    if flow.dtype != np.float32:
        raise SstcastError(f"{where}: flow is {flow.dtype}, expected float32")
    names = [str(v) for v in ds["direction"].values] if "direction" in ds.coords else []
    if names != ["inflow", "outflow"]:
        raise SstcastError(
            f"{where}: direction coordinate is {names}, expected ['inflow', 'outflow']"
        )
    for name, dims in TAXIBJ_FACTORS.items():
        require_variable(ds, name, dims, where)
    if "slots_per_day" not in ds.attrs:
        raise SstcastError(f"{where}: missing attribute slots_per_day")


#: The schema check of each cube kind (the ``sstcast_kind`` attribute).
_VALIDATORS = {SST_KIND: _validate_sst, TAXIBJ_KIND: _validate_taxibj}


# --------------------------------------------------------------------------------------
# Store locations: local paths and fsspec URLs
# --------------------------------------------------------------------------------------
def _fs_and_path(url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    fs, _, paths = fsspec.get_fs_token_paths(url)
    return fs, paths[0]


def _cube_exists(out: str) -> bool:
    """Whether something a cube could be is at ``out`` (its root ``zarr.json``)."""
    if is_url(out):
        fs, path = _fs_and_path(out)
        return fs.exists(f"{path.rstrip('/')}/zarr.json")
    return (Path(out) / "zarr.json").exists()


def _out_exists(out: str) -> bool:
    if is_url(out):
        fs, path = _fs_and_path(out)
        return fs.exists(path)
    return os.path.lexists(out)


def _read_attrs(out: str) -> dict[str, Any] | None:
    """Global attributes of the Zarr group at ``out``; None when it is not readable."""
    try:
        import zarr

        return dict(zarr.open_group(out, mode="r").attrs)
    except Exception:
        return None


def _temp_location(out: str) -> str:
    """A hidden sibling of ``out`` with a unique suffix."""
    tag = uuid.uuid4().hex[:8]
    if is_url(out):
        head, _, name = out.rstrip("/").rpartition("/")
        return f"{head}/.{name}.tmp-{tag}"
    p = Path(out)
    return str(p.parent / f".{p.name}.tmp-{tag}")


def _remove(location: str) -> None:
    """Remove a store (directory or URL prefix) if it exists."""
    if is_url(location):
        fs, path = _fs_and_path(location)
        if fs.exists(path):
            fs.rm(path, recursive=True)
    elif os.path.isdir(location) and not os.path.islink(location):
        shutil.rmtree(location)
    elif os.path.lexists(location):
        os.remove(location)


def _move_into_place(tmp: str, out: str) -> None:
    """Move the finished temporary store to ``out`` (replacing what is there).

    Locally this is one ``rename`` (atomic on one filesystem). For fsspec URLs every object
    is moved separately, the root ``zarr.json`` last, so a move interrupted half way leaves
    something that does not open as a cube.
    """
    if not is_url(out):
        if os.path.lexists(out):
            trash = _temp_location(out) + "-old"
            os.rename(out, trash)
            os.rename(tmp, out)
            _remove(trash)
        else:
            os.rename(tmp, out)
        return
    fs, src = _fs_and_path(tmp)
    _, dst = _fs_and_path(out)
    src, dst = src.rstrip("/"), dst.rstrip("/")
    if fs.exists(dst):
        fs.rm(dst, recursive=True)
    files = sorted(fs.find(src))
    root_meta = f"{src}/zarr.json"
    for f in [f for f in files if f != root_meta] + [root_meta]:
        fs.mv(f, dst + f[len(src) :])
    if fs.exists(src):
        fs.rm(src, recursive=True)


# --------------------------------------------------------------------------------------
# Scheduler and progress
# --------------------------------------------------------------------------------------
def check_scheduler_address(address: str) -> None:
    """A one-line error at once for something that is not ``[proto://]host:port``."""
    if not re.match(r"^[a-z]+://\S+$|^[\w.\-\[\]:]+:\d+$", address.strip()):
        raise SstcastError(f"--scheduler {address!r}: not a scheduler address (tcp://host:8786)")


@contextlib.contextmanager
def use_scheduler(scheduler: Any = None) -> Iterator[None]:
    """Run dask work inside on ``scheduler``: None (dask's own configuration), an address
    of a dask.distributed scheduler (``tcp://host:8786``) or a ``distributed.Client``."""
    if scheduler is None:
        yield
        return
    if isinstance(scheduler, str):
        check_scheduler_address(scheduler)
        try:
            from distributed import Client
        except ImportError:
            raise SstcastError(
                f"--scheduler {scheduler}: dask.distributed is not installed "
                "(pip install 'sstcast[distributed]')"
            ) from None

        try:
            client = Client(scheduler, timeout=SCHEDULER_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError) as err:
            raise SstcastError(
                f"--scheduler {scheduler}: cannot connect to the dask scheduler ({err})"
            ) from None
        try:
            with dask.config.set(scheduler=client):
                yield
        finally:
            client.close()
        return
    with dask.config.set(scheduler=scheduler):
        yield


class _Progress:
    """A progress bar for bytes written (draws nothing when disabled)."""

    def __init__(self, enabled: bool, total_bytes: int, label: str):
        self._bar = progress_bar(enabled, unit="bytes")
        self._task = self._bar.add_task(label, total=total_bytes)

    def __enter__(self) -> _Progress:
        self._bar.start()
        return self

    def advance(self, nbytes: int) -> None:
        self._bar.advance(self._task, nbytes)

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------
def time_chunk_size(ds: xr.Dataset, target_bytes: int | None = None) -> int:
    """Steps per time chunk so that the largest variable's chunk is about ``target_bytes``
    (default ``CHUNK_BYTES``), at most the whole time axis."""
    target_bytes = CHUNK_BYTES if target_bytes is None else target_bytes
    per_step = max(
        (
            var.dtype.itemsize * math.prod(s for d, s in var.sizes.items() if d != "time")
            for var in ds.data_vars.values()
            if "time" in var.dims
        ),
        default=1,
    )
    return int(max(1, min(ds.sizes.get("time", 1), math.ceil(target_bytes / per_step))))


def _prepare(ds: xr.Dataset, chunk: int) -> xr.Dataset:
    """Chunk every variable along time only, clear encodings inherited from the source."""
    ds = ds.copy()
    for name in list(ds.coords):
        if ds[name].dtype.kind == "U":  # variable-length strings have a Zarr v3 spec
            ds = ds.assign_coords({name: ds[name].astype(object)})
    for name, var in ds.variables.items():
        var.encoding = {}
        if name in ds.data_vars:
            if "time" in var.dims:
                chunks = {d: (chunk if d == "time" else -1) for d in var.dims}
            else:
                chunks = {d: -1 for d in var.dims}
            ds[name] = ds[name].chunk(chunks)
            ds[name].encoding = {"chunks": tuple(ds[name].data.chunksize)}
    return ds


def _write_blocks(
    ds: xr.Dataset,
    tmp: str,
    chunk: int,
    progress: bool,
    label: str,
) -> None:
    """Write ``ds`` to the store ``tmp``: metadata first, then time blocks one at a time.

    Each block is a whole number of chunks, computed by dask in one go; variables without a
    time dimension (the SST mask) are written last. A time-independent variable called
    ``mask`` that depends on all times is computed as the blocks go (``notnull().any``),
    so the source is read exactly once.
    """
    time_vars = [n for n, v in ds.data_vars.items() if "time" in v.dims]
    static_vars = [n for n, v in ds.data_vars.items() if "time" not in v.dims]
    ds.to_zarr(tmp, mode="w-", compute=False, consolidated=False, zarr_format=3)

    nt = ds.sizes["time"]
    per_step = sum(ds[n].nbytes // max(nt, 1) for n in time_vars)
    block = chunk * max(1, BLOCK_BYTES // max(per_step * chunk, 1))
    total = int(sum(ds[n].nbytes for n in ds.data_vars))
    drop = list(ds.coords)

    derived_mask = "mask" in static_vars and "sst" in time_vars
    ocean = None
    with _Progress(progress, total, label) as bar:
        for start in range(0, nt, block):
            sl = slice(start, min(start + block, nt))
            part = ds[time_vars].isel(time=sl).drop_vars(drop, errors="ignore")
            store = part.to_zarr(
                tmp, region={"time": sl}, compute=False, consolidated=False, zarr_format=3
            )
            if derived_mask:
                _, any_valid = dask.compute(store, part["sst"].notnull().any("time").data)
                ocean = any_valid if ocean is None else (ocean | any_valid)
            else:
                dask.compute(store)
            bar.advance(int(sum(part[n].nbytes for n in time_vars)))
        if static_vars:
            static = ds[static_vars].drop_vars(drop, errors="ignore")
            if derived_mask and ocean is not None:
                static["mask"] = (("lat", "lon"), ocean.astype(np.int8))
            static = static.compute()
            static.to_zarr(
                tmp,
                region={d: slice(None) for d in static.dims},
                consolidated=False,
                zarr_format=3,
            )
            bar.advance(int(sum(static[n].nbytes for n in static_vars)))


def write_cube(
    ds: xr.Dataset,
    out: str | Path,
    *,
    force: bool = False,
    progress: bool = True,
    scheduler: Any = None,
    check: Callable[[xr.Dataset], None] | None = None,
) -> str:
    """Write ``ds`` as a Zarr v3 cube at ``out`` (a path or an fsspec URL); return ``out``.

    - chunked along time (about ``CHUNK_BYTES`` per chunk), whole grid in space;
    - written through dask block by block, so memory stays bounded for any input size;
    - atomic: written to a hidden temporary sibling and moved to ``out`` once complete; on
      any error the temporary store is removed and ``out`` is left as it was;
    - idempotent: if ``out`` holds a cube with the same provenance (``PROVENANCE_ATTRS``),
      nothing is done; a cube with a different provenance is only replaced with ``force``.

    ``check`` is called on the written (temporary) cube before it is moved into place; it
    may raise SstcastError to reject the result (the SST ingest uses it to refuse a region
    without ocean). ``scheduler`` is a dask.distributed address or Client (see
    :func:`use_scheduler`).
    """
    path, _ = write_cube_status(
        ds, out, force=force, progress=progress, scheduler=scheduler, check=check
    )
    return path


def write_cube_status(
    ds: xr.Dataset,
    out: str | Path,
    *,
    force: bool = False,
    progress: bool = True,
    scheduler: Any = None,
    check: Callable[[xr.Dataset], None] | None = None,
) -> tuple[str, bool]:
    """Like :func:`write_cube`, but also say whether anything was written."""
    out = str(out)
    if out.startswith("file://"):  # a local path spelled as a URL: written as a local path
        out = out[len("file://") :]
    out = out.rstrip("/") if is_url(out) else str(Path(out).expanduser())
    ds = ds.copy()
    ds.attrs.setdefault("Conventions", "CF-1.8")
    ds.attrs.setdefault("sstcast_version", sstcast_version())
    ds.attrs.setdefault("history", history_line("write_cube"))
    validate_cube(ds, where=f"dataset for {out}")
    with _writer_lock(out):
        return _write_locked(ds, out, force, progress, scheduler, check)


COMPLETE_ATTR = "sstcast_complete"
CHUNKS_ATTR = "sstcast_chunk_files"


def _chunk_files(store: str) -> int | None:
    """Number of chunk files of a local Zarr v3 store (None for URLs)."""
    if is_url(store):
        return None
    return sum(
        1 for p in Path(store).rglob("*") if p.is_file() and "c" in p.relative_to(store).parts[1:2]
    )


def _mark_complete(store: str) -> None:
    """Record the chunk count and the completion mark in the store's root attributes."""
    import zarr

    group = zarr.open_group(store, mode="r+")
    count = _chunk_files(store)
    attrs = {COMPLETE_ATTR: True}
    if count is not None:
        attrs[CHUNKS_ATTR] = count
    group.attrs.update(attrs)


def _intact(out: str, attrs: dict[str, Any]) -> bool:
    """A complete cube whose chunk files are all still there (local stores)."""
    if not attrs.get(COMPLETE_ATTR):
        return False
    expected = attrs.get(CHUNKS_ATTR)
    found = _chunk_files(out)
    return expected is None or found is None or int(expected) == found


def _remove_stale_temporaries(out: str) -> None:
    """Temporaries of earlier writes of ``out`` (``.<name>.tmp-*``) whose processes died:
    the caller holds the writer lock, so no live process owns them."""
    if is_url(out):
        return
    path = Path(out)
    if not path.parent.is_dir():
        return
    for stale in path.parent.glob(f".{path.name}.tmp-*"):
        log.info("note: removing %s, left by an interrupted write", stale)
        _remove(str(stale))


def writer_lock_path(out: str | Path) -> Path:
    """The lock file of the local cube at ``out`` (in the temporary folder, named after the
    cube's absolute path)."""
    import hashlib
    import tempfile

    key = hashlib.sha256(str(Path(out).resolve()).encode()).hexdigest()[:20]
    folder = Path(tempfile.gettempdir()) / "sstcast-locks"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{key}.lock"


@contextlib.contextmanager
def _writer_lock(out: str) -> Iterator[None]:
    """One writer at a time for a local cube, for the whole check-and-write: a second writer
    is refused at once with a clear line. Object-store URLs are not locked."""
    if is_url(out):
        yield
        return
    busy = f"{out}: another sstcast process is writing this cube; wait for it to finish"
    with exclusive_lock(writer_lock_path(out), busy):
        yield


def _write_locked(
    ds: xr.Dataset,
    out: str,
    force: bool,
    progress: bool,
    scheduler: Any,
    check: Callable[[xr.Dataset], None] | None,
) -> tuple[str, bool]:
    _remove_stale_temporaries(out)
    if _out_exists(out):
        existing = _read_attrs(out) if _cube_exists(out) else None
        new_key = _provenance_key(ds.attrs)
        same = existing is not None and new_key is not None and _provenance_key(existing) == new_key
        if same and _intact(out, existing):
            log.info("%s is up to date (same sources, region and version); nothing to do", out)
            return out, False
        if same:  # our own cube, incomplete or with chunks gone: written again
            log.info(
                "note: %s is incomplete (missing chunks or no completion mark); rewriting", out
            )
            force = True
        if existing is None or existing.get("sstcast_kind") not in KINDS:
            # --force only ever replaces a cube: never a folder of inputs or anything else
            raise SstcastError(
                f"{out}: already holds something that is not an sstcast cube; choose another --out"
            )
        if not force:
            raise SstcastError(
                f"{out}: already holds a cube with different provenance; use --force to replace it"
            )

    chunk = time_chunk_size(ds)
    prepared = _prepare(ds, chunk)
    tmp = _temp_location(out)
    created_dirs: list[Path] = []
    if not is_url(out):
        parent = Path(out).parent
        while not parent.exists():
            created_dirs.append(parent)
            parent = parent.parent
        Path(out).parent.mkdir(parents=True, exist_ok=True)
    try:
        with use_scheduler(scheduler):
            _write_blocks(prepared, tmp, chunk, progress, label=f"writing {Path(out).name}")
        if check is not None:
            check(xr.open_zarr(tmp, consolidated=False))
        _mark_complete(tmp)  # the very last write: only now can it open as a cube
        _move_into_place(tmp, out)
    except BaseException:
        with contextlib.suppress(Exception):
            _remove(tmp)
        for d in created_dirs:
            with contextlib.suppress(OSError):
                d.rmdir()
        raise
    log.info("wrote %s", out)
    return out, True


# --------------------------------------------------------------------------------------
# Opening
# --------------------------------------------------------------------------------------
def open_cube(path: str | Path) -> xr.Dataset:
    """Open a cube written by :func:`write_cube` (lazily, dask-backed) and validate it."""
    path = str(path)
    if not _cube_exists(path):
        raise SstcastError(f"{path}: no cube there (run `sstcast ingest` first)")
    try:
        ds = xr.open_zarr(path, consolidated=False)
    except Exception as err:
        raise SstcastError(f"{path}: not a readable Zarr cube ({err.__class__.__name__})") from None
    validate_cube(ds, where=path)
    if not ds.attrs.get(COMPLETE_ATTR):
        raise SstcastError(
            f"{path}: an incomplete cube (its write was interrupted, or it predates sstcast "
            "0.2); run the ingest again"
        )
    return ds


def as_dataset(cube: xr.Dataset | str | Path) -> xr.Dataset:
    """``cube`` itself when it is already a Dataset (opened, or built in memory), else the
    cube at that path or URL opened with :func:`open_cube`.

    What the data stage takes as "a cube": callers may pass either, and an in-memory dataset
    is used as it is (not validated), so tests and notebooks need not write one first.
    """
    if isinstance(cube, xr.Dataset):
        return cube
    return open_cube(cube)
