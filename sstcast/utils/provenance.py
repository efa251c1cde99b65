"""Provenance shared by everything sstcast writes: its version and the CF ``history`` line,
the software versions a run records and the cube provenance it keeps.

Cubes (:mod:`sstcast.cube`), the TaxiBJ reader and forecast files all stamp what they did
the same way, so one ``history`` attribute reads as one log whichever stage wrote a line.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
from pathlib import Path
from typing import Any

#: UTC time at the start of a history line (ISO 8601, seconds, ``Z``).
HISTORY_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def sstcast_version() -> str:
    """The installed sstcast version (``"unknown"`` when run from a bare checkout)."""
    return package_version("sstcast") or "unknown"


def history_line(action: str, *, tag: str | None = None) -> str:
    """One line for the CF ``history`` attribute: ``"<UTC time> sstcast <tag>: <action>"``.

    ``tag`` is the sstcast version unless given (the TaxiBJ reader names itself,
    ``open_taxibj``, instead).
    """
    now = dt.datetime.now(dt.UTC).strftime(HISTORY_TIME_FORMAT)
    return f"{now} sstcast {sstcast_version() if tag is None else tag}: {action}"


#: Libraries whose versions a run records (``version.json``): the numbers depend on them.
RUN_PACKAGES = ("sstcast", "numpy", "xarray", "zarr", "dask", "timm", "torch", "lightning")

#: Cube attributes a run records (``run.json``, ``cube_provenance``).
CUBE_ATTRS = (
    "sstcast_kind",
    "source_variable",
    "region",
    "bbox",
    "frequency",
    "sstcast_version",
    "history",
)


def package_version(name: str) -> str | None:
    """The installed version of a distribution (None when it is not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def software_versions() -> dict[str, Any]:
    """Versions of the code a run's numbers depend on: sstcast, numpy, xarray, zarr, dask,
    timm, torch, lightning, python, and CUDA (``torch.version.cuda``) and the GPU
    (its name, or ``"none"`` without one)."""
    import torch

    out: dict[str, Any] = {name: package_version(name) for name in RUN_PACKAGES}
    out["torch"] = torch.__version__
    out["python"] = platform.python_version()
    out["cuda"] = torch.version.cuda or "none"
    out["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return out


def cube_provenance(cube: str | Path) -> dict[str, Any]:
    """What a cube records about how it was made: its kind, variable, region and box,
    frequency, the sstcast version that wrote it, its history and its source files
    (``[{path, sha256, size}, ...]``), so that a run names exactly the data it learned from."""
    from sstcast.cube import open_cube

    attrs = open_cube(cube).attrs
    out: dict[str, Any] = {k: _plain(attrs[k]) for k in CUBE_ATTRS if k in attrs}
    files = attrs.get("source_files", "[]")
    try:
        records = json.loads(files) if isinstance(files, str) else list(files)
    except ValueError:
        records = []
    out["source_files"] = [
        {k: r[k] for k in ("path", "sha256", "size") if k in r}
        for r in records
        if isinstance(r, dict)
    ]
    return out


def _plain(value: Any) -> Any:
    """Attribute values as JSON-able values (numpy arrays and scalars as lists and numbers;
    JSON text, as the bbox may be stored, as what it holds)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
