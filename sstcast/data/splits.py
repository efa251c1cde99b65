"""Leak-free time splits and the contiguous stretches of a time axis.

Pure functions over a :class:`pandas.DatetimeIndex`; nothing here reads data.

Rules (see ``docs/windows.md``):

* A split is one contiguous range of positions on the time axis: ``train``, ``val`` and
  ``test`` never share a step.
* Between two chronologically consecutive splits at least ``n_in + n_out - 1`` steps are left
  unused, so that no window of one split could reach a day of another even if windows were
  indexed by their init time and allowed to run past the split's end. When dates given in the
  pipeline file leave a smaller gap, the start of the later split is trimmed (with a warning).
* Fractions are allocated in the order train, val, test over the steps that remain once the
  gaps are taken out; fractions summing to less than 1 leave the remainder unused at the end.
* A window never bridges a hole in the time axis (missing days in the source):
  :func:`contiguous_runs` lists the stretches inside which windows may be cut.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd

from sstcast.config.pipeline import SPLIT_NAMES
from sstcast.errors import SstcastError
from sstcast.utils.timeaxis import infer_frequency, months_per_step, step_numbers, step_offset

log = logging.getLogger(__name__)

DEFAULT_SPLITS: dict[str, float] = {"train": 0.8, "val": 0.1, "test": 0.1}


_NOTED: set[str] = set()


def _note_once(message: str) -> None:
    """Log a note once per process (every split of a pipeline computes the same bounds)."""
    if message not in _NOTED:
        _NOTED.add(message)
        log.info(message)


def _ns_index(times: Any) -> pd.DatetimeIndex:
    """Times as a nanosecond DatetimeIndex (pandas may infer other units)."""
    return pd.DatetimeIndex(times).as_unit("ns")


def min_gap(n_in: int, n_out: int) -> int:
    """The smallest number of unused steps between two splits: ``n_in + n_out - 1``."""
    return n_in + n_out - 1


def contiguous_runs(
    times: pd.DatetimeIndex, freq: str | pd.DateOffset | None = None
) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` position ranges (stop exclusive) in which every step follows
    the previous one by exactly one ``freq``; a missing day (or month) starts a new run."""
    times = _ns_index(times)
    if len(times) == 0:
        return []
    if not times.is_monotonic_increasing or times.has_duplicates:
        raise SstcastError("time axis must be strictly increasing")
    if freq is None or isinstance(freq, pd.DateOffset):
        freq_str = getattr(freq, "freqstr", None) or infer_frequency(times)
    else:
        freq_str = freq
    numbers = step_numbers(times, freq_str)
    if numbers is not None:  # calendar months, whatever day each month is stamped on
        breaks = np.flatnonzero(np.diff(numbers) != months_per_step(freq_str)) + 1
    else:
        offset = freq if isinstance(freq, pd.DateOffset) else step_offset(times, freq)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", pd.errors.PerformanceWarning)
            expected = times[:-1] + offset
        breaks = np.flatnonzero(expected.asi8 != times[1:].asi8) + 1
    edges = np.concatenate([[0], breaks, [len(times)]])
    return [(int(a), int(b)) for a, b in pairwise(edges)]


def _spec_items(spec: Any) -> dict[str, Any]:
    """Read a SplitConfig, a mapping or None into {name: (start, end) | fraction}."""
    if spec is None:
        return dict(DEFAULT_SPLITS)
    if isinstance(spec, Mapping):
        items = dict(spec)
    else:
        items = {name: getattr(spec, name) for name in SPLIT_NAMES if hasattr(spec, name)}
    unknown = set(items) - set(SPLIT_NAMES)
    if unknown:
        raise SstcastError(f"split: unknown split name(s) {sorted(unknown)}; use train/val/test")
    missing = [n for n in SPLIT_NAMES if n not in items]
    if missing:
        raise SstcastError(f"split: missing {', '.join(missing)}")
    return items


def _date_bounds(name: str, value: Any, times: pd.DatetimeIndex) -> tuple[int, int]:
    """Positions [start, stop) of the steps whose date lies in the inclusive [start, end]."""
    try:
        start, end = (pd.Timestamp(v) for v in value)
    except (TypeError, ValueError):
        raise SstcastError(f"split.{name}: expected [start, end] dates, got {value!r}") from None
    if end < start:
        raise SstcastError(f"split.{name}: end {end.date()} is before start {start.date()}")
    # An end date without a time of day includes that whole day.
    if end == end.normalize():
        end = end + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")
    a = int(times.searchsorted(start, side="left"))
    b = int(times.searchsorted(end, side="right"))
    return a, b


