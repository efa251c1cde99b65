"""What padding costs the hierarchical models: the Bohai grid against a grid that needs no
padding, for the same number of cells. Prints one markdown table.

    .venv/bin/python benchmarks/bench_padding.py
    .venv/bin/python benchmarks/bench_padding.py --models datlstm --reps 5

For each model (``default`` preset, 1 channel + 3 extra like the Bohai pipeline, 10 -> 10
frames) it times a no-grad forward and a training step (forward + MSE + backward) on the
Bohai 16 x 20 grid with a batch of 16 and on 32 x 32, which no model pads (its patch grid
is a multiple of ``window * 2**levels``), with a batch of 5: 5,120 cells per step either
way. The ratio of the two times is the cost of the Bohai grid's padding and of its smaller
maps: 1.0 means a padded cell costs nothing; padding 16 x 20 to 32 x 32, as sstcast did
before, made it 3.2 by construction. A second ratio, time per cell at the same batch (4),
adds the fixed cost per operation that a smaller map amortises over fewer cells.

Times are medians of ``--reps`` repetitions after one warm-up, taken in interleaved rounds;
by default they are the process's CPU time on one thread (``--clock cpu``), which other
processes on a shared machine do not inflate; ``--clock wall`` gives wall-clock time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from sstcast.models import create

#: (height, width, batch): the Bohai grid and a grid without padding, 5,120 cells per step.
SAME_CELLS = {"bohai": (16, 20, 16), "unpadded": (32, 32, 5)}
SAME_BATCH = {"bohai": (16, 20, 4), "unpadded": (32, 32, 4)}


def timed(fn, reps: int, clock=time.process_time) -> list[float]:
    """Times of ``reps`` calls of ``fn`` on ``clock`` after one warm-up call."""
    fn()
    out = []
    for _ in range(reps):
        tick = clock()
        fn()
        out.append(clock() - tick)
    return out


def runner(name: str, height: int, width: int, batch: int, train: bool):
    """A function running one forward (or training step) of ``name`` on a grid."""
    torch.manual_seed(0)
    model = create(name, "default", in_channels=1, extra_channels=3).train(train)
    x = torch.randn(batch, 10, 1, height, width)
    extra = torch.randn(batch, 20, 3, height, width)
    y = torch.randn(batch, 10, 1, height, width)

    def run() -> None:
        if train:
            model.zero_grad(set_to_none=True)
            ((model(x, 10, extra=extra) - y) ** 2).mean().backward()
        else:
            with torch.no_grad():
                model(x, 10, extra=extra)

    return run


def medians(name: str, grids: dict, train: bool, args, clock) -> dict[str, float]:
    runs = {g: runner(name, *size, train) for g, size in grids.items()}
    times: dict[str, list[float]] = {g: [] for g in grids}
    for _ in range(args.rounds):
        for g, run in runs.items():
            times[g] += timed(run, args.reps, clock)
    return {g: statistics.median(t) for g, t in times.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=["swinlstm_d", "datlstm"])
    parser.add_argument("--reps", type=int, default=3, help="timed repetitions per round")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--clock", choices=["cpu", "wall"], default="cpu")
    args = parser.parse_args(argv)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.clock} time, "
        f"10 -> 10 frames, 1 + 3 channels; load average {os.getloadavg()[0]:.2f} at the start\n"
    )
    print(
        "| model | pass | 16×20 ×16 (ms) | 32×32 ×5 (ms) | same cells: ratio | "
        "same batch 4: time per cell ratio |"
    )
    print("|---|---|---:|---:|---:|---:|")
    for name in args.models:
        for train in (False, True):
            same = medians(name, SAME_CELLS, train, args, clock)
            batch = medians(name, SAME_BATCH, train, args, clock)
            cells = {g: h * w for g, (h, w, _) in SAME_BATCH.items()}
            per_cell = (batch["bohai"] / cells["bohai"]) / (batch["unpadded"] / cells["unpadded"])
            print(
                f"| {name} | {'train step' if train else 'forward'} | "
                f"{same['bohai'] * 1e3:.0f} | {same['unpadded'] * 1e3:.0f} | "
                f"{same['bohai'] / same['unpadded']:.2f} | {per_cell:.2f} |",
                flush=True,
            )
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
