"""Where a run trains: device, precision and distributed strategy; Lightning kept quiet."""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator

import torch

from sstcast.errors import SstcastError

log = logging.getLogger(__name__)


def select_device(device: str) -> str:
    """``auto`` → ``cuda`` when available, else ``cpu``; ``cuda`` without one is an error."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise SstcastError("--device cuda: no CUDA device is available (use --device cpu)")
    return device


def select_precision(requested: str, device: str) -> str:
    """bf16 mixed precision on CUDA when supported (``auto``); float32 on the CPU."""
    if device != "cuda":
        if requested not in ("auto", "32-true"):
            log.info("note: precision %s is for CUDA only; training on CPU in float32", requested)
        return "32-true"
    if requested == "auto":
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "32-true"
    return requested


def select_strategy(strategy: str, device: str, world: int) -> str:
    """Lightning's strategy: ``ddp_spawn`` on CPUs and ``ddp`` on GPUs when ``auto`` and
    more than one process; otherwise what was asked for."""
    if world > 1 and strategy == "auto":
        return "ddp_spawn" if device == "cpu" else "ddp"
    return strategy


@contextlib.contextmanager
def quiet_lightning() -> Iterator[None]:
    """Hide Lightning's info lines (hardware, tips) and known harmless warnings: sstcast's
    own lines say what runs where."""
    logger = logging.getLogger("lightning.pytorch")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*treespec, LeafSpec.*")
            warnings.filterwarnings("ignore", message=".*does not have many workers.*")
            warnings.filterwarnings("ignore", message=".*exists and is not empty.*")
            yield
    finally:
        logger.setLevel(level)
