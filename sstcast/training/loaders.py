"""DataLoaders of a run: training shuffled per epoch reproducibly, validation in order."""

from __future__ import annotations

from torch.utils.data import DataLoader

from sstcast.config import Pipeline
from sstcast.tasks.base import Task, TaskData
from sstcast.training.sampler import EpochShuffleSampler


def make_loaders(
    task: Task, data: TaskData, pipeline: Pipeline, distributed: bool, pin_memory: bool = False
) -> tuple[DataLoader, DataLoader]:
    """Training and validation loaders; ``pin_memory`` (CUDA) makes copies asynchronous."""
    t = pipeline.trainer
    if t.num_workers > 0:  # forked workers share the in-memory arrays
        for ds in (data.train, data.val):
            if hasattr(ds, "load"):
                ds.load()
    train_ds, val_ds = task.batches(data.train), task.batches(data.val)
    common = dict(
        batch_size=t.batch_size,
        num_workers=t.num_workers,
        collate_fn=task.collate(),
        persistent_workers=t.num_workers > 0,
        pin_memory=pin_memory,
    )
    if distributed:  # Lightning swaps in a DistributedSampler (seeded, set_epoch)
        train = DataLoader(train_ds, shuffle=True, drop_last=False, **common)
    else:
        sampler = EpochShuffleSampler(len(train_ds), pipeline.seed)
        train = DataLoader(train_ds, sampler=sampler, **common)
    val = DataLoader(val_ds, shuffle=False, **common)
    return train, val
