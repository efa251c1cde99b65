"""The data catalog (``data_catalog.yaml``): where raw files live, what reads them, regions.

Read into pydantic models that forbid unknown keys, so a typo is answered with one line
naming the file and the key. Relative paths are resolved against the catalog's folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, model_validator

from sstcast.config.base import Strict, read_yaml, validation_error
from sstcast.errors import ConfigError
from sstcast.utils.io import is_url


# --------------------------------------------------------------------------------------
# Data catalog
# --------------------------------------------------------------------------------------
def check_bbox(south: float, north: float, west: float, east: float, where: str) -> None:
    """Refuse a latitude/longitude box that cannot be cut: ConfigError naming ``where``.

    Latitudes must be ordered, ``-90 <= south < north <= 90``; longitudes must differ and lie
    in -180..360 (either convention; ``west > east`` means the box crosses 180 degrees). One
    rule for the catalog's regions and the ``--bbox`` option, so that any box one accepts the
    other does too. ConfigError is a ValueError, so a pydantic validator may let it through.
    """
    if not (-90 <= south < north <= 90):
        raise ConfigError(f"{where}: need -90 <= south < north <= 90")
    if not (-180 <= west <= 360 and -180 <= east <= 360) or west == east:
        raise ConfigError(f"{where}: west and east must differ, in -180..360")


class Region(Strict):
    """A latitude/longitude box. ``lon`` may cross 0 or 180 (west > east means crossing 180)."""

    lat: tuple[float, float]
    lon: tuple[float, float]
    description: str = ""

    @model_validator(mode="after")
    def _check(self) -> Region:
        check_bbox(*self.bbox, where=f"lat {list(self.lat)}, lon {list(self.lon)}")
        return self

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """(south, north, west, east)."""
        return (self.lat[0], self.lat[1], self.lon[0], self.lon[1])


class Source(Strict):
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


class Catalog(Strict):
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
        if is_url(path) or Path(path).is_absolute():
            return path
        return str((self.root / path).resolve())

    def cube_path(self, source: str, region: str | None = None) -> str:
        """Where ``sstcast ingest SOURCE --region REGION`` writes its cube by default."""
        src = self.source(source)
        region = region or src.region or "full"
        pattern = src.out or "data/cubes/{source}_{region}.zarr"
        return self.resolve(pattern.format(source=source, region=region))


def load_catalog(path: str | Path = "data_catalog.yaml", root: Path | None = None) -> Catalog:
    """Read and validate a data catalog. Its relative paths are resolved against ``root``
    (default: the folder the file is in, as named, without following symlinks)."""
    path = Path(path)
    data = read_yaml(path)
    if "root" in data:
        raise ConfigError(f"{path}: root: unknown key")
    try:
        return Catalog(**data, root=(root or path.absolute().parent))
    except ValidationError as err:
        raise validation_error(path, Catalog, err) from None
