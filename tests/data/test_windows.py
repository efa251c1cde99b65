"""WindowDataset: exact window contents, splits, masks, channels, loaders, chunked reads,
and a run on the real ERSST file."""

from __future__ import annotations

import json
import pickle
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr
from torch.utils.data import DataLoader

import sstcast
from sstcast.data import WindowDataset, ZScoreNormalizer, make_loader
from sstcast.data.windows import collate_windows, expand_extra
from sstcast.errors import SstcastError
from sstcast.utils.timeaxis import infer_frequency

SPLITS = {"train": 0.6, "val": 0.2, "test": 0.2}
H, W = 4, 5
LAND = (0, 0)


def coded_cube(n: int = 120, drop: tuple[int, ...] = ()) -> xr.Dataset:
    """A daily cube whose value encodes its position: sst = 1000·t + 10·i + j (t = day
    number since the start, i/j = lat/lon index); one land cell; ``drop`` removes days."""
    times = pd.date_range("2001-01-01", periods=n, freq="D")
    t = np.arange(n)[:, None, None]
    v = (1000.0 * t + 10 * np.arange(H)[None, :, None] + np.arange(W)[None, None, :]).astype(
        np.float32
    )
    v[:, LAND[0], LAND[1]] = np.nan
    mask = np.ones((H, W), np.int8)
    mask[LAND] = 0
    ds = xr.Dataset(
        {
            "sst": (("time", "lat", "lon"), v, {"units": "degC"}),
            "mask": (("lat", "lon"), mask),
        },
        coords={
            "time": times,
            "lat": np.linspace(37.0, 38.5, H),
            "lon": np.linspace(118.0, 120.0, W),
        },
        attrs={
            "sstcast_kind": "sst",
            "region": "test",
            "bbox": [37.0, 38.5, 118.0, 120.0],
            "source_files": json.dumps([]),
            "history": "test",
            "frequency": "1D",
            "Conventions": "CF-1.8",
        },
    )
    return ds.isel(time=np.setdiff1d(np.arange(n), drop))


def decode(z: torch.Tensor, times: np.ndarray, norm) -> np.ndarray:
    """Normalised windows back to the code (rounded), times aligned with the leading axes."""
    phys = norm.inverse_transform(z.numpy(), times)  # NaN on land
    return np.rint(np.nan_to_num(phys, nan=-1)).astype(np.int64)


def code(t: np.ndarray) -> np.ndarray:
    i = np.arange(H)[None, :, None]
    j = np.arange(W)[None, None, :]
    return 1000 * np.asarray(t)[:, None, None] + 10 * i + j


def test_shapes_and_exact_contents() -> None:
    ds = WindowDataset(coded_cube(), 3, 2, "train", splits=SPLITS, normalization="zscore")
    assert ds.split_slices["train"] == slice(0, int(0.6 * (120 - 8)))
    assert len(ds) == ds.split_slices["train"].stop - 5 + 1
    s = ds[7]
    assert s["x"].shape == (3, 1, H, W) and s["y"].shape == (2, 1, H, W)
    assert s["x"].dtype == torch.float32 and s["mask"].dtype == torch.bool
    assert "extra" not in s
    assert int(s["index"]) == 7
    # Window 7 starts on day 7: inputs days 7, 8, 9; targets 10, 11; init = day 9.
    times = ds.times.values
    x = decode(s["x"][:, 0], times[7:10], ds.normalizer)
    y = decode(s["y"][:, 0], times[10:12], ds.normalizer)
    ocean = ds.mask
    np.testing.assert_array_equal(x[:, ocean], code([7, 8, 9])[:, ocean])
    np.testing.assert_array_equal(y[:, ocean], code([10, 11])[:, ocean])
    assert ds.init_times[7] == pd.Timestamp("2001-01-10")
    assert int(s["init_time"]) == pd.Timestamp("2001-01-10").value
    assert (ds.target_times[7] == times[10:12]).all()
    np.testing.assert_array_equal(ds.init_times, ds.times[ds.starts + 2])
    # The last window of the train split ends on its last day.
    last = ds[len(ds) - 1]
    end = ds.split_slices["train"].stop
    np.testing.assert_array_equal(
        decode(last["y"][:, 0], times[end - 2 : end], ds.normalizer)[:, ocean],
        code([end - 2, end - 1])[:, ocean],
    )


