"""ST-ResNet sampling (sstcast.data.stresnet): indices, gaps, splits, scaling, external vector."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr

from sstcast.data.normalize import FlowAnomalyScaler, normalizer_from_dataset
from sstcast.data.stresnet import EXT_DIM, EXT_NAMES, FlowScaler, STResNetDataset, stresnet_splits
from sstcast.errors import SstcastError
from sstcast.sample.toycity import FLOW_FILE, HOLIDAY_FILE, METEOROLOGY_FILE, write_taxibj_sample
from sstcast.sources.taxibj import open_taxibj

START = pd.Timestamp("2016-03-07")  # a Monday
STEP = pd.Timedelta("30min")
DAY = pd.Timedelta("1D")


def _slot(t: pd.Timestamp) -> int:
    """Slot number since START; the toy cube's flows encode it."""
    return int((t - START) / STEP)


def toy_cube(
    n_days: int = 21, drop: tuple[int, ...] = (), holidays: tuple[int, ...] = ()
) -> xr.Dataset:
    """A small TaxiBJ-layout cube whose values tell which slot they come from:
    inflow = 2 * slot, outflow = 2 * slot + 1, temperature = slot / 10, weather = slot % 17."""
    times = pd.date_range(START, periods=48 * n_days, freq="30min")
    times = times.delete(list(drop))
    slot = np.array([_slot(t) for t in times])
    flow = np.stack([2.0 * slot, 2.0 * slot + 1], axis=1)[:, :, None, None] * np.ones((1, 1, 3, 4))
    day_index = np.asarray((times - START) // DAY)
    return xr.Dataset(
        {
            "flow": (("time", "direction", "y", "x"), flow.astype(np.float32)),
            "temperature": ("time", (slot / 10.0).astype(np.float32)),
            "wind_speed": ("time", np.full(len(times), 3.0, dtype=np.float32)),
            "weather": (("time", "weather_class"), np.eye(17, dtype=np.int8)[slot % 17]),
            "holiday": ("time", np.isin(day_index, holidays).astype(np.int8)),
            "day_of_week": ("time", times.day_of_week.to_numpy().astype(np.int8)),
        },
        coords={
            "time": times,
            "direction": ["inflow", "outflow"],
            "y": np.arange(3),
            "x": np.arange(4),
        },
        attrs={"sstcast_kind": "taxibj", "slots_per_day": 48, "incomplete_days": "[]"},
    )


# Day 12 misses three slots (an incomplete day, dropped); day 16 is missing entirely (a gap).
DROP = (*range(12 * 48 + 10, 12 * 48 + 13), *range(16 * 48, 17 * 48))


def expected_targets(times: pd.DatetimeIndex, lc: int, lp: int, lt: int) -> set[pd.Timestamp]:
    """Brute force, one timestamp at a time: targets whose frames all exist."""
    counts = pd.Series(1, index=times).groupby(times.normalize()).count()
    complete = set(counts[counts == 48].index)
    kept = {t for t in times if t.normalize() in complete}
    out = set()
    for t in kept:
        need = [t - j * STEP for j in range(1, lc + 1)]
        need += [t - j * DAY for j in range(1, lp + 1)]
        need += [t - 7 * j * DAY for j in range(1, lt + 1)]
        need.append(t - STEP)
        if all(n in kept for n in need):
            out.add(t)
    return out


# --------------------------------------------------------------------------------------
# Indices on a hand-made cube
# --------------------------------------------------------------------------------------
def test_frames_are_the_hand_computed_timestamps() -> None:
    ds = STResNetDataset(toy_cube(), "train", test_days=3)
    first = ds.frame_times(0)
    t = START + 7 * DAY  # the first target with a trend frame one week back
    assert first["target"][0] == t
    assert list(first["closeness"]) == [t - STEP, t - 2 * STEP, t - 3 * STEP]
    assert list(first["period"]) == [t - DAY]
    assert list(first["trend"]) == [t - 7 * DAY]

    ds2 = STResNetDataset(toy_cube(), "train", 2, 2, 2, test_days=2)
    t = START + 14 * DAY + 5 * STEP
    i = int(np.flatnonzero(ds2.target_times == t)[0])
    got = ds2.frame_times(i)
    assert list(got["closeness"]) == [t - STEP, t - 2 * STEP]
    assert list(got["period"]) == [t - DAY, t - 2 * DAY]
    assert list(got["trend"]) == [t - 7 * DAY, t - 14 * DAY]


def test_item_contents_and_channel_layout() -> None:
    ds = STResNetDataset(
        toy_cube(), "train", len_closeness=3, len_period=2, len_trend=1, test_days=3
    )
    item = ds[10]
    assert item["xc"].shape == (6, 3, 4) and item["xp"].shape == (4, 3, 4)
    assert item["xt"].shape == (2, 3, 4) and item["y"].shape == (2, 3, 4)
    assert item["ext"].shape == (EXT_DIM,) and item["time"].dtype == torch.int64
    assert all(item[k].dtype == torch.float32 for k in ("xc", "xp", "xt", "y", "ext"))
    t = pd.Timestamp(int(item["time"]))
    assert t == pd.Timestamp(ds.target_times[10])
    raw = {
        k: ds.scaler.inverse_transform(item[k].double().numpy()[:, 0, 0])
        for k in ("xc", "xp", "xt", "y")
    }
    # frame-major, newest first, inflow (2 * slot) before outflow (2 * slot + 1)
    c = [_slot(t - j * STEP) for j in (1, 2, 3)]
    np.testing.assert_allclose(
        raw["xc"],
        [2 * c[0], 2 * c[0] + 1, 2 * c[1], 2 * c[1] + 1, 2 * c[2], 2 * c[2] + 1],
        atol=1e-3,
    )
    p = [_slot(t - j * DAY) for j in (1, 2)]
    np.testing.assert_allclose(
        raw["xp"], [2 * p[0], 2 * p[0] + 1, 2 * p[1], 2 * p[1] + 1], atol=1e-3
    )
    w = _slot(t - 7 * DAY)
    np.testing.assert_allclose(raw["xt"], [2 * w, 2 * w + 1], atol=1e-3)
    np.testing.assert_allclose(raw["y"], [2 * _slot(t), 2 * _slot(t) + 1], atol=1e-3)
    # the batch gather gives the same as single items
    batch = ds.get_batch([3, 10, 20])
    for key in ("xc", "xp", "xt", "ext", "y", "time"):
        torch.testing.assert_close(batch[key][1], item[key])
    loader = torch.utils.data.DataLoader(ds, batch_size=4)
    first = next(iter(loader))
    assert first["xc"].shape == (4, 6, 3, 4) and first["time"].shape == (4,)


def test_samples_needing_a_gap_are_absent_and_incomplete_days_dropped() -> None:
    cube = toy_cube(drop=DROP)
    splits = stresnet_splits(cube, test_days=3)
    got = set(pd.DatetimeIndex(np.concatenate([d.target_times for d in splits.values()])))
    times = pd.DatetimeIndex(cube["time"].values)
    assert got == expected_targets(times, 3, 1, 1)
    ds = splits["train"]
    assert ds.dropped_days == ["2016-03-19"]  # day 12
    kept_days = set(pd.DatetimeIndex(ds.timestamps).normalize())
    assert START + 12 * DAY not in kept_days and START + 11 * DAY in kept_days
    target_days = set(pd.DatetimeIndex(list(got)).normalize())  # all splits together
    # day 13 needs day 12 (period, and closeness at 00:00); day 19 needs it a week back
    assert START + 13 * DAY not in target_days and START + 19 * DAY not in target_days
    assert START + 14 * DAY in target_days
    # day 17 needs the missing day 16 for period; day 18 is fine again
    assert START + 17 * DAY not in target_days and START + 18 * DAY in target_days
    # targets on the dropped and on the missing day never appear
    assert START + 16 * DAY not in target_days and START + 12 * DAY not in target_days
    # index building with other lengths agrees with the brute force too
    other = stresnet_splits(cube, test_days=2, len_closeness=4, len_period=2, len_trend=0)
    got = set(pd.DatetimeIndex(np.concatenate([d.target_times for d in other.values()])))
    assert got == expected_targets(times, 4, 2, 0)


def test_test_split_is_the_last_days_and_disjoint_from_train() -> None:
    cube = toy_cube(n_days=60, drop=DROP)
    splits = stresnet_splits(cube, val_days=2)  # test_days = 28 by default
    train, val, test = (pd.DatetimeIndex(splits[k].target_times) for k in ("train", "val", "test"))
    kept_days = pd.DatetimeIndex(np.unique(pd.DatetimeIndex(splits["test"].timestamps).normalize()))
    assert set(test.normalize()) == set(kept_days[-28:])
    assert set(val.normalize()) == set(kept_days[-30:-28])
    assert train.max() < val.min() and val.max() < test.min()
    assert not set(train) & set(test) and not set(val) & set(test)
    assert len(test) == 28 * 48  # no gap in the last 4 weeks: every slot is a target
    assert splits["test"].split_days["test"] == (
        str(kept_days[-28].date()),
        str(kept_days[-1].date()),
    )


def test_scaler_is_fitted_on_training_data_only() -> None:
    cube = toy_cube(n_days=20)
    train = STResNetDataset(cube, "train", test_days=4)
    last_train_slot = _slot(START + 16 * DAY - STEP)
    assert train.scaler.min == 0.0 and train.scaler.max == 2 * last_train_slot + 1
    changed = cube.copy(deep=True)
    test_period = changed["time"] >= np.datetime64(START + 16 * DAY)
    changed["flow"] = changed["flow"].where(~test_period, changed["flow"] * 100)
    changed["temperature"] = changed["temperature"].where(~test_period, 99.0)
    assert STResNetDataset(changed, "train", test_days=4).scaler == train.scaler
    # the test split, built alone, fits the very same training scaler
    test = STResNetDataset(changed, "test", test_days=4)
    assert test.scaler == train.scaler
    # so test values fall outside [-1, 1] once they are far outside the training range
    assert float(test[0]["y"].max()) > 1.0
    # training flows do move it
    changed["flow"][0, 0, 0, 0] = -50.0
    assert STResNetDataset(changed, "train", test_days=4).scaler.min == -50.0


def test_scaler_round_trip() -> None:
    scaler = FlowScaler.from_training(
        np.array([0.0, 10.0, 400.0]), np.array([-5.0, 15.0]), np.array([1.0, 9.0])
    )
    x = np.array([0.0, 200.0, 400.0])
    np.testing.assert_allclose(scaler.transform(x), [-1.0, 0.0, 1.0])
    np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(x)), x)
    t = torch.tensor([-1.0, 1.0])
    torch.testing.assert_close(scaler.inverse_transform(t), torch.tensor([0.0, 400.0]))
    again = normalizer_from_dataset(scaler.to_dataset())
    assert again == scaler
    np.testing.assert_allclose(
        again.scale_external("temperature", np.array([-5.0, 5.0, np.nan])), [0.0, 0.5, 0.0]
    )


