"""Optimisers and learning-rate schedules from a pipeline's ``optim``/``schedule`` sections."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch

from sstcast.errors import SstcastError

NO_DECAY_NAMES = ("relative_position", "pos_embed", "offset_scale")


def param_groups(
    named: Iterable[tuple[str, torch.nn.Parameter]], weight_decay: float
) -> list[dict[str, Any]]:
    """Two parameter groups as timm builds them: weights with ``weight_decay``; biases,
    norm scales (every 0-D/1-D parameter) and position tables without decay."""
    decay, no_decay = [], []
    for name, p in named:
        if not p.requires_grad:
            continue
        if p.ndim <= 1 or any(key in name for key in NO_DECAY_NAMES):
            no_decay.append(p)
        else:
            decay.append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


def build_optimizer(
    named: Iterable[tuple[str, torch.nn.Parameter]], cfg: dict[str, Any]
) -> torch.optim.Optimizer:
    """Adam, AdamW or SGD (with momentum) at ``cfg["lr"]``, weight decay on weights only
    (:func:`param_groups`)."""
    lr, wd = float(cfg["lr"]), float(cfg["weight_decay"])
    params = param_groups(named, wd)
    if cfg["name"] == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if cfg["name"] == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    return torch.optim.SGD(params, lr=lr, weight_decay=wd, momentum=float(cfg.get("momentum", 0.9)))


def warmup_steps(schedule: dict[str, Any], total: int, epochs: float) -> int:
    """Optimiser steps of the linear warmup (``warmup_epochs`` of the ``total`` steps that
    ``epochs`` epochs have; ``epochs`` may be fractional)."""
    return round(float(schedule.get("warmup_epochs", 0.0)) * total / (epochs if epochs > 0 else 1))


def lr_factor(name: str, warmup: int, total: int, min_ratio: float) -> Callable[[int], float]:
    """Multiplier of the base learning rate at optimiser step ``step`` (LambdaLR)."""

    def factor(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        if name == "cosine":
            span = max(1, total - warmup)
            progress = min(1.0, (step - warmup) / span)
            return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))
        return 1.0

    return factor


def build_schedule(
    optimizer: torch.optim.Optimizer,
    optim: dict[str, Any],
    schedule: dict[str, Any],
    total_steps: float,
    epochs: float,
) -> Any:
    """Lightning's ``configure_optimizers`` return value for the schedule ``schedule["name"]``:
    ``plateau`` (per epoch on val_rmse; warmup done by the module), ``onecycle``, ``cosine``
    or ``none`` (both with optional linear warmup)."""
    lr = float(optim["lr"])
    total = int(total_steps) if math.isfinite(total_steps) else 10**9
    warmup = warmup_steps(schedule, total, epochs)
    name = schedule["name"]
    if name == "plateau":
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer,
            mode="min",
            factor=float(schedule["plateau_factor"]),
            patience=int(schedule["plateau_patience"]),
            min_lr=float(schedule["min_lr"]),
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "monitor": "val_rmse", "interval": "epoch"},
        }
    if name == "onecycle":
        if total < 3:
            raise SstcastError(f"schedule onecycle needs at least 3 steps, got {total}")
        # Warmup share of the steps; each of the two phases needs at least one step.
        pct = warmup / total if warmup else 0.3
        pct = min(max(pct, 2.0 / total), 1.0 - 1.0 / total)
        min_lr = float(schedule["min_lr"])
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=lr,
            total_steps=total,
            pct_start=pct,
            final_div_factor=max(1.0, lr / 25.0 / min_lr) if min_lr > 0 else 1e4,
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }
    if name == "none" and warmup == 0:
        return optimizer
    factor = lr_factor(name, warmup, total, float(schedule["min_lr"]) / lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