def test_stride_and_splits_see_disjoint_days() -> None:
    cube = coded_cube()
    used = {}
    for split in ("train", "val", "test"):
        ds = WindowDataset(cube, 4, 3, split, splits=SPLITS, stride=2, normalization="zscore")
        assert (np.diff(ds.starts) == 2).all()
        used[split] = {int(s) + k for s in ds.starts for k in range(7)}
        sl = ds.split_slices[split]
        assert min(used[split]) >= sl.start and max(used[split]) < sl.stop
    assert not used["train"] & used["val"] and not used["val"] & used["test"]


def test_windows_do_not_bridge_missing_days() -> None:
    cube = coded_cube(60, drop=(10, 25, 26))
    ds = WindowDataset(cube, 2, 2, "train", splits=SPLITS, normalization="zscore")
    day = np.timedelta64(1, "D")
    for start in ds.starts:
        assert (np.diff(ds.times.values[start : start + 4]) == day).all()
    # Train = first int(0.6 * (57 - 6)) = 30 present days: runs of 10 and 14 days, then 6
    # (positions 24..29): 7 + 11 + 3 windows of 4.
    assert len(ds) == 7 + 11 + 3
    # Contents follow the real dates: the window right after the hole at day 10.
    i = int(np.searchsorted(ds.starts, 10))
    s = ds[i]
    t = (ds.times[ds.starts[i] : ds.starts[i] + 2] - ds.times[0]).days
    assert list(t) == [11, 12]
    np.testing.assert_array_equal(
        decode(s["x"][:, 0], ds.times.values[ds.starts[i] : ds.starts[i] + 2], ds.normalizer)[
            :, ds.mask
        ],
        code(t)[:, ds.mask],
    )


def test_normalizer_fitted_on_train_only() -> None:
    cube = coded_cube()
    train = WindowDataset(cube, 3, 2, "train", splits=SPLITS)
    # Change every value outside the train split: the statistics do not move.
    other = cube.copy(deep=True)
    stop = train.split_slices["train"].stop
    other["sst"][stop:] = other["sst"][stop:] * 10 + 5
    for split in ("val", "test"):
        ds = WindowDataset(other, 3, 2, split, splits=SPLITS)
        np.testing.assert_array_equal(ds.normalizer.coef, train.normalizer.coef)
        np.testing.assert_array_equal(ds.normalizer.scale, train.normalizer.scale)
    # A given normaliser is used as is.
    val = WindowDataset(other, 3, 2, "val", splits=SPLITS, normalizer=train.normalizer)
    assert val.normalizer is train.normalizer
    z = ZScoreNormalizer().fit(cube["sst"][:10])
    assert WindowDataset(cube, 3, 2, "val", splits=SPLITS, normalization=z).normalizer is z


def test_masks_land_filled_and_static_channels() -> None:
    ds = WindowDataset(
        coded_cube(),
        3,
        2,
        "val",
        splits=SPLITS,
        static_channels=("mask", "lat", "lon"),
        day_of_year=True,
    )
    assert ds.extra_channels == ["mask", "lat", "lon", "doy_sin", "doy_cos"]
    s = ds[0]
    assert s["mask"].tolist() == (coded_cube()["mask"].values == 1).tolist()
    assert not s["mask"][LAND]
    for key in ("x", "y"):
        assert torch.isfinite(s[key]).all()
        assert (s[key][..., LAND[0], LAND[1]] == 0).all()
    e = s["extra"]
    assert e.shape == (5, 5, H, W)
    assert torch.equal(e[:, 0], s["mask"].float().expand(5, H, W))
    assert torch.allclose(e[0, 1, :, 0], torch.linspace(-1, 1, H))
    assert torch.allclose(e[0, 2, 0, :], torch.linspace(-1, 1, W))
    # Day of year of each step's date (inputs and targets).
    start = int(ds.starts[0])
    days = (ds.times[start : start + 5] - pd.Timestamp("2000-01-01")).days.to_numpy()
    phase = 2 * np.pi * days / 365.25
    np.testing.assert_allclose(e[:, 3, 2, 2].numpy(), np.sin(phase), atol=1e-6)
    np.testing.assert_allclose(e[:, 4, 1, 3].numpy(), np.cos(phase), atol=1e-6)
    assert ds.coords["lat"].shape == (H,) and ds.channels == ["sst"]


