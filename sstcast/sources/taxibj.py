"""Read TaxiBJ (Zhang et al., AAAI 2017) into the TaxiBJ cube layout.

The real dataset ships as:

* ``BJ13_M32x32_T30_InOut.h5`` .. ``BJ16_M32x32_T30_InOut.h5``: ``data`` (N, 2, 32, 32) float64
  (channel 0 inflow, 1 outflow) and ``date`` (N,) bytes ``b"YYYYMMDDSS"``, ``SS`` the
  half-hour slot 01..48 of the day (slot 01 is 00:00-00:30). Days may miss slots.
* ``BJ_Meteorology.h5``: ``date`` in the same code, ``Temperature`` (degC), ``WindSpeed``
  (m/s) and ``Weather`` (M, 17) one-hot weather class.
* ``BJ_Holiday.txt``: one ``YYYYMMDD`` per line.

:func:`open_taxibj` merges the flow files in time (sorted, a slot given twice is kept once,
from the first file), turns slot codes into real datetimes (the start of each slot), clips
negative counts to zero, lists the days that miss slots, aligns the meteorology to the flow
slots by their code, and flags holidays. Missing slots stay absent from ``time``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import xarray as xr

from sstcast.errors import SstcastError
from sstcast.sources import InputFile, fetch_inputs, file_format, named_errors
from sstcast.utils.io import sha256_file
from sstcast.utils.provenance import history_line

__all__ = ["WEATHER_CLASSES", "describe_taxibj", "one_input", "open_taxibj", "read_holidays"]

logger = logging.getLogger(__name__)

SLOTS_PER_DAY = 48
SLOT = np.timedelta64(30, "m")

#: The 17 weather classes of ``BJ_Meteorology.h5`` in one-hot order (TaxiBJ ReadMe).
WEATHER_CLASSES: tuple[str, ...] = (
    "Sunny",
    "Cloudy",
    "Overcast",
    "Rainy",
    "Sprinkle",
    "ModerateRain",
    "HeavyRain",
    "Rainstorm",
    "Thunderstorm",
    "FreezingRain",
    "Snowy",
    "LightSnow",
    "ModerateSnow",
    "HeavySnow",
    "Foggy",
    "Sandstorm",
    "Dusty",
)


# --------------------------------------------------------------------------------------
# Low-level file access with one-line errors
# --------------------------------------------------------------------------------------
def _open_h5(path: Path) -> h5py.File:
    """Open an HDF5 file, telling 'not HDF5 at all' apart from 'HDF5 but damaged'."""
    if not path.exists():
        raise SstcastError(f"{path}: file not found")
    if not path.is_file():
        raise SstcastError(f"{path}: not a file")
    if file_format(path) != "hdf5":
        raise SstcastError(f"{path}: not an HDF5 file (TaxiBJ files are HDF5)")
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise SstcastError(f"{path}: truncated or corrupt HDF5 file ({err})") from None


def _read(f: h5py.File, path: Path, name: str) -> np.ndarray:
    """Read one dataset whole, naming the file and listing what is there when it is absent."""
    if name not in f or not isinstance(f[name], h5py.Dataset):
        found = ", ".join(sorted(f.keys())) or "nothing"
        raise SstcastError(f"{path}: no '{name}' dataset (found: {found})")
    try:
        return np.asarray(f[name][...])
    except (OSError, RuntimeError) as err:
        raise SstcastError(f"{path}: truncated or corrupt HDF5 file ({err})") from None


def _parse_codes(raw: np.ndarray, path: Path, slots_per_day: int) -> np.ndarray:
    """``b"YYYYMMDDSS"`` slot codes -> datetime64[ns] of each slot's start."""
    if raw.ndim != 1:
        raise SstcastError(f"{path}: 'date' has shape {raw.shape}, expected one code per slot")
    text = np.char.strip(raw.astype("U")) if raw.dtype.kind in "SUO" else raw.astype("U")
    bad = (np.char.str_len(text) != 10) | ~np.char.isdigit(text)
    if bad.any():
        first = text[np.argmax(bad)]
        raise SstcastError(f"{path}: slot code {first!r} is not YYYYMMDDSS")
    codes = text.astype(np.int64)
    slot = codes % 100
    if ((slot < 1) | (slot > slots_per_day)).any():
        first = codes[np.argmax((slot < 1) | (slot > slots_per_day))]
        raise SstcastError(f"{path}: slot code {first} has a slot outside 01..{slots_per_day}")
    days = pd.to_datetime((codes // 100).astype(str), format="%Y%m%d", errors="coerce")
    if days.isna().any():
        first = codes[np.argmax(days.isna())]
        raise SstcastError(f"{path}: slot code {first} is not a real date")
    step = np.timedelta64(24 * 60 // slots_per_day, "m")
    return (days.to_numpy() + (slot - 1) * step).astype("datetime64[ns]")


def _read_flow_file(path: Path, slots_per_day: int) -> tuple[np.ndarray, np.ndarray]:
    """(times, float32 data) of one ``BJ*_M32x32_T30_InOut.h5`` file, checked."""
    with _open_h5(path) as f:
        data = _read(f, path, "data")
        raw = _read(f, path, "date")
    if data.ndim != 4 or data.shape[1] != 2:
        raise SstcastError(
            f"{path}: 'data' has shape {data.shape}, expected (slots, 2, 32, 32) inflow/outflow"
        )
    if len(raw) != len(data):
        raise SstcastError(f"{path}: 'date' has {len(raw)} slots but 'data' has {len(data)}")
    if not np.issubdtype(data.dtype, np.number):
        raise SstcastError(f"{path}: 'data' is {data.dtype}, expected numbers")
    # float32 at once: four real files are ~1.4 GB as float64; counts fit float32 exactly
    return _parse_codes(raw, path, slots_per_day), data.astype(np.float32)


def _file_record(item: InputFile) -> dict[str, object]:
    """{path, sha256, size} for provenance (the URL of a downloaded file)."""
    local = item.local
    return {"path": item.name, "sha256": sha256_file(local), "size": local.stat().st_size}


def one_input(path: str | Path | InputFile, what: str, folder: Path | None = None) -> InputFile:
    """The one file (a path or URL, fetched into ``folder``) given as the ``what`` (the
    meteorology or holiday) file; a pattern naming several is an error."""
    found = fetch_inputs(path, folder)
    if len(found) != 1:
        raise SstcastError(f"{path}: names {len(found)} files; expected one {what} file")
    return found[0]


# --------------------------------------------------------------------------------------
# Meteorology and holidays
# --------------------------------------------------------------------------------------
def _read_meteorology(
    path: Path, times: np.ndarray, slots_per_day: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Temperature, wind speed and weather one-hot aligned to ``times`` by slot code.

    Slots that the file lacks (or whose weather row is not one-hot) are filled: temperature
    and wind speed by linear interpolation in time between the nearest known slots (the
    nearest value at the ends), the weather class by the last known class (the next one at
    the start). Returns the three arrays and the number of filled slots."""
    with _open_h5(path) as f:
        # the ReadMe names the slot codes ``date``; some DeepST scripts read ``Timeslot``
        raw = _read(f, path, "Timeslot" if "date" not in f and "Timeslot" in f else "date")
        temp = _read(f, path, "Temperature").astype(np.float64)
        wind = _read(f, path, "WindSpeed").astype(np.float64)
        weather = _read(f, path, "Weather")
    n = len(raw)
    temp, wind = temp.reshape(temp.shape[0], -1)[:, 0], wind.reshape(wind.shape[0], -1)[:, 0]
    if len(temp) != n or len(wind) != n or len(weather) != n:
        raise SstcastError(
            f"{path}: 'date', 'Temperature', 'WindSpeed' and 'Weather' differ in length "
            f"({n}, {len(temp)}, {len(wind)}, {len(weather)})"
        )
    if weather.ndim != 2 or weather.shape[1] != len(WEATHER_CLASSES):
        raise SstcastError(
            f"{path}: 'Weather' has shape {weather.shape}, expected (slots, {len(WEATHER_CLASSES)})"
        )
    met_times = _parse_codes(raw, path, slots_per_day)
    index = pd.Index(met_times)
    first = ~index.duplicated()
    where = pd.Index(met_times[first]).get_indexer(times)
    found = where >= 0
    take = np.flatnonzero(first)[np.where(found, where, 0)]

    one_hot = weather > 0.5
    valid_class = one_hot.sum(axis=1) == 1
    cls = np.where(valid_class, one_hot.argmax(axis=1), -1)[take].astype(np.float64)
    cls[~found | (cls < 0)] = np.nan
    t = np.where(found, temp[take], np.nan)
    w = np.where(found, wind[take], np.nan)
    missing = int((np.isnan(cls) | np.isnan(t) | np.isnan(w)).sum())

    if np.isnan(cls).all() or np.isnan(t).all() or np.isnan(w).all():
        raise SstcastError(f"{path}: no meteorology for any flow slot (dates do not overlap)")
    stamp = pd.Index(times)
    t = pd.Series(t, index=stamp).interpolate("time").bfill().ffill().to_numpy()
    w = pd.Series(w, index=stamp).interpolate("time").bfill().ffill().to_numpy()
    cls = pd.Series(cls).ffill().bfill().to_numpy().astype(np.int64)
    weather_aligned = np.eye(len(WEATHER_CLASSES), dtype=np.int8)[cls]
    return t.astype(np.float32), w.astype(np.float32), weather_aligned, missing


def read_holidays(path: str | Path) -> set[str]:
    """The ``YYYYMMDD`` dates of ``BJ_Holiday.txt`` (blank lines ignored)."""
    path = Path(path)
    if not path.exists():
        raise SstcastError(f"{path}: file not found")
    try:
        lines = path.read_text().splitlines()
    except UnicodeDecodeError:
        raise SstcastError(f"{path}: not a text file of YYYYMMDD dates") from None
    days = set()
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text:
            continue
        if (
            len(text) != 8
            or not text.isdigit()
            or pd.isna(pd.to_datetime(text, format="%Y%m%d", errors="coerce"))
        ):
            raise SstcastError(f"{path}: line {number} {text!r} is not a YYYYMMDD date")
        days.add(text)
    return days


# --------------------------------------------------------------------------------------
# The reader
# --------------------------------------------------------------------------------------
def open_taxibj(
    files: str | Path | Sequence[str | Path] | Sequence[InputFile],
    meteorology: str | Path | InputFile | None = None,
    holidays: str | Path | InputFile | None = None,
    *,
    slots_per_day: int = SLOTS_PER_DAY,
) -> xr.Dataset:
    """Read TaxiBJ flow files (paths, glob patterns or URLs, see
    :func:`sstcast.sources.fetch_inputs`) plus meteorology and holidays.

    Returns the TaxiBJ cube as an in-memory dataset: ``flow`` float32
    (time, direction, y, x) with ``direction = ["inflow", "outflow"]`` (the dimension cannot
    share the variable's name ``flow`` in xarray); ``temperature`` float32 degC, ``wind_speed``
    float32 m/s, ``weather`` int8 (time, weather_class) one-hot, ``holiday`` int8 and
    ``day_of_week`` int8 (0 = Monday) over ``time``. Attributes report what was done:
    ``incomplete_days`` (JSON list of ``YYYY-MM-DD`` days with fewer than ``slots_per_day``
    slots), ``negative_values_clipped``, ``duplicate_slots_dropped``,
    ``meteorology_filled_slots`` and ``source_files`` (JSON list of {path, sha256, size}).

    Without a meteorology file ``temperature`` and ``wind_speed`` are NaN and ``weather`` is
    all zero (``has_meteorology = 0``); without a holiday file ``holiday`` is 0
    (``has_holidays = 0``).
    """
    items = [files] if isinstance(files, str | Path) else list(files)
    if not items:
        raise SstcastError("TaxiBJ: no flow files given (expected BJ*_M32x32_T30_InOut.h5)")
    inputs = fetch_inputs(items)
    parts = []
    for item in inputs:
        with named_errors(item):
            parts.append(_read_flow_file(item.local, slots_per_day))
    grids = {data.shape[2:] for _, data in parts}
    if len(grids) > 1:
        shapes = ", ".join(
            f"{i.local.name}: {d.shape[2:]}" for i, (_, d) in zip(inputs, parts, strict=True)
        )
        raise SstcastError(f"TaxiBJ flow files are on different grids ({shapes})")

    times = np.concatenate([t for t, _ in parts])
    data = np.concatenate([d for _, d in parts])
    order = np.argsort(times, kind="stable")
    times, data = times[order], data[order]
    unique = np.ones(len(times), dtype=bool)
    unique[1:] = times[1:] != times[:-1]
    duplicates = int((~unique).sum())
    times, data = times[unique], data[unique]
    if duplicates:
        logger.warning("TaxiBJ: %d slots appear in more than one file; kept the first", duplicates)

    negative = int((data < 0).sum())
    if negative:
        logger.warning("TaxiBJ: clipped %d negative flow values to 0", negative)
        data = np.maximum(data, np.float32(0))
    flow = data

    day = times.astype("datetime64[D]")
    days, counts = np.unique(day, return_counts=True)
    incomplete = [str(d) for d in days[counts < slots_per_day]]
    if incomplete:
        logger.info("TaxiBJ: %d incomplete days: %s", len(incomplete), ", ".join(incomplete))

    n = len(times)
    records = [_file_record(i) for i in inputs]
    if meteorology is not None:
        met = one_input(meteorology, "meteorology")
        with named_errors(met):
            temperature, wind_speed, weather, filled = _read_meteorology(
                met.local, times, slots_per_day
            )
        records.append(_file_record(met))
        if filled:
            logger.warning("TaxiBJ: %d slots had no meteorology in %s; filled", filled, met.name)
    else:
        temperature = np.full(n, np.nan, dtype=np.float32)
        wind_speed = np.full(n, np.nan, dtype=np.float32)
        weather = np.zeros((n, len(WEATHER_CLASSES)), dtype=np.int8)
        filled = 0

    if holidays is not None:
        hol = one_input(holidays, "holiday")
        with named_errors(hol):
            hol_days = read_holidays(hol.local)
        keys = pd.DatetimeIndex(times).strftime("%Y%m%d").to_numpy()
        holiday = np.isin(keys, list(hol_days)).astype(np.int8)
        records.append(_file_record(hol))
    else:
        holiday = np.zeros(n, dtype=np.int8)

    day_of_week = pd.DatetimeIndex(times).day_of_week.to_numpy().astype(np.int8)
    height, width = flow.shape[2:]
    history = history_line(
        f"{len(inputs)} flow file(s) merged, {negative} negative values clipped, "
        f"{len(incomplete)} incomplete days",
        tag="open_taxibj",
    )
    ds = xr.Dataset(
        {
            "flow": (
                ("time", "direction", "y", "x"),
                flow,
                {"long_name": "crowd flow per grid cell and 30-min slot", "units": "1"},
            ),
            "temperature": (
                "time",
                temperature,
                {"long_name": "air temperature", "units": "degC"},
            ),
            "wind_speed": ("time", wind_speed, {"long_name": "wind speed", "units": "m s-1"}),
            "weather": (
                ("time", "weather_class"),
                weather,
                {
                    "long_name": "weather class (one-hot)",
                    "flag_meanings": " ".join(WEATHER_CLASSES),
                },
            ),
            "holiday": ("time", holiday, {"long_name": "public holiday (1) or not (0)"}),
            "day_of_week": ("time", day_of_week, {"long_name": "day of week, 0 = Monday"}),
        },
        coords={
            "time": ("time", times, {"long_name": "start of the 30-min slot"}),
            "direction": (
                "direction",
                np.array(["inflow", "outflow"]),
                {"long_name": "flow direction"},
            ),
            "y": ("y", np.arange(height, dtype=np.int32), {"long_name": "grid row"}),
            "x": ("x", np.arange(width, dtype=np.int32), {"long_name": "grid column"}),
            "weather_class": (
                "weather_class",
                np.arange(len(WEATHER_CLASSES), dtype=np.int8),
                {"long_name": "weather class index", "flag_meanings": " ".join(WEATHER_CLASSES)},
            ),
        },
        attrs={
            "title": "TaxiBJ crowd flows with meteorology and holidays",
            "sstcast_kind": "taxibj",
            "slots_per_day": slots_per_day,
            "frequency": f"{24 * 60 // slots_per_day}min",
            "incomplete_days": json.dumps(incomplete),
            "negative_values_clipped": negative,
            "duplicate_slots_dropped": duplicates,
            "meteorology_filled_slots": filled,
            "has_meteorology": int(meteorology is not None),
            "has_holidays": int(holidays is not None),
            "weather_classes": json.dumps(list(WEATHER_CLASSES)),
            "source_files": json.dumps(records),
            "history": history,
        },
    )
    return ds


def describe_taxibj(ds: xr.Dataset) -> str:
    """One line about a TaxiBJ cube: slots, period, grid, maximum flow and what was fixed."""
    times = pd.DatetimeIndex(ds["time"].values)
    incomplete = json.loads(ds.attrs.get("incomplete_days", "[]"))
    holiday_days = (
        int(np.unique(times[ds["holiday"].values.astype(bool)].normalize()).size)
        if "holiday" in ds
        else 0
    )
    peak = float(ds["flow"].max()) if ds.sizes["time"] else 0.0
    period = f"{times[0]:%Y-%m-%d %H:%M} .. {times[-1]:%Y-%m-%d %H:%M}" if len(times) else "empty"
    return (
        f"TaxiBJ: {len(times)} slots {period}, {ds.sizes['y']}x{ds.sizes['x']} grid, "
        f"max flow {peak:.0f}, {len(incomplete)} incomplete days, {holiday_days} holiday days, "
        f"{ds.attrs.get('negative_values_clipped', 0)} negative values clipped"
    )