def test_anomaly_scaling_is_the_historical_average_and_round_trips() -> None:
    """``scaling="anomaly"``: each frame minus the training weeks' mean of its slot of the
    week, over the largest training anomaly; 0 means the historical average exactly."""
    cube = toy_cube(n_days=21, drop=DROP)
    train = STResNetDataset(cube, "train", test_days=3, scaling="anomaly")
    scaler = train.scaler
    assert isinstance(scaler, FlowAnomalyScaler) and scaler.kind == "flow_anomaly"
    # training flows are 2*slot / 2*slot+1: the mean of a slot of the week is the mean
    # over the training weeks that have it
    flows = cube["flow"].values.astype(np.float64)
    times = pd.DatetimeIndex(cube["time"].values)
    day = times.normalize()
    kept = np.isin(day, pd.DatetimeIndex(train.timestamps).normalize().unique())
    train_rows = kept & (day < pd.Timestamp(train.split_days["train"][1]) + DAY)
    monday_noon = train_rows & (times.day_of_week == 0) & (times.hour == 12) & (times.minute == 0)
    expected = flows[monday_noon].mean(axis=0)
    got = scaler.historical_average(np.array([np.datetime64("2016-04-04T12:00", "ns")]))[0]
    np.testing.assert_allclose(got, expected)
    anomaly = flows[train_rows] - scaler.historical_average(times[train_rows].values)
    assert scaler.scale == pytest.approx(np.abs(anomaly).max())
    z = scaler.transform(flows[train_rows], times[train_rows].values)
    assert np.abs(z).max() == pytest.approx(1.0)
    np.testing.assert_allclose(
        scaler.inverse_transform(z, times[train_rows].values), flows[train_rows], atol=1e-9
    )
    # a zero anomaly on a torch batch (B, 1, 2, H, W) with times (B, 1) is the average
    t = times[train_rows].values[:5, None]
    back = scaler.inverse_transform(torch.zeros(5, 1, 2, 3, 4), t)
    torch.testing.assert_close(back.double(), torch.from_numpy(scaler.historical_average(t)))
    with pytest.raises(SstcastError, match="times"):
        scaler.transform(flows[:2])
    again = normalizer_from_dataset(scaler.to_dataset())
    assert again == scaler and again.needs_times
    # the test split uses the training scaler
    test = STResNetDataset(cube, "test", test_days=3, scaler=scaler)
    assert test.scaler is scaler
    with pytest.raises(SstcastError, match="scaling 'zscore'"):
        STResNetDataset(cube, "train", test_days=3, scaling="zscore")


