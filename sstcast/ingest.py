"""Ingest: raw files -> a Zarr cube (one call per source).

:func:`ingest_sst` reads CF NetCDF SST files, cuts a region and writes an SST cube;
:func:`ingest_source` does the same for a source of ``data_catalog.yaml`` (SST or TaxiBJ),
resolving its files, region and output path. The built-in sample is a source like any other
(``sstcast.sample`` writes its files; ingest does not import it).
Both are idempotent (an up-to-date cube is left alone) and write atomically
(see :func:`sstcast.cube.write_cube`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from sstcast.config import Catalog, ConfigError, Source, load_catalog
from sstcast.config.catalog import check_bbox
from sstcast.cube import (
    file_provenance,
    history_line,
    open_cube,
    recorded_sources,
    write_cube_status,
)
from sstcast.errors import SstcastError
from sstcast.sources import (
    Bbox,
    InputFile,
    download_folder,
    fetch_inputs,
    is_remote,
    list_inputs,
)
from sstcast.utils.io import is_url, sha256_file
from sstcast.utils.report import progress_bar
from sstcast.utils.timeaxis import infer_frequency

log = logging.getLogger(__name__)


@dataclass
class IngestResult:
    """What an ingest did: where the cube is, whether it was written, and its shape."""

    path: str
    written: bool
    kind: str
    sizes: dict[str, int]
    time_range: tuple[str, str]
    ocean_cells: int | None
    nbytes: int
    n_files: int
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """A few human-readable lines for the CLI."""
        shape = " x ".join(f"{d} {n}" for d, n in self.sizes.items())
        lines = [
            f"cube      {self.path}" + ("" if self.written else "  (up to date, nothing to do)"),
            f"shape     {shape}",
            f"time      {self.time_range[0]} .. {self.time_range[1]}",
        ]
        if self.ocean_cells is not None:
            lines.append(f"ocean     {self.ocean_cells} cells")
        lines.append(f"size      {_human_bytes(self.nbytes)} on disk from {self.n_files} file(s)")
        lines += [f"note      {n}" for n in self.notes]
        return "\n".join(lines)


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"  # pragma: no cover


def store_size(path: str) -> int:
    """Bytes on disk (or in the object store) of a cube."""
    if is_url(path):
        import fsspec

        fs, _, paths = fsspec.get_fs_token_paths(path)
        return int(fs.du(paths[0]))
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def parse_bbox(text: str) -> Bbox:
    """``"S,N,W,E"`` (degrees) -> a tuple; SstcastError naming ``--bbox`` otherwise."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise SstcastError(f"--bbox {text!r}: expected four numbers S,N,W,E") from None
    if len(values) != 4:
        raise SstcastError(f"--bbox {text!r}: expected four numbers S,N,W,E")
    check_bbox(*values, where=f"--bbox {text!r}")
    return values  # type: ignore[return-value]


def _bbox_label(bbox: Bbox) -> str:
    return "bbox_" + "_".join(f"{v:g}" for v in bbox)


