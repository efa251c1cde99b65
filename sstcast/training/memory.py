"""Will a training step fit in memory? Measured on one sample before training starts, so that
a model too big for the machine stops with one line instead of being killed by the kernel
(on the CPU) or failing deep inside the first batch (CUDA).

A training step holds the model's state (weights, gradients, Adam's two moments) and the
tensors its forward pass keeps for the backward pass; the latter grow with the batch and,
for recurrent models, with the number of frames, and for global attention (SAM-ConvLSTM)
with the square of the grid's cells. Those kept tensors are measured exactly with autograd's
saved-tensor hooks on a one-sample forward pass. The step's peak is more: the backward
pass's own buffers and the allocator's cached blocks. ``benchmarks/bench_memory.py``
measured the peak resident memory of real steps at 1.1-2.3 times the kept tensors.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader

from sstcast.errors import SstcastError
from sstcast.utils.memory import available_bytes, human_bytes

#: A training step's peak memory over the tensors kept for its backward pass, at the most,
#: plus a fixed allowance for what the first step brings in (kernel libraries' buffers):
#: benchmarks/bench_memory.py measured peaks of 1.1-2.2 times the kept tensors and state on
#: grids of 24 x 24 and 48 x 48 (2.3 for a 144 MiB step), all inside this bound.
PEAK_FACTOR = 2.0
PEAK_OVERHEAD = 256 * 2**20


def samples(n: int) -> str:
    """``1 sample``, ``16 samples``."""
    return f"{n} sample" + ("" if n == 1 else "s")


def saved_for_backward(fn: Callable[[], Any], exclude: Iterable[Tensor] = ()) -> int:
    """Bytes of the distinct storages that autograd keeps for the backward pass of what
    ``fn`` computes (the graph is dropped on return); storages of ``exclude`` (the
    parameters, counted apart) are left out."""
    skip = {t.untyped_storage().data_ptr() for t in exclude}
    kept: dict[int, int] = {}

    def pack(t: Tensor) -> Tensor:
        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        if ptr not in skip:
            kept[ptr] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    del out
    return sum(kept.values())


@dataclass(frozen=True)
class StepMemory:
    """What a training step needs: ``per_sample`` bytes kept for the backward pass per
    sample and ``state`` bytes of weights, gradients and optimiser moments."""

    per_sample: int
    state: int

    def at_least(self, batch: int) -> int:
        """Bytes a step of ``batch`` samples holds at the least."""
        return self.state + batch * self.per_sample

    def at_most(self, batch: int) -> int:
        """Bytes a step of ``batch`` samples may reach at its peak."""
        return self.state + PEAK_OVERHEAD + math.ceil(PEAK_FACTOR * batch * self.per_sample)

    def largest_batch(self, free: int) -> int:
        """The largest batch whose peak fits in ``free`` bytes (0: not even one sample)."""
        room = free - self.state - PEAK_OVERHEAD
        if room <= 0:
            return 0
        return int(room // (PEAK_FACTOR * self.per_sample)) if self.per_sample else 2**31


def state_bytes(params: Iterable[Tensor]) -> int:
    """Bytes of a model's training state: each trained parameter with its gradient and
    Adam's two moments (4 copies), each frozen one once."""
    return sum(p.numel() * p.element_size() * (4 if p.requires_grad else 1) for p in params)


def measure_step_memory(
    module: Any, loader: DataLoader, device: torch.device, bf16: bool
) -> StepMemory | None:
    """:class:`StepMemory` of ``module``'s training step, from a forward pass of one sample
    of ``loader``'s dataset on a copy of the module (under bf16 autocast with ``bf16``);
    None when the dataset is empty."""
    if len(loader.dataset) == 0:  # type: ignore[arg-type]
        return None
    one = DataLoader(loader.dataset, batch_size=1, collate_fn=loader.collate_fn)
    batch = {k: v.to(device) for k, v in next(iter(one)).items()}
    model = copy.deepcopy(module).to(device)
    model.train()
    params = list(model.parameters())
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        kept = saved_for_backward(lambda: model.training_loss(batch)[0], params)
    return StepMemory(per_sample=kept, state=state_bytes(params))


def free_bytes(device: torch.device) -> int:
    """Memory free for this run: the GPU's (CUDA) or the host's, within its cgroup limit."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    return available_bytes()


def check_step_memory(
    need: StepMemory, batch: int, free: int, what: str, processes: int = 1
) -> tuple[str, str | None]:
    """(a summary line, a warning or None) for ``processes`` training processes of ``batch``
    samples each sharing ``free`` bytes. Raises :class:`SstcastError` when even the least a
    step holds does not fit, naming the batch size whose peak would."""
    low, high = processes * need.at_least(batch), processes * need.at_most(batch)
    fits = need.largest_batch(free // processes)
    step = f"a training step of {samples(batch)}" + (
        f" in each of {processes} processes" if processes > 1 else ""
    )
    kept = f"{human_bytes(need.per_sample)} per sample kept for the backward pass"
    summary = (
        f"{step} needs {human_bytes(low)} to {human_bytes(high)} ({kept}); "
        f"{human_bytes(free)} is free"
    )
    if fits >= 1:
        advice = f"use --batch-size {fits} or less"
    else:
        advice = "even one sample does not fit: use a smaller preset or a smaller region"
    if low > free:
        raise SstcastError(
            f"{what}: {step} needs at least {human_bytes(low)} ({kept}) and "
            f"{human_bytes(free)} is free: {advice}"
        )
    if high > free:
        return summary, (
            f"warning: {what} may run out of memory: {step} can reach {human_bytes(high)} "
            f"and {human_bytes(free)} is free; if the run is killed, {advice}"
        )
    return summary, None


def out_of_memory_error(err: BaseException, what: str, batch: int) -> SstcastError | None:
    """A one-line :class:`SstcastError` for an allocation failure during training (CUDA's
    ``OutOfMemoryError`` or the CPU allocator's), None for any other error."""
    text = str(err)
    cuda = isinstance(err, torch.OutOfMemoryError)
    cpu = isinstance(err, RuntimeError) and "can't allocate memory" in text
    if not (cuda or cpu):
        return None
    device = "GPU" if cuda else "host"
    advice = "use a smaller preset or region"
    if batch > 1:
        advice = f"lower --batch-size, or {advice}"
    return SstcastError(
        f"{what}: out of {device} memory in a training step of {samples(batch)}: {advice}"
    )


@contextlib.contextmanager
def out_of_memory_as_error(what: str, batch: int) -> Iterator[None]:
    """Inside the block, an allocation failure becomes :func:`out_of_memory_error`'s one
    line; any other error passes unchanged."""
    try:
        yield
    except RuntimeError as err:  # torch.OutOfMemoryError is one
        oom = out_of_memory_error(err, what, batch)
        if oom is None:
            raise
        raise oom from None