def test_external_vector() -> None:
    cube = toy_cube(drop=DROP, holidays=(14,))
    ds = STResNetDataset(cube, "train", test_days=3)
    assert len(EXT_NAMES) == EXT_DIM == ds.ext_dim == 28
    times = pd.DatetimeIndex(ds.target_times)
    ext = ds.external
    assert ext.shape == (len(ds), 28) and ext.dtype == np.float32
    # day of week one-hot (Monday first) and weekday flag
    np.testing.assert_array_equal(ext[:, :7].argmax(axis=1), times.day_of_week)
    np.testing.assert_array_equal(ext[:, :7].sum(axis=1), 1)
    np.testing.assert_array_equal(ext[:, 7], (times.day_of_week < 5).astype(np.float32))
    # holiday: the target's day
    np.testing.assert_array_equal(
        ext[:, 8], (times.normalize() == START + 14 * DAY).astype(np.float32)
    )
    assert ext[:, 8].sum() == 48
    # weather one-hot at the previous slot (weather class = slot % 17)
    prev = np.array([_slot(t - STEP) for t in times])
    np.testing.assert_array_equal(ext[:, 9:26].argmax(axis=1), prev % 17)
    np.testing.assert_array_equal(ext[:, 9:26].sum(axis=1), 1)
    # temperature at the previous slot, scaled with the training range (temperature = slot/10)
    lo, hi = ds.scaler.external["temperature"]
    np.testing.assert_allclose(ext[:, 26], (prev / 10.0 - lo) / (hi - lo), atol=1e-5)
    assert lo == pytest.approx(0.0) and ext[:, 26].max() <= 1.0
    np.testing.assert_allclose(ext[:, 27], 0.0)  # wind constant: zero span -> 0
    torch.testing.assert_close(ds[5]["ext"], torch.from_numpy(ext[5]))


