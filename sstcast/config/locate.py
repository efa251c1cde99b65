"""Finding things by name: a region's pipeline file, the data catalog, a pipeline's cube.

The defaults ship inside the package (``sstcast/pipelines/*.yaml``,
``sstcast/data_catalog.yaml``), so ``sstcast train --region bohai`` works from any folder of
an installed sstcast; files in the working directory (``./pipelines``,
``./data_catalog.yaml``) take precedence. The checkout's top-level ``pipelines/`` and
``data_catalog.yaml`` are links to those packaged files.
"""

from __future__ import annotations

from pathlib import Path

from sstcast.config.catalog import Catalog, load_catalog
from sstcast.config.pipeline import Pipeline
from sstcast.errors import ConfigError, DataError
from sstcast.utils.io import is_url

PACKAGE_DIR = Path(__file__).resolve().parent.parent
#: Pipelines shipped with sstcast (``--region NAME`` looks here after ``./pipelines``).
PACKAGE_PIPELINES = PACKAGE_DIR / "pipelines"
#: The catalog shipped with sstcast (used when the working directory has none).
PACKAGE_CATALOG = PACKAGE_DIR / "data_catalog.yaml"


def pipeline_for_region(region: str, search: list[Path] | None = None) -> Path:
    """``pipelines/<region>.yaml`` from the working directory, else the packaged one."""
    folders = search if search is not None else [Path("pipelines"), PACKAGE_PIPELINES]
    for folder in folders:
        path = folder / f"{region}.yaml"
        if path.exists():
            return path
    known = sorted({p.stem for f in folders if f.is_dir() for p in f.glob("*.yaml")})
    raise ConfigError(
        f"no pipeline file for region {region!r} (looked for pipelines/{region}.yaml); "
        f"known: {', '.join(known) or 'none'}"
    )


def find_catalog(path: str | Path | None = None) -> Catalog:
    """The catalog at ``path``; without one, ``./data_catalog.yaml`` or else the packaged
    catalog, whose relative paths (``data/...``) then refer to the working directory."""
    if path is not None:
        return load_catalog(path)
    local = Path("data_catalog.yaml")
    if local.exists():
        return load_catalog(local)
    return load_catalog(PACKAGE_CATALOG, root=Path.cwd())


def resolve_cube(pipeline: Pipeline, catalog: Catalog | None) -> str:
    """The cube path of a pipeline; a one-line error naming the ingest command when the
    cube does not exist yet."""
    if pipeline.cube is None and catalog is not None:
        catalog.source(pipeline.source)  # unknown source: clear error
        if pipeline.region is not None:
            catalog.region(pipeline.region)
    path = pipeline.cube_path(catalog)
    if not is_url(path) and not Path(path).exists():
        command = f"sstcast ingest {pipeline.source}"
        if pipeline.region:
            command += f" --region {pipeline.region}"
        hint = ""
        if catalog is not None and pipeline.source in catalog.sources:
            if catalog.sources[pipeline.source].sample:
                command += " --sample"
                hint = " (--sample writes the built-in sample files first when missing)"
        raise DataError(f"cube {path} does not exist; make it with `{command}`{hint}")
    return path
