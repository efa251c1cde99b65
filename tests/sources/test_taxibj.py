"""TaxiBJ: the toy-city sample writer and the reader (sstcast.sample.toycity, sstcast.sources.taxibj)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from sstcast.errors import SstcastError
from sstcast.sample.toycity import FLOW_FILE, HOLIDAY_FILE, METEOROLOGY_FILE, write_taxibj_sample
from sstcast.sources.taxibj import WEATHER_CLASSES, describe_taxibj, open_taxibj

SAMPLE_HOLIDAYS = {"20160402", "20160403", "20160404", "20160430", "20160501", "20160502"}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("taxibj")
    write_taxibj_sample(out, seed=3, progress=False)
    return out


@pytest.fixture(scope="module")
def raw(sample: Path) -> dict[str, np.ndarray]:
    with h5py.File(sample / FLOW_FILE) as f:
        out = {"data": f["data"][...], "date": f["date"][...]}
    with h5py.File(sample / METEOROLOGY_FILE) as f:
        out.update({f"met_{k}": f[k][...] for k in f})
    return out


@pytest.fixture(scope="module")
def cube(sample: Path) -> xr.Dataset:
    return open_taxibj(
        [sample / "BJ*_M32x32_T30_InOut.h5"], sample / METEOROLOGY_FILE, sample / HOLIDAY_FILE
    )


def _write_flow(path: Path, codes: list[str], data: np.ndarray) -> Path:
    with h5py.File(path, "w") as f:
        f.create_dataset("date", data=np.array(codes, dtype="S10"))
        f.create_dataset("data", data=data)
    return path


def _codes(start: str, n: int) -> list[str]:
    times = pd.date_range(start, periods=n, freq="30min")
    return [f"{t:%Y%m%d}{t.hour * 2 + t.minute // 30 + 1:02d}" for t in times]


# --------------------------------------------------------------------------------------
# The sample writer
# --------------------------------------------------------------------------------------
def test_sample_files_have_the_real_layout(sample: Path, raw: dict[str, np.ndarray]) -> None:
    assert sorted(p.name for p in sample.iterdir()) == sorted(
        [FLOW_FILE, METEOROLOGY_FILE, HOLIDAY_FILE]
    )
    data, date = raw["data"], raw["date"]
    assert data.dtype == np.float64 and data.shape[1:] == (2, 32, 32)
    assert date.dtype == np.dtype("S10") and len(date) == len(data)
    assert date[0] == b"2016030101" and date[-1] == b"2016053148"
    assert 4000 < len(data) < 48 * 92  # some slots are missing
    assert data.min() >= 0 and np.array_equal(data, np.round(data))  # counts
    assert 300 < data.max() < 3000
    n_met = 48 * 92
    assert raw["met_date"].shape == (n_met,) and raw["met_Weather"].shape == (n_met, 17)
    assert raw["met_Temperature"].shape == raw["met_WindSpeed"].shape == (n_met,)
    assert np.array_equal(raw["met_Weather"].sum(axis=1), np.ones(n_met))
    assert -10 < raw["met_Temperature"].min() and raw["met_Temperature"].max() < 40
    assert raw["met_WindSpeed"].min() >= 0
    lines = (sample / HOLIDAY_FILE).read_text().split()
    assert set(lines) == SAMPLE_HOLIDAYS


def test_sample_is_deterministic_for_a_seed(tmp_path: Path, raw: dict[str, np.ndarray]) -> None:
    again = write_taxibj_sample(tmp_path / "a", seed=3, progress=False)
    with h5py.File(again[0]) as f:
        assert np.array_equal(f["data"][...], raw["data"])
        assert np.array_equal(f["date"][...], raw["date"])
    with h5py.File(again[1]) as f:
        assert np.array_equal(f["Temperature"][...], raw["met_Temperature"])
    other = write_taxibj_sample(tmp_path / "b", seed=4, progress=False)
    with h5py.File(other[0]) as f:
        assert not np.array_equal(
            f["data"][: len(raw["data"]) // 2], raw["data"][: len(raw["data"]) // 2]
        )
    assert not list((tmp_path / "a").glob(".*tmp"))  # atomic writes leave no temporaries


def test_sample_has_daily_weekly_and_holiday_rhythm(cube: xr.Dataset) -> None:
    total = cube["flow"].sum(("y", "x")).to_series().unstack("direction")
    hour = total.index.hour
    workday = (total.index.day_of_week < 5) & ~np.isin(
        total.index.strftime("%Y%m%d"), list(SAMPLE_HOLIDAYS)
    )
    morning = (hour >= 7) & (hour < 10)
    night = (hour >= 2) & (hour < 5)
    # a strong morning commute on workdays, much weaker on weekends and holidays
    assert (
        total[morning & workday]["inflow"].mean() > 1.4 * total[morning & ~workday]["inflow"].mean()
    )
    assert total[night]["inflow"].mean() < 0.1 * total[morning & workday]["inflow"].mean()
    # the CBD (business) fills in the morning and empties in the evening
    cbd = cube["flow"].sel(y=15, x=20).to_series().unstack("direction")
    evening = (hour >= 17) & (hour < 20)
    am, pm = cbd[morning & workday].mean(), cbd[evening & workday].mean()
    assert am["inflow"] > 1.5 * am["outflow"] and pm["outflow"] > 1.2 * pm["inflow"]
    # rain lowers traffic: compare workday daytime slots under rain and sunshine
    rainy = cube["weather"].values[:, 3:9].sum(axis=1).astype(bool)
    sunny = cube["weather"].values[:, 0].astype(bool)
    day = workday & (hour >= 9) & (hour < 17)
    assert total["inflow"][day & rainy].mean() < total["inflow"][day & sunny].mean()


# --------------------------------------------------------------------------------------
# The reader on the sample
# --------------------------------------------------------------------------------------
def test_reader_builds_the_cube(cube: xr.Dataset, raw: dict[str, np.ndarray]) -> None:
    n = len(raw["data"])
    assert dict(cube.sizes) == {"time": n, "direction": 2, "y": 32, "x": 32, "weather_class": 17}
    assert cube["flow"].dims == ("time", "direction", "y", "x")
    assert cube["flow"].dtype == np.float32
    assert list(cube["direction"].values) == ["inflow", "outflow"]
    assert cube["temperature"].dtype == np.float32 and cube["wind_speed"].dtype == np.float32
    assert cube["weather"].dtype == np.int8 and cube["holiday"].dtype == np.int8
    assert cube["day_of_week"].dtype == np.int8
    assert cube.attrs["sstcast_kind"] == "taxibj" and cube.attrs["slots_per_day"] == 48
    np.testing.assert_array_equal(cube["flow"].values, raw["data"].astype(np.float32))
    assert [
        r["path"].endswith(name)
        for r, name in zip(
            json.loads(cube.attrs["source_files"]),
            [FLOW_FILE, METEOROLOGY_FILE, HOLIDAY_FILE],
            strict=True,
        )
    ] == [True, True, True]


def test_slot_codes_become_slot_start_datetimes(
    cube: xr.Dataset, raw: dict[str, np.ndarray]
) -> None:
    times = pd.DatetimeIndex(cube["time"].values)
    assert times[0] == pd.Timestamp("2016-03-01 00:00")  # slot 01
    assert times[-1] == pd.Timestamp("2016-05-31 23:30")  # slot 48
    for i in (0, 1, 47, 48, 1000, len(times) - 1):
        code = raw["date"][i].decode()
        expected = pd.Timestamp(code[:8]) + pd.Timedelta(minutes=30 * (int(code[8:]) - 1))
        assert times[i] == expected
    assert (cube["day_of_week"].values == times.day_of_week).all()


def test_meteorology_is_aligned_by_slot_code(cube: xr.Dataset, raw: dict[str, np.ndarray]) -> None:
    met_index = {code: i for i, code in enumerate(raw["met_date"])}
    assert cube.attrs["meteorology_filled_slots"] == 0
    # the flows miss slots, so positions in the two files differ: alignment is by code
    assert met_index[raw["date"][-1]] > len(raw["date"]) - 1
    for i in (0, 5, 777, 2500, len(raw["date"]) - 1):
        j = met_index[raw["date"][i]]
        assert cube["temperature"].values[i] == np.float32(raw["met_Temperature"][j])
        assert cube["wind_speed"].values[i] == np.float32(raw["met_WindSpeed"][j])
        np.testing.assert_array_equal(cube["weather"].values[i], raw["met_Weather"][j])


def test_holidays_are_flagged_on_their_days(cube: xr.Dataset) -> None:
    times = pd.DatetimeIndex(cube["time"].values)
    flagged = set(times[cube["holiday"].values == 1].strftime("%Y%m%d"))
    assert flagged == SAMPLE_HOLIDAYS
    on_0404 = cube["holiday"].sel(time=slice("2016-04-04", "2016-04-04 23:59")).values
    assert on_0404.size > 0 and (on_0404 == 1).all()
    assert (cube["holiday"].sel(time=slice("2016-04-05", "2016-04-05 23:59")).values == 0).all()


def test_incomplete_days_are_listed(cube: xr.Dataset, raw: dict[str, np.ndarray]) -> None:
    days = pd.Series([c[:8].decode() for c in raw["date"]]).value_counts()
    expected = sorted(pd.to_datetime(days[days < 48].index).strftime("%Y-%m-%d"))
    listed = json.loads(cube.attrs["incomplete_days"])
    assert listed == expected and len(listed) >= 2
    # and one whole day is missing from the sample: a gap, not an incomplete day
    all_days = pd.date_range("2016-03-01", "2016-05-31").strftime("%Y%m%d")
    assert len(set(all_days) - set(days.index)) == 1
    assert "incomplete days" in describe_taxibj(cube)
    assert describe_taxibj(cube).startswith(f"TaxiBJ: {cube.sizes['time']} slots 2016-03-01 00:00")


@pytest.mark.filterwarnings("ignore:The data type .* does not have a Zarr V3 specification")
def test_cube_survives_a_zarr_round_trip(cube: xr.Dataset, tmp_path: Path) -> None:
    small = cube.isel(time=slice(0, 96))
    small.to_zarr(tmp_path / "c.zarr", consolidated=False, zarr_format=3)
    back = xr.open_zarr(tmp_path / "c.zarr", consolidated=False).load()
    xr.testing.assert_identical(back, small)


# --------------------------------------------------------------------------------------
# The reader on hand-written files
# --------------------------------------------------------------------------------------
def test_negative_flows_are_clipped_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = np.ones((96, 2, 32, 32))
    data[3, 0, 1, 1] = -2.0
    data[50, 1, 5, 7] = -0.5
    data[60, 1, 0, 0] = -1.0
    path = _write_flow(tmp_path / "BJ16_M32x32_T30_InOut.h5", _codes("2016-01-01", 96), data)
    with caplog.at_level(logging.WARNING, logger="sstcast.sources.taxibj"):
        ds = open_taxibj([path])
    assert ds.attrs["negative_values_clipped"] == 3
    assert float(ds["flow"].min()) == 0.0
    assert (
        float(ds["flow"].values[3, 0, 1, 1]) == 0.0 and float(ds["flow"].values[4, 0, 1, 1]) == 1.0
    )
    assert "clipped 3 negative" in caplog.text
    assert "3 negative values clipped" in describe_taxibj(ds)
    # without meteorology and holidays the factors are present but empty
    assert ds.attrs["has_meteorology"] == 0 and ds.attrs["has_holidays"] == 0
    assert np.isnan(ds["temperature"].values).all() and (ds["weather"].values == 0).all()
    assert (ds["holiday"].values == 0).all()


def test_files_are_merged_sorted_and_deduplicated(tmp_path: Path) -> None:
    codes = _codes("2015-12-31", 144)  # 2015-12-31 .. 2016-01-02
    values = np.arange(144, dtype=np.float64)[:, None, None, None] * np.ones((1, 2, 32, 32))
    late = _write_flow(tmp_path / "BJ16_M32x32_T30_InOut.h5", codes[90:], values[90:])
    early = _write_flow(tmp_path / "BJ15_M32x32_T30_InOut.h5", codes[:100], values[:100] + 0.5)
    ds = open_taxibj([late, early])  # given out of order; slots 90..99 in both files
    assert ds.sizes["time"] == 144 and ds.attrs["duplicate_slots_dropped"] == 10
    assert pd.DatetimeIndex(ds["time"].values).equals(
        pd.date_range("2015-12-31", periods=144, freq="30min")
    )
    # duplicates keep the first file given (the BJ16 one here)
    assert float(ds["flow"].values[95, 0, 0, 0]) == 95.0
    assert float(ds["flow"].values[10, 0, 0, 0]) == 10.5
    assert json.loads(ds.attrs["incomplete_days"]) == []


def test_missing_meteorology_slots_are_filled(tmp_path: Path) -> None:
    codes = _codes("2016-01-01", 48)
    flow = _write_flow(tmp_path / "BJ16_M32x32_T30_InOut.h5", codes, np.zeros((48, 2, 32, 32)))
    keep = [i for i in range(48) if i not in (10, 11, 12)]
    weather = np.zeros((48, 17))
    weather[:20, 0] = 1
    weather[20:, 3] = 1
    with h5py.File(tmp_path / "BJ_Meteorology.h5", "w") as f:
        f["date"] = np.array(codes, dtype="S10")[keep]
        f["Temperature"] = np.arange(48, dtype=np.float64)[keep]
        f["WindSpeed"] = np.full(48, 2.0)[keep]
        f["Weather"] = weather[keep]
    ds = open_taxibj([flow], tmp_path / "BJ_Meteorology.h5")
    assert ds.attrs["meteorology_filled_slots"] == 3
    np.testing.assert_allclose(ds["temperature"].values, np.arange(48))  # linear in time
    assert (ds["wind_speed"].values == 2.0).all()
    assert (ds["weather"].values.argmax(axis=1)[:20] == 0).all()  # last known class carried on
    assert (ds["weather"].values.argmax(axis=1)[20:] == 3).all()
    # some DeepST copies name the codes ``Timeslot``: read the same
    with h5py.File(tmp_path / "BJ_Meteorology.h5", "a") as f:
        f.move("date", "Timeslot")
    again = open_taxibj([flow], tmp_path / "BJ_Meteorology.h5")
    np.testing.assert_array_equal(again["temperature"].values, ds["temperature"].values)


def _bad_files(tmp: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, words expected in the error)."""
    good = np.zeros((48, 2, 32, 32))
    codes = _codes("2016-01-01", 48)
    text = tmp / "notes.h5"
    text.write_text("this is not HDF5\n")
    truncated = _write_flow(
        tmp / "truncated.h5", codes, np.random.default_rng(0).random((48, 2, 32, 32))
    )
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
    no_data = tmp / "no_data.h5"
    with h5py.File(no_data, "w") as f:
        f["date"] = np.array(codes, dtype="S10")
        f["flows"] = good
    no_date = tmp / "no_date.h5"
    with h5py.File(no_date, "w") as f:
        f["data"] = good
    return {
        "missing": (tmp / "BJ99_M32x32_T30_InOut.h5", "file not found"),
        "not_hdf5": (text, "not an HDF5 file"),
        "truncated": (truncated, "truncated or corrupt"),
        "no_data": (no_data, "no 'data' dataset (found: date, flows)"),
        "no_date": (no_date, "no 'date' dataset"),
        "three_channels": (
            _write_flow(tmp / "c3.h5", codes, np.zeros((48, 3, 32, 32))),
            "expected (slots, 2, 32, 32)",
        ),
        "three_dims": (
            _write_flow(tmp / "d3.h5", codes, np.zeros((48, 32, 32))),
            "has shape (48, 32, 32)",
        ),
        "length": (
            _write_flow(tmp / "len.h5", codes[:40], good),
            "'date' has 40 slots but 'data' has 48",
        ),
        "slot49": (
            _write_flow(tmp / "s49.h5", [*codes[:47], "2016010149"], good),
            "outside 01..48",
        ),
        "baddate": (
            _write_flow(tmp / "bd.h5", [*codes[:47], "2016023101"], good),
            "not a real date",
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing",
        "not_hdf5",
        "truncated",
        "no_data",
        "no_date",
        "three_channels",
        "three_dims",
        "length",
        "slot49",
        "baddate",
    ],
)
def test_bad_flow_files_give_one_line_naming_the_file(tmp_path: Path, case: str) -> None:
    path, words = _bad_files(tmp_path)[case]
    with pytest.raises(SstcastError) as err:
        open_taxibj([path])
    message = str(err.value)
    assert str(path) in message and words in message and "\n" not in message


