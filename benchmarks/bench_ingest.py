"""Benchmark: ``sstcast`` SST ingest against the naive xarray recipe and a bare read.

One run compares, on the same multi-year set of OISST-style daily files:

- ``sstcast``: :func:`sstcast.ingest.ingest_sst` (lazy per-file reads, region cut before
  reading, blockwise dask writes, checksums, atomic move) -> Zarr v3 cube;
- ``naive``: ``xr.open_mfdataset(files).to_zarr(out)`` (with ``.sel`` of the box for the
  region task), the usual one-liner;
- ``read``: netCDF4 reading every file's ``sst`` into memory (the floor: no writing at all).

Two tasks: the files' whole grid, and a region box. Every measurement runs in its own
Python process, so its peak resident memory is its own ("peak RSS": the process's high-water
mark, imports included); "work +MB" is the largest RSS growth during the work itself,
sampled every 2 ms. Wall time covers the work only (not the interpreter start or imports).
Ratios are against ``read``.

    .venv/bin/python benchmarks/bench_ingest.py                    # the built-in sample
    .venv/bin/python benchmarks/bench_ingest.py --synthetic --ny 240 --nx 480 --years 4
    .venv/bin/python benchmarks/bench_ingest.py --files 'data/raw/oisst/*.nc' --bbox 37,41,117.5,122.5
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

DEFAULT_BBOX = "37,41,117.5,122.5"  # Bohai box of the catalog


# --------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------
def write_synthetic(folder: Path, years: int, ny: int, nx: int) -> list[Path]:
    """OISST-like yearly files (float32 degC, lat ascending from 30 N, lon 0-360 from 115 E,
    NaN over a block of 'land', zlib-compressed one day per chunk as PSL ships them)."""
    import netCDF4
    import numpy as np

    rng = np.random.default_rng(0)
    lat = 30.0 + 0.25 * np.arange(ny) + 0.125
    lon = 115.0 + 0.25 * np.arange(nx) + 0.125
    land = np.zeros((ny, nx), bool)
    land[-(ny // 6) :, -(nx // 8) :] = True  # a north-east corner, away from the Bohai box
    paths = []
    day0 = 76701.0  # 2010-01-01 in days since 1800-01-01
    for k in range(years):
        path = folder / f"sst.day.mean.{2010 + k}.nc"
        with netCDF4.Dataset(path, "w") as nc:
            nc.createDimension("time", None)
            nc.createDimension("lat", ny)
            nc.createDimension("lon", nx)
            t = nc.createVariable("time", "f8", ("time",))
            t.units = "days since 1800-01-01 00:00:00"
            la = nc.createVariable("lat", "f4", ("lat",))
            la.units, la.standard_name = "degrees_north", "latitude"
            lo = nc.createVariable("lon", "f4", ("lon",))
            lo.units, lo.standard_name = "degrees_east", "longitude"
            la[:], lo[:] = lat, lon
            v = nc.createVariable(
                "sst",
                "f4",
                ("time", "lat", "lon"),
                zlib=True,
                complevel=1,
                chunksizes=(1, ny, nx),
                fill_value=np.float32(-9.96921e36),
            )
            v.units = "degC"
            days = day0 + 365 * k + np.arange(365)
            t[:] = days
            season = 10 * np.sin(2 * np.pi * (days - 100) / 365.25)
            base = 25 - 0.5 * (lat[:, None] - 30) + 0 * lon[None, :]
            for i in range(0, 365, 73):
                block = base[None] + season[i : i + 73, None, None]
                block = block + rng.normal(0, 0.3, block.shape)
                block[:, land] = np.nan
                v[i : i + 73] = np.ma.masked_invalid(block.astype("float32"))
        paths.append(path)
    return paths


def write_sample_files(folder: Path, years: int) -> list[Path]:
    """The built-in sample's SST files (``sstcast sample``), ``years`` years from 2010."""
    from sstcast.sample import write_sample

    write_sample(folder, years=list(range(2010, 2010 + years)), taxibj=False, progress=False)
    return sorted((folder / "sst").glob("sst.day.mean.*.nc"))


# --------------------------------------------------------------------------------------
# One measurement (runs in a child process)
# --------------------------------------------------------------------------------------
def _bbox(text: str | None) -> tuple[float, float, float, float] | None:
    return None if not text else tuple(float(v) for v in text.split(","))  # type: ignore[return-value]


def _high_water_mark() -> int:
    """This process's peak RSS in bytes. ``/proc/self/status`` VmHWM is reset by exec;
    ``ru_maxrss`` is not (on Linux it keeps the parent's peak), so it is only a fallback."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class RssSampler:
    """Samples this process's RSS every few milliseconds in a thread (start to stop)."""

    def __init__(self, interval: float = 0.002):
        import psutil

        self._process = psutil.Process()
        self.start_rss = self._process.memory_info().rss
        self.peak = self.start_rss
        self._interval = interval
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            time.sleep(self._interval)

    def stop(self) -> tuple[int, int]:
        """(RSS when started, peak RSS while running), in bytes."""
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)
        return self.start_rss, self.peak


