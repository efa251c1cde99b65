"""Fixtures of the forecast-file tests: both layouts, a small mock forecast of each."""

from __future__ import annotations

import pytest
import xarray as xr

from sstcast.forecast import mock_forecast


@pytest.fixture(params=["sst", "taxibj"])
def kind(request: pytest.FixtureRequest) -> str:
    """Both layouts."""
    return request.param


@pytest.fixture
def mock(kind: str) -> xr.Dataset:
    """A small forecast of each layout (7 init times, so blocks of 3 leave a remainder)."""
    return mock_forecast(kind, n_init=7, n_lead=4, shape=(3, 4))