def test_bad_side_files_and_patterns(tmp_path: Path) -> None:
    codes = _codes("2016-01-01", 48)
    flow = _write_flow(tmp_path / "BJ16_M32x32_T30_InOut.h5", codes, np.zeros((48, 2, 32, 32)))
    with pytest.raises(SstcastError, match="no file matches"):
        open_taxibj([tmp_path / "BJ13_*.h5"])
    with pytest.raises(SstcastError, match="no flow files given"):
        open_taxibj([])
    met = tmp_path / "BJ_Meteorology.h5"
    with h5py.File(met, "w") as f:
        f["date"] = np.array(codes, dtype="S10")
        f["Temperature"] = np.zeros(48)
        f["WindSpeed"] = np.zeros(48)
    with pytest.raises(SstcastError, match=r"BJ_Meteorology.h5: no 'Weather' dataset"):
        open_taxibj([flow], met)
    with h5py.File(met, "a") as f:
        f["Weather"] = np.zeros((48, 5))
    with pytest.raises(SstcastError, match=r"'Weather' has shape \(48, 5\)"):
        open_taxibj([flow], met)
    holidays = tmp_path / "BJ_Holiday.txt"
    holidays.write_text("20160101\n\n2016-01-02\n")
    with pytest.raises(
        SstcastError, match=r"BJ_Holiday.txt: line 3 '2016-01-02' is not a YYYYMMDD"
    ):
        open_taxibj([flow], holidays=holidays)
    with pytest.raises(SstcastError, match=r"BJ_Holiday.txt: file not found"):
        open_taxibj([flow], holidays=tmp_path / "x" / "BJ_Holiday.txt")


def test_grids_must_agree(tmp_path: Path) -> None:
    a = _write_flow(
        tmp_path / "BJ15_M32x32_T30_InOut.h5", _codes("2016-01-01", 48), np.zeros((48, 2, 32, 32))
    )
    b = _write_flow(
        tmp_path / "BJ16_M16x16_T30_InOut.h5", _codes("2016-01-02", 48), np.zeros((48, 2, 16, 16))
    )
    with pytest.raises(SstcastError, match="different grids"):
        open_taxibj([a, b])


def test_weather_classes_match_the_taxibj_readme() -> None:
    assert len(WEATHER_CLASSES) == 17
    assert WEATHER_CLASSES[0] == "Sunny" and WEATHER_CLASSES[3] == "Rainy"
    assert WEATHER_CLASSES[10] == "Snowy" and WEATHER_CLASSES[16] == "Dusty"
