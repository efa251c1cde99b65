"""SST fields: sequence models on windows of a ``(time, lat, lon)`` cube, in °C."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import numpy as np
import torch
import xarray as xr
from torch import Tensor, nn
from torch.utils.data import Dataset

from sstcast.config import Pipeline
from sstcast.data.normalize import Normalizer
from sstcast.data.windows import WindowDataset, collate_windows, expand_extra
from sstcast.errors import ConfigError
from sstcast.tasks.base import TaskData
from sstcast.verify.baselines import anomaly_persistence, climatology_forecast, persistence
from sstcast.verify.weights import area_weights

log = logging.getLogger(__name__)


def period(times: Any) -> list[str]:
    """``[first, last]`` of datetimes as ISO strings (seconds)."""
    times = np.asarray(times).ravel()
    return [
        str(np.datetime_as_string(times.min(), unit="s")),
        str(np.datetime_as_string(times.max(), unit="s")),
    ]


class SstTask:
    """Forecast a gridded SST field: ``n_in`` days in, ``n_out`` days out, in °C."""

    name: ClassVar[str] = "sst"
    model_kind: ClassVar[str] = "sequence"
    variable: ClassVar[str] = "sst"

    def n_out(self, pipeline: Pipeline) -> int:
        return pipeline.data.n_out

    def build_data(self, pipeline: Pipeline, cube_path: str) -> TaskData:
        if pipeline.data.split is None:
            raise ConfigError(
                f"pipeline {pipeline.name!r}: data.split: required for task sst "
                "(train/val/test dates or fractions)"
            )
        # Day-of-year planes are broadcast on the device (expand_extra), not on the host.
        train = WindowDataset.from_pipeline(pipeline, "train", cube_path, compact_extra=True)
        val = WindowDataset.from_pipeline(
            pipeline, "val", cube_path, train.normalizer, compact_extra=True, stride=1
        )  # validation scores every init
        h, w = train.mask.shape
        model_kwargs = {
            **dict(pipeline.model.config),
            "in_channels": train.n_channels,
            "extra_channels": train.n_extra,
        }
        signature = {
            "task": self.name,
            "model": pipeline.model.name,
            "preset": pipeline.model.preset,
            "variable": train.variable,
            "grid": [int(h), int(w)],
            "channels": list(train.channels),
            "extra_channel_names": list(train.extra_channels),
            "in_channels": train.n_channels,
            "extra_channels": train.n_extra,
            "n_in": pipeline.data.n_in,
            "n_out": pipeline.data.n_out,
            "normalization": train.normalizer.kind,
            "model_kwargs": model_kwargs,
        }
        coords = train.coords
        mask = xr.DataArray(train.mask, dims=train.spatial_dims)
        weight = area_weights(coords.get("lat") if "lat" in train.spatial_dims else None, mask)
        info = {
            "cube": cube_path,
            "variable": train.variable,
            "units": train.normalizer.units,
            "grid": {dim: int(n) for dim, n in zip(train.spatial_dims, (h, w), strict=True)},
            "frequency": train.frequency,
            "n_train_windows": len(train),
            "n_val_windows": len(val),
            "train_period": period(train.times[train.split_slices["train"]].values),
            "val_period": period(val.times[val.split_slices["val"]].values),
            "test_period": period(val.times[val.split_slices["test"]].values),
            "ocean_cells": int(train.mask.sum()),
        }
        return TaskData(
            train=train,
            val=val,
            normalizer=train.normalizer,
            model_kwargs=model_kwargs,
            signature=signature,
            info=info,
            area_weight=np.asarray(weight.values, dtype=np.float32),
        )

    def collate(self) -> Any:
        return collate_windows

    def batches(self, dataset: Dataset) -> Dataset:
        return dataset  # WindowDataset gathers whole batches itself (__getitems__)

    def forward(
        self, model: nn.Module, batch: dict[str, Tensor], n_out: int, teacher_forcing: float
    ) -> Tensor:
        return model(
            batch["x"],
            n_out,
            extra=expand_extra(batch),
            target=batch["y"] if teacher_forcing > 0 else None,
            teacher_forcing=teacher_forcing,
        )

    def target(self, batch: dict[str, Tensor]) -> Tensor:
        return batch["y"]

    def scored(self, batch: dict[str, Tensor], like: Tensor) -> Tensor:
        return batch["mask"].bool()[:, None, None]

    def to_physical(self, normalizer: Normalizer, batch: dict[str, Tensor], z: Tensor) -> Tensor:
        valid = batch["valid_time"].cpu().numpy()[:, : z.shape[1]]
        return normalizer.inverse_transform(z, valid)

    def references(
        self, normalizer: Normalizer, batch: dict[str, Tensor], n_out: int
    ) -> dict[str, Tensor]:
        last_z = batch["x"][:, -1:].float()  # (B, 1, C, H, W)
        init = batch["init_time"].cpu().numpy()[:, None]
        last = normalizer.inverse_transform(last_z, init)
        out = {"persistence": persistence(last, n_out)}
        if hasattr(normalizer, "climatology"):
            valid = batch["valid_time"].cpu().numpy()[:, :n_out]
            zeros = torch.zeros_like(last_z)
            clim_init = normalizer.inverse_transform(zeros, init)
            clim_valid = normalizer.inverse_transform(zeros.expand(-1, n_out, -1, -1, -1), valid)
            out["climatology"] = climatology_forecast(clim_valid)
            out["anomaly_persistence"] = anomaly_persistence(last, clim_init, clim_valid)
        return out
