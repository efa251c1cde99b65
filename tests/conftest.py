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
