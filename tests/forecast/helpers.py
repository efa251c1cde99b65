"""Helpers of the forecast-file tests: writing blocks, one-line errors, folder contents."""

from __future__ import annotations

import json
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


def _no_download(*args: object, **kwargs: object) -> None:
    raise OSError("offline test: no standard name table download")


def cf_report(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """The cf:1.8 JSON report of ``path`` (strict criteria) plus the runner's verdicts."""
    from compliance_checker.cf import util as cf_util
    from compliance_checker.runner import CheckSuite, ComplianceChecker

    monkeypatch.setattr(cf_util, "download_cf_standard_name_table", _no_download)
    CheckSuite.load_all_available_checkers()
    out = tmp_path / "report.json"
    passed, errors = ComplianceChecker.run_checker(
        str(path), ["cf:1.8"], 1, "strict", output_filename=str(out), output_format="json"
    )
    report = json.loads(out.read_text())["cf:1.8"]
    report["passed"], report["checker_errors"] = passed, errors
    return report


def cf_failures(results: list[dict]) -> list[str]:
    return [f"{r['name']}: {r['msgs']}" for r in results if r["value"][0] != r["value"][1]]


def quiet_forecast(run: Path | None = None, **options: Any) -> Any:
    """``sstcast.forecast.run.forecast`` on the CPU without progress bars (tests)."""
    from sstcast.forecast.run import forecast

    return forecast(run, progress=False, device="cpu", **options)
