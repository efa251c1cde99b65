"""Typed, validated configuration: the data catalog and pipeline files, and where to find them.

``catalog.py`` reads ``data_catalog.yaml``, ``pipeline.py`` reads ``pipelines/*.yaml``,
``locate.py`` finds a region's pipeline, the catalog and a pipeline's cube.
"""

from sstcast.config.catalog import Catalog, Region, Source, load_catalog
from sstcast.config.locate import find_catalog, pipeline_for_region, resolve_cube
from sstcast.config.pipeline import (
    SPLIT_NAMES,
    DataConfig,
    ModelConfig,
    OptimConfig,
    Pipeline,
    ScheduleConfig,
    SplitConfig,
    TrainerConfig,
    load_pipeline,
    parse_max_time,
    save_pipeline,
)
from sstcast.errors import ConfigError

__all__ = [
    "SPLIT_NAMES",
    "Catalog",
    "ConfigError",
    "DataConfig",
    "ModelConfig",
    "OptimConfig",
    "Pipeline",
    "Region",
    "ScheduleConfig",
    "Source",
    "SplitConfig",
    "TrainerConfig",
    "find_catalog",
    "load_catalog",
    "load_pipeline",
    "parse_max_time",
    "pipeline_for_region",
    "resolve_cube",
    "save_pipeline",
]