def test_without_meteorology_the_weather_part_is_zero() -> None:
    cube = toy_cube()
    cube["temperature"][:] = np.nan
    cube["wind_speed"][:] = np.nan
    cube["weather"][:] = 0
    ds = STResNetDataset(cube, "train", test_days=3)
    assert np.isfinite(ds.external).all()
    assert (ds.external[:, 9:] == 0).all() and (ds.external[:, :7].sum(axis=1) == 1).all()


def test_bad_arguments() -> None:
    cube = toy_cube(n_days=10)
    with pytest.raises(SstcastError, match="val_days is 0"):
        STResNetDataset(cube, "val")
    with pytest.raises(SstcastError, match="all 0"):
        STResNetDataset(cube, "train", 0, 0, 0, test_days=2)
    with pytest.raises(SstcastError, match="too few for test_days=28"):
        STResNetDataset(cube, "train")
    with pytest.raises(SstcastError, match="split is 'dev'"):
        STResNetDataset(cube, "dev")  # type: ignore[arg-type]
    with pytest.raises(SstcastError, match="no 'train' sample"):
        STResNetDataset(cube, "train", len_trend=2, test_days=2)  # needs two weeks before
    with pytest.raises(SstcastError, match="missing variable 'weather'"):
        STResNetDataset(cube.drop_vars("weather"), "train", test_days=2)
    shifted = cube.assign_coords(time=cube["time"] + np.timedelta64(7, "m"))
    with pytest.raises(SstcastError, match="not on the 48-slots-a-day grid"):
        STResNetDataset(shifted, "train", test_days=2)


