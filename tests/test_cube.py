"""Cube writing and opening: schema, chunking, atomicity, idempotence, fsspec, dask.distributed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dask.array as da
import fsspec
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import sstcast.cube as cube_mod
from sstcast.cube import (
    file_provenance,
    open_cube,
    sha256_file,
    time_chunk_size,
    validate_cube,
    write_cube,
    write_cube_status,
)
from sstcast.errors import SstcastError


def sst_dataset(nt: int = 40, ny: int = 4, nx: int = 5, region: str = "test") -> xr.Dataset:
    """A small valid SST dataset (one land cell), sst as a dask array."""
    rng = np.random.default_rng(0)
    values = (10 + rng.standard_normal((nt, ny, nx))).astype("float32")
    values[:, 0, 0] = np.nan
    ds = xr.Dataset(
        {
            "sst": (("time", "lat", "lon"), da.from_array(values, chunks=(7, ny, nx))),
            "mask": (("lat", "lon"), np.zeros((ny, nx), "int8")),
        },
        coords={
            "time": pd.date_range("2000-01-01", periods=nt, freq="D"),
            "lat": np.arange(ny, dtype=float) + 30,
            "lon": np.arange(nx, dtype=float) + 120,
        },
        attrs={
            "sstcast_kind": "sst",
            "region": region,
            "bbox": [30.0, 33.0, 120.0, 124.0],
            "source_files": json.dumps([{"path": "/x.nc", "sha256": "ab" * 32, "size": 10}]),
            "frequency": "1D",
        },
    )
    ds["sst"].attrs = {"units": "degC", "standard_name": "sea_surface_temperature"}
    return ds


def taxibj_dataset(nt: int = 96) -> xr.Dataset:
    time = pd.date_range("2015-03-01", periods=nt, freq="30min")
    return xr.Dataset(
        {
            "flow": (("time", "direction", "y", "x"), np.ones((nt, 2, 32, 32), "float32")),
            "temperature": ("time", np.zeros(nt, "float32")),
            "wind_speed": ("time", np.zeros(nt, "float32")),
            "weather": (("time", "weather_class"), np.zeros((nt, 17), "int8")),
            "holiday": ("time", np.zeros(nt, "int8")),
            "day_of_week": ("time", time.day_of_week.values.astype("int8")),
        },
        coords={"time": time, "direction": ["inflow", "outflow"]},
        attrs={"sstcast_kind": "taxibj", "slots_per_day": 48, "incomplete_days": "[]"},
    )


def test_round_trip_and_mask_computed_from_values(tmp_path: Path) -> None:
    ds = sst_dataset()
    out = write_cube(ds, tmp_path / "c.zarr", progress=False)
    cube = open_cube(out)
    np.testing.assert_array_equal(cube["sst"].values, ds["sst"].values)
    expected_mask = np.ones((4, 5), "int8")
    expected_mask[0, 0] = 0
    np.testing.assert_array_equal(cube["mask"].values, expected_mask)  # from the values
    assert cube["time"].dtype == np.dtype("datetime64[ns]")
    assert cube.attrs["Conventions"] == "CF-1.8"
    assert "sstcast" in cube.attrs["history"]
    assert cube["sst"].attrs["units"] == "degC"
    assert (tmp_path / "c.zarr" / "zarr.json").exists()
    assert not (tmp_path / "c.zarr" / "zarr.json").read_text().count('"consolidated_metadata": {')
    assert json.loads((tmp_path / "c.zarr" / "zarr.json").read_text())["zarr_format"] == 3


def test_chunks_along_time_whole_region(tmp_path: Path) -> None:
    ds = sst_dataset(nt=600, ny=30, nx=40)  # 4.8 kB per step
    steps = time_chunk_size(ds)
    assert steps * 30 * 40 * 4 >= 2**20
    write_cube(ds, tmp_path / "c.zarr", progress=False)
    meta = json.loads((tmp_path / "c.zarr" / "sst" / "zarr.json").read_text())
    chunk = meta["chunk_grid"]["configuration"]["chunk_shape"]
    assert chunk == [min(steps, 600), 30, 40]


def test_blocks_bound_memory_and_cover_all_times(tmp_path: Path, monkeypatch) -> None:
    """With tiny chunks and blocks, many blocks are written one by one; all land right."""
    monkeypatch.setattr(cube_mod, "CHUNK_BYTES", 80)
    monkeypatch.setattr(cube_mod, "BLOCK_BYTES", 240)
    ds = sst_dataset(nt=23)
    write_cube(ds, tmp_path / "c.zarr", progress=False)
    cube = open_cube(tmp_path / "c.zarr")
    assert cube["sst"].encoding["chunks"][0] == 1
    np.testing.assert_array_equal(cube["sst"].values, ds["sst"].values)


def _failing_sst(ds: xr.Dataset, fail_at_block: int, error: type[BaseException]) -> xr.Dataset:
    """``ds`` whose sst raises ``error`` when its ``fail_at_block``-th time chunk is read."""

    def boom(block: np.ndarray, block_info=None) -> np.ndarray:
        if block_info[0]["chunk-location"][0] == fail_at_block:
            raise error("simulated interruption")
        return block

    out = ds.copy()
    out["sst"] = ds["sst"].copy(
        data=ds["sst"].data.rechunk((1, -1, -1)).map_blocks(boom, dtype="float32")
    )
    return out


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_interrupted_write_leaves_nothing(tmp_path: Path, monkeypatch, error) -> None:
    monkeypatch.setattr(cube_mod, "CHUNK_BYTES", 80)
    monkeypatch.setattr(cube_mod, "BLOCK_BYTES", 80)
    ds = _failing_sst(sst_dataset(nt=12), fail_at_block=6, error=error)
    out = tmp_path / "sub" / "c.zarr"
    with pytest.raises(error, match="simulated"):
        write_cube(ds, out, progress=False)
    assert not out.exists()
    assert not (tmp_path / "sub").exists(), "created folders are removed again"
    assert os.listdir(tmp_path) == []


def test_interrupted_force_keeps_the_old_cube(tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "c.zarr"
    write_cube(sst_dataset(), out, progress=False)
    before = open_cube(out)["sst"].values
    monkeypatch.setattr(cube_mod, "CHUNK_BYTES", 80)
    monkeypatch.setattr(cube_mod, "BLOCK_BYTES", 80)
    bad = _failing_sst(sst_dataset(region="other"), fail_at_block=3, error=RuntimeError)
    with pytest.raises(RuntimeError):
        write_cube(bad, out, force=True, progress=False)
    np.testing.assert_array_equal(open_cube(out)["sst"].values, before)
    assert sorted(os.listdir(tmp_path)) == ["c.zarr"]


def test_idempotent_and_force(tmp_path: Path) -> None:
    out = tmp_path / "c.zarr"
    _, written = write_cube_status(sst_dataset(), out, progress=False)
    assert written
    stamp = (out / "zarr.json").stat().st_mtime_ns
    _, written = write_cube_status(sst_dataset(), out, progress=False)
    assert not written
    assert (out / "zarr.json").stat().st_mtime_ns == stamp
    other = sst_dataset(region="elsewhere")
    with pytest.raises(SstcastError, match="different provenance; use --force"):
        write_cube(other, out, progress=False)
    _, written = write_cube_status(other, out, force=True, progress=False)
    assert written
    assert open_cube(out).attrs["region"] == "elsewhere"


def test_refuses_to_overwrite_something_else(tmp_path: Path) -> None:
    out = tmp_path / "c.zarr"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(SstcastError, match="not an sstcast cube; choose another --out"):
        write_cube(sst_dataset(), out, progress=False)
    # --force replaces only a cube, never a folder of someone's files
    with pytest.raises(SstcastError, match="not an sstcast cube"):
        write_cube(sst_dataset(), out, force=True, progress=False)
    assert (out / "notes.txt").read_text() == "mine"


def test_one_writer_at_a_time(tmp_path: Path) -> None:
    from filelock import FileLock

    out = tmp_path / "c.zarr"
    held = FileLock(str(cube_mod.writer_lock_path(out)))
    with held:  # another process writing this cube
        with pytest.raises(SstcastError, match="another sstcast process is writing this cube"):
            write_cube(sst_dataset(), out, progress=False)
    assert not out.exists()
    write_cube(sst_dataset(), out, progress=False)  # the lock is free again
    assert open_cube(out).sizes["time"] > 0


def test_fsspec_memory_url(tmp_path: Path) -> None:
    url = "memory://sstcast-test/cubes/c.zarr"
    fs = fsspec.filesystem("memory")
    if fs.exists("/sstcast-test"):
        fs.rm("/sstcast-test", recursive=True)
    _, written = write_cube_status(sst_dataset(), url, progress=False)
    assert written
    assert fs.ls("/sstcast-test/cubes", detail=False) == ["/sstcast-test/cubes/c.zarr"]
    cube = open_cube(url)
    np.testing.assert_array_equal(cube["sst"].values, sst_dataset()["sst"].values)
    _, written = write_cube_status(sst_dataset(), url, progress=False)
    assert not written
    fs.rm("/sstcast-test", recursive=True)


def test_dask_distributed_scheduler(tmp_path: Path) -> None:
    from distributed import LocalCluster

    with LocalCluster(
        processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None
    ) as cluster:
        out = write_cube(sst_dataset(), tmp_path / "c.zarr", scheduler=cluster.scheduler_address)
        assert len(cluster.scheduler.transition_log) > 0, "the work ran on the cluster"
    np.testing.assert_array_equal(open_cube(out)["sst"].values, sst_dataset()["sst"].values)


def test_unreachable_scheduler_is_one_line(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(cube_mod, "SCHEDULER_TIMEOUT", "1s")
    with pytest.raises(SstcastError, match=r"--scheduler tcp://127\.0\.0\.1:9: cannot connect"):
        write_cube(sst_dataset(), tmp_path / "c.zarr", scheduler="tcp://127.0.0.1:9")
    assert not (tmp_path / "c.zarr").exists()


def test_taxibj_cube_round_trip(tmp_path: Path) -> None:
    out = write_cube(taxibj_dataset(), tmp_path / "t.zarr", progress=False)
    cube = open_cube(out)
    assert cube.attrs["sstcast_kind"] == "taxibj"
    assert list(cube["direction"].values) == ["inflow", "outflow"]
    assert cube["flow"].shape == (96, 2, 32, 32)
    assert cube["weather"].dtype == np.int8


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda ds: ds.assign_attrs(sstcast_kind="rain"), "sstcast_kind is 'rain'"),
        (lambda ds: ds.isel(lat=slice(None, None, -1)), "lat is not strictly ascending"),
        (lambda ds: ds.assign(sst=ds["sst"].astype("float64")), "sst is float64"),
        (lambda ds: ds.drop_vars("mask"), "missing variable 'mask'"),
        (lambda ds: ds.isel(time=[3, 1, 2]), "time is not strictly increasing"),
        (lambda ds: ds.assign_attrs(source_files="nope"), "source_files is not a JSON list"),
        (
            lambda ds: ds.assign(sst=ds["sst"].assign_attrs(units="K")),
            "sst units are 'K'",
        ),
    ],
)
def test_validate_cube_rejects(change, message: str) -> None:
    validate_cube(sst_dataset())
    with pytest.raises(SstcastError, match=message):
        validate_cube(change(sst_dataset()))


def test_validate_taxibj_rejects_missing_factor() -> None:
    validate_cube(taxibj_dataset())
    with pytest.raises(SstcastError, match="missing variable 'holiday'"):
        validate_cube(taxibj_dataset().drop_vars("holiday"))


def test_open_cube_errors(tmp_path: Path) -> None:
    with pytest.raises(SstcastError, match="no cube there"):
        open_cube(tmp_path / "none.zarr")
    xr.Dataset({"a": ("x", [1, 2])}).to_zarr(tmp_path / "plain.zarr", consolidated=False)
    with pytest.raises(SstcastError, match="sstcast_kind is None"):
        open_cube(tmp_path / "plain.zarr")


def test_checksums_stream(tmp_path: Path) -> None:
    import hashlib

    path = tmp_path / "f.bin"
    data = os.urandom(100_000)
    path.write_bytes(data)
    assert sha256_file(path, block_size=4096) == hashlib.sha256(data).hexdigest()
    (record,) = file_provenance([path])
    assert record["size"] == 100_000 and record["path"] == str(path.resolve())


def test_rerun_with_unchanged_files_reads_none_of_them(tmp_path: Path, monkeypatch) -> None:
    """Up to date is decided from size + mtime against the cube's records: no file is
    hashed again; touching a file makes it hashed again (and still up to date)."""
    from sstcast.ingest import ingest_sst

    paths = []
    for year in (2000, 2001):
        ds = xr.Dataset(
            {
                "sst": (
                    ("time", "lat", "lon"),
                    np.full((5, 2, 3), 10.0, np.float32),
                    {"units": "degC"},
                )
            },
            coords={
                "time": pd.date_range(f"{year}-01-01", periods=5, freq="D"),
                "lat": ("lat", [1.0, 2.0], {"units": "degrees_north"}),
                "lon": ("lon", [3.0, 4.0, 5.0], {"units": "degrees_east"}),
            },
        )
        paths.append(tmp_path / f"{year}.nc")
        ds.to_netcdf(paths[-1])
    out = tmp_path / "c.zarr"
    assert ingest_sst(paths, out, progress=False).written

    hashed: list[Path] = []
    real = cube_mod.sha256_file
    monkeypatch.setattr(cube_mod, "sha256_file", lambda p: hashed.append(Path(p)) or real(p))
    again = ingest_sst(paths, out, progress=False)
    assert not again.written and hashed == []

    os.utime(paths[0], ns=(0, 10**18))
    third = ingest_sst(paths, out, progress=False)
    assert not third.written and hashed == [paths[0].resolve()]


def test_as_dataset_takes_a_dataset_or_a_path(tmp_path: Path) -> None:
    ds = sst_dataset()
    assert cube_mod.as_dataset(ds) is ds  # in memory: used as it is
    out = write_cube(ds, tmp_path / "c.zarr", progress=False)
    for where in (out, Path(out)):
        np.testing.assert_array_equal(cube_mod.as_dataset(where)["sst"].values, ds["sst"].values)
    with pytest.raises(SstcastError, match="no cube there"):
        cube_mod.as_dataset(tmp_path / "missing.zarr")


def test_interrupted_temporaries_never_open_and_are_cleaned(tmp_path: Path, monkeypatch) -> None:
    """A killed write leaves a temporary without the completion mark: open_cube refuses it,
    and the next write of the same cube removes it."""
    out = tmp_path / "c.zarr"
    stale = tmp_path / ".c.zarr.tmp-dead1234"
    ds = sst_dataset()
    ds.to_zarr(stale, consolidated=False, zarr_format=3)  # all metadata, no completion mark
    with pytest.raises(SstcastError, match="incomplete cube"):
        open_cube(stale)
    write_cube(ds, out, progress=False)
    assert not stale.exists()
    assert open_cube(out).attrs["sstcast_complete"]


def test_missing_chunks_are_noticed_and_rewritten(tmp_path: Path) -> None:
    out = tmp_path / "c.zarr"
    write_cube(sst_dataset(), out, progress=False)
    chunk = next(p for p in (out / "sst" / "c").rglob("*") if p.is_file())
    chunk.unlink()  # a chunk lost (a broken copy, a killed sync)
    _, written = write_cube_status(sst_dataset(), out, progress=False)
    assert written, "not 'up to date' with a chunk missing"
    _, written = write_cube_status(sst_dataset(), out, progress=False)
    assert not written
