"""Circular moving-block bootstrap of a pooled MSE difference: known answers and speed."""

from __future__ import annotations

import time

import numpy as np
import pytest
import xarray as xr

from sstcast.errors import SstcastError
from sstcast.verify import (
    area_weights,
    block_bootstrap_mse_difference,
    default_block_length,
    mse,
    per_init_sums,
)
from tests.builders_verify import mock_forecast, mock_truth

DIMS = ("init_time", "lead_time")


def _per_init(values: np.ndarray) -> xr.DataArray:
    n, n_lead = values.shape
    return xr.DataArray(
        values,
        dims=DIMS,
        coords={
            "init_time": np.datetime64("2020-01-01", "ns") + np.arange(n) * np.timedelta64(1, "D"),
            "lead_time": (np.arange(1, n_lead + 1) * np.timedelta64(1, "D")).astype("m8[ns]"),
        },
    )


def test_constant_difference_gives_a_zero_width_interval() -> None:
    rng = np.random.default_rng(3)
    n, n_lead = 100, 3
    weight = _per_init(rng.uniform(50.0, 150.0, (n, n_lead)))
    mse_ref = rng.uniform(0.5, 2.0, (n, n_lead))
    c = np.array([-0.2, 0.0, 0.3])
    se_ref = weight * mse_ref
    se_model = weight * (mse_ref + c)  # per-init MSE difference c at every init
    out = block_bootstrap_mse_difference(se_model, se_ref, weight, block_length=7)
    assert set(out.data_vars) == {"mean_difference", "lower", "upper", "block_length"}
    assert out["mean_difference"].dims == ("lead_time",)
    np.testing.assert_allclose(out["mean_difference"].values, c, atol=1e-12)
    np.testing.assert_allclose(out["lower"].values, c, atol=1e-12)
    np.testing.assert_allclose(out["upper"].values, c, atol=1e-12)
    np.testing.assert_array_equal(out["block_length"].values, 7)
    np.testing.assert_array_equal(out["lead_time"].values, weight["lead_time"].values)


def test_iid_differences_match_the_normal_interval() -> None:
    rng = np.random.default_rng(11)
    n, n_lead, mu, sigma = 400, 2, 0.1, 0.5
    diff = mu + sigma * rng.standard_normal((n, n_lead))
    weight = _per_init(np.ones((n, n_lead)))
    se_ref = _per_init(np.full((n, n_lead), 1.0))
    se_model = se_ref + _per_init(diff)
    out = block_bootstrap_mse_difference(se_model, se_ref, weight, block_length=1)
    np.testing.assert_allclose(out["mean_difference"].values, diff.mean(axis=0), rtol=1e-12)
    lower, upper = out["lower"].values, out["upper"].values
    assert ((lower < mu) & (mu < upper)).all()
    assert ((lower < diff.mean(axis=0)) & (diff.mean(axis=0) < upper)).all()
    analytic = 2 * 1.96 * sigma / np.sqrt(n)
    np.testing.assert_allclose(upper - lower, analytic, rtol=0.15)
    # blocks of iid data change the width little
    blocked = block_bootstrap_mse_difference(se_model, se_ref, weight, block_length=10)
    np.testing.assert_allclose(blocked["upper"] - blocked["lower"], analytic, rtol=0.25)


def test_correlated_differences_need_blocks() -> None:
    """AR(1) differences (φ = 0.9): iid resampling is far too narrow, blocks widen it."""
    rng = np.random.default_rng(5)
    n, phi = 365, 0.9
    d = np.empty(n)
    d[0] = rng.standard_normal()
    for i in range(1, n):
        d[i] = phi * d[i - 1] + np.sqrt(1 - phi**2) * rng.standard_normal()
    weight = _per_init(np.ones((n, 1)))
    zero = _per_init(np.zeros((n, 1)))
    se_model = _per_init(d[:, None])
    iid = block_bootstrap_mse_difference(se_model, zero, weight, block_length=1)
    blocked = block_bootstrap_mse_difference(se_model, zero, weight, block_length=30)
    width_iid = float((iid["upper"] - iid["lower"]).item())
    width_blocked = float((blocked["upper"] - blocked["lower"]).item())
    # the true standard error of the mean is ≈ sqrt((1 + φ) / (1 − φ)) ≈ 4.4 times the iid one
    assert width_blocked > 2.5 * width_iid


