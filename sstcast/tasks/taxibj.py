"""TaxiBJ crowd flows: ST-ResNet on closeness/period/trend samples, in flow counts."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from torch import Tensor, nn
from torch.utils.data import Dataset

from sstcast.config import ConfigError, Pipeline
from sstcast.data.normalize import Normalizer
from sstcast.data.stresnet import STResNetDataset
from sstcast.tasks.base import TaskData
from sstcast.verify.baselines import persistence

FLOW_UNITS = "flow count per 30 min"


class _Batches(Dataset):
    """Whole-batch access for STResNetDataset (its ``get_batch``) through ``__getitems__``."""

    def __init__(self, dataset: STResNetDataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> Any:
        return self.dataset[i]

    def __getitems__(self, indices: list[int]) -> list[dict[str, Tensor]]:
        return [self.dataset.get_batch(indices)]


def _first(batch: list[dict[str, Tensor]]) -> dict[str, Tensor]:
    return batch[0]


def _times(ns: Tensor) -> np.ndarray:
    """int64 ns since 1970 (a batch's time entries) as datetime64[ns]."""
    return ns.detach().cpu().numpy().astype("datetime64[ns]")


def stresnet_options(pipeline: Pipeline) -> dict[str, Any]:
    """:class:`STResNetDataset` arguments from a pipeline's ``data`` section."""
    d = pipeline.data
    if d.normalization not in SCALINGS:
        raise ConfigError(
            f"pipeline {pipeline.name!r}: data.normalization {d.normalization!r} is not for "
            f"TaxiBJ; use {' or '.join(SCALINGS)}"
        )
    return dict(
        len_closeness=d.closeness,
        len_period=d.period,
        len_trend=d.trend,
        test_days=d.test_days,
        val_days=d.val_days,
        scaling=d.normalization,
    )


#: TaxiBJ's ``data.normalization``: anomalies from the historical average, or DeepST's
#: min-max of the raw flows.
SCALINGS = ("anomaly", "minmax")


class TaxiBJTask:
    """Forecast the next half hour of in- and outflow on the TaxiBJ grid (ST-ResNet)."""

    name: ClassVar[str] = "taxibj"
    model_kind: ClassVar[str] = "stresnet"
    variable: ClassVar[str] = "flow"

    def n_out(self, pipeline: Pipeline) -> int:
        return 1

    def build_data(self, pipeline: Pipeline, cube_path: str) -> TaskData:
        options = stresnet_options(pipeline)
        train = STResNetDataset(cube_path, "train", **options)
        val = STResNetDataset(cube_path, "val", scaler=train.scaler, **options)
        h, w = train.grid
        model_kwargs = {**dict(pipeline.model.config), **train.config()}
        if not pipeline.data.external:
            model_kwargs["ext_dim"] = 0
        signature = {
            "task": self.name,
            "model": pipeline.model.name,
            "preset": pipeline.model.preset,
            "variable": self.variable,
            "grid": [int(h), int(w)],
            "channels": ["inflow", "outflow"],
            "extra_channel_names": list(train.ext_names) if pipeline.data.external else [],
            "in_channels": 2,
            "extra_channels": int(model_kwargs["ext_dim"]),
            "model_kwargs": model_kwargs,
        }
        info = {
            "cube": cube_path,
            "variable": self.variable,
            "units": FLOW_UNITS,
            "grid": {"y": int(h), "x": int(w)},
            "frequency": f"{24 * 60 // train.slots_per_day}min",
            "n_train_windows": len(train),
            "n_val_windows": len(val),
            "train_period": list(train.split_days["train"]),
            "val_period": list(train.split_days.get("val", ())),
            "test_period": list(train.split_days["test"]),
        }
        return TaskData(
            train=train,
            val=val,
            normalizer=train.scaler,
            model_kwargs=model_kwargs,
            signature=signature,
            info=info,
            area_weight=np.ones((h, w), np.float32),
        )

    def collate(self) -> Any:
        return _first

    def batches(self, dataset: Dataset) -> Dataset:
        return _Batches(dataset)

    def forward(
        self, model: nn.Module, batch: dict[str, Tensor], n_out: int, teacher_forcing: float
    ) -> Tensor:
        ext = batch.get("ext") if model.ext_dim else None
        return model(batch["xc"], batch.get("xp"), batch.get("xt"), ext).unsqueeze(1)

    def target(self, batch: dict[str, Tensor]) -> Tensor:
        return batch["y"].unsqueeze(1)

    def scored(self, batch: dict[str, Tensor], like: Tensor) -> Tensor:
        return like.new_ones((1, 1, 1, *like.shape[-2:]), dtype=bool)

    def to_physical(self, normalizer: Normalizer, batch: dict[str, Tensor], z: Tensor) -> Tensor:
        return normalizer.inverse_transform(z, _times(batch["valid_time"]))

    def references(
        self, normalizer: Normalizer, batch: dict[str, Tensor], n_out: int
    ) -> dict[str, Tensor]:
        newest = batch["xc"][:, None, :2].float()  # the newest closeness frame: the init's
        last = normalizer.inverse_transform(newest, _times(batch["init_time"])[:, None])
        return {"persistence": persistence(last, n_out)}
