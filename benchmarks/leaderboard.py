"""The model zoo's leaderboard on the built-in sample: every sequence model trained at the
same CPU budget, then scored on the test year 2021 against the references and the bound.

For each region (``bohai``: 16 x 20, ``bohai_yellow``: the sample's whole 48 x 48 domain)
and each model, the Bohai pipeline (``pipelines/bohai.yaml``: 10 days in, 10 out, anomaly
inputs, land mask and lat/lon channels, ocean-only loss) is trained with the model's
``default`` preset (residual: the untrained model is persistence of the anomaly) under
``--max-time``, in a fresh ``sstcast`` process each, one at a time; ``sstcast forecast``
then forecasts every test init 10 days ahead and evaluates it. The table has the per-lead
test RMSE, the gain captured ``(MSE_ap - MSE) / (MSE_ap - MSE_bound)``, parameters, epochs
and time per epoch; the references and the bound come from the same evaluation.

    python benchmarks/leaderboard.py --budget 15 --work /tmp/leaderboard \\
        --md docs/leaderboard_table.md --json leaderboard.json

Run it on an otherwise idle machine: the budget is wall-clock, and two torch processes
with two threads each on 2 cores slow each other by several times. The full default
(7 models x 2 regions x 15 min) takes about 3.5 hours on 2 cores; the table in
docs/benchmarks.md ran the two regions side by side, one process each with
``--threads 1``. ``--rescore`` rebuilds the rows from runs already in ``--work``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import xarray as xr
import yaml

REPO = Path(__file__).resolve().parents[1]
MODELS = [
    "convlstm",
    "sa_convlstm",
    "sam_convlstm",
    "predrnn",
    "swinlstm_b",
    "swinlstm_d",
    "datlstm",
]
REGIONS = ["bohai", "bohai_yellow"]
LEADS = (1, 5, 10)
REFERENCES = ("persistence", "climatology", "anomaly_persistence", "bound")


def sstcast(*args: str, cwd: Path, log: Path) -> float:
    """Run ``sstcast ARGS`` in ``cwd`` (output appended to ``log``); seconds taken."""
    start = time.perf_counter()
    with log.open("a") as out:
        out.write(f"\n$ sstcast {' '.join(args)}\n")
        out.flush()
        done = subprocess.run(
            [sys.executable, "-m", "sstcast.cli", *args],
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            check=False,
        )
    if done.returncode != 0:
        raise SystemExit(f"sstcast {' '.join(args)} failed (exit {done.returncode}); see {log}")
    return time.perf_counter() - start


def pipeline_file(work: Path, region: str, model: str) -> Path:
    """The Bohai pipeline for ``region`` with ``model``'s default preset (residual)."""
    spec = yaml.safe_load((REPO / "pipelines" / "bohai.yaml").read_text())
    spec["name"] = f"lb_{region}"
    spec["region"] = region
    spec["model"] = {"name": model, "preset": "default", "config": {"residual": True}}
    spec["trainer"]["epochs"] = 200  # the time budget, not the epoch count, ends training
    path = work / "pipelines" / f"lb_{region}_{model}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def result_row(run: Path, region: str, model: str, seconds: dict[str, float]) -> dict[str, Any]:
    """Scores and costs of one trained and evaluated run."""
    record = json.loads((run / "run.json").read_text())
    with xr.open_dataset(run / "forecast_test_metrics.nc") as m:
        value = m["value"].load()
        lead_days = [round(float(d)) for d in m["lead_time_days"].values]
    pos = [lead_days.index(k) for k in LEADS]
    rmse = value.sel(metric="rmse")
    row: dict[str, Any] = {
        "region": region,
        "model": model,
        "parameters": record.get("n_parameters"),
        "rmse": {
            k: float(rmse.sel(model=model).values[p]) for k, p in zip(LEADS, pos, strict=True)
        },
        "references": {
            ref: {k: float(rmse.sel(model=ref).values[p]) for k, p in zip(LEADS, pos, strict=True)}
            for ref in REFERENCES
            if ref in rmse["model"].values
        },
        "seconds": seconds,
    }
    if "gain_captured" in value["metric"].values:
        gain = value.sel(metric="gain_captured", model=model).values
        row["gain_captured"] = {k: float(gain[p]) for k, p in zip(LEADS, pos, strict=True)}
    with (run / "metrics.csv").open() as f:
        epochs = list(csv.DictReader(f))
    row["epochs"] = len(epochs)
    row["steps"] = record.get("global_step")
    times = [float(r["epoch_seconds"]) for r in epochs if r.get("epoch_seconds")]
    row["seconds_per_epoch"] = sum(times) / len(times) if times else None
    row["best_val_rmse"] = record.get("best_val_rmse")
    return row


