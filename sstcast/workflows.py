"""Each command as a short composition of the stages (earth2studio's ``run.py``).

The CLI parses arguments and calls one function here (or :func:`sstcast.training.fit`);
each function wires stage objects together and returns what it made.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sstcast.config import Catalog, find_catalog


def ingest(
    catalog: Catalog | str | Path | None = None,
    source: str | None = None,
    *,
    files: Sequence[str] | None = None,
    use_sample: bool = False,
    progress: bool = True,
    **options: Any,
) -> Any:
    """``sstcast ingest``: with ``use_sample``, the catalog's sample source of the same kind
    (its files written first when missing), then :func:`sstcast.ingest.ingest_source`."""
    from sstcast.ingest import ingest_source

    cat = catalog if isinstance(catalog, Catalog) else find_catalog(catalog)
    if use_sample:
        from sstcast.sample import ensure_sample, sample_source

        name = source or cat.default_source
        kind = cat.source(name).kind if name is not None else "netcdf_sst"
        if name is None or not cat.source(name).sample:
            source = sample_source(cat, kind)
        else:
            source = name
        if files is None:
            ensure_sample(cat, source, progress=progress)
    return ingest_source(cat, source, files=files, progress=progress, **options)
