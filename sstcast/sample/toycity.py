"""A toy Beijing: crowd flows, weather and holidays in the real TaxiBJ file layout.

The built-in sample cannot ship the real TaxiBJ data (Zhang et al., AAAI 2017), so this module
writes a small stand-in with the same three files and the same structure, deterministic for a
seed:

``BJ16_M32x32_T30_InOut.h5``
    ``data`` (N, 2, 32, 32) float64 counts (channel 0 inflow, 1 outflow) and ``date`` (N,)
    bytes ``b"YYYYMMDDSS"`` where ``SS`` is the half-hour slot 01..48 (slot 01 starts 00:00).
    As in the real files some days miss a few slots and one whole day is missing.
``BJ_Meteorology.h5``
    ``date`` (M,) in the same code, ``Temperature`` (M,) degC, ``WindSpeed`` (M,) m/s and
    ``Weather`` (M, 17) one-hot over the 17 TaxiBJ weather classes;
    every slot of the period, also those missing from the flows (as in the real file).
    The class order is :data:`sstcast.sources.taxibj.WEATHER_CLASSES`.
``BJ_Holiday.txt``
    one ``YYYYMMDD`` per line: the public holidays (and the weekends joined to them) of the
    period, copied from the official 2016 calendar as the real file lists them.

The flows are built from a fixed city: four kinds of places (business districts, residential
belts, railway stations and the airport, leisure areas) on a 32 x 32 grid, each with its own
daily rhythm of inflow and outflow (residential cells empty in the morning and fill in the
evening, business cells the reverse, a little later because people travel), a weekly rhythm
(weekends and holidays later, lower and flatter, with more leisure trips), weather (rain,
snow, sand and fog reduce traffic), a slow spring growth, and AR(1)-correlated noise (a
city-wide factor and a per-cell factor) under Poisson counting, so the counts are
non-negative integers like the real ones.
"""

from __future__ import annotations

import logging
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from scipy.signal import lfilter

from sstcast.sources.taxibj import WEATHER_CLASSES
from sstcast.utils.io import atomic_path

log = logging.getLogger(__name__)

__all__ = [
    "FLOW_FILE",
    "HOLIDAYS_2016",
    "HOLIDAY_FILE",
    "METEOROLOGY_FILE",
    "WEATHER_CLASSES",
    "write_taxibj_sample",
]

FLOW_FILE = "BJ16_M32x32_T30_InOut.h5"
METEOROLOGY_FILE = "BJ_Meteorology.h5"
HOLIDAY_FILE = "BJ_Holiday.txt"

#: Public holidays of 2016 in Beijing with the weekends joined to them (the official State
#: Council schedule, as listed in the real ``BJ_Holiday.txt``).
HOLIDAYS_2016: tuple[str, ...] = (
    "20160101",
    "20160102",
    "20160103",
    "20160207",
    "20160208",
    "20160209",
    "20160210",
    "20160211",
    "20160212",
    "20160213",
    "20160402",
    "20160403",
    "20160404",
    "20160430",
    "20160501",
    "20160502",
    "20160609",
    "20160610",
    "20160611",
)

SLOTS_PER_DAY = 48
GRID = 32
START = "2016-03-01"
END = "2016-05-31"

# Share of traffic left under each weather class (index as WEATHER_CLASSES).
_WEATHER_FLOW_FACTOR = np.array(
    [1.0, 1.0, 0.98, 0.86, 0.93, 0.8, 0.7, 0.6, 0.75, 0.7, 0.8, 0.88, 0.78, 0.65, 0.92, 0.85, 0.95]
)
# Monthly climatology of weather classes for a Beijing spring (probabilities of a new spell).
_WEATHER_CLIMATE = {
    3: {0: 0.45, 1: 0.24, 2: 0.12, 4: 0.05, 11: 0.04, 14: 0.05, 15: 0.02, 16: 0.03},
    4: {0: 0.42, 1: 0.25, 2: 0.1, 3: 0.05, 4: 0.08, 14: 0.03, 15: 0.03, 16: 0.04},
    5: {0: 0.4, 1: 0.25, 2: 0.1, 3: 0.07, 4: 0.08, 5: 0.04, 6: 0.02, 8: 0.04},
}
_WET = np.zeros(len(WEATHER_CLASSES), dtype=bool)
_WET[[3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]] = True


