"""Where a run trains: device, precision and distributed strategy; Lightning kept quiet."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import warnings
from collections.abc import Iterator
from typing import Any

import torch

from sstcast.errors import SstcastError
from sstcast.models.base import SequenceForecaster

log = logging.getLogger(__name__)


def select_device(device: str) -> str:
    """``auto`` → ``cuda`` when available, else ``cpu``; ``cuda`` without one is an error."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise SstcastError("--device cuda: no CUDA device is available (use --device cpu)")
    return device


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 in hardware (AVX-512 BF16 or AMX): there
    ``bf16-mixed`` pays (about 1.3-1.6x a training step, docs/models.md); elsewhere oneDNN
    emulates it and it is slower than float32."""
    try:
        return bool(
            torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
        )
    except (AttributeError, RuntimeError):  # an unusual build: assume not
        return False


def select_precision(requested: str, device: str) -> str:
    """``auto``: bf16 mixed precision on CUDA when supported, float32 on the CPU (results
    stay those of float32 unless asked). ``bf16-mixed`` is honoured on both; ``16-mixed``
    (float16 with loss scaling) only on CUDA."""
    if device != "cuda":
        if requested == "16-mixed":
            raise SstcastError(
                "trainer.precision 16-mixed: float16 training needs CUDA; on the CPU use "
                "bf16-mixed or 32-true"
            )
        if requested == "bf16-mixed":
            if not cpu_has_native_bf16():
                log.info(
                    "note: this CPU has no native bfloat16 (AVX-512 BF16 / AMX): bf16-mixed "
                    "runs emulated and is likely slower than 32-true"
                )
            return "bf16-mixed"
        return "32-true"
    if requested == "auto":
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "32-true"
    return requested


COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")


def compile_mode(setting: bool | str) -> str | None:
    """``trainer.compile`` as a ``torch.compile`` mode: ``False`` -> None, ``True`` ->
    ``default``, a mode name -> itself."""
    if setting is False:
        return None
    return "default" if setting is True else str(setting)


def compile_model(
    model: torch.nn.Module, mode: str, device: str, backend: str = "inductor"
) -> None:
    """Compile ``model`` in place with TorchInductor: a sequence model's per-frame step
    (:meth:`~sstcast.models.base.SequenceForecaster.compile_steps`), any other model whole
    (``nn.Module.compile``). Parameter names, hence checkpoints, stay those of the plain
    model. ``backend`` is ``torch.compile``'s (the tests use ``eager``: tracing only).

    Inductor writes C++ (CPU) or Triton (CUDA) kernels at the first batch and after a
    change of shape (the last, shorter batch; validation), so the first steps take longer;
    a missing compiler is a one-line error here rather than a traceback from there.
    """
    if mode not in COMPILE_MODES:
        raise SstcastError(
            f"trainer.compile: unknown mode {mode!r} (one of {', '.join(COMPILE_MODES)})"
        )
    if (
        backend == "inductor"
        and device == "cpu"
        and not (os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++"))
    ):
        raise SstcastError(
            "trainer.compile: TorchInductor needs a C++ compiler on the CPU and none was found "
            "(install g++, or set CXX); or train with trainer.compile: false"
        )
    options: dict[str, Any] = {"dynamic": False, "backend": backend}
    if backend == "inductor":  # modes are Inductor's
        options["mode"] = mode
    if isinstance(model, SequenceForecaster):
        model.compile_steps(**options)  # one frame's step, reused for every frame
    else:
        model.compile(**options)  # a one-pass model (ST-ResNet): the whole forward


def external_launcher() -> str | None:
    """``torchrun`` or ``srun`` when this process is one of several that such a launcher
    started together (each then runs ``fit`` from the start), else None."""
    env = os.environ
    if env.get("TORCHELASTIC_RUN_ID") or (
        env.get("LOCAL_RANK") is not None and int(env.get("WORLD_SIZE", "1") or 1) > 1
    ):
        return "torchrun"
    interactive = env.get("SLURM_JOB_NAME") in ("bash", "interactive")
    if env.get("SLURM_PROCID") is not None and int(env.get("SLURM_NTASKS", "1") or 1) > 1:
        return None if interactive else "srun"
    return None


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
