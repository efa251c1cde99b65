"""Inputs given as URLs: https:// (a local HTTP server), memory:// (an fsspec store with
globs, like s3:// or gs://), file://, and the one-line errors of unreachable or unknown ones.

The HTTP server is Python's own ``http.server`` on 127.0.0.1 and a free port, serving a
temporary folder from a thread; nothing leaves the machine.
"""

from __future__ import annotations

import functools
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import fsspec
import numpy as np
import pytest
from typer.testing import CliRunner

from sstcast.cli import app
from sstcast.cube import open_cube
from sstcast.errors import SstcastError
from sstcast.ingest import ingest_sst, ingest_taxibj
from sstcast.sources import fetch_inputs, list_inputs
from sstcast.sources.netcdf_sst import open_sst
from sstcast.utils.io import sha256_file
from tests.builders import DAYS, LAT, LON, write_cf
from tests.test_ingest_cli import assert_fails, write_taxibj_raw

BBOX = (21.0, 25.0, 101.0, 106.0)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # no request lines in tests
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """(folder, base URL) of an HTTP server on 127.0.0.1 serving ``folder``."""
    folder = tmp_path / "www"
    folder.mkdir()
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def memory_store() -> Iterator[str]:
    """A clean ``memory://`` folder (fsspec's in-memory store, which supports globs)."""
    root = "memory://sstcast-remote-test"
    fs = fsspec.filesystem("memory")
    yield root
    if fs.exists("/sstcast-remote-test"):
        fs.rm("/sstcast-remote-test", recursive=True)


@pytest.fixture
def tmpdir_for_downloads(tmp_path: Path, monkeypatch) -> Path:
    """``$TMPDIR`` moved into tmp_path, to see what downloads leave behind."""
    import tempfile

    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def sst_files(folder: Path) -> list[Path]:
    """Two files of an OISST-like series: one NetCDF-4, one classic NetCDF-3."""
    return [
        write_cf(folder / "sst.2013a.nc", lat=LAT, lon=LON, days=DAYS[:3]),
        write_cf(folder / "sst.2013b.nc", lat=LAT, lon=LON, days=DAYS[3:], fmt="NETCDF3_CLASSIC"),
    ]


def assert_same_cube(remote: str, local: str) -> None:
    a, b = open_cube(remote), open_cube(local)
    for name in ("sst", "mask", "time", "lat", "lon"):
        np.testing.assert_array_equal(a[name].values, b[name].values)
    for key in ("geospatial_lat_min", "time_coverage_end", "source_variable", "frequency"):
        assert a.attrs[key] == b.attrs[key]


def test_ingest_over_http_equals_local_ingest(
    served, tmp_path: Path, tmpdir_for_downloads: Path
) -> None:
    folder, base = served
    files = sst_files(folder)
    urls = [f"{base}/{p.name}" for p in files]
    local = ingest_sst(files, tmp_path / "local.zarr", BBOX, progress=False)
    remote = ingest_sst(urls, tmp_path / "remote.zarr", BBOX, progress=False)
    assert remote.written and remote.n_files == 2
    assert_same_cube(remote.path, local.path)
    records = json.loads(open_cube(remote.path).attrs["source_files"])
    assert [r["path"] for r in records] == urls
    assert [r["sha256"] for r in records] == [sha256_file(p) for p in files]
    assert [r["size"] for r in records] == [p.stat().st_size for p in files]
    assert not list(tmpdir_for_downloads.glob("sstcast-downloads-*")), "copies are removed"
    again = ingest_sst(urls, tmp_path / "remote.zarr", BBOX, progress=False)
    assert not again.written, "same bytes downloaded again: the cube is up to date"


def test_http_errors_name_the_url(served, tmp_path: Path) -> None:
    folder, base = served
    (folder / "notes.nc").write_text("not a netcdf file\n" * 20)
    runner = CliRunner()

    def ingest(*files: str):
        args = ["ingest", "--files", *files, "--out", str(tmp_path / "c.zarr")]
        return runner.invoke(app, args)

    assert_fails(ingest(f"{base}/missing.nc"), f"{base}/missing.nc", "file not found", "404")
    assert_fails(ingest(f"{base}/notes.nc"), f"{base}/notes.nc", "not a NetCDF or HDF5 file")
    assert_fails(ingest(f"{base}/sst.*.nc"), f"{base}/sst.*.nc", "wildcards", "each file's URL")
    assert_fails(
        ingest("http://127.0.0.1:9/sst.nc"), "http://127.0.0.1:9/sst.nc", "cannot be reached"
    )
    assert not (tmp_path / "c.zarr").exists()