def _provenance(inputs: list[InputFile], known: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``{path, sha256, size[, mtime_ns]}`` of each input. A local file is recorded by its
    absolute path (and keeps a checksum ``known`` for the same size and time, see
    :func:`sstcast.cube.file_provenance`); a remote one by its URL, with the checksum and
    size of the bytes downloaded (no time: it is downloaded, and hashed, on every run)."""
    records: list[dict[str, Any]] = []
    for item in inputs:
        if item.remote:
            digest = sha256_file(item.local)
            records.append({"path": item.name, "sha256": digest, "size": item.local.stat().st_size})
        else:
            records += file_provenance([item.local], known)
    return records


def _read_files_with_progress(
    inputs: list[InputFile], progress: bool, out: str | Path | None = None
) -> list[dict[str, Any]]:
    """Checksums of the input files (streamed), with a progress bar over files. Local files
    that the cube at ``out`` already records with the same size and time are not read again."""
    known = recorded_sources(out) if out is not None else []
    if not progress:
        return _provenance(inputs, known)
    records = []
    with progress_bar(progress) as bar:
        task = bar.add_task("reading source files", total=len(inputs))
        for item in inputs:
            records += _provenance([item], known)
            bar.advance(task)
    return records


#: ``Conventions`` of an SST cube: CF for the variables, ACDD for the discovery attributes.
SST_CONVENTIONS = "CF-1.8, ACDD-1.3"


def _iso(value: np.datetime64) -> str:
    """ISO 8601 UTC text of a datetime64, to the second (ACDD ``time_coverage_*``)."""
    return np.datetime_as_string(np.datetime64(value, "s"), unit="s") + "Z"


def acdd_attrs(ds: xr.Dataset) -> dict[str, Any]:
    """ACDD-1.3 extent attributes of an SST dataset: ``geospatial_lat/lon_min/max`` (cell
    centres; longitudes in (-180, 180], so a box across 180° has ``lon_min > lon_max`` as
    ACDD says, and a box ending at 180° E ends at 180), their units, and
    ``time_coverage_start/end``."""
    lat = ds["lat"].values
    lon = 180.0 - (180.0 - ds["lon"].values) % 360.0
    attrs: dict[str, Any] = {
        "geospatial_lat_min": float(lat.min()),
        "geospatial_lat_max": float(lat.max()),
        "geospatial_lat_units": "degrees_north",
        "geospatial_lon_min": float(lon[0]),
        "geospatial_lon_max": float(lon[-1]),
        "geospatial_lon_units": "degrees_east",
    }
    times = ds["time"].values
    if times.size:
        attrs["time_coverage_start"] = _iso(times.min())
        attrs["time_coverage_end"] = _iso(times.max())
    return attrs


def _result(path: str, written: bool, n_files: int, notes: list[str]) -> IngestResult:
    cube = open_cube(path)
    times = cube["time"].values
    ocean = int(cube["mask"].sum().values) if "mask" in cube else None
    return IngestResult(
        path=path,
        written=written,
        kind=str(cube.attrs["sstcast_kind"]),
        sizes={str(d): int(n) for d, n in cube.sizes.items()},
        time_range=(str(times[0])[:19], str(times[-1])[:19]) if times.size else ("", ""),
        ocean_cells=ocean,
        nbytes=store_size(path),
        n_files=n_files,
        notes=notes,
    )


def refuse_overlap(out: str, inputs: Sequence[Path]) -> None:
    """An output that is an input file, or a folder holding input files, is refused: the
    cube (and a later ``--force``) could replace the very files it is made from."""
    if is_url(out):
        return
    target = Path(out).expanduser().resolve()
    for path in inputs:
        p = Path(path).resolve()
        if p == target or target in p.parents:
            raise SstcastError(
                f"--out {out}: overlaps the input {path} (the cube would hold or replace its own "
                "inputs); choose another --out"
            )


def _write(
    ds: xr.Dataset,
    out: str,
    *,
    force: bool,
    progress: bool,
    scheduler: Any,
    check: Any = None,
) -> bool:
    """write_cube_status with library read/write failures turned into one-line errors."""
    sources = json.loads(ds.attrs.get("source_files", "[]"))
    refuse_overlap(out, [Path(f["path"]) for f in sources if not is_url(f["path"])])
    try:
        _, written = write_cube_status(
            ds, out, force=force, progress=progress, scheduler=scheduler, check=check
        )
    except (OSError, RuntimeError) as err:
        reason = " ".join(str(err).split()) or err.__class__.__name__
        raise SstcastError(f"{out}: ingest failed, nothing written ({reason})") from None
    return written


def downloads_near(files: Any, out: str | Path, scheduler: Any) -> Path | None:
    """Where the copies of remote inputs go: ``$TMPDIR`` (None) normally; with a dask
    scheduler, which may run its workers on other machines that read the inputs, the cube's
    own folder (they must see it to write the cube). A remote ``out`` with remote inputs and
    a scheduler has no folder every worker is known to see: a one-line error."""
    items = [files] if isinstance(files, str | Path | InputFile) else list(files)
    remote = any(i.remote if isinstance(i, InputFile) else is_remote(i) for i in items)
    if scheduler is None or not remote:
        return None
    if is_url(str(out)):
        raise SstcastError(
            f"--scheduler with remote --files and a remote cube {out}: the workers need the "
            "downloaded files on storage they all see; copy the files there first and pass "
            "those paths"
        )
    return Path(out).resolve().parent


def ingest_sst(
    files: Sequence[str | Path] | str | Path,
    out: str | Path,
    bbox: Bbox | None = None,
    *,
    region: str | None = None,
    variable: str | None = None,
    frequency: str | None = None,
    force: bool = False,
    scheduler: Any = None,
    progress: bool = True,
    allow_implausible: bool = False,
) -> IngestResult:
    """CF NetCDF SST files (paths or globs) -> an SST cube at ``out`` (path or fsspec URL).

    ``bbox`` is (south, north, west, east) in degrees (None: the whole grid); ``region`` is
    the name recorded in the cube (default: derived from the box). ``frequency`` is
    recorded when the time axis has no regular frequency to infer. Raises SstcastError,
    with nothing written, on any bad input, and when the region holds no ocean value.
    Values outside the files' ``valid_range`` and non-finite values are missing (CF); a
    field with °C values no sea can have is refused unless ``allow_implausible``.
    """
    from sstcast.sources.netcdf_sst import netcdf_chunk_cache

    # A small HDF5 chunk cache for every file opened during the whole ingest (xarray may
    # reopen files while writing); see netcdf_sst.CHUNK_CACHE_BYTES. Remote files are
    # downloaded into a folder that lives as long as the ingest (values are read lazily).
    if not isinstance(files, str | Path | InputFile):
        files = list(files)  # read twice below
    near = downloads_near(files, out, scheduler)
    with netcdf_chunk_cache(), download_folder(near) as folder:
        return _ingest_sst(
            fetch_inputs(files, folder),
            out,
            bbox,
            region,
            variable,
            frequency,
            force,
            scheduler,
            progress,
            allow_implausible,
        )


def _ingest_sst(
    inputs: list[InputFile],
    out: str | Path,
    bbox: Bbox | None,
    region: str | None,
    variable: str | None,
    frequency: str | None,
    force: bool,
    scheduler: Any,
    progress: bool,
    allow_implausible: bool = False,
) -> IngestResult:
    from sstcast.sources.netcdf_sst import bbox_of, check_plausible, open_sst

    notes: list[str] = []
    ds = open_sst(inputs, variable, bbox=bbox, notes=notes)
    box = tuple(float(v) for v in bbox) if bbox is not None else bbox_of(ds)
    label = region or (_bbox_label(box) if bbox is not None else "full")
    inferred = infer_frequency(ds["time"])
    freq = inferred if inferred != "irregular" else (frequency or "irregular")
    if frequency and inferred not in ("irregular", frequency):  # the catalog disagrees
        notes.append(f"time steps are {inferred}, the catalog says {frequency}")
    sources = _read_files_with_progress(inputs, progress, out)
    action = (
        f"ingest_sst of {len(inputs)} file(s), variable {ds.attrs['source_variable']}, "
        f"region {label} {list(box)}"
    )
    if notes:
        action += "; " + "; ".join(notes)
    ds.attrs.update(
        {
            "title": f"sea surface temperature, region {label}",
            "summary": (
                f"Sea surface temperature (degC) on the source grid, region {label} "
                f"(lat {box[0]:g}..{box[1]:g}, lon {box[2]:g}..{box[3]:g}), from "
                f"{len(inputs)} file(s) of {ds.attrs.get('source_title') or 'a CF NetCDF product'}"
                f" (variable {ds.attrs['source_variable']}), {freq} steps; written by sstcast"
            ),
            "keywords": "sea surface temperature, SST, ocean",
            "region": label,
            "bbox": [float(v) for v in box],
            "source_files": json.dumps(sources),
            "frequency": freq,
            "history": history_line(action),
            "Conventions": SST_CONVENTIONS,
            **acdd_attrs(ds),
        }
    )

    spans = ds.encoding.pop("source_spans", [])

    def has_ocean(cube: xr.Dataset) -> None:
        if not allow_implausible:
            check_plausible(cube["sst"], spans)
        if not bool(cube["mask"].any().values):
            raise SstcastError(
                f"{inputs[0].name}: region {label} (lat {box[0]:g}..{box[1]:g}, lon {box[2]:g}.."
                f"{box[3]:g}) has no ocean values (all {cube.sizes['lat']}x{cube.sizes['lon']} "
                "cells are land or missing)"
            )

    # A region without ocean is refused before anything is written: the first step decides
    # cheaply; only an empty first step costs a (dask, bounded-memory) pass over all times.
    if not bool(ds["sst"].isel(time=0).notnull().any()) and not bool(ds["mask"].any()):
        has_ocean(ds)
    out = str(out)
    written = _write(ds, out, force=force, progress=progress, scheduler=scheduler, check=has_ocean)
    return _result(out, written, len(inputs), notes)


def ingest_taxibj(
    files: Sequence[str | Path] | str | Path,
    out: str | Path,
    *,
    meteorology: str | Path | None = None,
    holidays: str | Path | None = None,
    region: str = "beijing",
    bbox: Bbox | None = None,
    force: bool = False,
    scheduler: Any = None,
    progress: bool = True,
    allow_implausible: bool = False,
) -> IngestResult:
    """TaxiBJ flow files (+ meteorology and holidays; paths, globs or URLs) -> a TaxiBJ cube
    at ``out``. Flows that are NaN, infinite or negative are refused (naming the file) unless
    ``allow_implausible``."""
    from sstcast.sources.taxibj import one_input, open_taxibj

    with download_folder() as folder:  # TaxiBJ is read into memory: the copies can go after
        flows = fetch_inputs(files, folder)
        ds = open_taxibj(
            flows,
            None if meteorology is None else one_input(meteorology, "meteorology", folder),
            None if holidays is None else one_input(holidays, "holiday", folder),
        )
    n_files = len(json.loads(ds.attrs["source_files"]))  # flows, meteorology, holidays
    if not allow_implausible:
        _check_flows(ds, [i.name for i in flows])
    previous = str(ds.attrs.get("history", "")).strip()
    action = history_line(f"ingest_taxibj of {n_files} file(s), region {region}")
    ds.attrs.update(
        {
            "region": region,
            "frequency": ds.attrs.get("frequency", "30min"),
            "history": f"{previous}\n{action}" if previous else action,
        }
    )
    if bbox is not None:
        ds.attrs["bbox"] = [float(v) for v in bbox]
    notes = []
    incomplete = json.loads(ds.attrs.get("incomplete_days", "[]"))
    if incomplete:
        notes.append(f"{len(incomplete)} incomplete day(s): {', '.join(incomplete[:5])}")
    out = str(out)
    written = _write(ds, out, force=force, progress=progress, scheduler=scheduler)
    return _result(out, written, n_files, notes)


def _check_flows(ds: xr.Dataset, names: list[str]) -> None:
    """Crowd flows are finite counts >= 0: anything else cannot be true."""
    flow = np.asarray(ds["flow"].values)
    bad = ~np.isfinite(flow) | (flow < 0)
    if bad.any():
        where = names[0] if len(names) == 1 else ", ".join(Path(n).name for n in names)
        first = np.datetime64(ds["time"].values[np.flatnonzero(bad.any(axis=(1, 2, 3)))[0]], "m")
        raise SstcastError(
            f"{where}: {int(bad.sum())} flow value(s) that are NaN, infinite or negative "
            f"(first at {first}); flows are counts (--allow-implausible keeps them)"
        )


def _matches_anything(patterns: list[str]) -> bool:
    try:
        list_inputs(patterns)
    except SstcastError:
        return False
    return True


def _ingest_sst_source(
    catalog: Catalog, src: Source, *, files_given: bool, variable: str | None, **common: Any
) -> IngestResult:
    """A ``netcdf_sst`` source: :func:`ingest_sst` with the catalog's variable and time step,
    unless ``--files`` replaced the source's files (then they are not the source's)."""
    return ingest_sst(
        variable=variable or (None if files_given else src.variable),
        frequency=None if files_given else src.frequency,
        **common,
    )


def _ingest_taxibj_source(
    catalog: Catalog, src: Source, *, files_given: bool, variable: str | None, **common: Any
) -> IngestResult:
    """A ``taxibj`` source: :func:`ingest_taxibj` with the catalog's meteorology and holidays
    (``variable`` does not apply: the files' layout is fixed)."""
    return ingest_taxibj(
        meteorology=catalog.resolve(src.meteorology) if src.meteorology else None,
        holidays=catalog.resolve(src.holidays) if src.holidays else None,
        **common,
    )


#: The ingest of each catalog source ``kind`` (``Source.kind`` in data_catalog.yaml). Each
#: takes the catalog, the source, ``files_given`` and ``variable``, adds what its kind reads
#: from the catalog and passes the rest (``files``, ``out``, ``bbox``, ``region``, ``force``,
#: ``scheduler``, ``progress``) on to :func:`ingest_sst` or :func:`ingest_taxibj`.
READERS: dict[str, Callable[..., IngestResult]] = {
    "netcdf_sst": _ingest_sst_source,
    "taxibj": _ingest_taxibj_source,
}

#: The built-in sample source of the same ``kind``, named when a source has no raw data.
SAMPLE_SOURCES: dict[str, str] = {"netcdf_sst": "sample_sst", "taxibj": "sample_taxibj"}


def ingest_source(
    catalog: Catalog | str | Path = "data_catalog.yaml",
    source_name: str | None = None,
    region: str | None = None,
    files: Sequence[str] | None = None,
    bbox: Bbox | None = None,
    out: str | None = None,
    *,
    variable: str | None = None,
    force: bool = False,
    scheduler: Any = None,
    progress: bool = True,
    allow_implausible: bool = False,
) -> IngestResult:
    """Ingest one source of the data catalog (``sstcast ingest``).

    The source defaults to the catalog's ``default_source`` (``sstcast.workflows.ingest``
    adds ``--sample``: the sample source, written first when missing).
    ``region`` names a catalog region (default: the source's); ``bbox`` overrides it.
    ``files`` replaces the source's files (without a source name, the whole grid of the files
    is taken unless ``region`` or ``bbox`` is given); ``out`` replaces its cube path.
    The reader is chosen by the source's ``kind`` (:data:`READERS`).
    """
    if not isinstance(catalog, Catalog):
        catalog = load_catalog(catalog)
    name = source_name or catalog.default_source
    if name is None:
        raise ConfigError("no source given and the catalog has no default_source")
    src = catalog.source(name)

    # `--files` without a source: the files' whole grid unless a region or box is asked for.
    region_name = region or (None if files and source_name is None else src.region)
    box: Bbox | None = None
    if bbox is not None:
        box = tuple(float(v) for v in bbox)  # type: ignore[assignment]
        label = region or _bbox_label(box)
    elif region_name is not None:
        box = catalog.region(region_name).bbox
        label = region_name
    else:
        label = "full"
    target = out or catalog.cube_path(name, label)

    patterns = list(files) if files else [catalog.resolve(p) for p in src.files]
    if not files and not _matches_anything(patterns):
        if src.sample:
            raise SstcastError(
                f"source {name}: sample files missing ({patterns[0]}); run `sstcast sample` "
                f"first, or `sstcast ingest --sample` to generate and ingest it"
            )
        raise SstcastError(
            f"source {name}: no raw data at {patterns[0]}; to use the built-in sample run "
            f"`sstcast sample` then `sstcast ingest {SAMPLE_SOURCES[src.kind]}` "
            f"(or `sstcast ingest --sample`)"
        )

    reader = READERS[src.kind]
    return reader(
        catalog,
        src,
        files_given=bool(files),
        variable=variable,
        files=patterns,
        out=target,
        bbox=box,
        region=label,
        force=force,
        scheduler=scheduler,
        progress=progress,
        allow_implausible=allow_implausible,
    )


__all__ = [
    "IngestResult",
    "ingest_source",
    "ingest_sst",
    "ingest_taxibj",
    "parse_bbox",
    "store_size",
]
