"""sstcast against OpenSTL in CPU time: the peer harness's models and training steps, timed
with the process's CPU clock on one thread, so that other processes on a shared machine do
not enter the figures. Prints one markdown table.

    .venv/bin/python benchmarks/bench_peer_cputime.py --openstl-src /tmp/openstl \\
        --extra-path PYDEPS

The models, sizes and training-step code are those of ``../shared/bench/peer_bench`` (its
``small`` preset, configs ``bohai`` and ``taxibj``; see its README for OpenSTL and the timm
its SwinLSTM needs): this script imports its builders and only changes the clock. Each
(suite, config, model) runs in a fresh process with one torch thread; the CPU time of
``--steps`` training steps after two warm-up steps is recorded, in ``--rounds``
interleaved rounds, and the median is reported. Wall-clock ratios from ``peer_bench.py``
itself are the figure of record on an idle machine; on a loaded one (load average above the
core count) they mostly measure the other processes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HARNESS = Path(__file__).resolve().parents[2] / "shared" / "bench" / "peer_bench"
MODELS = ["convlstm", "predrnn", "swinlstm_b", "swinlstm_d"]
CONFIGS = ["bohai", "taxibj"]

WORKER = r"""
import json, sys, time
spec = json.loads(sys.argv[1])
sys.path[:0] = spec["path"]
import peer_bench as pb
import torch
torch.set_num_threads(1)
torch.manual_seed(0)
cfg, hp = pb.CONFIGS[spec["config"]], pb.PRESETS["small"][spec["model"]]
job = {"model": spec["model"], "config": cfg, "hp": hp, "openstl_src": spec["src"],
       "seed": 0, "lr": hp.get("lr", 1e-4)}
if spec["suite"] == "sstcast":
    job["kwargs"] = pb.sstcast_default_kwargs(spec["model"], cfg, hp)
build = pb._build_openstl if spec["suite"] == "openstl" else pb._build_sstcast
model, train, infer = build(job, {})
model.train()
if spec["bf16"]:  # forward and loss under CPU autocast, as Lightning's bf16-mixed runs them
    plain = train
    def train():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            plain()
train(); train()
times = []
for _ in range(spec["steps"]):
    t = time.process_time(); train(); times.append(time.process_time() - t)
print("CPUTIME " + json.dumps(times))
"""


def cpu_times(
    suite: str, model: str, config: str, steps: int, args: argparse.Namespace, bf16: bool = False
) -> list:
    path = [str(HARNESS)] + (args.extra_path if suite == "openstl" else [])
    spec = {"suite": suite, "model": model, "config": config, "steps": steps, "path": path}
    spec["bf16"] = bf16
    spec["src"] = args.openstl_src
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [sys.executable, "-c", WORKER, json.dumps(spec)], capture_output=True, text=True, env=env
    )
    for line in proc.stdout.splitlines():
        if line.startswith("CPUTIME "):
            return json.loads(line[8:])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:]
    raise SystemExit(f"{suite}/{config}/{model} failed: {tail}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--openstl-src", required=True)
    parser.add_argument("--extra-path", action="append", default=[])
    parser.add_argument("--models", nargs="*", default=MODELS)
    parser.add_argument("--configs", nargs="*", default=CONFIGS)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--bf16",
        action="store_true",
        help="also time both under CPU bf16 autocast (sstcast's trainer.precision: bf16-mixed; "
        "OpenSTL's trainer has no such mode, its row is for comparison)",
    )
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    print(f"CPU time of one training step, 1 thread; load average {load:.2f} at the start\n")
    runs = [("openstl", False), ("sstcast", False)]
    head = "| config | model | OpenSTL (s) | sstcast (s) | time ratio sstcast/OpenSTL |"
    rule = "|---|---|---:|---:|---:|"
    if args.bf16:
        runs += [("sstcast", True), ("openstl", True)]
        head += " sstcast bf16 (s) | ratio to OpenSTL float32 | OpenSTL bf16 (s) | bf16 ratio |"
        rule += "---:|---:|---:|---:|"
    print(head + "\n" + rule)
    for config in args.configs:
        for model in args.models:
            got: dict[tuple[str, bool], list[float]] = {run: [] for run in runs}
            for _ in range(args.rounds):
                for suite, bf16 in runs:
                    got[suite, bf16] += cpu_times(suite, model, config, args.steps, args, bf16)
            med = {k: statistics.median(v) for k, v in got.items()}
            base = med["openstl", False]
            cells = [config, model, f"{base:.3f}", f"{med['sstcast', False]:.3f}"]
            cells.append(f"{med['sstcast', False] / base:.2f}")
            if args.bf16:
                fast, peer = med["sstcast", True], med["openstl", True]
                cells += [f"{fast:.3f}", f"{fast / base:.2f}", f"{peer:.3f}", f"{fast / peer:.2f}"]
            print("| " + " | ".join(cells) + " |", flush=True)
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
