"""Pipeline files (``pipelines/*.yaml``): one experiment each, typed and validated.

Read into pydantic models that forbid unknown keys, so a typo is answered with one line
naming the file and the key instead of being silently ignored. Relative paths in a file are
resolved against that file's directory.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from sstcast.config.base import (
    Strict,
    field_names,
    mapping_value,
    read_yaml,
    section_model,
    unknown_key,
    validation_error,
)
from sstcast.config.catalog import Catalog
from sstcast.errors import ConfigError
from sstcast.utils.io import is_url

# --------------------------------------------------------------------------------------
# Pipelines (experiments)
# --------------------------------------------------------------------------------------
#: The three time splits of a pipeline, in the order fractions of the steps are allocated.
SPLIT_NAMES: tuple[str, ...] = ("train", "val", "test")


def _parse_date(value: str, where: str) -> date:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise ValueError(f"{where}: {value!r} is not a YYYY-MM-DD date") from None


class SplitConfig(Strict):
    """Time splits: each a [start, end] date pair (inclusive) or a fraction of the steps.

    All three are dates or all three are fractions (summing to at most 1). Dated splits must
    not overlap; gaps between splits are widened by the data stage so no window leaks.
    """

    train: tuple[str, str] | float
    val: tuple[str, str] | float
    test: tuple[str, str] | float

    @field_validator("train", "val", "test", mode="before")
    @classmethod
    def _dates_as_text(cls, value: Any) -> Any:
        # YAML reads an unquoted 2010-01-01 as a date: accept it as its ISO text.
        if isinstance(value, list | tuple):
            return [v.isoformat() if isinstance(v, date) else v for v in value]
        return value

    @model_validator(mode="after")
    def _check(self) -> SplitConfig:
        values = {name: getattr(self, name) for name in SPLIT_NAMES}
        fractions = {k: v for k, v in values.items() if isinstance(v, float)}
        if fractions and len(fractions) != len(values):
            raise ValueError("give all of train/val/test as [start, end] dates or as fractions")
        if fractions:
            if any(not 0 < f < 1 for f in fractions.values()):
                raise ValueError(f"fractions must lie in (0, 1), got {fractions}")
            if sum(fractions.values()) > 1 + 1e-9:
                raise ValueError(f"fractions sum to more than 1: {fractions}")
            return self
        spans = {}
        for name, (start, end) in values.items():
            a, b = _parse_date(start, name), _parse_date(end, name)
            if b < a:
                raise ValueError(f"{name}: end {b} is before start {a}")
            spans[name] = (a, b)
        order = sorted(SPLIT_NAMES, key=lambda k: spans[k][0])
        for first, second in pairwise(order):
            if spans[second][0] <= spans[first][1]:
                raise ValueError(f"{first} and {second} overlap")
        return self


class DataConfig(Strict):
    """How windows are cut from the cube and normalised (see docs/windows.md)."""

    n_in: int = Field(10, ge=1, description="input steps")
    n_out: int = Field(10, ge=1, description="forecast steps (leads) in training")
    stride: int = Field(1, ge=1, description="steps between consecutive training windows")
    split: SplitConfig | None = Field(default=None, description="required for task sst")
    normalization: Literal["anomaly", "zscore", "minmax"] = "anomaly"
    harmonics: int = Field(3, ge=0, description="annual harmonics of the anomaly climatology")
    static_channels: list[Literal["mask", "lat", "lon"]] = Field(default_factory=list)
    day_of_year: bool = False
    inputs_before_split: bool = Field(
        False,
        description="validation and test windows may take their inputs from the steps just "
        "before the split (only the targets lie in it; no gap between splits)",
    )
    # ST-ResNet sampling (TaxiBJ)
    closeness: int = Field(3, ge=0)
    period: int = Field(1, ge=0)
    trend: int = Field(1, ge=0)
    external: bool = Field(True, description="ST-ResNet: feed the external factors")
    test_days: int = Field(28, ge=1, description="ST-ResNet: last days held out for test")
    val_days: int = Field(28, ge=1, description="ST-ResNet: days before the test for validation")


class ModelConfig(Strict):
    """A registry model: ``sstcast.models.create(name, preset, **config)``."""

    name: str
    preset: str = "default"
    config: dict[str, Any] = Field(default_factory=dict)


class OptimConfig(Strict):
    name: Literal["adam", "adamw", "sgd"] = "adamw"
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    momentum: float = Field(0.9, ge=0, lt=1, description="sgd only")


class ScheduleConfig(Strict):
    """Learning-rate schedule. ``cosine`` and ``onecycle`` step every batch; ``plateau``
    lowers the rate when ``val_rmse`` stalls. Warmup ramps the rate up linearly first."""

    name: Literal["none", "cosine", "plateau", "onecycle"] = "cosine"
    warmup_epochs: float = Field(0.0, ge=0)
    min_lr: float = Field(1e-5, ge=0)
    plateau_factor: float = Field(0.5, gt=0, lt=1)
    plateau_patience: int = Field(2, ge=0)
    epochs: float | None = Field(
        None,
        gt=0,
        description="cosine: epochs the decay spans, may be fractional (default trainer.epochs); "
        "after them the rate stays at min_lr",
    )


_MAX_TIME = re.compile(r"^\d+:\d{1,2}:\d{1,2}:\d{1,2}$")


def parse_max_time(value: str | float | int | None) -> timedelta | None:
    """``"DD:HH:MM:SS"`` or a number of minutes as a timedelta (None stays None)."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        minutes = float(value)
    elif isinstance(value, str) and _MAX_TIME.match(value.strip()):
        d, h, m, s = (int(p) for p in value.strip().split(":"))
        budget = timedelta(days=d, hours=h, minutes=m, seconds=s)
        if budget <= timedelta(0):
            raise ValueError(f"max_time must be positive, got {value!r}")
        return budget
    else:
        try:
            minutes = float(value)
        except (TypeError, ValueError):
            raise ValueError(
                f"max_time must be DD:HH:MM:SS or a number of minutes, got {value!r}"
            ) from None
    if minutes <= 0:
        raise ValueError(f"max_time must be positive, got {value!r}")
    return timedelta(minutes=minutes)


