"""Model variants compared on the Bohai sample under one small training budget: validation
RMSE (°C over ocean cells) per lead. Prints one markdown table.

    .venv/bin/python benchmarks/bench_variants.py --cube data/cubes/sample_sst_bohai.zarr
    .venv/bin/python benchmarks/bench_variants.py --cube CUBE --variants swinlstm_d swinlstm_d+skip

The cube is the one ``sstcast ingest --pipeline bohai`` (or ``make demo``) writes from the
built-in sample. Each variant trains from the same seed for ``--steps`` Adam steps on
batches of training windows (10 days in, 10 out, mask/lat/lon as extra channels, the
pipeline's anomaly normalisation unless the variant says otherwise) and is scored on
``--val-windows`` validation windows spread over the validation year. Persistence on the
same windows is the first row. This is a short-budget comparison of variants, not the
models' best skill: see docs/models.md for what it was used to decide.

Variants (``NAME[+OPTION...]``):
    skip         ``skip: true`` (encoder-to-decoder skips)
    inputs       ``loss_on_inputs: true`` (warm-up predictions in the loss)
    sigmoid      ``residual: false``, ``output_range: [-1, 1]`` with min-max scaling
    plain        ``residual: false`` (linear head on the frame, anomaly scaling)
"""

from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path
from typing import Any

import torch

from sstcast.data.windows import WindowDataset, collate_windows, expand_extra
from sstcast.models import create
from sstcast.models.base import warmup_outputs
from sstcast.tasks import get_task

#: Small sizes so that a variant trains in a few minutes on 2 CPU cores.
SMALL = {
    "swinlstm_d": {"embed_dim": 32, "depths": [2, 2], "num_heads": [2, 4], "window_size": 4},
    "datlstm": {
        "embed_dim": 32,
        "depths": [2, 2],
        "num_heads": [2, 4],
        "window_size": 4,
        "n_groups": 1,
        "bias_extent": 8,
    },
    "swinlstm_b": {"embed_dim": 32, "depths": [4], "num_heads": [2], "window_size": 4},
    "convlstm": {"hidden": [24]},
}
SPLITS = {
    "train": ["2010-01-01", "2019-12-31"],
    "val": ["2020-01-01", "2020-12-31"],
    "test": ["2021-01-01", "2021-12-31"],
}


def parse_variant(text: str) -> tuple[str, dict[str, Any], str]:
    """``name+opt+...`` -> (model name, config overrides, normalisation)."""
    name, *opts = text.split("+")
    if name not in SMALL:
        raise SystemExit(f"unknown model {name!r}; choose from {', '.join(SMALL)}")
    config: dict[str, Any] = dict(SMALL[name])
    normalization = "anomaly"
    for opt in opts:
        if opt == "skip":
            config["skip"] = True
        elif opt == "inputs":
            config["loss_on_inputs"] = True
        elif opt == "sigmoid":
            config.update(residual=False, output_range=[-1.0, 1.0])
            normalization = "minmax"
        elif opt == "plain":
            config["residual"] = False
        else:
            raise SystemExit(f"unknown variant option {opt!r}")
    return name, config, normalization


def datasets(cube: str, normalization: str) -> tuple[WindowDataset, WindowDataset]:
    common = {
        "n_in": 10,
        "n_out": 10,
        "splits": SPLITS,
        "normalization": normalization,
        "static_channels": ("mask", "lat", "lon"),
        "in_memory": True,
    }
    train = WindowDataset(cube, split="train", **common)
    val = WindowDataset(cube, split="val", normalizer=train.normalizer, **common)
    return train, val


