"""The time-axis step: inferred as a string at ingest, read back as an offset by the data stage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sstcast import sources
from sstcast.data.splits import contiguous_runs
from sstcast.errors import SstcastError
from sstcast.utils.timeaxis import (
    infer_frequency,
    is_month_lead,
    lead_label,
    lead_times,
    months_per_step,
    shift_months,
    step_back,
    step_offset,
    to_offset,
    valid_times,
)


def test_sources_reexports_the_one_inference() -> None:
    assert sources.infer_frequency is infer_frequency


def test_to_offset_reads_what_ingest_writes() -> None:
    for freq in ("1D", "1MS", "30min", "7D"):
        assert to_offset(freq) == pd.tseries.frequencies.to_offset(freq)
    with pytest.raises(SstcastError, match="'every tuesday': not a pandas frequency"):
        to_offset("every tuesday")


def test_step_offset_given_inferred_or_one_day() -> None:
    months = pd.date_range("2010-01-01", periods=14, freq="MS").delete(5)
    assert step_offset(months) == to_offset(infer_frequency(months)) == to_offset("1MS")
    assert step_offset(months, "1D") == to_offset("1D")  # a given step wins
    assert step_offset(months, "irregular") == to_offset("1MS")
    assert step_offset(months[:1]) == to_offset("1D")  # one step: nothing to infer


# --------------------------------------------------------------------------------------
# Real products' calendars: one fixture per stamping convention
# --------------------------------------------------------------------------------------
_MONTH_STARTS = pd.date_range("2010-01-01", "2013-12-01", freq="MS")


def _mid_month(starts: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The middle of each month (the 16th 12:00 in a 31-day month, the 15th 00:00 in a
    28-day February, the 16th 00:00 in a 30-day month): many monthly products' stamps."""
    return starts + (starts + pd.offsets.MonthBegin(1) - starts) / 2


CONVENTIONS = {
    "month starts": (_MONTH_STARTS, "1MS"),
    "mid-month, hour varying": (_mid_month(_MONTH_STARTS), "1MS"),
    "the 15th": (_MONTH_STARTS + pd.Timedelta(days=14), "1MS"),
    "month ends": (pd.date_range("2010-01-31", periods=48, freq="ME"), "1MS"),
    "seasonal (3 months)": (pd.date_range("2010-01-01", periods=20, freq="3MS"), "3MS"),
    "daily at 12:00": (pd.date_range("2010-01-01 12:00", periods=400, freq="D"), "1D"),
    "5-day": (pd.date_range("2010-01-03", periods=200, freq="5D"), "5D"),
    "weekly (Sundays)": (pd.date_range("2010-01-03", periods=120, freq="W-SUN"), "7D"),
    "weekly (Wednesdays)": (pd.date_range("2010-01-06", periods=120, freq="W-WED"), "7D"),
    "30 days fixed": (pd.date_range("2010-01-01", periods=40, freq="30D"), "30D"),
    "half-hourly": (pd.date_range("2013-07-01", periods=480, freq="30min"), "30min"),
}


@pytest.mark.parametrize("name", list(CONVENTIONS))
def test_each_products_calendar_is_recognised(name: str) -> None:
    times, expected = CONVENTIONS[name]
    assert infer_frequency(times) == expected
    # a missing step is a gap, not another frequency
    assert infer_frequency(times.delete([3, 4])) == expected


@pytest.mark.parametrize("name", list(CONVENTIONS))
def test_windows_fit_and_gaps_split_the_axis(name: str) -> None:
    """contiguous_runs: the whole axis is one run; a missing step starts a new one."""
    times, expected = CONVENTIONS[name]
    assert contiguous_runs(times, expected) == [(0, len(times))]
    gappy = times.delete(10)
    assert contiguous_runs(gappy, expected) == [(0, 10), (10, len(times) - 1)]
    assert contiguous_runs(gappy) == [(0, 10), (10, len(times) - 1)]  # inferred the same way


def test_mid_month_stamps_step_in_calendar_months() -> None:
    times = _mid_month(_MONTH_STARTS)
    # the stamps of the next months are the product's own (Feb 15 00:00, Mar 16 12:00)
    moved = shift_months(times[:3].values, 1)
    assert np.array_equal(moved, times[1:4].values)
    # with the observations as reference their exact stamps are used
    ref = times[:10]
    got = valid_times(times[:2].values, np.array([1, 2, 3]), reference=ref)
    assert np.array_equal(got, np.stack([ref[1:4].values, ref[2:5].values]))
    assert np.array_equal(step_back(times[5:6].values, 2, "1MS", None, ref), ref[3:4].values)


def test_month_leads_are_whole_months_and_durations_stay_durations() -> None:
    assert lead_times("1MS", 3).tolist() == [1, 2, 3]
    assert lead_times("3MS", 2).tolist() == [3, 6]
    assert is_month_lead(lead_times("1MS", 3))
    daily = lead_times("1D", 2)
    assert daily.dtype == np.dtype("timedelta64[ns]") and not is_month_lead(daily)
    assert lead_times("7D", 1)[0] == np.timedelta64(7, "D")
    assert months_per_step("1MS") == 1 and months_per_step("1D") == 0
    assert lead_label(np.int64(1)) == "1 month" and lead_label(np.int64(3)) == "3 months"
    assert lead_label(np.timedelta64(5, "D")) == "5 days"
    assert lead_label(np.timedelta64(30, "m")) == "30 min"


def test_a_daily_series_skipping_months_is_not_monthly() -> None:
    days = pd.date_range("2010-01-01", periods=30, freq="D").append(
        pd.date_range("2010-03-01", periods=30, freq="D")
    )
    assert infer_frequency(days) == "1D"
