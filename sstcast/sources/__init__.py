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
from typing import Any

import numpy as np
import pandas as pd

from sstcast.errors import SstcastError

NETCDF3_MAGIC = (b"CDF\x01", b"CDF\x02", b"CDF\x05")
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def expand_files(patterns: Iterable[str | Path]) -> list[Path]:
    """Paths and globs to a list of existing files, each pattern's matches sorted by name.

    Order across patterns is kept as given; a file named twice is kept once. A plain path
    that does not exist, or a glob that matches nothing, is an SstcastError naming it.
    """
    files: list[Path] = []
    seen: set[Path] = set()
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


def infer_frequency(time: Any) -> str:
    """Pandas frequency of the time axis with an explicit count (``"1D"``, ``"1MS"``), or
    ``"irregular"`` when there are fewer than two steps.

    Missing steps do not make an axis irregular: when pandas cannot infer a frequency the
    most common step is used (the first of every month, about a month apart, is ``"1MS"``),
    so a daily series with a missing day is still ``"1D"`` and the windows downstream know
    that the missing day is a gap.
    """
    values = pd.DatetimeIndex(np.asarray(time)).as_unit("ns")  # DataArray, array or index
    if values.size < 2:
        return "irregular"
    if values.size >= 3:
        try:
            with pd.option_context("future.infer_freq_returns_offset", True):
                offset = pd.infer_freq(values)
        except (KeyError, pd.errors.OptionError):  # pandas without the option: a string
            offset = pd.infer_freq(values)
        freq = getattr(offset, "freqstr", offset)
        if freq is not None:
            return freq if freq[0].isdigit() else f"1{freq}"
    diffs = np.diff(values.asi8)
    steps, counts = np.unique(diffs[diffs > 0], return_counts=True)
    if steps.size == 0:
        return "irregular"
    step = pd.Timedelta(int(steps[np.argmax(counts)]), "ns")
    on_month_starts = bool(np.all(values.day == 1) and np.all(values == values.normalize()))
    if on_month_starts and pd.Timedelta(days=28) <= step <= pd.Timedelta(days=31):
        return "1MS"
    if step % pd.Timedelta(days=1) == pd.Timedelta(0):
        return f"{step.days}D"
    freq = pd.tseries.frequencies.to_offset(step).freqstr
    return freq if freq[0].isdigit() else f"1{freq}"
