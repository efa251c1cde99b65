"""A per-epoch shuffle that depends on the seed and the epoch alone (exact resume)."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


class EpochShuffleSampler(Sampler[int]):
    """A random permutation per epoch drawn from ``seed + epoch`` alone.

    Unlike ``shuffle=True`` (which draws from the global RNG), the order of epoch ``k`` does
    not depend on what ran before it, so a run resumed at epoch ``k`` sees the same batches
    as an uninterrupted one. Lightning calls :meth:`set_epoch` before every epoch.
    """

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.seed, self.epoch = int(n), int(seed), 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        g = torch.Generator()
        g.manual_seed(self.seed + 7919 * self.epoch)
        return iter(torch.randperm(self.n, generator=g).tolist())
