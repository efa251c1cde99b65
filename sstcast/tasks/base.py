"""The task protocol: everything that differs between forecasting SST and TaxiBJ flows.

A task turns a pipeline and its cube into training/validation data, runs a registry model
on a batch, and maps tensors back to physical units with the batch's own coordinates. The
training loop, the forecast writer and verification only talk to this interface, so there
is no ``if task == ...`` anywhere else: :func:`sstcast.tasks.get_task` picks the class by the
pipeline's ``task`` key once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np
from torch import Tensor, nn
from torch.utils.data import Dataset

from sstcast.config import Pipeline
from sstcast.data.normalize import Normalizer


@dataclass
class TaskData:
    """Training and validation data of a pipeline, and what the model and run need.

    ``info`` is the run record's data part (cube, grid, periods, window counts, units);
    ``signature`` what a checkpoint must match to be loaded for this data;
    ``area_weight`` (H, W) the verification weights (cos latitude, mean 1 over ocean, 0 on
    land) that validation scores with.
    """

    train: Dataset
    val: Dataset
    normalizer: Normalizer
    model_kwargs: dict[str, Any]
    signature: dict[str, Any]
    info: dict[str, Any]
    area_weight: np.ndarray
    extra: dict[str, Any] = field(default_factory=dict)


class Task(Protocol):
    """What the training loop, forecasting and verification need from a task."""

    name: ClassVar[str]
    #: The registry kind of model it trains ("sequence" or "stresnet").
    model_kind: ClassVar[str]
    #: The cube variable it forecasts and its physical units.
    variable: ClassVar[str]

    def n_out(self, pipeline: Pipeline) -> int:
        """Leads a model of this pipeline is trained on."""
        ...

    def build_data(self, pipeline: Pipeline, cube_path: str) -> TaskData:
        """Datasets of the train and validation splits, the fitted normaliser and the
        model's data-dependent arguments."""
        ...

    def collate(self) -> Any:
        """The DataLoader's collate function for this task's batches."""
        ...

    def batches(self, dataset: Dataset) -> Dataset:
        """The dataset as the DataLoader should see it (whole-batch gathering)."""
        ...

    def forward(
        self, model: nn.Module, batch: dict[str, Tensor], n_out: int, teacher_forcing: float
    ) -> Tensor:
        """Prediction in normalised space, (B, n_out, C, H, W)."""
        ...

    def target(self, batch: dict[str, Tensor]) -> Tensor:
        """The truth in normalised space, (B, n_out, C, H, W)."""
        ...

    def scored(self, batch: dict[str, Tensor], like: Tensor) -> Tensor:
        """Boolean mask broadcastable to ``like``: True where a cell is scored."""
        ...

    def to_physical(self, normalizer: Normalizer, batch: dict[str, Tensor], z: Tensor) -> Tensor:
        """(B, T, C, H, W) normalised values at the batch's valid times, in physical units."""
        ...

    def references(
        self, normalizer: Normalizer, batch: dict[str, Tensor], n_out: int
    ) -> dict[str, Tensor]:
        """Reference forecasts of the batch in physical units (name -> (B, T, C, H, W))."""
        ...