class TrainerConfig(Strict):
    """The training loop: length, batches, hardware, precision and regularisation."""

    epochs: int = Field(20, ge=1)
    batch_size: int = Field(16, ge=1)
    max_time: str | float | None = Field(default=None, description="DD:HH:MM:SS or minutes")
    grad_clip: float | None = Field(1.0, gt=0)
    early_stopping_patience: int | None = Field(5, ge=1)
    teacher_forcing: float = Field(0.0, ge=0, le=1, description="initial probability")
    teacher_forcing_decay_epochs: int = Field(
        0, ge=0, description="linear decay to 0 over these epochs (scheduled sampling)"
    )
    num_workers: int = Field(0, ge=0)
    limit_train_batches: int | float | None = Field(
        None, gt=0, description="batches per epoch (int) or share of them (float <= 1)"
    )
    limit_val_batches: int | float | None = Field(None, gt=0)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    devices: int = Field(1, ge=1)
    strategy: Literal[
        "auto", "ddp", "ddp_spawn", "ddp_fork", "ddp_notebook", "fsdp", "deepspeed", "single_device"
    ] = "auto"
    num_nodes: int = Field(1, ge=1)
    precision: Literal["auto", "32-true", "bf16-mixed", "16-mixed"] = "auto"
    compile: bool | Literal["default", "reduce-overhead", "max-autotune"] = Field(
        False, description="torch.compile each frame's step (true = mode default); pays on CUDA"
    )
    deterministic: bool = True
    log_every_n_steps: int = Field(20, ge=1)
    logger: list[Literal["csv", "tensorboard", "mlflow"]] = Field(
        default_factory=lambda: ["csv"],
        description="Lightning loggers; csv (metrics.csv) is always on",
    )

    @field_validator("max_time")
    @classmethod
    def _check_max_time(cls, value: str | float | None) -> str | float | None:
        parse_max_time(value)
        return value

    @field_validator("limit_train_batches", "limit_val_batches")
    @classmethod
    def _check_limit(cls, value: int | float | None) -> int | float | None:
        if isinstance(value, float) and value > 1:
            raise ValueError("a float is a share of the batches (0 < x <= 1)")
        return value

    @field_validator("logger", mode="before")
    @classmethod
    def _one_logger(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class Pipeline(Strict):
    """One experiment: data, model, optimiser, schedule, trainer, seed."""

    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="a plain name (it becomes a folder: runs/<name>/...)",
    )
    task: Literal["sst", "taxibj"] = "sst"
    source: str
    region: str | None = None
    cube: str | None = Field(
        default=None, description="cube path; default: where `sstcast ingest` writes it"
    )
    data: DataConfig
    model: ModelConfig
    optim: OptimConfig = OptimConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    trainer: TrainerConfig = TrainerConfig()
    seed: int = Field(42, ge=0, lt=2**32)
    root: Path = Path(".")

    def cube_path(self, catalog: Catalog | None = None) -> str:
        """The cube this pipeline trains on: ``cube`` (relative to the pipeline file) or,
        without it, where ``sstcast ingest SOURCE --region REGION`` writes it."""
        if self.cube is not None:
            if is_url(self.cube) or Path(self.cube).is_absolute():
                return self.cube
            return str((self.root / self.cube).resolve())
        if catalog is None:
            raise ConfigError(f"pipeline {self.name!r}: no `cube` given and no catalog to find it")
        return catalog.cube_path(self.source, self.region)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (``root`` left out), as written to a run's config.yaml."""
        return self.model_dump(mode="json", exclude={"root"})

    def with_overrides(self, overrides: dict[str, Any]) -> Pipeline:
        """A validated copy with dotted keys replaced, e.g. ``{"trainer.epochs": 3}``."""
        data = self.to_dict()
        for key, value in overrides.items():
            node = data
            *parents, leaf = key.split(".")
            for i, part in enumerate(parents):
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    where = ".".join(parents[: i + 1])
                    raise ConfigError(f"{key}: {where} is a value, not a section")
            node[leaf] = value
        try:
            return Pipeline(**data, root=self.root)
        except ValidationError as err:
            where = f"{self.name} (after command-line overrides)"
            raise validation_error(where, Pipeline, err) from None


