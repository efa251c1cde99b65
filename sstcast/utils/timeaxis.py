"""The step of a time axis: inferred as a pandas frequency string, turned into an offset,
and used to step times forward and back.

Ingest records the step of a cube's time axis as a string (the ``frequency`` attribute,
``"1D"``, ``"7D"``, ``"1MS"``, ``"30min"``); the data and forecast stages read it back to
tell a missing step from the next one and to find the times a forecast needs. All of them go
through this module, so every stage reads a time axis the same way.

Two kinds of step:

* **fixed** (``"1D"``, ``"5D"``, ``"7D"``, ``"6h"``, ``"30min"``): times one step apart differ
  by exactly that duration, whatever hour they are stamped at (daily means stamped at 12:00
  are ``"1D"``); weekly products are ``"7D"``. Lead times are durations (timedelta64).
* **calendar months** (``"1MS"``, ``"3MS"``): one step is one calendar month, whatever day
  and hour a product stamps its months on (the 1st, the 15th or 16th with an hour that varies
  with the month's length, the month's end). The stamps are kept as given; steps are counted
  in months (``year * 12 + month``), and lead times are whole months (integers), since a
  month has no fixed length.
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
    months = _monthly_step(values)
    if months:
        return f"{months}MS"
    if values.size >= 3:
        try:
            with pd.option_context("future.infer_freq_returns_offset", True):
                offset = pd.infer_freq(values)
        except (KeyError, pd.errors.OptionError):  # pandas without the option: a string
            offset = pd.infer_freq(values)
        freq = getattr(offset, "freqstr", offset)
        if freq is not None and not str(freq).lstrip("0123456789").startswith("W"):
            return _with_count(freq)
    diffs = np.diff(values.asi8)
    steps, counts = np.unique(diffs[diffs > 0], return_counts=True)
    if steps.size == 0:
        return IRREGULAR
    step = pd.Timedelta(int(steps[np.argmax(counts)]), "ns")
    if step % pd.Timedelta(days=1) == pd.Timedelta(0):
        return f"{step.days}D"
    return _with_count(pd.tseries.frequencies.to_offset(step).freqstr)


def _monthly_step(values: pd.DatetimeIndex) -> int:
    """Months per step when the axis is monthly (any day and hour of the month), else 0.

    Monthly means one step apart are 28-31 days apart when stamped on the same day of the
    month (the 1st, the month's end), and 27.5-31.5 days when stamped mid-month (the 15th at
    00:00 in February, the 16th at 12:00 in a 31-day month); one value per calendar month.
    Multi-month steps (seasonal means, "3MS") are recognised the same way.
    """
    number = _month_number(values)
    dn = np.diff(number)
    if dn.size == 0 or np.any(dn <= 0):  # two stamps in one month: not monthly
        return 0
    counts = np.bincount(dn)
    n = int(np.argmax(counts))
    days = np.diff(values.asi8) / 86_400e9
    one = dn == n
    if not (n * 27 <= days[one].min() and days[one].max() <= n * 31.5 + 0.5):
        return 0
    # Every stamp sits at about the same place in its month (a daily series that skips a
    # month now and then is not monthly): within half a month of the first's.
    if np.ptp(_month_fraction(values)) > 0.5:
        return 0
    return n


def _month_number(values: pd.DatetimeIndex) -> np.ndarray:
    """``year * 12 + month - 1``: consecutive months are consecutive integers."""
    return (values.year.to_numpy(np.int64) * 12 + values.month.to_numpy(np.int64) - 1).astype(
        np.int64
    )


def _month_fraction(values: pd.DatetimeIndex) -> np.ndarray:
    """Where each stamp lies in its month, 0 (the 1st at 00:00) to <1 (the month's end)."""
    start = values.to_period("M").to_timestamp().as_unit("ns")
    length = (values.days_in_month.to_numpy(np.float64)) * 86_400e9
    return (values.asi8 - start.asi8) / length


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


def months_per_step(freq: str | None) -> int:
    """Calendar months per step for a monthly frequency (``"1MS"`` -> 1, ``"3MS"`` -> 3,
    also ``"ME"``), 0 for a fixed step."""
    if not freq or freq == IRREGULAR:
        return 0
    offset = to_offset(freq)
    if isinstance(offset, pd.offsets.MonthBegin | pd.offsets.MonthEnd):
        return int(offset.n)
    return 0


def is_month_lead(lead_time: Any) -> bool:
    """Whether lead times are whole calendar months (integers) rather than durations."""
    return np.asarray(lead_time).dtype.kind in "iu"  # timedelta64 is kind "m"


def lead_times(freq: str | None, n_lead: int, step: pd.Timedelta | None = None) -> np.ndarray:
    """Lead times of steps ``1..n_lead``: timedelta64[ns] for a fixed step (``step``, else the
    frequency's), int64 months for a monthly frequency."""
    k = np.arange(1, n_lead + 1, dtype=np.int64)
    months = months_per_step(freq)
    if months:
        return k * months
    step = pd.Timedelta(to_offset(freq)) if step is None else pd.Timedelta(step)
    return (k * step.to_timedelta64()).astype("timedelta64[ns]")


def shift_months(times: Any, months: Any, reference: Any = None) -> np.ndarray:
    """``times`` moved by whole calendar months (broadcast against ``months``).

    A monthly product stamps each month at its own place (the 1st, mid-month, the end); the
    stamp of the target month is taken from ``reference`` (the cube's times) when that month
    is in it, so a forecast's valid times are the observations' own stamps. A month beyond the
    reference is stamped at the same fraction of its month as the time it was moved from
    (mid-month stays mid-month, the 1st stays the 1st).
    """
    t = np.asarray(times, "datetime64[ns]")
    m = np.asarray(months, np.int64)
    t, m = np.broadcast_arrays(t, m)
    flat = pd.DatetimeIndex(t.ravel())
    target = _month_number(flat) + m.ravel()
    year, month = np.divmod(target, 12)
    start = pd.to_datetime({"year": year, "month": month + 1, "day": 1}).dt.as_unit("ns")
    days = start.dt.days_in_month.to_numpy(np.float64)
    offset = np.rint(_month_fraction(flat) * days * 86_400e9).astype(np.int64)
    out = start.to_numpy().astype(np.int64) + offset
    if reference is not None:
        ref = pd.DatetimeIndex(np.asarray(reference, "datetime64[ns]"))
        if len(ref):
            ref_number = _month_number(ref)
            order = np.argsort(ref_number, kind="stable")
            pos = np.searchsorted(ref_number[order], target)
            pos = np.clip(pos, 0, len(ref) - 1)
            hit = ref_number[order][pos] == target
            out = np.where(hit, ref.asi8[order][pos], out)
    return out.astype("datetime64[ns]").reshape(t.shape)


def valid_times(init_times: Any, lead_time: Any, reference: Any = None) -> np.ndarray:
    """Valid times ``(n_init, n_lead)``: init + lead for durations, the init's month moved by
    the lead for month leads (stamped as ``reference``'s, see :func:`shift_months`)."""
    inits = np.asarray(init_times, "datetime64[ns]")
    if is_month_lead(lead_time):
        return shift_months(inits[:, None], np.asarray(lead_time, np.int64)[None, :], reference)
    return inits[:, None] + np.asarray(lead_time, "timedelta64[ns]")[None, :]


def step_back(
    times: Any, steps: Any, freq: str | None, step: pd.Timedelta, reference: Any = None
) -> np.ndarray:
    """``times`` moved back by ``steps`` whole steps (broadcast): calendar months for a
    monthly frequency (stamped as ``reference``'s), ``steps * step`` otherwise."""
    months = months_per_step(freq)
    if months:
        return shift_months(times, -np.asarray(steps, np.int64) * months, reference)
    back = np.asarray(steps, np.int64) * pd.Timedelta(step).to_timedelta64()
    return np.asarray(times, "datetime64[ns]") - back.astype("timedelta64[ns]")


def step_numbers(times: Any, freq: str | None) -> np.ndarray | None:
    """Steps counted as integers for a monthly frequency (``year * 12 + month``, divided into
    steps of ``n`` months are consecutive when they differ by ``n``), None for a fixed step
    (compare times by adding the offset)."""
    months = months_per_step(freq)
    if not months:
        return None
    return _month_number(pd.DatetimeIndex(np.asarray(times, "datetime64[ns]")))


def lead_label(lead: Any, unit: str | None = None) -> str:
    """A lead time as people say it: ``"3 days"``, ``"1 month"``, ``"30 min"``, ``"2 h"``."""
    if is_month_lead(np.asarray(lead)):
        n = int(lead)
        return f"{n} month" if n == 1 else f"{n} months"
    td = pd.Timedelta(np.asarray(lead, "timedelta64[ns]").item(), "ns")
    if td % pd.Timedelta(days=1) == pd.Timedelta(0):
        d = td.days
        return f"{d} day" if d == 1 else f"{d} days"
    minutes = int(td / pd.Timedelta(minutes=1))
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"
