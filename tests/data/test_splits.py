"""Time splits: gaps, trimming, fractions, contiguous runs, and a no-leak property test."""

from __future__ import annotations

import warnings
from itertools import pairwise

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sstcast.data.splits as splits_mod
from sstcast.config import SplitConfig
from sstcast.data.splits import (
    contiguous_runs,
    min_gap,
    time_splits,
    window_starts,
)
from sstcast.errors import SstcastError
from sstcast.utils.timeaxis import step_offset


def test_contiguous_runs_daily_with_missing_days() -> None:
    times = pd.date_range("2020-01-01", periods=10, freq="D").delete([3, 7, 8])
    assert contiguous_runs(times) == [(0, 3), (3, 6), (6, 7)]
    assert contiguous_runs(times[:0]) == []


def test_contiguous_runs_monthly() -> None:
    times = pd.date_range("2010-01-01", periods=14, freq="MS").delete(5)
    assert str(step_offset(times).freqstr) == "MS"
    assert contiguous_runs(times) == [(0, 5), (5, 13)]
    assert contiguous_runs(times, "1MS") == [(0, 5), (5, 13)]


def test_contiguous_runs_half_hourly_and_explicit_freq() -> None:
    times = pd.date_range("2015-03-01", periods=96, freq="30min").delete(50)
    assert contiguous_runs(times) == [(0, 50), (50, 95)]
    # Read as daily data, every step would be a break: runs of one.
    assert len(contiguous_runs(times[:5], "1D")) == 5


def test_unsorted_time_is_an_error() -> None:
    times = pd.DatetimeIndex(["2020-01-02", "2020-01-01"])
    with pytest.raises(SstcastError, match="increasing"):
        contiguous_runs(times)


def test_dated_splits_trim_the_later_split_and_warn(caplog: pytest.LogCaptureFixture) -> None:
    splits_mod._NOTED.clear()
    times = pd.date_range("2010-01-01", "2021-12-31", freq="D")
    spec = SplitConfig(
        train=("2010-01-01", "2019-12-31"),
        val=("2020-01-01", "2020-12-31"),
        test=("2021-01-01", "2021-12-31"),
    )
    with caplog.at_level("INFO", logger="sstcast"):
        s = time_splits(times, spec, 10, 10)
    assert "trimmed its first 19 steps" in caplog.text
    assert times[s["train"].start] == pd.Timestamp("2010-01-01")
    assert times[s["train"].stop - 1] == pd.Timestamp("2019-12-31")
    assert s["val"].start - s["train"].stop == min_gap(10, 10) == 19
    assert times[s["val"].start] == pd.Timestamp("2020-01-20")
    assert times[s["val"].stop - 1] == pd.Timestamp("2020-12-31")
    assert s["test"].start - s["val"].stop == 19
    assert times[s["test"].stop - 1] == pd.Timestamp("2021-12-31")


