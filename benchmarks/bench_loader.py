"""Loader speed: our WindowDataset vs xbatcher vs slicing an in-memory numpy array.

One run, the same cube and the same windows (10 in + 10 out) for each contender, on a
Bohai-sized grid (16 x 20) and a 64 x 64 grid, about 12 years daily:

(a) ``WindowDataset`` through ``make_loader`` (batch 32, shuffled; num_workers 0 and 2,
    and 0 with extra channels: mask/lat/lon, then also day of year), reading the Zarr cube from disk
    (opening, fitting the normaliser and loading are "setup", not in the rate);
(b) xbatcher ``BatchGenerator(da, input_dims={"time": 20}, input_overlap={"time": 19})`` on
    the cube loaded into memory, each window turned into (x, y) tensors and stacked in 32s —
    timed on a bounded number of windows;
(c) the limit: the same windows gathered from an in-memory normalised float32 numpy array
    with one fancy index per batch (the faster of that and slice-and-stack is used);
    x and y only, no mask/extra/init_time.

Prints samples/s and the ratios a/c (target >= 0.5) and a/b (target >= 30).
Run: ``.venv/bin/python benchmarks/bench_loader.py`` (about a minute on one core).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import xarray as xr

from sstcast.data import WindowDataset, make_loader

N_IN, N_OUT, BATCH = 10, 10, 32
L = N_IN + N_OUT


def synthetic_cube(h: int, w: int, years: int = 12, seed: int = 0) -> xr.Dataset:
    """A daily SST cube following the cube contract: seasonal cycle + noise, a land corner."""
    rng = np.random.default_rng(seed)
    times = pd.date_range("2010-01-01", periods=int(years * 365.25), freq="D")
    doy = 2 * np.pi * np.arange(len(times)) / 365.25
    lat = np.linspace(37.0, 41.0, h)
    lon = np.linspace(117.5, 122.5, w)
    sst = 14 - 12 * np.cos(doy)[:, None, None] + rng.normal(0, 1, (len(times), h, w))
    sst = sst.astype(np.float32)
    land = np.zeros((h, w), bool)
    land[: h // 4, : w // 4] = True
    sst[:, land] = np.nan
    ds = xr.Dataset(
        {
            "sst": (("time", "lat", "lon"), sst, {"units": "degC"}),
            "mask": (("lat", "lon"), (~land).astype(np.int8)),
        },
        coords={"time": times, "lat": lat, "lon": lon},
        attrs={"sstcast_kind": "sst", "frequency": "1D"},
    )
    return ds


SPLITS = {
    "train": ["2010-01-01", "2019-12-31"],
    "val": ["2020-01-01", "2020-12-31"],
    "test": ["2021-01-01", "2021-12-31"],
}


def bench_ours(path: str, num_workers: int, repeats: int, **options: object) -> tuple[float, float]:
    """(best samples/s over ``repeats`` epochs, setup seconds to the first batch)."""
    t = time.perf_counter()
    ds = WindowDataset(path, N_IN, N_OUT, "train", splits=SPLITS, **options)
    loader = make_loader(ds, BATCH, shuffle=True, num_workers=num_workers, seed=0)
    next(iter(loader))
    setup = time.perf_counter() - t
    best = 0.0
    for _ in range(repeats):
        n = 0
        t = time.perf_counter()
        for batch in loader:
            n += batch["x"].shape[0]
        best = max(best, n / (time.perf_counter() - t))
    return best, setup


def bench_numpy(arr: np.ndarray, starts: np.ndarray, repeats: int) -> float:
    """Windows gathered from an in-memory array, shuffled batches of 32: best samples/s over
    ``repeats`` epochs of each of fancy indexing and slice-and-stack."""
    rng = np.random.default_rng(0)
    best = 0.0
    ar_in, ar_out = np.arange(N_IN), np.arange(N_IN, L)
    for mode in ("fancy", "slices") * repeats:
        n = 0
        t = time.perf_counter()
        order = starts[rng.permutation(len(starts))]
        for k in range(0, len(order), BATCH):
            s = order[k : k + BATCH]
            if mode == "fancy":
                x = torch.from_numpy(arr[s[:, None] + ar_in])
                y = torch.from_numpy(arr[s[:, None] + ar_out])
            else:
                x = torch.from_numpy(np.stack([arr[i : i + N_IN] for i in s]))
                y = torch.from_numpy(np.stack([arr[i + N_IN : i + L] for i in s]))
            n += len(x) + 0 * len(y)
        best = max(best, n / (time.perf_counter() - t))
    return best


def bench_xbatcher(da: xr.DataArray, max_windows: int, max_seconds: float = 8.0) -> float:
    """xbatcher the obvious way, on a bounded number of windows."""
    import xbatcher

    gen = xbatcher.BatchGenerator(da, input_dims={"time": L}, input_overlap={"time": L - 1})
    n = 0
    xs, ys = [], []
    t = time.perf_counter()
    for win in gen:
        v = np.nan_to_num(win.values)
        xs.append(torch.from_numpy(v[:N_IN]))
        ys.append(torch.from_numpy(v[N_IN:]))
        if len(xs) == BATCH:
            torch.stack(xs), torch.stack(ys)
            n += len(xs)
            xs, ys = [], []
            if n >= max_windows or time.perf_counter() - t > max_seconds:
                break
    return n / (time.perf_counter() - t)


def run(h: int, w: int, workers: list[int], xb_windows: int, repeats: int) -> dict[str, float]:
    cube = synthetic_cube(h, w)
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "cube.zarr")
        cube.chunk({"time": 365}).to_zarr(path, consolidated=False, zarr_format=3)
        ref = WindowDataset(path, N_IN, N_OUT, "train", splits=SPLITS)
        arr = ref._load_range(ref._t0, ref._t1)  # the same normalised windows, in memory
        starts = ref.starts - ref._t0
        row: dict[str, float] = {"windows": len(ref)}
        # Interleave the contenders so that a busy machine slows them alike.
        row["c"] = bench_numpy(arr, starts, repeats)
        for nw in workers:
            row[f"a{nw}"], row[f"setup{nw}"] = bench_ours(path, nw, repeats)
        static = ("mask", "lat", "lon")
        row["static"], _ = bench_ours(path, 0, repeats, static_channels=static)
        row["doy"], _ = bench_ours(path, 0, repeats, static_channels=static, day_of_year=True)
        row["doy_compact"], _ = bench_ours(
            path, 0, repeats, static_channels=static, day_of_year=True, compact_extra=True
        )
        row["c"] = max(row["c"], bench_numpy(arr, starts, repeats))
        train = cube["sst"].sel(time=slice("2010-01-01", "2019-12-31")).load()
        row["b"] = bench_xbatcher(train, xb_windows)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="*", default=[0, 2])
    parser.add_argument("--xbatcher-windows", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=7, help="epochs per contender (best)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", message="split.*trimmed")  # the 19-step gaps
    print(f"windows: {N_IN} in + {N_OUT} out, batch {BATCH}, shuffled, torch threads 1")
    print("| grid | windows | (c) numpy slice | (b) xbatcher | (a) ours | workers | a/c | a/b |")
    print("|---|---|---|---|---|---|---|---|")
    for h, w in ((16, 20), (64, 64)):
        r = run(h, w, args.workers, args.xbatcher_windows, args.repeats)
        for nw in args.workers:
            a = r[f"a{nw}"]
            print(
                f"| {h}x{w} | {int(r['windows'])} | {r['c']:,.0f} | {r['b']:,.0f} | {a:,.0f} "
                f"| {nw} | {a / r['c']:.2f} | {a / r['b']:,.0f} |",
                flush=True,
            )
        for key, label in (
            ("static", "+ mask, lat, lon"),
            ("doy", "+ mask, lat, lon, doy"),
            ("doy_compact", "+ mask, lat, lon, doy, compact_extra"),
        ):
            a = r[key]
            print(
                f"| {h}x{w} | {int(r['windows'])} | {r['c']:,.0f} | {r['b']:,.0f} | {a:,.0f} "
                f"| 0, {label} | {a / r['c']:.2f} | {a / r['b']:,.0f} |",
                flush=True,
            )
    print("samples/s; (a) setup (open, fit, load, first batch) not included in its rate")


if __name__ == "__main__":
    main()
