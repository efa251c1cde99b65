"""How long will it take? A short timing before training, per epoch and for the run."""

from __future__ import annotations

import copy
import logging
import math
import time
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from sstcast.config import parse_max_time
from sstcast.utils.report import hms

log = logging.getLogger(__name__)

CPU_WARN_SECONDS = 3600.0
#: With ``--max-time``, the share of the budget the estimate may take before it stops at
#: the next batch.
ESTIMATE_SHARE = 0.03


def estimate_epoch_seconds(
    module: Any,
    loader: DataLoader,
    device: torch.device,
    bf16: bool,
    batches: int = 4,
    warmup: int = 2,
    time_limit: float | None = None,
) -> tuple[float, float]:
    """(seconds per training batch, seconds per validation batch), timed on a copy of the
    model (forward + backward, then forward only): the median of ``batches`` batches after
    ``warmup`` untimed ones (the first batches run allocator and thread-pool set-up and
    would make the estimate about twice the steady pace).

    ``time_limit`` (seconds) shortens it for slow batches: once it has passed, the next
    batch is the last and is timed (one warm-up batch at least is kept), so a model whose
    batch takes half a minute is timed in about a minute, not four.
    """
    model = copy.deepcopy(module).to(device)
    model.train()
    it = iter(loader)
    timings: list[float] = []
    began = time.perf_counter()
    last = None
    for i in range(warmup + batches):
        try:
            batch = next(it)
        except StopIteration:
            break
        last = batch = {k: v.to(device) for k, v in batch.items()}
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss, _ = model.training_loss(batch)
        loss.backward()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= warmup:
            timings.append(time.perf_counter() - start)
        if time_limit is not None and time.perf_counter() - began > time_limit:
            if timings:
                break
            warmup = min(warmup, i + 1)  # time the next batch, then stop
    val_time = 0.0
    if last is not None:
        model.eval()
        start = time.perf_counter()
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            model(last)
        if device.type == "cuda":
            torch.cuda.synchronize()
        val_time = time.perf_counter() - start
    del model
    if not timings:
        return 0.0, 0.0
    return float(np.median(timings)), val_time


def batches_per_epoch(n: int, limit: int | float | None, world: int) -> int:
    """Batches one process runs per epoch, given Lightning's ``limit_*_batches``."""
    n = math.ceil(n / world)
    if isinstance(limit, int):
        return min(n, limit)
    if isinstance(limit, float):
        return max(1, int(n * limit))
    return n


def announce_estimate(
    module: Any,
    train_loader: DataLoader,
    val_loader: DataLoader,
    trainer_cfg: Any,
    device: str,
    precision: str,
    world: int,
) -> tuple[float, float]:
    """Log the estimated time per epoch (and warn when a CPU run would exceed an hour);
    returns the seconds per epoch and those of its validation pass."""
    t = trainer_cfg
    n_train = batches_per_epoch(len(train_loader), t.limit_train_batches, world)
    n_val = batches_per_epoch(len(val_loader), t.limit_val_batches, world)
    max_td = parse_max_time(t.max_time)
    limit = ESTIMATE_SHARE * max_td.total_seconds() if max_td is not None else None
    per_train, per_val = estimate_epoch_seconds(
        module, train_loader, torch.device(device), precision == "bf16-mixed", time_limit=limit
    )
    per_epoch = per_train * n_train + per_val * n_val
    total = per_epoch * t.epochs
    log.info(
        f"estimated time per epoch: {hms(per_epoch)} ({n_train} batches of {t.batch_size}); "
        f"{t.epochs} epochs: {hms(total)}"
        + (f", capped by --max-time {max_td}" if max_td is not None else "")
    )
    budget = min(total, max_td.total_seconds()) if max_td is not None else total
    if device == "cpu" and budget > CPU_WARN_SECONDS:
        log.warning(
            f"warning: this CPU run would take about {hms(budget)}; set --max-time or "
            "--epochs, shrink the model (--preset), or train on a GPU (--device cuda)"
        )
    return per_epoch, per_val * n_val
