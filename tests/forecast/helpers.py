"""Helpers of the forecast-file tests: writing blocks, one-line errors, folder contents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr

from sstcast.errors import SstcastError
from sstcast.forecast import ForecastWriter


def write_blocks(ds: xr.Dataset, path: Path, block: int, **kwargs: Any) -> Path:
    """Write ``ds`` (a forecast in the schema) with ``ForecastWriter``, ``block`` inits a call."""
    variable = "sst" if "sst" in ds else "flow"
    var = ds[variable]
    space = {dim: ds[dim].values for dim in var.dims[2:]}
    with ForecastWriter(path, variable, ds["lead_time"].values, space, **kwargs) as writer:
        for start in range(0, ds.sizes["init_time"], block):
            part = var.isel(init_time=slice(start, start + block))
            writer.append(part["init_time"].values, part.values)
    return path


def one_line_error(excinfo: pytest.ExceptionInfo[SstcastError], *words: str) -> str:
    """The message of a raised SstcastError, checked to be one line holding ``words``."""
    message = str(excinfo.value)
    assert "\n" not in message, message
    for word in words:
        assert word in message, (word, message)
    return message


def leftovers(folder: Path) -> list[str]:
    """Everything in ``folder`` (temporaries included: atomic_path's names start with '.')."""
    return sorted(p.name for p in folder.iterdir())


def assert_same_values(a: np.ndarray, b: np.ndarray) -> None:
    """Bit-for-bit equal float32 arrays, NaN where the other has NaN."""
    assert a.dtype == np.float32 and b.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert np.array_equal(a, b, equal_nan=True)