# --------------------------------------------------------------------------------------
# On the TaxiBJ sample
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("taxibj")
    write_taxibj_sample(out, seed=11, progress=False)
    return out


def test_on_the_taxibj_sample(sample: Path) -> None:
    cube = open_taxibj([sample / FLOW_FILE], sample / METEOROLOGY_FILE, sample / HOLIDAY_FILE)
    splits = stresnet_splits(cube, val_days=7)
    train, test = splits["train"], splits["test"]
    assert train.dropped_days == json.loads(cube.attrs["incomplete_days"])
    assert train.config() == {
        "len_closeness": 3,
        "len_period": 1,
        "len_trend": 1,
        "channels": 2,
        "height": 32,
        "width": 32,
        "ext_dim": 28,
    }
    # test = the last 28 complete days
    days = np.unique(pd.DatetimeIndex(train.timestamps).normalize())
    test_days = set(pd.DatetimeIndex(test.target_times).normalize())
    assert test_days <= set(pd.DatetimeIndex(days[-28:])) and len(test_days) > 20
    assert test.split_days["test"] == (str(days[-28])[:10], str(days[-1])[:10])
    assert pd.Timestamp(splits["val"].target_times.max()) < pd.Timestamp(days[-28])
    assert pd.Timestamp(train.target_times.max()) < pd.Timestamp(test.target_times.min())
    # flows are scaled to [-1, 1] over training targets and invert to the counts
    batch = train.get_batch(np.arange(len(train)))
    assert float(batch["y"].min()) >= -1.0 and float(batch["y"].max()) <= 1.0
    t0 = pd.Timestamp(int(batch["time"][0]))
    np.testing.assert_allclose(
        train.scaler.inverse_transform(batch["y"][0].double().numpy()),
        cube["flow"].sel(time=t0).values,
        atol=1e-3,
    )
    # external features against the raw files: weather of the previous slot, holidays
    with h5py.File(sample / METEOROLOGY_FILE) as f:
        codes = [c.decode() for c in f["date"][...]]
        weather = f["Weather"][...]
    where = {c: i for i, c in enumerate(codes)}
    times = pd.DatetimeIndex(train.target_times)
    for i in (0, 100, 1000, len(train) - 1):
        prev = times[i] - STEP
        code = f"{prev:%Y%m%d}{prev.hour * 2 + prev.minute // 30 + 1:02d}"
        np.testing.assert_array_equal(train.external[i, 9:26], weather[where[code]])
    holidays = set((sample / HOLIDAY_FILE).read_text().split())
    np.testing.assert_array_equal(
        train.external[:, 8], np.isin(times.strftime("%Y%m%d"), list(holidays))
    )
    assert train.external[:, 8].sum() > 0


def test_from_a_written_cube_path(sample: Path, tmp_path: Path) -> None:
    from sstcast.cube import write_cube

    cube = open_taxibj([sample / FLOW_FILE], sample / METEOROLOGY_FILE, sample / HOLIDAY_FILE)
    cube = cube.isel(time=slice(0, 48 * 40))  # 40 days keep the test quick
    path = tmp_path / "taxibj.zarr"
    write_cube(cube, path, progress=False)
    from_path = STResNetDataset(path, "test", test_days=5)
    in_memory = STResNetDataset(cube, "test", test_days=5)
    assert len(from_path) == len(in_memory) > 0
    np.testing.assert_array_equal(from_path.target_times, in_memory.target_times)
    assert from_path.scaler == in_memory.scaler
    for key in ("xc", "xp", "xt", "ext", "y", "time"):
        torch.testing.assert_close(from_path[7][key], in_memory[7][key])
