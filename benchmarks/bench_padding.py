"""What padding costs the hierarchical models: time per grid cell on the Bohai grid against a
grid that needs no padding. Prints one markdown table.

    .venv/bin/python benchmarks/bench_padding.py
    .venv/bin/python benchmarks/bench_padding.py --models datlstm --reps 5 --threads 2

For each model (``default`` preset, 1 channel + 3 extra like the Bohai pipeline, 10 -> 10
frames, batch 4) it times a no-grad forward and a training step (forward + MSE + backward)
on the Bohai 16 x 20 grid and on 32 x 32, which no model pads (its patch grid is a multiple
of ``window * 2**levels``), and reports the time per cell of 16 x 20 over that of 32 x 32:
1.0 means a padded cell costs nothing, 3.2 is what padding 16 x 20 to 32 x 32 cost before
sstcast stopped doing so. Times are medians of ``--reps`` repetitions after one warm-up,
taken in interleaved rounds so that load on a shared machine hits both grids alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from sstcast.models import create

GRIDS = {"bohai": (16, 20), "unpadded": (32, 32)}


def timed(fn, reps: int) -> list[float]:
    """Wall times of ``reps`` calls of ``fn`` after one warm-up call."""
    fn()
    out = []
    for _ in range(reps):
        tick = time.perf_counter()
        fn()
        out.append(time.perf_counter() - tick)
    return out


def runner(name: str, grid: tuple[int, int], batch: int, train: bool):
    """A function running one forward (or training step) of ``name`` on ``grid``."""
    torch.manual_seed(0)
    model = create(name, "default", in_channels=1, extra_channels=3).train(train)
    h, w = grid
    x = torch.randn(batch, 10, 1, h, w)
    extra = torch.randn(batch, 20, 3, h, w)
    y = torch.randn(batch, 10, 1, h, w)

    def run() -> None:
        if train:
            model.zero_grad(set_to_none=True)
            ((model(x, 10, extra=extra) - y) ** 2).mean().backward()
        else:
            with torch.no_grad():
                model(x, 10, extra=extra)

    return run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=["swinlstm_d", "datlstm"])
    parser.add_argument("--reps", type=int, default=3, help="timed repetitions per round")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}, "
        f"10 -> 10 frames, 1 + 3 channels; load average {load:.2f} at the start\n"
    )
    print("| model | pass | 16×20 (ms) | 32×32 (ms) | time per cell, 16×20 / 32×32 |")
    print("|---|---|---:|---:|---:|")
    for name in args.models:
        for train in (False, True):
            runs = {g: runner(name, size, args.batch, train) for g, size in GRIDS.items()}
            times: dict[str, list[float]] = {g: [] for g in GRIDS}
            for _ in range(args.rounds):
                for g, run in runs.items():
                    times[g] += timed(run, args.reps)
            med = {g: statistics.median(t) for g, t in times.items()}
            cells = {g: GRIDS[g][0] * GRIDS[g][1] for g in GRIDS}
            ratio = (med["bohai"] / cells["bohai"]) / (med["unpadded"] / cells["unpadded"])
            print(
                f"| {name} | {'train step' if train else 'forward'} | "
                f"{med['bohai'] * 1e3:.0f} | {med['unpadded'] * 1e3:.0f} | {ratio:.2f} |",
                flush=True,
            )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nload average {load:.2f} at the end")


if __name__ == "__main__":
    main()