def time_splits(
    times: pd.DatetimeIndex,
    spec: Any,
    n_in: int,
    n_out: int,
    inputs_before_split: bool = False,
) -> dict[str, slice]:
    """Position ranges of ``train``, ``val`` and ``test`` on ``times``.

    ``spec`` is a :class:`sstcast.config.SplitConfig`, a mapping with the same keys, or None
    (fractions 0.8 / 0.1 / 0.1). Each entry is either ``[start, end]`` dates (inclusive) or a
    fraction of the steps; all three must be of the same kind. Returns ``{name: slice}`` with
    at least :func:`min_gap` unused steps between chronologically consecutive splits — or
    none with ``inputs_before_split``, where the slices are the *targets'* ranges and a
    window's inputs may lie before its split (:func:`window_span`): no target is then in two
    splits either, and a short validation year keeps all its months.
    """
    if n_in < 1 or n_out < 1:
        raise SstcastError(f"n_in and n_out must be >= 1, got {n_in} and {n_out}")
    times = _ns_index(times)
    if not times.is_monotonic_increasing or times.has_duplicates:
        raise SstcastError("time axis must be strictly increasing")
    items = _spec_items(spec)
    gap = 0 if inputs_before_split else min_gap(n_in, n_out)
    n = len(times)
    kinds = {isinstance(v, int | float) and not isinstance(v, bool) for v in items.values()}
    if len(kinds) != 1:
        raise SstcastError("split: give all of train/val/test as dates or all as fractions")

    if kinds == {True}:  # fractions
        fracs = {k: float(items[k]) for k in SPLIT_NAMES}
        if any(f <= 0 for f in fracs.values()) or sum(fracs.values()) > 1 + 1e-9:
            raise SstcastError(f"split: fractions must be > 0 and sum to <= 1, got {fracs}")
        usable = n - 2 * gap
        if usable < 3:
            raise SstcastError(
                f"split: {n} time steps are too few for three splits with gaps of {gap} steps"
            )
        out: dict[str, slice] = {}
        pos = 0
        for name in SPLIT_NAMES:
            size = int(np.floor(fracs[name] * usable + 1e-9))
            if size < 1:
                raise SstcastError(f"split.{name}: fraction {fracs[name]} gives no time steps")
            out[name] = slice(pos, pos + size)
            pos += size + gap
        return out

    bounds = {name: _date_bounds(name, items[name], times) for name in SPLIT_NAMES}
    order = sorted(SPLIT_NAMES, key=lambda k: bounds[k][0])
    for prev, nxt in pairwise(order):
        b_prev = bounds[prev][1]
        a_next, b_next = bounds[nxt]
        if a_next < b_prev:
            raise SstcastError(
                f"split: {prev} {list(items[prev])} and {nxt} {list(items[nxt])} overlap"
            )
        if a_next - b_prev < gap:
            new_start = b_prev + gap
            _note_once(
                f"note: split.{nxt}: starts {a_next - b_prev} steps after {prev}; trimmed its "
                f"first {new_start - a_next} steps to leave the {gap}-step gap (n_in + n_out - 1)"
            )
            if new_start >= b_next:
                raise SstcastError(
                    f"split.{nxt}: no time steps left once the {gap}-step gap after {prev} "
                    f"(n_in + n_out - 1) is taken out"
                )
            bounds[nxt] = (new_start, b_next)
    out = {}
    for name in SPLIT_NAMES:
        a, b = bounds[name]
        if b <= a:
            raise SstcastError(
                f"split.{name}: no time steps in {list(items[name])} "
                f"(data covers {times[0].date()} to {times[-1].date()})"
                if n
                else f"split.{name}: the time axis is empty"
            )
        out[name] = slice(a, b)
    return out


def window_span(span: slice, n_in: int, inputs_before_split: bool) -> slice:
    """The steps a split's windows may use: its own, and with ``inputs_before_split`` also
    the ``n_in`` steps before it (observations known at the first init), so that its first
    window's first target is its first step."""
    if not inputs_before_split:
        return span
    return slice(max(0, int(span.start) - n_in), span.stop)


def window_starts(
    times: pd.DatetimeIndex,
    span: slice,
    length: int,
    stride: int = 1,
    freq: str | pd.DateOffset | None = None,
) -> np.ndarray:
    """Positions of the first step of every window of ``length`` steps that lies wholly inside
    ``span`` and inside one contiguous run; every ``stride``-th from the start of each run."""
    if length < 1 or stride < 1:
        raise SstcastError(f"window length and stride must be >= 1, got {length} and {stride}")
    lo, hi, _ = span.indices(len(times))
    starts: list[np.ndarray] = []
    for a, b in contiguous_runs(times[lo:hi], freq):
        last = b - length  # last valid start inside the run (relative to lo)
        if last >= a:
            starts.append(np.arange(a, last + 1, stride) + lo)
    if not starts:
        return np.zeros(0, dtype=np.int64)
    return np.concatenate(starts).astype(np.int64)