def test_memory_store_glob_and_file_url(memory_store: str, tmp_path: Path) -> None:
    """A store with listings (memory://, as s3:// or gs://) expands globs; file:// is local."""
    files = sst_files(tmp_path)
    fs = fsspec.filesystem("memory")
    for p in files:
        fs.pipe(f"{memory_store}/raw/{p.name}", p.read_bytes())
    names = list_inputs([f"{memory_store}/raw/sst.*.nc"])
    assert names == [f"{memory_store}/raw/{p.name}" for p in files]  # spelled as given
    result = ingest_sst([f"{memory_store}/raw/sst.*.nc"], tmp_path / "m.zarr", progress=False)
    records = json.loads(open_cube(result.path).attrs["source_files"])
    assert [r["path"] for r in records] == names
    as_url = ingest_sst([f"file://{tmp_path}/sst.*.nc"], tmp_path / "f.zarr", progress=False)
    assert_same_cube(result.path, as_url.path)
    with pytest.raises(SstcastError, match="no file matches this pattern"):
        list_inputs([f"{memory_store}/raw/oisst.*.nc"])


def test_open_sst_reads_a_url_directly(served) -> None:
    folder, base = served
    files = sst_files(folder)
    ds = open_sst([f"{base}/{p.name}" for p in files])
    np.testing.assert_array_equal(ds["sst"].values, open_sst(files)["sst"].values)


def test_missing_protocol_package_says_what_to_install(monkeypatch) -> None:
    """s3:// without s3fs (simulated even where it is installed): a pip hint, no traceback."""
    import importlib

    registry = importlib.import_module("fsspec.registry")  # fsspec.registry is a mapping
    monkeypatch.delitem(registry._registry, "s3", raising=False)
    monkeypatch.setitem(
        registry.known_implementations,
        "s3",
        {"class": "sstcast_no_such_module.S3FileSystem", "err": "Install s3fs to access S3"},
    )
    with pytest.raises(SstcastError) as err:
        fetch_inputs(["s3://noaa-cdr-sea-surface-temp-optimum-interpolation-pds/x.nc"])
    message = str(err.value)
    assert message.startswith("s3://noaa-cdr") and "pip install s3fs" in message
    with pytest.raises(SstcastError, match=r"nosuch://x/y.nc: Protocol not known"):
        list_inputs(["nosuch://x/y.nc"])


def test_taxibj_from_urls(memory_store: str, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_taxibj_raw(raw)
    fs = fsspec.filesystem("memory")
    for p in raw.iterdir():
        fs.pipe(f"{memory_store}/{p.name}", p.read_bytes())
    result = ingest_taxibj(
        [f"{memory_store}/BJ16_*_InOut.h5"],
        tmp_path / "bj.zarr",
        meteorology=f"{memory_store}/BJ_Meteorology.h5",
        holidays=f"{memory_store}/BJ_Holiday.txt",
        progress=False,
    )
    cube = open_cube(result.path)
    local = ingest_taxibj(
        [raw / "BJ16_M32x32_T30_InOut.h5"],
        tmp_path / "bj_local.zarr",
        meteorology=raw / "BJ_Meteorology.h5",
        holidays=raw / "BJ_Holiday.txt",
        progress=False,
    )
    np.testing.assert_array_equal(cube["flow"].values, open_cube(local.path)["flow"].values)
    records = json.loads(cube.attrs["source_files"])
    assert [r["path"] for r in records] == [
        f"{memory_store}/{n}"
        for n in ("BJ16_M32x32_T30_InOut.h5", "BJ_Meteorology.h5", "BJ_Holiday.txt")
    ]
    assert int(cube["holiday"].sum()) == 45


def test_with_a_scheduler_remote_inputs_are_downloaded_next_to_the_cube(
    served, tmp_path: Path, tmpdir_for_downloads: Path, monkeypatch
) -> None:
    """dask workers on other machines read the inputs: with a scheduler the copies go into
    the cube's folder (which the workers must see anyway), not into this machine's TMPDIR;
    they are removed afterwards. A remote cube has no such folder: a one-line error."""
    import contextlib

    import sstcast.ingest as ingest_mod
    from sstcast.ingest import downloads_near

    folder, base = served
    urls = [f"{base}/{p.name}" for p in sst_files(folder)]
    out = tmp_path / "cubes" / "remote.zarr"
    assert downloads_near(urls, out, None) is None  # no scheduler: TMPDIR
    assert downloads_near([str(p) for p in sst_files(tmp_path)], out, "tcp://h:8786") is None
    assert downloads_near(urls, out, "tcp://h:8786") == out.resolve().parent
    with pytest.raises(SstcastError, match=r"remote cube s3://b/c\.zarr.*copy the files"):
        downloads_near(urls, "s3://b/c.zarr", "tcp://h:8786")

    used: list[Path] = []
    original = ingest_mod.download_folder

    @contextlib.contextmanager
    def spy(near=None):
        with original(near) as where:
            used.append(where)
            yield where

    monkeypatch.setattr(ingest_mod, "download_folder", spy)
    distributed = pytest.importorskip("distributed")
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=1) as client:
        result = ingest_sst(urls, out, BBOX, scheduler=client, progress=False)
    assert result.written and used and used[0].parent == out.resolve().parent
    assert not list(out.parent.glob("sstcast-downloads-*")), "copies are removed"
    assert not list(tmpdir_for_downloads.glob("sstcast-downloads-*"))
