"""How far a training step's peak memory is from what sstcast measures before training.
Prints one markdown table; the figures back ``PEAK_FACTOR`` in sstcast/training/memory.py.

    .venv/bin/python benchmarks/bench_memory.py
    .venv/bin/python benchmarks/bench_memory.py --models sam_convlstm --grid 48x48 --batch 4

Before training, ``sstcast train`` counts the bytes a one-sample forward pass keeps for the
backward pass (:func:`sstcast.training.memory.saved_for_backward`) and takes a step of B
samples to hold at least B times that plus the model state (weights, gradients, Adam's two
moments), and at most ``PEAK_FACTOR`` times the kept tensors plus the state. Here, for each
model (``default`` preset, 1 channel + 3 extra like the Bohai pipeline, 10 -> 10 frames),
a fresh process measures the kept bytes, then runs two real training steps (forward, MSE,
backward, Adam) of B samples and reads its peak resident memory (``ru_maxrss``, what the
kernel's out-of-memory killer counts) before and after: the growth over the lower bound is
the ratio the factor must cover.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys

import torch

from sstcast.models import create
from sstcast.training.memory import PEAK_FACTOR, StepMemory, saved_for_backward, state_bytes
from sstcast.utils.memory import human_bytes

MODELS = [
    "convlstm",
    "predrnn",
    "sa_convlstm",
    "sam_convlstm",
    "swinlstm_b",
    "swinlstm_d",
    "datlstm",
]


def one(name: str, height: int, width: int, batch: int) -> dict[str, float]:
    """Kept bytes per sample, model state and peak RSS growth of two steps of ``batch``."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = create(name, "default", in_channels=1, extra_channels=3).train()
    params = list(model.parameters())

    def data(n: int) -> tuple[torch.Tensor, ...]:
        x = torch.randn(n, 10, 1, height, width)
        return x, torch.randn(n, 20, 3, height, width), torch.randn(n, 10, 1, height, width)

    def loss(x: torch.Tensor, extra: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return ((model(x, 10, extra=extra) - y) ** 2).mean()

    sample = data(1)
    kept = saved_for_backward(lambda: loss(*sample), params)
    need = StepMemory(per_sample=kept, state=state_bytes(params))
    opt = torch.optim.Adam(params)
    batch_data = data(batch)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    for _ in range(2):
        opt.zero_grad(set_to_none=True)
        loss(*batch_data).backward()
        opt.step()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "per_sample": kept,
        "at_least": need.at_least(batch),
        "at_most": need.at_most(batch),
        "peak_growth": after - before,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--grid", default="24x24", help="HxW (default 24x24)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--json-out", help="write the rows here too")
    parser.add_argument("--one", nargs=4, metavar=("MODEL", "H", "W", "B"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # the child process: one model, one JSON line
        name, h, w, b = args.one
        print(json.dumps(one(name, int(h), int(w), int(b))))
        return
    height, width = (int(v) for v in args.grid.lower().split("x"))
    rows = []
    print(f"grid {height} x {width}, batch {args.batch}, PEAK_FACTOR {PEAK_FACTOR}\n")
    print("| model | kept per sample | at least | at most | peak RSS growth | growth / at least |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in args.models.split(","):
        cmd = [sys.executable, __file__, "--one", name, str(height), str(width), str(args.batch)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"| {name} | failed: {done.stderr.strip().splitlines()[-1:]} | | | | |")
            continue
        row = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append({"model": name, "grid": [height, width], "batch": args.batch, **row})
        print(
            f"| {name} | {human_bytes(row['per_sample'])} | {human_bytes(row['at_least'])} | "
            f"{human_bytes(row['at_most'])} | {human_bytes(row['peak_growth'])} | "
            f"{row['peak_growth'] / row['at_least']:.2f} |",
            flush=True,
        )
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