def test_batch_fast_path_equals_per_sample_and_default_collate() -> None:
    ds = WindowDataset(
        coded_cube(),
        3,
        2,
        "train",
        splits=SPLITS,
        static_channels=("mask", "lon"),
        day_of_year=True,
    )
    idx = [5, 0, 17, 3]
    fast = collate_windows(ds.__getitems__(idx))
    slow = torch.utils.data.default_collate([ds[i] for i in idx])
    assert fast.keys() == slow.keys()
    for k in fast:
        assert torch.equal(fast[k], slow[k]), k
    # A plain DataLoader (default collate) gives the same batches as make_loader.
    plain = list(DataLoader(ds, batch_size=8))
    ours = list(make_loader(ds, batch_size=8))
    assert len(plain) == len(ours) == -(-len(ds) // 8)
    for a, b in zip(plain, ours, strict=True):
        for k in a:
            assert torch.equal(a[k], b[k]), k
    with pytest.raises(IndexError):
        ds[len(ds)]


@pytest.mark.parametrize("static", [("mask", "lon"), ()])
def test_compact_extra_expands_to_the_full_planes(static: tuple[str, ...]) -> None:
    """compact_extra ships (E_s, H, W) + (L, 2) and expand_extra rebuilds exactly the planes
    of the default form, through the batch path and through default_collate alike."""
    kw = dict(splits=SPLITS, static_channels=static, day_of_year=True)
    full = WindowDataset(coded_cube(), 3, 2, "train", **kw)
    compact = WindowDataset(coded_cube(), 3, 2, "train", compact_extra=True, **kw)
    idx = [5, 0, 17, 3]
    want = collate_windows(full.__getitems__(idx))["extra"]
    fast = collate_windows(compact.__getitems__(idx))
    slow = torch.utils.data.default_collate([compact[i] for i in idx])
    assert "extra" not in fast and fast["extra_doy"].shape == (4, 5, 2)
    for batch in (fast, slow):
        assert torch.equal(expand_extra(batch), want)
    assert expand_extra({"extra": want}) is want


def test_static_only_extra_is_a_broadcast_view() -> None:
    ds = WindowDataset(coded_cube(), 3, 2, "train", splits=SPLITS, static_channels=("mask",))
    b = collate_windows(ds.__getitems__(list(range(6))))
    assert b["extra"].shape == (6, 5, 1, H, W)
    assert b["extra"].stride()[0] == 0  # no copy of the constant channels
    assert torch.equal(b["extra"][3, 4, 0], ds[0]["mask"].float())


def test_multiworker_loader_gives_the_same_batches() -> None:
    ds = WindowDataset(coded_cube(), 3, 2, "train", splits=SPLITS, day_of_year=True)
    kw = dict(batch_size=7, shuffle=True, seed=3)
    single = list(make_loader(ds, num_workers=0, **kw))
    multi = list(make_loader(ds, num_workers=2, **kw))
    assert len(single) == len(multi)
    for a, b in zip(single, multi, strict=True):
        for k in a:
            assert torch.equal(a[k], b[k]), k
    assert sorted(torch.cat([b["index"] for b in single]).tolist()) == list(range(len(ds)))


def test_zarr_path_chunked_reads_and_pickling(tmp_path) -> None:
    cube = coded_cube(90, drop=(40,))
    path = tmp_path / "cube.zarr"
    cube.attrs["sstcast_complete"] = True  # written whole: the mark write_cube sets last
    cube.chunk({"time": 7}).to_zarr(path, consolidated=False, zarr_format=3)
    mem = WindowDataset(str(path), 3, 2, "val", splits=SPLITS, in_memory=True)
    chunked = WindowDataset(str(path), 3, 2, "val", splits=SPLITS, in_memory=False, cache_blocks=2)
    assert chunked.in_memory is False
    np.testing.assert_array_equal(chunked.normalizer.coef, mem.normalizer.coef)
    for i in range(len(mem)):  # every window, crossing block edges, through a 2-block LRU
        a, b = mem[i], chunked[i]
        assert torch.equal(a["x"], b["x"]) and torch.equal(a["y"], b["y"])
    a = collate_windows(mem.__getitems__([4, 1, 9]))
    b = collate_windows(chunked.__getitems__([4, 1, 9]))
    assert torch.equal(a["x"], b["x"]) and torch.equal(a["y"], b["y"])
    # Pickled (as for spawned workers): no open store travels; reopened on first access.
    state = mem.__getstate__()
    assert state["_ds"] is None and state["_store"] is None
    again = pickle.loads(pickle.dumps(mem))
    assert torch.equal(again[5]["y"], mem[5]["y"])


def test_errors_are_one_line_sstcast_errors() -> None:
    cube = coded_cube(40)
    with pytest.raises(SstcastError, match="split 'dev'"):
        WindowDataset(cube, 2, 2, "dev", splits=SPLITS)
    with pytest.raises(SstcastError, match="no variable 'tos'"):
        WindowDataset(cube, 2, 2, splits=SPLITS, variable="tos")
    with pytest.raises(SstcastError, match="no window of 20"):
        WindowDataset(
            coded_cube(100), 10, 10, "test", splits={"train": 0.8, "val": 0.1, "test": 0.1}
        )
    with pytest.raises(SstcastError, match="static_channels"):
        WindowDataset(cube, 2, 2, splits=SPLITS, static_channels=("depth",))


def test_from_pipeline_with_the_bohai_file(tmp_path) -> None:
    pipe = sstcast.load_pipeline(Path(__file__).parents[2] / "pipelines" / "bohai.yaml")
    times = pd.date_range("2010-01-01", "2021-12-31", freq="D")
    rng = np.random.default_rng(0)
    cube = xr.Dataset(
        {
            "sst": (
                ("time", "lat", "lon"),
                rng.normal(10, 1, (len(times), 2, 3)).astype(np.float32),
            ),
            "mask": (("lat", "lon"), np.ones((2, 3), np.int8)),
        },
        coords={"time": times, "lat": [38.0, 38.25], "lon": [119.0, 119.25, 119.5]},
        attrs={"frequency": "1D"},
    )
    test = WindowDataset.from_pipeline(pipe, "test", cube=cube)
    n_in, n_out = pipe.data.n_in, pipe.data.n_out
    assert test.extra_channels == list(pipe.data.static_channels)
    assert test.times[test.starts[0]] == pd.Timestamp("2021-01-01") + pd.Timedelta(days=19)
    assert test.target_times[-1, -1] == np.datetime64("2021-12-31")
    assert len(test) == 365 - 19 - (n_in + n_out) + 1


def test_real_ersst_file(ersst_file, tmp_path) -> None:
    """The real NOAA ERSSTv5 file, monthly, cut to 0-50N 120-180E and written as a cube."""
    with xr.open_dataset(ersst_file) as raw:
        sst = raw["sst"].sortby("lat").sel(lat=slice(0, 50), lon=slice(120, 180)).load()
    sst = sst.drop_vars([c for c in sst.coords if c not in ("time", "lat", "lon")])
    sst = sst.astype(np.float32)
    sst.attrs = {"units": "degC", "standard_name": "sea_surface_temperature"}
    mask = sst.notnull().any("time").astype(np.int8)
    cube = xr.Dataset({"sst": sst, "mask": mask})
    cube["lat"] = cube["lat"].astype(np.float64)
    cube["lon"] = cube["lon"].astype(np.float64)
    cube.attrs = {
        "sstcast_kind": "sst",
        "region": "np_west",
        "bbox": [0.0, 50.0, 120.0, 180.0],
        "source_files": json.dumps([{"path": str(ersst_file), "sha256": "", "size": 0}]),
        "history": "test ingest",
        "frequency": "1MS",
        "Conventions": "CF-1.8",
    }
    path = tmp_path / "ersst.zarr"
    cube.attrs["sstcast_complete"] = True
    cube.to_zarr(path, consolidated=False, zarr_format=3)

    train = WindowDataset(
        str(path),
        6,
        3,
        "train",
        splits={"train": 0.7, "val": 0.15, "test": 0.15},
        static_channels=("mask", "lat"),
    )
    test = WindowDataset(
        str(path),
        6,
        3,
        "test",
        splits={"train": 0.7, "val": 0.15, "test": 0.15},
        normalizer=train.normalizer,
    )
    assert train.mask.sum() == int(mask.sum()) > 100
    gap = test.split_slices["test"].start - train.split_slices["val"].stop
    assert gap >= 8
    # Monthly init times, consecutive months inside the test split.
    assert (test.init_times.day == 1).all()
    assert (np.diff(test.init_times.month + 12 * test.init_times.year) == 1).all()
    b = collate_windows(test.__getitems__(list(range(len(test)))))
    assert torch.isfinite(b["x"]).all() and torch.isfinite(b["y"]).all()
    assert b["x"].shape[1:] == (6, 1, *train.mask.shape)
    assert b["x"][:, :, 0][:, :, ~train.mask].abs().max() == 0
    # Anomalies: standardised on the training years.
    zt = collate_windows(train.__getitems__(list(range(len(train)))))["y"][:, :, 0][
        :, :, train.mask
    ]
    assert 0.7 < float(zt.std()) < 1.3
    # Back to °C at the targets' valid times: the file's own values.
    phys = test.to_physical(b["y"].numpy(), b["index"].numpy())
    start = test.starts + 6
    truth = np.stack([sst.values[s : s + 3] for s in start])
    ocean = train.mask
    np.testing.assert_allclose(phys[:, :, 0][..., ocean], truth[..., ocean], atol=2e-3)


def test_loader_sampler_drop_last_and_negative_indices() -> None:
    ds = WindowDataset(coded_cube(), 3, 2, "train", splits=SPLITS)
    n = len(ds)
    loader = make_loader(ds, batch_size=8, drop_last=True)
    batches = list(loader)
    assert len(batches) == len(loader) == n // 8
    assert all(b["x"].shape[0] == 8 for b in batches)
    assert torch.cat([b["index"] for b in batches]).tolist() == list(range(n // 8 * 8))
    # Negative positions count from the end, as for a list.
    b = collate_windows(ds.__getitems__([-1, 0]))
    assert b["index"].tolist() == [n - 1, 0]
    assert torch.equal(b["y"][0], ds[n - 1]["y"])
    with pytest.raises(IndexError):
        ds.__getitems__([n])


def test_variable_with_a_channel_dimension() -> None:
    """A TaxiBJ-like flow(time, direction, y, x) gives one channel per direction."""
    times = pd.date_range("2015-03-01", periods=200, freq="30min").delete([60, 61])
    rng = np.random.default_rng(0)
    flow = rng.gamma(2.0, 50.0, (len(times), 2, 3, 4)).astype(np.float32)
    cube = xr.Dataset(
        {"flow": (("time", "direction", "y", "x"), flow)},
        coords={"time": times, "direction": ["inflow", "outflow"]},
    )
    ds = WindowDataset(cube, 4, 2, "train", splits=SPLITS, variable="flow", normalization="minmax")
    assert ds.channels == ["inflow", "outflow"] and ds.mask.all()
    s = ds[0]
    assert s["x"].shape == (4, 2, 3, 4) and s["y"].shape == (2, 2, 3, 4)
    assert float(s["x"].min()) >= -1 and float(s["x"].max()) <= 1
    np.testing.assert_allclose(
        ds.normalizer.inverse_transform(s["x"].numpy()), flow[:4], rtol=1e-5, atol=1e-3
    )
    # Windows skip the two missing half-hours.
    step = np.timedelta64(30, "m")
    assert all((np.diff(ds.times.values[a : a + 6]) == step).all() for a in ds.starts)


def test_in_memory_is_chosen_by_size_and_cuda_loader_runs_without_cuda(monkeypatch) -> None:
    import sstcast.data.windows as windows

    cube = coded_cube()
    assert WindowDataset(cube, 3, 2, "val", splits=SPLITS).in_memory is True
    monkeypatch.setattr(windows, "available_bytes", lambda: 1000)  # a "tiny" machine
    small = WindowDataset(cube, 3, 2, "val", splits=SPLITS)
    assert small.in_memory is False
    # Pinned memory is only asked for when CUDA exists; the loop runs either way.
    batches = list(make_loader(small, batch_size=4, device="cuda"))
    assert sum(len(b["index"]) for b in batches) == len(small)
    assert torch.equal(batches[1]["x"], collate_windows(small.__getitems__([4, 5, 6, 7]))["x"])


def test_ingested_cube_with_a_missing_month_keeps_its_frequency_and_gap(tmp_path) -> None:
    """File -> ingest (no catalog source) -> windows: the cube says "1MS" although a month is
    missing, and no window bridges the missing month."""
    import xarray as xr

    from sstcast.ingest import ingest_sst

    times = pd.date_range("2000-01-01", periods=48, freq="MS").delete(17)
    lat = np.array([10.0, 12.0, 14.0])
    lon = np.array([120.0, 122.0])
    values = (
        20.0 + 0.2 * np.arange(times.size, dtype=np.float32)[:, None, None] + np.zeros((1, 3, 2))
    )
    src = xr.Dataset(
        {"sst": (("time", "lat", "lon"), values.astype(np.float32), {"units": "degC"})},
        coords={
            "time": times,
            "lat": ("lat", lat, {"units": "degrees_north"}),
            "lon": ("lon", lon, {"units": "degrees_east"}),
        },
    )
    path = tmp_path / "gap.nc"
    src.to_netcdf(path)
    result = ingest_sst([path], tmp_path / "gap.zarr", progress=False)
    cube = sstcast.open_cube(result.path)
    assert cube.attrs["frequency"] == "1MS"

    splits = {
        "train": ["2000-01-01", "2002-12-01"],
        "val": ["2003-01-01", "2003-06-01"],
        "test": ["2003-07-01", "2003-12-01"],
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the val/test starts are trimmed
        ds = WindowDataset(cube, 3, 2, split="train", splits=splits)
    missing = times[16] + pd.offsets.MonthBegin(1)
    for init in ds.init_times:
        first = init - pd.DateOffset(months=2)
        last = init + pd.DateOffset(months=2)
        assert not (first <= missing <= last), f"window at {init} bridges {missing}"
    assert len(ds) == (17 - 5 + 1) + (18 - 5 + 1)


def _monthly_cube(times: pd.DatetimeIndex) -> xr.Dataset:
    """A small cube on ``times`` (monthly stamps) whose value is its month number."""
    ds = coded_cube(len(times))
    number = (times.year * 12 + times.month).to_numpy().astype(np.float32)
    sst = np.broadcast_to(number[:, None, None], ds["sst"].shape).copy()
    sst[:, LAND[0], LAND[1]] = np.nan
    ds = ds.assign_coords(time=times).assign(sst=(("time", "lat", "lon"), sst, {"units": "degC"}))
    return ds.assign_attrs(frequency=infer_frequency(times))


@pytest.mark.parametrize(
    "stamps",
    ["month start", "mid-month", "the 15th"],
)
def test_monthly_windows_whatever_day_the_months_are_stamped(stamps: str) -> None:
    """Mid-month stamps (the hour varying with the month's length) once read as "732h",
    after which no window fitted; every convention now gives the same monthly windows."""
    starts = pd.date_range("2010-01-01", "2015-12-01", freq="MS")
    times = {
        "month start": starts,
        "mid-month": starts + (starts + pd.offsets.MonthBegin(1) - starts) / 2,
        "the 15th": starts + pd.Timedelta(days=14),
    }[stamps]
    cube = _monthly_cube(times.delete(30))  # one missing month: a gap, not a new frequency
    assert cube.attrs["frequency"] == "1MS"
    splits = {"train": ["2010-01-01", "2013-12-31"], "val": ["2014-01-01", "2014-12-31"],
              "test": ["2015-01-01", "2015-12-31"]}  # fmt: skip
    ds = WindowDataset(cube, 3, 2, "train", splits=splits, normalization="zscore")
    # 48 training months, one missing: runs of 30 and 17 months -> 26 + 13 windows of 5
    assert len(ds) == 26 + 13
    sample = ds[0]
    x = decode(sample["x"], None, ds.normalizer)
    months = x[:, 0, 1, 1]
    assert np.allclose(np.diff(months), 1.0)  # consecutive calendar months


def test_inputs_before_split_keeps_a_short_validation_year() -> None:
    """With ``inputs_before_split`` the splits need no gap: the validation year's first
    target is its first month, its inputs the months before it; training stays inside."""
    times = pd.date_range("2010-01-01", "2020-08-01", freq="MS")
    cube = _monthly_cube(times)
    splits = {"train": ["2010-01-01", "2017-12-31"], "val": ["2018-01-01", "2018-12-31"],
              "test": ["2019-01-01", "2020-08-31"]}  # fmt: skip
    with pytest.raises(SstcastError, match="no window"):  # the default gap eats the year
        WindowDataset(cube, 6, 3, "val", splits=splits, normalization="zscore")
    kw = dict(splits=splits, normalization="zscore", inputs_before_split=True)
    train = WindowDataset(cube, 6, 3, "train", **kw)
    val = WindowDataset(cube, 6, 3, "val", normalizer=train.normalizer, **kw)
    test = WindowDataset(cube, 6, 3, "test", normalizer=train.normalizer, **kw)
    assert len(val) == 12 - 3 + 1 and len(test) == 20 - 3 + 1
    targets = {}
    for name, ds in (("train", train), ("val", val), ("test", test)):
        targets[name] = {int(s) + ds.n_in + k for s in ds.starts for k in range(ds.n_out)}
    assert not targets["train"] & targets["val"] and not targets["val"] & targets["test"]
    # train windows (inputs too) stay inside train; val's first target is 2018-01
    assert int(train.starts.max()) + 9 <= train.split_slices["train"].stop
    first_target = times[int(val.starts.min()) + 6]
    assert first_target == pd.Timestamp("2018-01-01")
