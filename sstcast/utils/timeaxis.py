"""The step of a time axis: inferred as a pandas frequency string, and turned into an offset.

Ingest records the step of a cube's time axis as a string (the ``frequency`` attribute,
``"1D"``, ``"1MS"``, ``"30min"``); the data stage needs it as a :class:`pandas.DateOffset`
to tell a missing day from the next step. Both go through this module, so the two stages
read a time axis the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sstcast.errors import SstcastError

#: What :func:`infer_frequency` says of an axis with no step to infer.
IRREGULAR = "irregular"


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
        return IRREGULAR
    if values.size >= 3:
        try:
            with pd.option_context("future.infer_freq_returns_offset", True):
                offset = pd.infer_freq(values)
        except (KeyError, pd.errors.OptionError):  # pandas without the option: a string
            offset = pd.infer_freq(values)
        freq = getattr(offset, "freqstr", offset)
        if freq is not None:
            return _with_count(freq)
    diffs = np.diff(values.asi8)
    steps, counts = np.unique(diffs[diffs > 0], return_counts=True)
    if steps.size == 0:
        return IRREGULAR
    step = pd.Timedelta(int(steps[np.argmax(counts)]), "ns")
    on_month_starts = bool(np.all(values.day == 1) and np.all(values == values.normalize()))
    if on_month_starts and pd.Timedelta(days=28) <= step <= pd.Timedelta(days=31):
        return "1MS"
    if step % pd.Timedelta(days=1) == pd.Timedelta(0):
        return f"{step.days}D"
    return _with_count(pd.tseries.frequencies.to_offset(step).freqstr)


def _with_count(freq: str) -> str:
    """``"D"`` -> ``"1D"``: the count is always written, so equal steps compare equal."""
    return freq if freq[0].isdigit() else f"1{freq}"


def to_offset(freq: str) -> pd.DateOffset:
    """A pandas frequency string (``"1D"``, ``"1MS"``, ``"30min"``) as an offset; a one-line
    SstcastError naming the string when pandas does not know it."""
    try:
        return pd.tseries.frequencies.to_offset(freq)
    except ValueError:
        raise SstcastError(f"frequency {freq!r}: not a pandas frequency string") from None


def step_offset(times: Any, freq: str | None = None) -> pd.DateOffset:
    """The step of a time axis as a pandas offset.

    ``freq`` (e.g. the cube's ``frequency`` attribute, "1D" or "1MS") wins when given;
    otherwise it is inferred from the times as ingest does (:func:`infer_frequency`: missing
    steps stay gaps), one day for a single step.
    """
    if freq and freq != IRREGULAR:
        return to_offset(freq)
    inferred = infer_frequency(pd.DatetimeIndex(times).as_unit("ns"))
    return to_offset("1D" if inferred == IRREGULAR else inferred)
