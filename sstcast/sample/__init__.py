"""The built-in sample: a toy ocean and a toy city written in the real file formats.

``toyocean.py`` simulates SST (climatology + stirred, damped, forced anomaly) and knows its
own noise-free dynamics (the attainable bound a forecast is compared with);
``toycity.py`` writes TaxiBJ-layout HDF5 flows; ``files.py`` writes the OISST-layout NetCDF
files and the manifest. To the rest of sstcast the sample is a source like any other: the
catalog's ``sample_sst`` / ``sample_taxibj`` entries point at the files written here.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sstcast.config import Catalog, ConfigError
from sstcast.errors import SstcastError
from sstcast.sample.files import DEFAULT_YEARS, MANIFEST, sst_file_name, write_sample
from sstcast.sources import expand_files

log = logging.getLogger(__name__)


def sample_source(catalog: Catalog, kind: str) -> str:
    """The catalog's sample source (``sample: true``) of reader ``kind``."""
    for name, src in catalog.sources.items():
        if src.sample and src.kind == kind:
            return name
    raise ConfigError(f"catalog has no sample source of kind {kind!r} (sample: true)")


def ensure_sample(catalog: Catalog, source: str, progress: bool = True) -> bool:
    """Write the built-in sample (``sstcast sample``) when the source's files are missing;
    True when it wrote them."""
    src = catalog.source(source)
    patterns = [catalog.resolve(p) for p in src.files]
    try:
        expand_files(patterns)
        return False
    except SstcastError:
        pass
    root = Path(patterns[0]).parent.parent
    log.info("sample data missing; writing it to %s", root)
    write_sample(root, progress=progress)
    return True


__all__ = [
    "DEFAULT_YEARS",
    "MANIFEST",
    "ensure_sample",
    "sample_source",
    "sst_file_name",
    "write_sample",
]