def measure(method: str, files: list[str], out: str, bbox_text: str | None) -> dict:
    """Do one method once; return wall seconds and this process's peak RSS."""
    # Import everything any method needs first: wall time and the RSS baseline then measure
    # the work, not the (slow, one-off) imports.
    import dask.array  # noqa: F401
    import netCDF4
    import numpy as np
    import xarray as xr
    import zarr  # noqa: F401

    import sstcast.ingest
    import sstcast.sources.netcdf_sst

    bbox = _bbox(bbox_text)
    note = ""
    sampler = RssSampler()
    start = time.perf_counter()
    if method == "sstcast":
        sstcast.ingest.ingest_sst(files, out, bbox, region="bench", progress=False)
    elif method == "naive":
        ds = xr.open_mfdataset(files)
        if bbox is not None:
            s, n, w, e = bbox
            ds = ds.sel(lat=slice(s, n), lon=slice(w % 360, e % 360))
        try:
            ds.to_zarr(out, mode="w")
        except ValueError as err:
            # Files of 365 and 366 days give uneven dask chunks, which Zarr refuses: the
            # one-liner fails, and the usual fix is a rechunk before writing.
            if "uniform chunk sizes" not in str(err):
                raise
            note = "plain one-liner failed (uneven chunks); rechunked to 365 days"
            ds.chunk({"time": 365}).to_zarr(out, mode="w")
    elif method == "read":
        arrays = []
        for f in files:
            with netCDF4.Dataset(f) as nc:
                var = nc["sst"]
                if bbox is None:
                    arrays.append(np.asarray(var[:]))
                else:
                    s, n, w, e = bbox
                    lat, lon = nc["lat"][:], nc["lon"][:] % 360
                    iy = np.flatnonzero((lat >= s) & (lat <= n))
                    ix = np.flatnonzero((lon >= w % 360) & (lon <= e % 360))
                    arrays.append(
                        np.asarray(var[:, iy.min() : iy.max() + 1, ix.min() : ix.max() + 1])
                    )
        total = sum(a.nbytes for a in arrays)
        assert total > 0
    else:
        raise ValueError(method)
    wall = time.perf_counter() - start
    baseline, work_peak = sampler.stop()
    return {
        "wall_s": wall,
        "peak_rss_mb": max(work_peak, _high_water_mark()) / 2**20,
        "baseline_rss_mb": baseline / 2**20,
        "work_peak_rss_mb": work_peak / 2**20,
        "note": note,
    }


def run_child(method: str, files: list[str], out: str, bbox: str | None) -> dict:
    """``measure`` in a fresh interpreter (clean peak RSS); the output store is removed."""
    cmd = [sys.executable, __file__, "--worker", method, "--out", out, "--files", *files]
    if bbox:
        cmd += ["--bbox", bbox]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{method} failed:\n{proc.stderr[-2000:]}")
    shutil.rmtree(out, ignore_errors=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", nargs="+", help="input files or globs (default: a sample)")
    parser.add_argument("--bbox", default=None, help="region box S,N,W,E for the region task")
    parser.add_argument("--years", type=int, default=8, help="years of sample/synthetic data")
    parser.add_argument("--synthetic", action="store_true", help="synthetic files, not sample")
    parser.add_argument("--ny", type=int, default=48, help="synthetic grid rows (0.25 deg)")
    parser.add_argument("--nx", type=int, default=48, help="synthetic grid columns (0.25 deg)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per method (best is kept)")
    parser.add_argument("--workdir", help="keep generated inputs here and reuse them")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        print(json.dumps(measure(args.worker, args.files, args.out, args.bbox)))
        return

    with tempfile.TemporaryDirectory(prefix="bench_ingest_") as tmp:
        work = Path(tmp)
        inputs = Path(args.workdir) if args.workdir else work
        inputs.mkdir(parents=True, exist_ok=True)
        if args.files:
            files = sorted({f for pattern in args.files for f in glob.glob(pattern)})
            origin = "given files"
        else:
            start = time.perf_counter()
            if args.synthetic:
                folder = inputs / f"synthetic_{args.years}y_{args.ny}x{args.nx}"
                origin = f"synthetic OISST-like, {args.ny}x{args.nx}"
                files = sorted(str(p) for p in folder.glob("*.nc"))
                if len(files) != args.years:
                    folder.mkdir(parents=True, exist_ok=True)
                    files = [str(p) for p in write_synthetic(folder, args.years, args.ny, args.nx)]
            else:
                folder = inputs / f"sample_{args.years}y"
                origin = "built-in sample (sstcast sample)"
                files = sorted(str(p) for p in (folder / "sst").glob("*.nc"))
                if len(files) != args.years:
                    files = [str(p) for p in write_sample_files(folder, args.years)]
            print(f"wrote {len(files)} input files in {time.perf_counter() - start:.1f} s")
        size = sum(Path(f).stat().st_size for f in files)
        print(f"inputs: {len(files)} files, {size / 1e6:.1f} MB on disk ({origin})")
        tasks = [
            ("whole grid", None),
            ("region " + (args.bbox or DEFAULT_BBOX), args.bbox or DEFAULT_BBOX),
        ]
        rows = []
        notes: set[str] = set()
        for task, bbox in tasks:
            results = {}
            for method in ("read", "naive", "sstcast"):
                runs = [
                    run_child(method, files, str(work / f"{method}.zarr"), bbox)
                    for _ in range(args.repeat)
                ]
                results[method] = min(runs, key=lambda r: r["wall_s"])
                if results[method]["note"]:
                    notes.add(results[method]["note"])
            for method, r in results.items():
                rows.append(
                    (
                        task,
                        method,
                        r["wall_s"],
                        r["wall_s"] / results["read"]["wall_s"],
                        r["peak_rss_mb"],
                        r["work_peak_rss_mb"] - r["baseline_rss_mb"],
                    )
                )
        print()
        header = f"{'task':<34} {'method':<8} {'wall s':>8} {'x read':>7} {'peak RSS MB':>12} {'work +MB':>9}"
        print(header)
        print("-" * len(header))
        for task, method, wall, ratio, peak, extra in rows:
            print(f"{task:<34} {method:<8} {wall:8.2f} {ratio:7.2f} {peak:12.0f} {extra:9.0f}")
        for note in sorted(notes):
            print(f"note: naive: {note}")


if __name__ == "__main__":
    main()