def masked_mse(pred: torch.Tensor, truth: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    scored = mask.bool()[:, None, None].expand_as(pred)
    return torch.where(scored, (pred - truth) ** 2, 0.0).sum() / scored.sum().clamp_min(1)


def run_variant(
    text: str, cube: str, steps: int, batch: int, lr: float, val_windows: int, seed: int
) -> dict[str, Any]:
    name, config, normalization = parse_variant(text)
    train, val = datasets(cube, normalization)
    torch.manual_seed(seed)
    model = create(name, "default", in_channels=1, extra_channels=train.n_extra, **config)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    tick = time.perf_counter()
    model.train()
    for _ in range(steps):
        idx = torch.randint(len(train), (batch,), generator=gen).tolist()
        b = collate_windows(train.__getitems__(idx))
        extra = expand_extra(b)
        if model.loss_on_inputs:
            with warmup_outputs(model):
                pred = model(b["x"], 10, extra=extra)
            truth = torch.cat([b["x"][:, 1:], b["y"]], dim=1)
        else:
            pred, truth = model(b["x"], 10, extra=extra), b["y"]
        loss = masked_mse(pred, truth, b["mask"])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    train_s = time.perf_counter() - tick
    return {"variant": text, "train_s": train_s, **score(model, val, val_windows)}


def score(model: Any, val: WindowDataset, val_windows: int) -> dict[str, Any]:
    """RMSE (°C) per lead over ocean cells of ``val_windows`` evenly spread windows, for the
    model (or persistence when ``model`` is None)."""
    task = get_task("sst")
    idx = torch.linspace(0, len(val) - 1, min(val_windows, len(val))).long().tolist()
    sums = torch.zeros(10, dtype=torch.float64)
    count = 0.0
    for start in range(0, len(idx), 16):
        b = collate_windows(val.__getitems__(idx[start : start + 16]))
        truth = task.to_physical(val.normalizer, b, b["y"].float())
        if model is None:
            pred_z = b["x"][:, -1:].expand(-1, 10, -1, -1, -1)
        else:
            model.eval()
            with torch.no_grad():
                pred_z = model(b["x"], 10, extra=expand_extra(b))
        pred = task.to_physical(val.normalizer, b, pred_z.float())
        ocean = b["mask"].bool()[:, None, None].expand_as(pred)
        err = torch.where(ocean, (pred - truth) ** 2, 0.0)
        sums += err.sum(dim=(0, 2, 3, 4)).double()
        count += float(ocean[:, 0].sum())
    rmse = (sums / count).sqrt().tolist()
    return {"rmse": rmse, "mean": sum(rmse) / len(rmse)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cube", default="data/cubes/sample_sst_bohai.zarr")
    parser.add_argument(
        "--variants",
        nargs="*",
        default=["swinlstm_d", "swinlstm_d+skip", "datlstm", "datlstm+skip"],
    )
    parser.add_argument("--steps", type=int, default=150, help="Adam steps per variant")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--val-windows", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    if not Path(args.cube).exists():
        raise SystemExit(
            f"{args.cube}: no cube; write it with `sstcast ingest --pipeline bohai` (sample)"
        )
    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0]
    print(
        f"Bohai sample, {args.steps} Adam steps (batch {args.batch}, lr {args.lr:g}, grad clip "
        f"1) per variant, small sizes ({SMALL}); validation RMSE (°C) over "
        f"{args.val_windows} windows of 2020; load average {load:.2f}\n"
    )
    _, val = datasets(args.cube, "anomaly")
    rows = [{"variant": "persistence", "train_s": math.nan, **score(None, val, args.val_windows)}]
    rows += [
        run_variant(v, args.cube, args.steps, args.batch, args.lr, args.val_windows, args.seed)
        for v in args.variants
    ]
    print("| variant | lead 1 | lead 5 | lead 10 | mean 1–10 | train time (s) |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        t = "—" if math.isnan(r["train_s"]) else f"{r['train_s']:.0f}"
        rm = r["rmse"]
        print(
            f"| {r['variant']} | {rm[0]:.3f} | {rm[4]:.3f} | {rm[9]:.3f} | {r['mean']:.3f} | {t} |"
        )


if __name__ == "__main__":
    main()
