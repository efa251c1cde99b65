"""Kill `sstcast ingest` at many random moments; count what a user would find afterwards.

The CI test (tests/test_ingest_processes.py) kills 3 times; this script does it N times:

    python benchmarks/stress_ingest_kill.py --kills 50

For each kill: the cube is absent or whole (identical to a clean ingest), no temporary
opens as a cube, and a rerun gives identical values and removes stale temporaries.
"""

from __future__ import annotations

import argparse
import random
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sstcast.cube import open_cube
from sstcast.errors import SstcastError
from tests.test_ingest_processes import _files, _ingest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    root = Path(tempfile.mkdtemp(prefix="sstcast-kill-"))
    files = _files(root / "raw", n=8)
    start = time.perf_counter()
    assert _ingest(files, root / "ref.zarr").wait() == 0
    full = time.perf_counter() - start
    expected = open_cube(root / "ref.zarr")["sst"].values
    counts = {
        "killed": 0,
        "finished first": 0,
        "temporaries left": 0,
        "temporary opened": 0,
        "rerun identical": 0,
        "bad": 0,
    }
    out = root / "c.zarr"
    for _ in range(args.kills):
        shutil.rmtree(out, ignore_errors=True)  # each kill interrupts a first-time write
        proc = _ingest(files, out)
        time.sleep(rng.uniform(0.6, 1.0) * full)  # startup is most of a small ingest
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        counts["killed"] += 1
        if out.exists():
            counts["finished first"] += 1
            if not np.array_equal(open_cube(out)["sst"].values, expected, equal_nan=True):
                counts["bad"] += 1
        for stale in root.glob(".c.zarr.tmp-*"):
            counts["temporaries left"] += 1
            try:
                open_cube(stale)
                counts["temporary opened"] += 1
            except SstcastError:
                pass
        ok = _ingest(files, out).wait() == 0
        same = ok and np.array_equal(open_cube(out)["sst"].values, expected, equal_nan=True)
        counts["rerun identical"] += int(same and not list(root.glob(".c.zarr.tmp-*")))
    print(f"clean ingest {full:.1f} s; " + ", ".join(f"{k}: {v}" for k, v in counts.items()))


if __name__ == "__main__":
    main()
