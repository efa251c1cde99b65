"""Readers: one module per input format, each returning a standard ``xr.Dataset``.

- :mod:`sstcast.sources.netcdf_sst`: CF NetCDF sea-surface temperature (OISST, ERSST,
  OSTIA, CMIP ``tos``, ...) -> ``sst(time, lat, lon)`` in degC plus ``mask(lat, lon)``.
- :mod:`sstcast.sources.taxibj`: TaxiBJ crowd flows, meteorology and holidays.

Both are imported lazily by :mod:`sstcast.ingest`; this module only holds what they share.
"""

from __future__ import annotations

import glob
from collections.abc import Iterable
from pathlib import Path

from sstcast.errors import SstcastError
from sstcast.utils.timeaxis import infer_frequency  # re-exported: callers import it here

__all__ = ["Bbox", "expand_files", "file_format", "infer_frequency"]

#: A latitude/longitude box in degrees: (south, north, west, east).
Bbox = tuple[float, float, float, float]

NETCDF3_MAGIC = (b"CDF\x01", b"CDF\x02", b"CDF\x05")
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def expand_files(patterns: Iterable[str | Path] | str | Path) -> list[Path]:
    """Paths and globs (or one of them) to a list of existing files, each pattern's matches
    sorted by name.

    Order across patterns is kept as given; a file named twice is kept once. A plain path
    that does not exist, or a glob that matches nothing, is an SstcastError naming it.
    """
    files: list[Path] = []
    seen: set[Path] = set()
    if isinstance(patterns, str | Path):  # one pattern, not a sequence of characters
        patterns = [patterns]
    patterns = [str(p) for p in patterns]
    if not patterns:
        raise SstcastError("no input files given")
    for pattern in patterns:
        expanded = str(Path(pattern).expanduser())
        if glob.has_magic(expanded):
            matches = sorted(Path(m) for m in glob.glob(expanded))
            matches = [m for m in matches if m.is_file()]
            if not matches:
                raise SstcastError(f"{pattern}: no file matches this pattern")
        else:
            path = Path(expanded)
            if not path.exists():
                raise SstcastError(f"{pattern}: file not found")
            if not path.is_file():
                raise SstcastError(f"{pattern}: not a file")
            matches = [path]
        for m in matches:
            key = m.resolve()
            if key not in seen:
                seen.add(key)
                files.append(m)
    return files


def file_format(path: str | Path) -> str:
    """``"netcdf3"``, ``"hdf5"`` (NetCDF-4 files are HDF5) or ``"unknown"``, by magic bytes.

    HDF5 allows a user block before the signature, at 0, 512, 1024, 2048, ... bytes.
    """
    with open(path, "rb") as f:
        head = f.read(8)
        if head[:4] in NETCDF3_MAGIC:
            return "netcdf3"
        offset = 0
        while head:
            if head == HDF5_MAGIC:
                return "hdf5"
            offset = 512 if offset == 0 else offset * 2
            f.seek(offset)
            head = f.read(8)
    return "unknown"
