"""The built-in sample: toy-ocean SST in NOAA OISST v2.1 files (and a TaxiBJ-style city).

``write_sample(out)`` writes

    out/sst/sst.day.mean.YYYY.nc     one file per year, NOAA PSL OISST v2.1 layout
    out/taxibj/...                   TaxiBJ layout (from :mod:`sstcast.sample.toycity`)
    out/sample_manifest.json         seed, years, grid and generator parameters

so a fresh offline machine can run the whole pipeline through the same readers it would use
on real downloads. The SST files copy the conventions of PSL's ``sst.day.mean.YYYY.nc``:
variable ``sst`` float32 in ``degC`` with ``missing_value``/``_FillValue`` -9.96921e36 over
land, ``lat`` ascending and ``lon`` in 0..360 (float32), ``time`` float64 "days since
1800-01-01 00:00:00", unlimited time dimension, NetCDF4 with zlib compression. The values are
the toy ocean's state at 00:00 of each day (see :mod:`sstcast.sample.toyocean`); the manifest lets
verification rebuild that ocean (``ToyOcean.from_manifest``) and compute the noise-free
forecast bound.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from sstcast.errors import SstcastError
from sstcast.sample.toyocean import ToyOcean, describe
from sstcast.utils.io import atomic_path, write_json
from sstcast.utils.report import progress_bar

SST_DIR = "sst"
TAXIBJ_DIR = "taxibj"
MANIFEST = "sample_manifest.json"
FILL_VALUE = np.float32(-9.96921e36)
TIME_UNITS = "days since 1800-01-01 00:00:00"
DEFAULT_YEARS = range(2010, 2022)


def sst_file_name(year: int) -> str:
    """The PSL file name of one year of daily OISST: ``sst.day.mean.YYYY.nc``."""
    return f"sst.day.mean.{year:04d}.nc"


def _oisst_dataset(sst: xr.DataArray, ocean: ToyOcean, seed: int) -> xr.Dataset:
    """One year of SST as a Dataset with the variables and attributes of a PSL OISST file."""
    values = sst.values.astype(np.float32)
    lat = ocean.lat.astype(np.float32)
    lon = (ocean.lon % 360.0).astype(np.float32)
    finite = values[np.isfinite(values)]
    # Time is stored as PSL stores it, float64 days since 1800, with the units spelled out.
    days = (sst["time"].values - np.datetime64("1800-01-01", "ns")) / np.timedelta64(1, "D")
    ds = xr.Dataset(
        {
            "sst": (
                ("time", "lat", "lon"),
                values,
                {
                    "long_name": "Daily Mean of Sea Surface Temperature",
                    "units": "degC",
                    "valid_range": np.array([-3.0, 45.0], dtype=np.float32),
                    "precision": np.float32(2.0),
                    "dataset": "sstcast toy ocean (built-in sample)",
                    "var_desc": "Sea Surface Temperature",
                    "level_desc": "Surface",
                    "statistic": "Mean",
                    "parent_stat": "Individual Observations",
                    "actual_range": np.array([finite.min(), finite.max()], dtype=np.float32),
                    "standard_name": "sea_surface_temperature",
                },
            )
        },
        coords={
            "time": (
                "time",
                days,
                {
                    "units": TIME_UNITS,
                    "calendar": "standard",
                    "long_name": "Time",
                    "delta_t": "0000-00-01 00:00:00",
                    "avg_period": "0000-00-01 00:00:00",
                    "axis": "T",
                    "standard_name": "time",
                    "coordinate_defines": "start",
                    "actual_range": np.array([days.min(), days.max()], dtype=np.float64),
                },
            ),
            "lat": (
                "lat",
                lat,
                {
                    "units": "degrees_north",
                    "long_name": "Latitude",
                    "actual_range": np.array([lat.min(), lat.max()], dtype=np.float32),
                    "standard_name": "latitude",
                    "axis": "Y",
                    "coordinate_defines": "center",
                },
            ),
            "lon": (
                "lon",
                lon,
                {
                    "units": "degrees_east",
                    "long_name": "Longitude",
                    "actual_range": np.array([lon.min(), lon.max()], dtype=np.float32),
                    "standard_name": "longitude",
                    "axis": "X",
                    "coordinate_defines": "center",
                },
            ),
        },
        attrs={
            "Conventions": "CF-1.5",
            "title": (
                "sstcast built-in sample: toy-ocean daily SST in the layout of NOAA/NCEI 1/4 "
                "Degree Daily Optimum Interpolation Sea Surface Temperature (OISST) v2.1"
            ),
            "institution": "sstcast (synthetic data, not an observation)",
            "source": f"sstcast.sample.toyocean.ToyOcean(seed={seed}): climatology + stirred, damped, "
            "randomly forced anomaly; land from Natural Earth 50 m",
            "References": "https://www.psl.noaa.gov/data/gridded/data.noaa.oisst.v2.highres.html",
            "dataset_title": "sstcast toy-ocean sample in NOAA OISST v2.1 layout",
            "version": "Version 2.1 layout",
            "comment": "Values are the toy ocean's state at 00:00 UTC of each day. "
            "See docs/sample.md.",
        },
    )
    return ds


def _encoding(n_time: int, shape: tuple[int, int]) -> dict[str, dict[str, object]]:
    return {
        "sst": {
            "dtype": "float32",
            "_FillValue": FILL_VALUE,
            "missing_value": FILL_VALUE,
            "zlib": True,
            "complevel": 4,
            "shuffle": True,
            "chunksizes": (min(n_time, 31), *shape),
        },
        "time": {"dtype": "float64", "_FillValue": None},
        "lat": {"dtype": "float32", "_FillValue": None},
        "lon": {"dtype": "float32", "_FillValue": None},
    }


def _write_atomic(ds: xr.Dataset, path: Path) -> None:
    """Write a NetCDF4 file to a temporary name in the same folder, then rename it."""
    with atomic_path(path) as tmp:
        ds.to_netcdf(
            tmp,
            format="NETCDF4",
            engine="netcdf4",
            encoding=_encoding(ds.sizes["time"], (ds.sizes["lat"], ds.sizes["lon"])),
            unlimited_dims=["time"],
        )


def _check_years(years: Iterable[int]) -> list[int]:
    years = [int(y) for y in years]
    if not years:
        raise SstcastError("sample years: at least one year is needed")
    if sorted(set(years)) != years:
        raise SstcastError(f"sample years must be increasing without repeats, got {years}")
    if years[0] < 1801 or years[-1] > 9999:
        raise SstcastError(f"sample years must lie in 1801..9999, got {years[0]}..{years[-1]}")
    return years


def write_sample(
    out: Path,
    seed: int = 0,
    years: Iterable[int] = DEFAULT_YEARS,
    taxibj: bool = True,
    progress: bool = True,
    ocean: ToyOcean | None = None,
) -> list[Path]:
    """Write the built-in sample under ``out``; return the paths written (manifest last).

    SST: one ``out/sst/sst.day.mean.YYYY.nc`` per year in ``years`` (default 2010-2021),
    daily, leap years included. The toy ocean is run continuously from 1 January of the first
    year (after its internal spin-up, which is not written) to 31 December of the last, so
    the same seed and the same first year give identical values for every year both runs
    write, however many years are asked for. Years may have gaps; the ocean still runs
    through them. ``ocean`` overrides the default ``ToyOcean(seed=seed)`` (tests use a short
    spin-up); its seed must equal ``seed``. TaxiBJ: ``out/taxibj/`` from
    :func:`sstcast.sample.toycity.write_taxibj_sample` when ``taxibj`` is true. Every file is written
    atomically (temporary name, then rename).
    """
    out = Path(out)
    years = _check_years(years)
    if ocean is None:
        ocean = ToyOcean(seed=seed)
    elif ocean.seed != seed:
        raise SstcastError(f"write_sample: ocean.seed={ocean.seed} differs from seed={seed}")
    sst_dir = out / SST_DIR
    try:
        sst_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SstcastError(f"{sst_dir}: cannot create the sample folder ({err})") from err

    times = pd.date_range(f"{years[0]}-01-01", f"{years[-1]}-12-31", freq="D")
    written: list[Path] = []
    with progress_bar(progress) as bar:
        sim_task = bar.add_task("toy ocean: integrating days", total=None)

        def on_day(done: int, total: int) -> None:
            bar.update(sim_task, completed=done, total=total)

        sst = ocean.simulate(times, progress=on_day)
        file_task = bar.add_task("toy ocean: writing OISST files", total=len(years))
        for year in years:
            path = sst_dir / sst_file_name(year)
            one = sst.sel(time=slice(f"{year}-01-01", f"{year}-12-31"))
            _write_atomic(_oisst_dataset(one, ocean, seed), path)
            written.append(path)
            bar.advance(file_task)

    taxibj_paths: list[Path] = []
    if taxibj:
        from sstcast.sample.toycity import write_taxibj_sample

        taxibj_paths = list(write_taxibj_sample(out / TAXIBJ_DIR, seed, progress=progress))
        written.extend(taxibj_paths)

    manifest = {
        "kind": "sstcast-sample",
        "seed": seed,
        "years": years,
        "first_day": str(times[0].date()),
        "spinup": f"{ocean.spinup_days} days before first_day, from a zero anomaly",
        "sst_files": [str(p.relative_to(out)) for p in written if p.parent == sst_dir],
        "taxibj_files": [str(p.relative_to(out)) for p in taxibj_paths],
        **describe(ocean),
    }
    manifest_path = out / MANIFEST
    write_json(manifest_path, manifest)
    written.append(manifest_path)
    return written


__all__ = ["DEFAULT_YEARS", "MANIFEST", "sst_file_name", "write_sample"]
