"""Forecast and evaluate the whole test year of the default Bohai model (targets: forecast
≤ 30 s and evaluate ≤ 10 s on 2 CPU cores, memory flat in the number of inits).

Needs a trained Bohai run (``make demo``, or ``sstcast train --region bohai``) in the working
directory's ``runs/`` (or ``--run DIR``). Each measurement runs in a fresh subprocess so that
its peak memory (max RSS) is its own::

    python benchmarks/bench_forecast.py [--run runs/bohai/convlstm/<time>] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
import numpy as np
t0 = time.perf_counter()
mode, run, out, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
if mode == "forecast":
    from sstcast.forecast.rollout import ModelForecaster, open_run
    from sstcast.forecast.run import forecast, select_inits
    import_s = time.perf_counter() - t0
    start = time.perf_counter()
    if n:
        fc = ModelForecaster(open_run(run), device="cpu")
        inits = [str(t)[:10] for t in select_inits(fc, None, "test", 10)[:n]]
        made = forecast(run, init=inits, lead=10, out=out, progress=False, device="cpu")
    else:
        made = forecast(run, period="test", lead=10, out=out, progress=False, device="cpu")
    seconds, count = time.perf_counter() - start, made.n_inits
else:
    from sstcast.verify.evaluate import evaluate
    import_s = time.perf_counter() - t0
    start = time.perf_counter()
    ev = evaluate(out)
    seconds, count = time.perf_counter() - start, ev.n_inits
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "import_seconds": import_s, "inits": count, "peak_mb": peak}))
"""


def child(mode: str, run: Path, out: Path, n: int = 0) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(run), str(out), str(n)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(proc.stderr.strip().splitlines()[-1])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def latest(root: Path) -> Path:
    found = sorted(p for p in root.glob("bohai/*/*") if (p / "checkpoints").is_dir())
    if not found:
        raise SystemExit("no Bohai run under runs/: run `make demo` first, or give --run")
    return found[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("/tmp/sstcast_bench_forecast"))
    args = parser.parse_args()
    run = args.run or latest(Path("runs"))
    args.out.mkdir(parents=True, exist_ok=True)
    full = args.out / "test_year.nc"
    rows = []
    for _ in range(args.repeat):
        rows.append(("forecast", child("forecast", run, full)))
        rows.append(("evaluate", child("evaluate", run, full)))
    small = child("forecast", run, args.out / "small.nc", 60)
    print(f"run: {run}")
    print("| step | inits × leads | seconds (best of runs) | peak RSS (MB) |")
    print("|---|---|---|---|")
    for step in ("forecast", "evaluate"):
        best = min((r for s, r in rows if s == step), key=lambda r: r["seconds"])
        print(f"| {step} | {best['inits']} × 10 | {best['seconds']:.1f} | {best['peak_mb']:.0f} |")
    big = min((r for s, r in rows if s == "forecast"), key=lambda r: r["seconds"])
    print(
        f"memory vs inits: {small['inits']} inits {small['peak_mb']:.0f} MB, "
        f"{big['inits']} inits {big['peak_mb']:.0f} MB peak RSS"
    )


if __name__ == "__main__":
    main()