def _bump(shape: tuple[int, int], y: float, x: float, sd: float) -> np.ndarray:
    """A Gaussian hot spot centred on grid cell (y, x)."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    return np.exp(-0.5 * (((yy - y) ** 2 + (xx - x) ** 2) / sd**2))


def _city_maps(n: int = GRID) -> np.ndarray:
    """The fixed spatial pattern: (5, n, n) maps of business, residential, station, leisure and
    background activity, each scaled to a maximum of 1 (row 0 is the north edge)."""
    s = (n, n)
    k = n / 32.0
    business = (
        1.0 * _bump(s, 15 * k, 20 * k, 1.5 * k)  # CBD (Guomao)
        + 0.8 * _bump(s, 15 * k, 12 * k, 1.2 * k)  # Financial Street
        + 0.8 * _bump(s, 9 * k, 9 * k, 1.8 * k)  # Zhongguancun
        + 0.6 * _bump(s, 8 * k, 21 * k, 1.5 * k)  # Wangjing
    )
    yy, xx = np.mgrid[0:n, 0:n]
    r = np.hypot(yy - 16 * k, xx - 16 * k)
    residential = (
        0.6 * np.exp(-0.5 * ((r - 10 * k) / (2.5 * k)) ** 2)  # the belt between the rings
        + 1.0 * _bump(s, 3 * k, 12 * k, 2.0 * k)  # Huilongguan
        + 1.0 * _bump(s, 3 * k, 18 * k, 2.0 * k)  # Tiantongyuan
        + 0.7 * _bump(s, 18 * k, 29 * k, 1.8 * k)  # Tongzhou
        + 0.6 * _bump(s, 26 * k, 14 * k, 2.0 * k)  # the south
    )
    station = (
        1.0 * _bump(s, 16 * k, 18 * k, 0.8 * k)  # Beijing Railway Station
        + 1.0 * _bump(s, 17 * k, 10 * k, 0.8 * k)  # Beijing West
        + 0.8 * _bump(s, 21 * k, 15 * k, 0.8 * k)  # Beijing South
        + 0.9 * _bump(s, 2 * k, 30 * k, 1.0 * k)  # Capital Airport
    )
    leisure = (
        1.0 * _bump(s, 13 * k, 20 * k, 1.0 * k)  # Sanlitun
        + 0.9 * _bump(s, 15 * k, 17 * k, 1.0 * k)  # Wangfujing
        + 0.8 * _bump(s, 15 * k, 14 * k, 1.0 * k)  # Xidan
        + 0.6 * _bump(s, 6 * k, 6 * k, 1.5 * k)  # Summer Palace
    )
    background = np.exp(-r / (9 * k)) + 0.05
    maps = np.stack([business, residential, station, leisure, background])
    return maps / maps.max(axis=(1, 2), keepdims=True)


def _g(h: np.ndarray, mu: float, sd: float) -> np.ndarray:
    return np.exp(-0.5 * ((h - mu) / sd) ** 2)


def _daily_profiles(h: np.ndarray, workday: bool) -> np.ndarray:
    """(len(h), 2, 5) strength of inflow/outflow of each place kind at hour ``h``.

    Outflow leaves a residential cell ~45 min before the matching inflow reaches a business
    cell, and the evening peak runs the other way round."""
    awake = 1.0 / (1 + np.exp(-(h - 6.0) / 0.7)) / (1 + np.exp(-(23.5 - h) / 1.0))
    if workday:
        res_in = 1.0 * _g(h, 18.8, 1.4) + 0.25 * _g(h, 12.0, 2.0) + 0.2 * _g(h, 21.5, 1.2)
        res_out = 1.0 * _g(h, 7.6, 0.9) + 0.3 * _g(h, 13.0, 2.0)
        bus_in = 1.1 * _g(h, 8.4, 0.9) + 0.3 * _g(h, 13.5, 1.2)
        bus_out = 1.0 * _g(h, 18.0, 1.2) + 0.3 * _g(h, 12.2, 1.0) + 0.2 * _g(h, 21.0, 1.0)
        sta = 0.35 * awake + 0.5 * _g(h, 8.0, 1.5) + 0.45 * _g(h, 18.0, 2.0)
        sta_in, sta_out = sta + 0.25 * _g(h, 22.0, 1.2), sta + 0.2 * _g(h, 7.0, 1.0)
        lei_in = 0.3 * _g(h, 12.5, 1.5) + 0.45 * _g(h, 19.5, 1.8)
        lei_out = 0.3 * _g(h, 13.5, 1.5) + 0.45 * _g(h, 21.5, 1.6)
    else:
        res_in = 0.55 * _g(h, 19.5, 2.5) + 0.2 * _g(h, 13.0, 2.5)
        res_out = 0.5 * _g(h, 10.0, 2.0) + 0.2 * _g(h, 15.0, 2.5)
        bus_in = 0.3 * _g(h, 10.5, 2.0)
        bus_out = 0.3 * _g(h, 17.0, 2.5)
        sta = 0.4 * awake + 0.35 * _g(h, 10.0, 2.5) + 0.4 * _g(h, 17.5, 2.5)
        sta_in, sta_out = sta + 0.2 * _g(h, 22.0, 1.5), sta
        lei_in = 0.9 * _g(h, 14.0, 2.5) + 0.5 * _g(h, 19.5, 2.0)
        lei_out = 0.9 * _g(h, 16.0, 2.5) + 0.6 * _g(h, 21.5, 1.8)
    bg = 0.1 + 0.9 * awake
    inflow = np.stack([bus_in, res_in, sta_in, lei_in, 0.3 * bg], axis=-1)
    outflow = np.stack([bus_out, res_out, sta_out, lei_out, 0.3 * bg], axis=-1)
    return np.stack([inflow, outflow], axis=1) * (0.08 + awake)[:, None, None]


def _ar1(rng: np.random.Generator, n: int, phi: float, sd: float, size: int = 1) -> np.ndarray:
    """(n, size) stationary AR(1) series with lag-1 correlation ``phi`` and std ``sd``."""
    z = rng.standard_normal((n, size)) * sd * np.sqrt(1 - phi**2)
    z[0] = rng.standard_normal(size) * sd
    return lfilter([1.0], [1.0, -phi], z, axis=0)


def _weather_chain(rng: np.random.Generator, months: np.ndarray, stay: float = 0.98) -> np.ndarray:
    """Weather class per slot: spells that persist (mean ~1 day) drawn from a monthly climate."""
    n = len(months)
    cls = np.empty(n, dtype=np.int64)
    switch = rng.random(n) > stay
    u = rng.random(n)
    current = 0
    for i in range(n):
        if i == 0 or switch[i]:
            climate = _WEATHER_CLIMATE[int(months[i])]
            keys = np.fromiter(climate.keys(), dtype=np.int64)
            probs = np.fromiter(climate.values(), dtype=np.float64)
            cum = np.cumsum(probs / probs.sum())
            current = int(keys[min(np.searchsorted(cum, u[i]), len(keys) - 1)])
        cls[i] = current
    return cls


def _codes(times: pd.DatetimeIndex) -> np.ndarray:
    """TaxiBJ slot codes ``b"YYYYMMDDSS"`` (slot 01 = 00:00-00:30) for 30-min datetimes."""
    slot = times.hour * 2 + times.minute // 30 + 1
    text = [f"{d}{s:02d}" for d, s in zip(times.strftime("%Y%m%d"), slot, strict=True)]
    return np.array(text, dtype="S10")


def write_taxibj_sample(out_dir: Path, seed: int, progress: bool = True) -> list[Path]:
    """Write a TaxiBJ-style sample (2016-03-01 .. 2016-05-31) into ``out_dir``.

    Returns the paths of the flow file, the meteorology file and the holiday file. Each file is
    written atomically; the same seed gives identical files. Takes a few seconds."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)

    times = pd.date_range(START, pd.Timestamp(END) + pd.Timedelta("23h30min"), freq="30min")
    n = len(times)
    hours = np.arange(SLOTS_PER_DAY) / 2.0 + 0.25  # the middle of each slot
    day_codes = times.strftime("%Y%m%d")
    holiday = np.isin(day_codes, HOLIDAYS_2016)
    weekday = times.day_of_week.to_numpy()
    workday = (weekday < 5) & ~holiday

    # --- weather: class spells, temperature (season + day + weather), wind ---------------
    weather = _weather_chain(rng, times.month.to_numpy())
    wet = _WET[weather]
    day_frac = (times - times[0]) / pd.Timedelta("1D")
    hour = times.hour.to_numpy() + times.minute.to_numpy() / 60.0
    cloudy = np.isin(weather, [1, 2]) | wet
    diurnal = np.where(cloudy, 3.0, 6.0) * np.cos(2 * np.pi * (hour - 15.0) / 24.0)
    temperature = (
        5.0
        + 18.0 * day_frac.to_numpy() / 92.0
        + diurnal
        + _ar1(rng, n, 0.995, 2.5)[:, 0]
        - 2.0 * wet
    )
    log_wind = (
        np.log(2.8)
        + 0.25 * np.cos(2 * np.pi * (hour - 15.0) / 24.0)
        + _ar1(rng, n, 0.99, 0.35)[:, 0]
        + 0.9 * (weather == 15)
    )
    wind = np.exp(log_wind)

    # --- flows: profiles x city maps x rhythms x weather x noise -------------------------
    maps = _city_maps()
    prof_work = _daily_profiles(hours, workday=True)
    prof_rest = _daily_profiles(hours, workday=False)
    slot_in_day = np.arange(n) % SLOTS_PER_DAY
    profiles = np.where(workday[:, None, None], prof_work[slot_in_day], prof_rest[slot_in_day])
    level = np.array([1.02, 1.0, 1.0, 1.0, 1.05, 0.9, 0.85])[weekday]
    level = level * np.where(holiday, 0.85, 1.0) * (1 + 0.06 * day_frac.to_numpy() / 92.0)
    level = level * _WEATHER_FLOW_FACTOR[weather]
    mean = 650.0 * np.einsum("tck,kyx->tcyx", profiles, maps) * level[:, None, None, None]
    city = _ar1(rng, n, 0.97, 0.05)[:, 0]
    local = _ar1(rng, n, 0.8, 0.1, size=2 * GRID * GRID).reshape(n, 2, GRID, GRID)
    data = rng.poisson(mean * np.exp(local + city[:, None, None, None])).astype(np.float64)

    # --- incomplete days (a few slots missing) and one day missing entirely --------------
    n_days = n // SLOTS_PER_DAY
    keep = np.ones(n, dtype=bool)
    days = rng.choice(np.arange(8, n_days - 1), size=4, replace=False)
    keep[days[0] * SLOTS_PER_DAY : (days[0] + 1) * SLOTS_PER_DAY] = False
    for d in days[1:]:
        length = int(rng.integers(1, 7))
        first = int(rng.integers(0, SLOTS_PER_DAY - length + 1))
        start = d * SLOTS_PER_DAY + first
        keep[start : start + length] = False

    codes = _codes(times)
    flow_path = out_dir / FLOW_FILE
    met_path = out_dir / METEOROLOGY_FILE
    hol_path = out_dir / HOLIDAY_FILE

    def write_flow(tmp: Path) -> None:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("date", data=codes[keep])
            f.create_dataset(
                "data", data=data[keep], chunks=(SLOTS_PER_DAY, 2, GRID, GRID), compression=1
            )

    def write_met(tmp: Path) -> None:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("date", data=codes)
            f.create_dataset("Temperature", data=np.round(temperature, 1))
            f.create_dataset("WindSpeed", data=np.round(wind, 1))
            f.create_dataset("Weather", data=np.eye(len(WEATHER_CLASSES))[weather])

    def write_holidays(tmp: Path) -> None:
        lines = [d for d in HOLIDAYS_2016 if START.replace("-", "") <= d <= END.replace("-", "")]
        tmp.write_text("\n".join(lines) + "\n")

    written = []
    for path, write in ((flow_path, write_flow), (met_path, write_met), (hol_path, write_holidays)):
        with atomic_path(path) as tmp:
            write(tmp)
        written.append(path)
        if progress:
            log.info("wrote %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return written