def load_pipeline(path: str | Path) -> Pipeline:
    """Read and validate an experiment file from ``pipelines/``."""
    path = Path(path)
    data = read_yaml(path)
    if "root" in data:
        raise ConfigError(f"{path}: root: unknown key")
    try:
        return Pipeline(**data, root=path.resolve().parent)
    except ValidationError as err:
        raise validation_error(path, Pipeline, err) from None


def pipeline_yaml(pipeline: Pipeline) -> str:
    """A pipeline as YAML text: plain values, keys in declaration order (config.yaml)."""
    return yaml.safe_dump(pipeline.to_dict(), sort_keys=False)


def save_pipeline(pipeline: Pipeline, path: str | Path) -> None:
    """Write a pipeline as YAML (plain values, keys in declaration order)."""
    Path(path).write_text(pipeline_yaml(pipeline))


# --------------------------------------------------------------------------------------
# Command-line overrides: --set KEY=VALUE
# --------------------------------------------------------------------------------------
_EXPONENT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


def parse_value(text: str) -> Any:
    """A ``--set`` value as YAML reads it (``8``, ``0.5``, ``true``, ``null``, ``[a, b]``);
    ``1e-3`` is a number too (plain YAML would read it as text)."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        raise ConfigError(f"{text!r} is not a YAML value") from None
    if isinstance(value, str) and _EXPONENT.match(value.strip()):
        return float(value)
    return value


def check_key(key: str) -> None:
    """Refuse a dotted pipeline key that is no key (ConfigError saying why, listing the valid
    keys of the section where it went wrong). Keys under ``model.config`` are the model's
    options: they are checked when the model is built."""
    node: Any = Pipeline
    parts = key.split(".")
    if not all(parts):
        raise ConfigError("empty part in the key")
    for i, part in enumerate(parts):
        if node == "map":
            return  # a free mapping: any key below
        if node is None:
            raise ConfigError(f"{'.'.join(parts[:i])} is a value, not a section")
        if part not in field_names(node):
            where = f"in {'.'.join(parts[:i])}" if i else "at the top level"
            raise ConfigError(unknown_key(part, node, where))
        annotation = node.model_fields[part].annotation
        is_map, _ = mapping_value(annotation)
        node = "map" if is_map else section_model(annotation)


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["optim.lr=1e-3", "trainer.batch_size=8"]`` as ``{"optim.lr": 0.001, ...}``, every
    key checked against the pipeline's keys: one-line ConfigError ``--set KEY: problem``."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. optim.lr=1e-3")
        try:
            check_key(key)
            out[key] = parse_value(text)
        except ConfigError as err:
            raise ConfigError(f"--set {key}: {err}") from None
    return out