def markdown(rows: list[dict[str, Any]], budget: float) -> str:
    """One table per region: models, then the references and the bound."""
    lines = []
    for region in dict.fromkeys(r["region"] for r in rows):
        here = [r for r in rows if r["region"] == region]
        lines += [
            f"#### {region} — test year 2021, RMSE °C at leads {', '.join(map(str, LEADS))} d, "
            f"{budget:g} min CPU budget each",
            "",
            "| model | parameters | steps | epochs | s / epoch | "
            + " | ".join(f"RMSE {k} d" for k in LEADS)
            + " | gain 5 d | gain 10 d |",
            "|---|---:|---:|---:|---:|" + "---:|" * len(LEADS) + "---:|---:|",
        ]
        for r in sorted(here, key=lambda r: r["rmse"][LEADS[-1]]):
            gain = r.get("gain_captured", {})
            spe = "–" if r["seconds_per_epoch"] is None else f"{r['seconds_per_epoch']:.0f}"
            steps = "–" if r.get("steps") is None else f"{r['steps']:,}"
            cells = [r["model"], f"{r['parameters']:,}", steps, str(r["epochs"]), spe]
            cells += [f"{r['rmse'][k]:.3f}" for k in LEADS]
            cells += [f"{gain[k]:.0%}" if k in gain else "–" for k in (5, 10)]
            lines.append("| " + " | ".join(cells) + " |")
        refs = here[0]["references"]
        for ref in REFERENCES:
            if ref in refs:
                lines.append(
                    f"| *{ref.replace('_', ' ')}* | | | | | "
                    + " | ".join(f"{refs[ref][k]:.3f}" for k in LEADS)
                    + " | | |"
                )
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=15.0, help="minutes of training each")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--regions", default=",".join(REGIONS))
    parser.add_argument("--work", default="leaderboard", help="working folder")
    parser.add_argument("--json", default=None, help="write the rows as JSON here")
    parser.add_argument("--md", default=None, help="write the tables as Markdown here")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads per run (OMP_NUM_THREADS)"
    )
    parser.add_argument(
        "--rescore",
        action="store_true",
        help="only collect the rows of runs already trained and evaluated in --work",
    )
    args = parser.parse_args()
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(args.threads)
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    log = work / "leaderboard.log"
    shutil.copy(REPO / "data_catalog.yaml", work / "data_catalog.yaml")
    if not args.rescore and not (work / "data" / "sample" / "sample_manifest.json").exists():
        sstcast("sample", "--out", "data/sample", "--no-progress", cwd=work, log=log)
    rows: list[dict[str, Any]] = []
    for region in args.regions.split(","):
        if not args.rescore:
            sstcast("ingest", "sample_sst", "--region", region, "--no-progress", cwd=work, log=log)
        for model in args.models.split(","):
            pipe = pipeline_file(work, region, model)
            runs = work / "runs" / f"lb_{region}" / model
            seconds: dict[str, float] = {}
            if not args.rescore:
                if runs.exists():
                    shutil.rmtree(runs)
                train = ["train", "--pipeline", str(pipe), "--max-time", f"{args.budget:g}"]
                fcst = ["forecast", "--pipeline", str(pipe), "--lead", "10", "--no-maps"]
                seconds["train"] = sstcast(*train, "--no-progress", cwd=work, log=log)
                seconds["forecast_evaluate"] = sstcast(*fcst, "--no-progress", cwd=work, log=log)
            elif not (runs.exists() and any(runs.glob("*/forecast_test_metrics.nc"))):
                print(f"{region}/{model}: no evaluated run in {runs}; skipped", flush=True)
                continue
            run = max(p.parent for p in runs.glob("*/forecast_test_metrics.nc"))
            rows.append(result_row(run, region, model, seconds))
            print(json.dumps(rows[-1]), flush=True)
            if args.json:
                Path(args.json).write_text(json.dumps(rows, indent=1))
            if args.md:
                Path(args.md).write_text(markdown(rows, args.budget))
    print(markdown(rows, args.budget))


if __name__ == "__main__":
    main()
