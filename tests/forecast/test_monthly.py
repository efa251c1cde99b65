"""Monthly forecasts: leads in whole calendar months, valid times as the product stamps
its months (mid-month here), a CF-clean file that xarray opens as it is."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from sstcast.errors import SstcastError
from sstcast.forecast import ForecastWriter, open_forecast, write_forecast
from sstcast.forecast.schema import default_space, forecast_template, validate_forecast
from tests.forecast.helpers import cf_failures, cf_report


def _mid_month(first: str, n: int) -> pd.DatetimeIndex:
    starts = pd.date_range(first, periods=n, freq="MS")
    return starts + (starts + pd.offsets.MonthBegin(1) - starts) / 2


def _monthly_forecast(n_init: int = 4, n_lead: int = 3) -> xr.Dataset:
    inits = _mid_month("2019-01-01", n_init)
    ds = forecast_template(
        "sst", inits.values, np.arange(1, n_lead + 1), default_space("sst", (3, 4))
    )
    values = 15.0 + np.arange(ds["sst"].size, dtype=np.float32).reshape(ds["sst"].shape) / 100
    return ds.assign(sst=ds["sst"].copy(data=values))


def test_month_leads_round_trip_with_the_products_stamps(tmp_path: Path) -> None:
    mock = _monthly_forecast()
    # valid times are the next months' own mid-month stamps (Feb 15 00:00, Mar 16 12:00)
    expected = _mid_month("2019-02-01", 6).values
    assert np.array_equal(mock["valid_time"].values[0], expected[:3])
    path = write_forecast(mock, tmp_path / "monthly.nc", block_size=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no decoding warning from xarray
        ds = open_forecast(path)
    assert ds["lead_time"].dtype.kind == "i" and ds["lead_time"].values.tolist() == [1, 2, 3]
    assert ds["lead_time"].attrs["units"] == "months"
    assert ds["lead_time"].attrs["standard_name"] == "forecast_period"
    assert np.array_equal(ds["valid_time"].values, mock["valid_time"].values)
    np.testing.assert_array_equal(ds["sst"].values, mock["sst"].values)
    assert ds.attrs["time_coverage_start"].startswith("2019-02-15T00:00")
    ds.close()


def test_monthly_file_passes_the_cf_checker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("compliance_checker")
    path = write_forecast(_monthly_forecast(), tmp_path / "monthly.nc")
    report = cf_report(path, tmp_path, monkeypatch)
    for level in ("high_priorities", "medium_priorities", "low_priorities"):
        assert cf_failures(report[level]) == []
    assert report["passed"] is True and report["checker_errors"] is False


def test_valid_times_given_by_the_forecaster_are_written(tmp_path: Path) -> None:
    """Observations stamped on the 1st: the forecaster passes their stamps; a valid time
    that is not after its init is refused with one line."""
    inits = pd.date_range("2019-01-01", periods=2, freq="MS").values
    lead = np.array([1, 2])
    space = default_space("sst", (2, 2))
    valid = np.array([["2019-02-01", "2019-03-01"], ["2019-03-01", "2019-04-01"]], "M8[ns]")
    with ForecastWriter(tmp_path / "f.nc", "sst", lead, space) as writer:
        with pytest.raises(SstcastError, match="after their init"):
            writer.append(inits, np.zeros((2, 2, 2, 2)), valid_time=valid - np.timedelta64(90, "D"))
        writer.append(inits, np.zeros((2, 2, 2, 2), np.float32), valid_time=valid)
    ds = open_forecast(tmp_path / "f.nc")
    assert np.array_equal(ds["valid_time"].values, valid)
    ds.close()


def test_month_leads_must_be_whole_months_with_their_unit(tmp_path: Path) -> None:
    space = default_space("sst", (2, 2))
    with pytest.raises(SstcastError, match="whole months >= 1"):
        ForecastWriter(tmp_path / "f.nc", "sst", np.array([0, 1]), space)
    ds = _monthly_forecast()
    ds["lead_time"].attrs.pop("units")
    with pytest.raises(SstcastError, match="without units 'months'"):
        validate_forecast(ds)
    wrong = _monthly_forecast()
    wrong = wrong.assign_coords(valid_time=wrong["valid_time"] + np.timedelta64(40, "D"))
    with pytest.raises(SstcastError, match="month"):
        validate_forecast(wrong)