def test_deterministic_with_the_seed() -> None:
    rng = np.random.default_rng(0)
    weight = _per_init(rng.uniform(1, 2, (60, 2)))
    se_model = _per_init(rng.uniform(0, 1, (60, 2)))
    se_ref = _per_init(rng.uniform(0, 1, (60, 2)))
    a = block_bootstrap_mse_difference(se_model, se_ref, weight, 5, n_resamples=200, seed=4)
    b = block_bootstrap_mse_difference(se_model, se_ref, weight, 5, n_resamples=200, seed=4)
    c = block_bootstrap_mse_difference(se_model, se_ref, weight, 5, n_resamples=200, seed=5)
    xr.testing.assert_identical(a, b)
    assert not np.allclose(a["lower"].values, c["lower"].values)
    np.testing.assert_array_equal(a["mean_difference"].values, c["mean_difference"].values)
    assert a.attrs["seed"] == 4 and a.attrs["n_resamples"] == 200


def test_block_length_per_lead_and_default() -> None:
    assert default_block_length(1) == 5
    assert default_block_length(10) == 10
    assert default_block_length(3, minimum=1) == 3
    leads = xr.DataArray([1, 5, 8], dims="lead_time")
    np.testing.assert_array_equal(default_block_length(leads).values, [5, 5, 8])

    rng = np.random.default_rng(1)
    column = rng.uniform(0, 1, (80, 1))
    same = np.repeat(column, 3, axis=1)  # three identical leads
    weight = _per_init(np.ones((80, 3)))
    zero = _per_init(np.zeros((80, 3)))
    blocks = default_block_length(xr.DataArray([1, 5, 8], dims="lead_time"))
    out = block_bootstrap_mse_difference(_per_init(same), zero, weight, blocks)
    np.testing.assert_array_equal(out["block_length"].values, [5, 5, 8])
    # the same data and block length draw the same resamples
    assert out["lower"][0].item() == out["lower"][1].item()
    assert out["lower"][1].item() != out["lower"][2].item()
    # a block longer than the series is clipped to it (each resample a rotation: zero width)
    long = block_bootstrap_mse_difference(_per_init(same), zero, weight, block_length=500)
    np.testing.assert_array_equal(long["block_length"].values, 80)
    np.testing.assert_allclose(long["upper"] - long["lower"], 0.0, atol=1e-12)


def test_matches_pooled_mse_from_per_init_sums() -> None:
    truth = mock_truth(n_init=30, n_lead=3)
    w = area_weights(truth["lat"], truth["mask"])
    model = mock_forecast(truth, error_std=0.2, seed=1)["sst"]
    ref = mock_forecast(truth, error_std=0.4, seed=2)["sst"]
    s_model = per_init_sums(model, truth["sst"], w)
    s_ref = per_init_sums(ref, truth["sst"], w)
    xr.testing.assert_identical(s_model["weight"], s_ref["weight"])
    out = block_bootstrap_mse_difference(
        s_model["sse"], s_ref["sse"], s_model["weight"], block_length=default_block_length(3)
    )
    expected = mse(model, truth["sst"], w) - mse(ref, truth["sst"], w)
    np.testing.assert_allclose(out["mean_difference"].values, expected.values, rtol=1e-12)
    assert (out["lower"] <= out["mean_difference"]).all()
    assert (out["mean_difference"] <= out["upper"]).all()
    assert (out["upper"] < 0).all()  # the model with half the noise is clearly better


def test_fast_enough_for_a_year_of_daily_inits() -> None:
    rng = np.random.default_rng(2)
    n, n_lead = 365, 10
    weight = _per_init(rng.uniform(100, 200, (n, n_lead)))
    se_model = _per_init(rng.uniform(0, 100, (n, n_lead)))
    se_ref = _per_init(rng.uniform(0, 100, (n, n_lead)))
    blocks = xr.DataArray(default_block_length(np.arange(1, 11)), dims="lead_time")
    block_bootstrap_mse_difference(se_model, se_ref, weight, 10, n_resamples=10)  # warm up
    t0 = time.perf_counter()
    block_bootstrap_mse_difference(se_model, se_ref, weight, blocks, n_resamples=1000)
    assert time.perf_counter() - t0 < 1.0


def test_bad_input_is_one_line() -> None:
    weight = _per_init(np.ones((10, 2)))
    se = _per_init(np.zeros((10, 2)))
    bad = se.copy()
    bad[0, 0] = np.nan
    for call, match in [
        (lambda: block_bootstrap_mse_difference(bad, se, weight, 2), "finite"),
        (lambda: block_bootstrap_mse_difference(se, se, weight, 0), "block_length"),
        (lambda: block_bootstrap_mse_difference(se, se, weight, 2, confidence=1.5), "confidence"),
        (lambda: block_bootstrap_mse_difference(se.rename(init_time="t"), se, weight, 2), "init"),
        (
            lambda: block_bootstrap_mse_difference(
                se.assign_coords(lead_time=se["lead_time"] * 2), se, weight, 2
            ),
            "not aligned",
        ),
    ]:
        with pytest.raises(SstcastError, match=match) as info:
            call()
        assert "\n" not in str(info.value)
