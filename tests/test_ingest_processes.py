"""Ingest as separate processes: killed at random moments (never a complete-looking broken
cube, an identical rerun) and two writers of one cube at once (exactly one wins)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sstcast.cube import open_cube
from sstcast.errors import SstcastError
from tests.builders import DAYS, write_cf

LAT = np.arange(20.0, 40.0, 0.5)
LON = np.arange(100.0, 130.0, 0.5)


def _files(folder: Path, n: int = 6) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [
        write_cf(folder / f"f{k}.nc", lat=LAT, lon=LON, days=DAYS[0] + 30 * k + np.arange(30))
        for k in range(n)
    ]


def _ingest(files: list[Path], out: Path, bbox: str | None = None) -> subprocess.Popen:
    args = [
        sys.executable,
        "-m",
        "sstcast.cli",
        "ingest",
        "--files",
        *map(str, files),
        "--out",
        str(out),
    ]
    if bbox:
        args += ["--bbox", bbox]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=out.parent
    )


def test_killed_ingests_leave_nothing_that_opens_and_a_rerun_is_identical(tmp_path: Path) -> None:
    files = _files(tmp_path / "raw")
    reference = tmp_path / "ref.zarr"
    start = time.perf_counter()
    assert _ingest(files, reference).wait() == 0
    full = time.perf_counter() - start
    expected = open_cube(reference)["sst"].values
    out = tmp_path / "c.zarr"
    for share in (0.5, 0.75, 0.9):
        shutil.rmtree(out, ignore_errors=True)  # each kill interrupts a first-time write
        proc = _ingest(files, out)
        time.sleep(full * share)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if out.exists():  # it finished first: then it is whole
            np.testing.assert_array_equal(open_cube(out)["sst"].values, expected)
        for stale in tmp_path.glob(".c.zarr.tmp-*"):
            with pytest.raises(SstcastError):
                open_cube(stale)  # never a complete-looking cube
        assert _ingest(files, out).wait() == 0
        np.testing.assert_array_equal(open_cube(out)["sst"].values, expected)
        assert not list(tmp_path.glob(".c.zarr.tmp-*")), "stale temporaries removed"


def test_two_writers_of_one_cube_exactly_one_wins(tmp_path: Path) -> None:
    files = _files(tmp_path / "raw", n=3)
    out = tmp_path / "c.zarr"
    a = _ingest(files, out, "20,30,100,115")
    b = _ingest(files, out, "30,39,115,129")
    results = [(p.wait(), p.communicate()[1]) for p in (a, b)]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 1], results
    loser = next(err for code, err in results if code == 1)
    assert "Traceback" not in loser
    assert "another sstcast process is writing" in loser or "different provenance" in loser
    assert open_cube(out)["sst"].notnull().any()