def test_dated_splits_with_enough_gap_are_untouched() -> None:
    times = pd.date_range("2010-01-01", periods=300, freq="D")
    spec = {
        "train": ["2010-01-01", "2010-06-30"],
        "val": ["2010-08-01", "2010-08-31"],
        "test": ["2010-09-21", "2010-10-20"],
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = time_splits(times, spec, 3, 2)
    assert times[s["val"].start] == pd.Timestamp("2010-08-01")
    assert times[s["test"].start] == pd.Timestamp("2010-09-21")


def test_dated_splits_in_any_order() -> None:
    # Test before train: the gap is enforced chronologically (train's start is trimmed).
    times = pd.date_range("2000-01-01", periods=100, freq="D")
    spec = {
        "test": ["2000-01-01", "2000-01-20"],
        "val": ["2000-01-21", "2000-02-10"],
        "train": ["2000-02-11", "2000-04-09"],
    }
    s = time_splits(times, spec, 2, 3)
    assert s["val"].start - s["test"].stop >= 4
    assert s["train"].start - s["val"].stop >= 4


def test_split_errors() -> None:
    times = pd.date_range("2000-01-01", periods=100, freq="D")
    overlap = {
        "train": ["2000-01-01", "2000-02-10"],
        "val": ["2000-02-01", "2000-02-20"],
        "test": ["2000-03-01", "2000-03-20"],
    }
    with pytest.raises(SstcastError, match="overlap"):
        time_splits(times, overlap, 2, 2)
    mixed = {"train": 0.8, "val": ["2000-02-01", "2000-02-20"], "test": 0.1}
    with pytest.raises(SstcastError, match="all as fractions"):
        time_splits(times, mixed, 2, 2)
    outside = {
        "train": ["2000-01-01", "2000-02-10"],
        "val": ["2000-02-20", "2000-03-01"],
        "test": ["2001-01-01", "2001-02-01"],
    }
    with pytest.raises(SstcastError, match=r"split\.test: no time steps"):
        time_splits(times, outside, 2, 2)
    with pytest.raises(SstcastError, match="sum"):
        time_splits(times, {"train": 0.8, "val": 0.2, "test": 0.2}, 2, 2)
    with pytest.raises(SstcastError, match="missing"):
        time_splits(times, {"train": 0.8, "val": 0.1}, 2, 2)


def test_fraction_splits_allocate_then_gap() -> None:
    times = pd.date_range("2000-01-01", periods=1000, freq="D")
    s = time_splits(times, {"train": 0.7, "val": 0.15, "test": 0.15}, 4, 3)
    gap = 6
    usable = 1000 - 2 * gap
    assert s["train"] == slice(0, int(0.7 * usable))
    assert s["val"].start == s["train"].stop + gap
    assert s["test"].start == s["val"].stop + gap
    assert s["test"].stop <= 1000
    assert s["val"].stop - s["val"].start == int(0.15 * usable)
    assert time_splits(times, None, 4, 3)["train"].stop == int(0.8 * usable)


def test_window_starts_by_hand() -> None:
    times = pd.date_range("2000-01-01", periods=20, freq="D").delete([8])
    # Runs: positions 0..7 (8 days) and 8..18 (11 days). Windows of 4 in span [2, 17).
    got = window_starts(times, slice(2, 17), 4)
    assert got.tolist() == [2, 3, 4, 8, 9, 10, 11, 12, 13]
    assert window_starts(times, slice(2, 17), 4, stride=2).tolist() == [2, 4, 8, 10, 12]
    assert window_starts(times, slice(0, 3), 4).size == 0


@st.composite
def _cases(draw: st.DrawFn) -> tuple[pd.DatetimeIndex, object, int, int, int]:
    n_in = draw(st.integers(1, 8))
    n_out = draw(st.integers(1, 8))
    length = draw(st.integers(200, 500))
    times = pd.date_range("2001-01-01", periods=length, freq="D")
    holes = draw(st.lists(st.integers(0, length - 1), max_size=12, unique=True))
    times = times.delete(sorted(holes))
    stride = draw(st.integers(1, 3))
    if draw(st.booleans()):
        f_train = draw(st.floats(0.3, 0.7))
        f_val = draw(st.floats(0.05, (1 - f_train) / 2))
        f_test = draw(st.floats(0.05, 1 - f_train - f_val))
        spec: object = {"train": f_train, "val": f_val, "test": f_test}
    else:
        days = pd.date_range(times[0], times[-1], freq="D")
        cut1 = draw(st.integers(len(days) // 3, len(days) // 2))
        gap1 = draw(st.integers(0, 25))
        gap2 = draw(st.integers(0, 25))
        cut2 = draw(st.integers(cut1 + gap1 + 5, len(days) - gap2 - 5))
        spec = {
            "train": [str(days[0].date()), str(days[cut1 - 1].date())],
            "val": [str(days[cut1 + gap1].date()), str(days[cut2 - 1].date())],
            "test": [str(days[cut2 + gap2].date()), str(days[-1].date())],
        }
    return times, spec, n_in, n_out, stride


@settings(max_examples=60, deadline=None)
@given(_cases())
def test_no_day_is_seen_by_two_splits(case: tuple) -> None:
    times, spec, n_in, n_out, stride = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        try:
            s = time_splits(times, spec, n_in, n_out)
        except SstcastError as err:  # a split trimmed to nothing: said clearly
            assert "no time steps" in str(err), err
            return
    length = n_in + n_out
    day = pd.Timedelta(days=1)
    used: dict[str, set[pd.Timestamp]] = {}
    for name, span in s.items():
        days: set[pd.Timestamp] = set()
        for start in window_starts(times, span, length, stride):
            assert span.start <= start and start + length <= span.stop  # inside its split
            win = times[start : start + length]
            assert (
                np.diff(win.values) == day.to_timedelta64()
            ).all()  # never bridges a missing day
            days.update(win)
        used[name] = days
    assert not used["train"] & used["val"]
    assert not used["train"] & used["test"]
    assert not used["val"] & used["test"]
    order = sorted(s.values(), key=lambda sl: sl.start)
    for a, b in pairwise(order):
        assert b.start - a.stop >= min_gap(n_in, n_out)
