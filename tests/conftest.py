"""Shared test setup: single-threaded torch (2-core CI), paths to shared real data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")

try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover
    pass

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
ERSST_FILE = SHARED_DATA / "noaa_ersst_v5_monthly_2010_2020.nc"


@pytest.fixture
def ersst_file() -> Path:
    """The real NOAA ERSSTv5 file from ../shared/data; skipped where it is absent."""
    if not ERSST_FILE.exists():
        pytest.skip(f"real data not present: {ERSST_FILE}")
    return ERSST_FILE


@pytest.fixture(scope="session")
def trained_sst_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny SST run (cube, pipeline, two epochs) shared by the forecast, verification and
    maps tests: validation scores every val window, so evaluate can be checked against it."""
    from sstcast.training import fit
    from tests.builders import tiny_pipeline_dict, write_pipeline, write_tiny_cube

    root = tmp_path_factory.mktemp("sst_run")
    cube = write_tiny_cube(root / "tiny.zarr")
    data = tiny_pipeline_dict(cube, limit_val_batches=None)
    result = fit(write_pipeline(root / "tiny.yaml", data), out=root / "runs", progress=False)
    return result.run_dir


@pytest.fixture(scope="session")
def trained_taxibj_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny ST-ResNet run on a tiny TaxiBJ cube."""
    from sstcast.cube import write_cube
    from sstcast.training import fit
    from tests.builders import tiny_taxibj_dataset, tiny_taxibj_pipeline_dict, write_pipeline

    root = tmp_path_factory.mktemp("taxibj_run")
    cube = Path(write_cube(tiny_taxibj_dataset(), root / "bj.zarr", progress=False))
    pipe = write_pipeline(root / "bj.yaml", tiny_taxibj_pipeline_dict(cube))
    return fit(pipe, out=root / "runs", progress=False).run_dir
