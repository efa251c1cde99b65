"""Typed, validated configuration: ``data_catalog.yaml`` and ``pipelines/*.yaml``.

Both files are plain YAML read into pydantic models that forbid unknown keys, so a typo is
answered with one line naming the file and the key instead of being silently ignored.
Relative paths in a file are resolved against that file's directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class ConfigError(ValueError):
    """A configuration file is missing, unreadable or invalid (message names the file)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------------------
# Data catalog
# --------------------------------------------------------------------------------------
class Region(_Strict):
    """A latitude/longitude box. ``lon`` may cross 0 or 180 (west > east means crossing 180)."""

    lat: tuple[float, float]
    lon: tuple[float, float]
    description: str = ""

    @model_validator(mode="after")
    def _check(self) -> Region:
        s, n = self.lat
        if not (-90 <= s < n <= 90):
            raise ValueError(f"lat must be [south, north] with south < north, got {self.lat}")
        w, e = self.lon
        if not (-180 <= w <= 360 and -180 <= e <= 360) or w == e:
            raise ValueError(f"lon must be [west, east] in degrees, got {self.lon}")
        return self

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """(south, north, west, east)."""
        return (self.lat[0], self.lat[1], self.lon[0], self.lon[1])


class Source(_Strict):
    """One dataset: its reader, its files and where its cubes go."""

    kind: Literal["netcdf_sst", "taxibj"]
    files: list[str] = Field(min_length=1, description="paths or globs")
    variable: str | None = None
    region: str | None = None
    out: str | None = Field(
        default=None, description="cube path or URL; may use {source} and {region}"
    )
    sample: bool = Field(default=False, description="files come from `sstcast sample`")
    meteorology: str | None = None
    holidays: str | None = None
    frequency: str | None = None
    description: str = ""


class Catalog(_Strict):
    """The whole ``data_catalog.yaml``."""

    regions: dict[str, Region]
    sources: dict[str, Source]
    default_source: str | None = None
    root: Path = Path(".")

    @model_validator(mode="after")
    def _check(self) -> Catalog:
        for name, src in self.sources.items():
            if src.region is not None and src.region not in self.regions:
                raise ValueError(f"source {name!r} names unknown region {src.region!r}")
        if self.default_source is not None and self.default_source not in self.sources:
            raise ValueError(f"default_source {self.default_source!r} is not a source")
        return self

    def region(self, name: str) -> Region:
        """The region called ``name``; a clear error listing the known ones otherwise."""
        if name not in self.regions:
            raise ConfigError(f"unknown region {name!r}; known: {', '.join(sorted(self.regions))}")
        return self.regions[name]

    def source(self, name: str) -> Source:
        """The source called ``name``; a clear error listing the known ones otherwise."""
        if name not in self.sources:
            raise ConfigError(f"unknown source {name!r}; known: {', '.join(sorted(self.sources))}")
        return self.sources[name]

    def resolve(self, path: str) -> str:
        """A path from the catalog made absolute against the catalog's folder (URLs kept)."""
        if "://" in path or Path(path).is_absolute():
            return path
        return str((self.root / path).resolve())

    def cube_path(self, source: str, region: str | None = None) -> str:
        """Where ``sstcast ingest SOURCE --region REGION`` writes its cube by default."""
        src = self.source(source)
        region = region or src.region or "full"
        pattern = src.out or "data/cubes/{source}_{region}.zarr"
        return self.resolve(pattern.format(source=source, region=region))


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ConfigError(f"{path}: file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def _first_error(path: Path, err: ValidationError) -> ConfigError:
    e = err.errors()[0]
    where = ".".join(str(p) for p in e["loc"]) or "(top level)"
    msg = e["msg"]
    if e["type"] == "extra_forbidden":
        msg = "unknown key"
    return ConfigError(f"{path}: {where}: {msg}")


def load_catalog(path: str | Path = "data_catalog.yaml") -> Catalog:
    """Read and validate a data catalog."""
    path = Path(path)
    data = _read_yaml(path)
    try:
        return Catalog(**data, root=path.resolve().parent)
    except ValidationError as err:
        raise _first_error(path, err) from None


# --------------------------------------------------------------------------------------
# Pipelines (experiments)
# --------------------------------------------------------------------------------------
class SplitConfig(_Strict):
    """Time splits: each a [start, end] date pair (inclusive) or a fraction of the steps."""

    train: tuple[str, str] | float
    val: tuple[str, str] | float
    test: tuple[str, str] | float


class DataConfig(_Strict):
    n_in: int = Field(10, ge=1)
    n_out: int = Field(10, ge=1)
    stride: int = Field(1, ge=1)
    split: SplitConfig
    normalization: Literal["anomaly", "zscore", "minmax"] = "anomaly"
    harmonics: int = Field(3, ge=0)
    static_channels: list[Literal["mask", "lat", "lon"]] = Field(default_factory=list)
    day_of_year: bool = False
    # ST-ResNet sampling (TaxiBJ)
    closeness: int = Field(3, ge=0)
    period: int = Field(1, ge=0)
    trend: int = Field(1, ge=0)
    test_days: int = Field(28, ge=1)


class ModelConfig(_Strict):
    name: str
    preset: str = "default"
    config: dict[str, Any] = Field(default_factory=dict)


class OptimConfig(_Strict):
    name: Literal["adam", "adamw", "sgd"] = "adamw"
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)


class ScheduleConfig(_Strict):
    name: Literal["none", "cosine", "plateau", "onecycle"] = "cosine"
    warmup_epochs: int = Field(0, ge=0)
    min_lr: float = Field(1e-5, ge=0)


class TrainerConfig(_Strict):
    epochs: int = Field(20, ge=1)
    batch_size: int = Field(16, ge=1)
    max_time: str | None = Field(default=None, description="DD:HH:MM:SS or minutes")
    grad_clip: float | None = 1.0
    early_stopping_patience: int | None = 5
    teacher_forcing: float = Field(0.0, ge=0, le=1)
    num_workers: int = Field(0, ge=0)
    limit_train_batches: int | float | None = None
    limit_val_batches: int | float | None = None


class Pipeline(_Strict):
    """One experiment: data, model, optimiser, schedule, trainer, seed."""

    name: str
    task: Literal["sst", "taxibj"] = "sst"
    source: str
    region: str | None = None
    cube: str | None = None
    data: DataConfig
    model: ModelConfig
    optim: OptimConfig = OptimConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    trainer: TrainerConfig = TrainerConfig()
    seed: int = 42
    root: Path = Path(".")


def load_pipeline(path: str | Path) -> Pipeline:
    """Read and validate an experiment file from ``pipelines/``."""
    path = Path(path)
    data = _read_yaml(path)
    try:
        return Pipeline(**data, root=path.resolve().parent)
    except ValidationError as err:
        raise _first_error(path, err) from None
