"""Pooled scores, ACC, relative scores and the per-init / per-cell pieces, checked on paper."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from sstcast.errors import SstcastError
from sstcast.verify import (
    acc,
    area_weights,
    bias,
    gain_captured,
    mae,
    mse,
    per_cell_rmse,
    per_init_mse,
    per_init_sums,
    rmse,
    skill_score,
)
from tests.builders_verify import mock_climatology, mock_forecast, mock_truth

DIMS = ("init_time", "lead_time", "lat", "lon")


def one(da: xr.DataArray) -> float:
    """The single value of a DataArray of any shape (e.g. one lead)."""
    return da.item()


def _paper_case() -> tuple[xr.DataArray, xr.DataArray, xr.DataArray]:
    """Two inits, one lead, three cells (lat 0°, 60° ocean; lat 30° land).

    Weights cos(lat) normalised over ocean: 1 and 1/2 -> mean 3/4 -> 4/3, 2/3, 0.
    Errors: init 0: +1, +2, (40 on land); init 1: −1, NaN truth, (40 on land).
        Σw = 4/3 + 2/3 + 4/3 = 10/3
        MSE = (4/3·1 + 2/3·4 + 4/3·1) / Σw = (16/3) / (10/3) = 1.6
        MAE = (4/3 + 4/3 + 4/3) / Σw = 1.2
        bias = (4/3 + 4/3 − 4/3) / Σw = 0.4
    """
    coords = {
        "init_time": np.array(["2020-01-01", "2020-01-02"], dtype="datetime64[ns]"),
        "lead_time": np.array([1], dtype="timedelta64[D]").astype("timedelta64[ns]"),
        "lat": [0.0, 60.0, 30.0],
        "lon": [120.0],
    }
    truth = xr.DataArray(
        np.array([[10.0, 10.0, 10.0], [10.0, np.nan, 10.0]]).reshape(2, 1, 3, 1),
        dims=DIMS,
        coords=coords,
        attrs={"units": "degC"},
    )
    forecast = xr.DataArray(
        np.array([[11.0, 12.0, 50.0], [9.0, 12.0, 50.0]]).reshape(2, 1, 3, 1),
        dims=DIMS,
        coords=coords,
        attrs={"units": "degC"},
    )
    mask = xr.DataArray(
        np.array([[1], [1], [0]], dtype=np.int8),
        dims=("lat", "lon"),
        coords={"lat": coords["lat"], "lon": coords["lon"]},
    )
    weights = area_weights(mask["lat"], mask)
    np.testing.assert_allclose(weights.values.ravel(), [4 / 3, 2 / 3, 0.0], rtol=1e-12)
    return forecast, truth, weights


def test_pooled_scores_by_hand() -> None:
    f, o, w = _paper_case()
    assert mse(f, o, w).dims == ("lead_time",)
    assert one(mse(f, o, w)) == pytest.approx(1.6, rel=1e-12)
    assert one(rmse(f, o, w)) == pytest.approx(np.sqrt(1.6), rel=1e-12)
    assert one(mae(f, o, w)) == pytest.approx(1.2, rel=1e-12)
    assert one(bias(f, o, w)) == pytest.approx(0.4, rel=1e-12)
    assert rmse(f, o, w).attrs["units"] == "degC"
    assert mse(f, o, w).attrs["units"] == "(degC)^2"


def test_equal_weights_on_the_ocean_and_none() -> None:
    f, o, w = _paper_case()
    ones = (w > 0).astype(float)  # equal weights, land still out
    # errors 1, 2, −1 -> MSE 6/3, MAE 4/3, bias 2/3
    assert one(mse(f, o, ones)) == pytest.approx(2.0)
    assert one(mae(f, o, ones)) == pytest.approx(4 / 3)
    assert one(bias(f, o, ones)) == pytest.approx(2 / 3)
    # weights=None: every finite pair counts equally, the "land" cell too (its truth is finite)
    # errors 1, 2, 40, −1, 40 -> MSE (1 + 4 + 1600 + 1 + 1600) / 5
    assert one(mse(f, o, None)) == pytest.approx(3206 / 5)
    o_land = o.where(o["lat"] != 30.0)
    assert one(mse(f, o_land, None)) == pytest.approx(2.0)


def test_nan_and_inf_never_propagate() -> None:
    f, o, w = _paper_case()
    f = f.copy()
    f[1, 0, 0, 0] = np.inf  # init 1, lat 0: the only valid pair of init 1
    # only init 0 is left: (4/3·1 + 2/3·4) / 2 = 2
    assert one(mse(f, o, w)) == pytest.approx(2.0)
    assert one(bias(f, o, w)) == pytest.approx((4 / 3 + 4 / 3) / 2)
    w_nan = w.copy()
    w_nan[1, 0] = np.nan  # a NaN weight counts as zero
    assert one(mse(f, o, w_nan)) == pytest.approx(1.0)
    # nothing valid at all -> NaN, no warning
    with np.testing.assert_no_warnings():
        assert np.isnan(one(mse(f, o * np.nan, w)))


def test_reduce_over_chosen_dims() -> None:
    f, o, w = _paper_case()
    per_init = mse(f, o, w, dims=("lat", "lon"))
    assert set(per_init.dims) == {"init_time", "lead_time"}
    # init 0: (4/3 + 8/3) / 2 = 2; init 1: (4/3) / (4/3) = 1
    np.testing.assert_allclose(per_init.transpose("init_time", "lead_time").values, [[2.0], [1.0]])
    assert one(mse(f, o, w, dims="lat").isel(init_time=1).squeeze()) == pytest.approx(1.0)
    with pytest.raises(SstcastError, match="not dims of the forecast"):
        mse(f, o, w, dims=("member",))


def test_per_init_mse_pools_back_to_mse() -> None:
    f, o, w = _paper_case()
    m = per_init_mse(f, o, w)
    assert set(m.dims) == {"init_time", "lead_time"}
    np.testing.assert_allclose(m.squeeze().values, [2.0, 1.0])
    np.testing.assert_allclose(m["weight"].squeeze().values, [2.0, 4 / 3])
    pooled = (m * m["weight"]).sum("init_time") / m["weight"].sum("init_time")
    np.testing.assert_allclose(pooled.values, mse(f, o, w).values, rtol=1e-14)
    sums = per_init_sums(f, o, w)
    np.testing.assert_allclose(sums["sse"].squeeze().values, [4.0, 4 / 3])

    t = mock_truth(n_init=6, n_lead=3)
    fc = mock_forecast(t)
    wt = area_weights(t["lat"], t["mask"])
    m = per_init_mse(fc["sst"], t["sst"], wt)
    pooled = (m * m["weight"]).sum("init_time") / m["weight"].sum("init_time")
    xr.testing.assert_allclose(
        pooled.drop_vars("weight", errors="ignore"), mse(fc["sst"], t["sst"], wt), rtol=1e-13
    )


def test_per_cell_rmse() -> None:
    f, o, _ = _paper_case()
    r = per_cell_rmse(f, o)
    assert set(r.dims) == {"lead_time", "lat", "lon"}
    # lat 0: errors ±1 -> 1; lat 60: one error of 2 -> 2; lat 30: 40, 40 -> 40
    np.testing.assert_allclose(r.squeeze().values, [1.0, 2.0, 40.0])
    nothing = per_cell_rmse(f, o.where(o["lat"] != 30.0))
    assert np.isnan(nothing.sel(lat=30.0)).all()
    over_all = per_cell_rmse(f, o, dims=("init_time", "lead_time"))
    assert set(over_all.dims) == {"lat", "lon"}


def test_inputs_must_be_aligned() -> None:
    f, o, w = _paper_case()
    shifted = o.assign_coords(lat=o["lat"] + 0.01)
    with pytest.raises(SstcastError, match="not aligned") as info:
        mse(f, shifted, w)
    assert "\n" not in str(info.value)
    other_grid = w.rename(lat="y", lon="x")
    with pytest.raises(SstcastError, match="weights has dims"):
        mse(f, o, other_grid)
    with pytest.raises(SstcastError, match="climatology has dims"):
        acc(f, o, other_grid, w)
    with pytest.raises(SstcastError, match="truth must be an xarray DataArray"):
        mse(f, o.values, w)  # type: ignore[arg-type]


def test_float32_dask_and_dims_order() -> None:
    t = mock_truth(n_init=5)
    fc = mock_forecast(t)
    w = area_weights(t["lat"], t["mask"])
    f32, o32 = fc["sst"], t["sst"]
    assert f32.dtype == np.float32
    expected = mse(f32.astype(np.float64), o32.astype(np.float64), w)
    xr.testing.assert_identical(mse(f32, o32, w), expected)
    lazy = mse(f32.chunk({"init_time": 2}), o32.chunk({"init_time": 2}), w)
    xr.testing.assert_allclose(lazy.compute(), expected, rtol=1e-14)
    transposed = mse(f32.transpose("lon", "lat", "lead_time", "init_time"), o32, w)
    xr.testing.assert_allclose(transposed, expected, rtol=1e-14)


def test_acc_by_hand_per_init_then_mean() -> None:
    """Init 0: f' = (1, 2), o' = (2, 1); init 1: f' = o' = (1, −1); climatology 0."""
    dims = ("init_time", "lat", "lon")
    coords = {"init_time": [0, 1], "lat": [0.0, 60.0], "lon": [0.0]}
    f = xr.DataArray(np.array([[1.0, 2.0], [1.0, -1.0]]).reshape(2, 2, 1), dims=dims, coords=coords)
    o = xr.DataArray(np.array([[2.0, 1.0], [1.0, -1.0]]).reshape(2, 2, 1), dims=dims, coords=coords)
    clim = xr.zeros_like(o.isel(init_time=0, drop=True))
    # equal weights: init 0 = (2 + 2) / sqrt(5 · 5) = 0.8, init 1 = 1 -> mean 0.9
    assert one(acc(f, o, clim)) == pytest.approx(0.9, rel=1e-12)
    # weights 4/3, 2/3: init 0 = (8/3 + 4/3) / sqrt((4/3 + 8/3)(16/3 + 2/3)) = 4 / sqrt(24)
    w = xr.DataArray(
        [[4 / 3], [2 / 3]], dims=("lat", "lon"), coords={"lat": [0.0, 60.0], "lon": [0.0]}
    )
    assert one(acc(f, o, clim, w)) == pytest.approx((4 / np.sqrt(24) + 1.0) / 2, rel=1e-12)
    # uncentred: a shift of both anomalies changes the score (it is not a Pearson correlation)
    assert one(acc(f + 5, o + 5, clim)) != pytest.approx(one(acc(f, o, clim)))
    # an init with no valid pair is skipped, not NaN for the whole mean
    o_gap = o.where(o["init_time"] == 0)
    assert one(acc(f, o_gap, clim)) == pytest.approx(0.8, rel=1e-12)


def test_acc_perfect_and_sign_flipped() -> None:
    t = mock_truth(n_init=6, n_lead=3)
    clim = mock_climatology(t)
    w = area_weights(t["lat"], t["mask"])
    truth = t["sst"]
    perfect = acc(truth, truth, clim, w)
    assert perfect.dims == ("lead_time",)
    np.testing.assert_allclose(perfect.values, 1.0, rtol=1e-12)
    flipped = 2 * clim - truth  # anomaly −o'
    np.testing.assert_allclose(acc(flipped, truth, clim, w).values, -1.0, rtol=1e-12)
    # a noisy forecast is in between, and the named dims can be given explicitly
    fc = mock_forecast(t, error_std=0.3)["sst"]
    score = acc(fc, truth, clim, w, dims=("lat", "lon"), init_dim="init_time")
    assert ((score > 0) & (score < 1)).all()
    with pytest.raises(SstcastError, match="spatial dims"):
        acc(fc, truth, clim, w, dims=("init_time", "lat", "lon"))


def test_skill_score() -> None:
    assert skill_score(1.0, 4.0) == pytest.approx(0.75)
    assert skill_score(4.0, 4.0) == pytest.approx(0.0)
    assert skill_score(8.0, 4.0) == pytest.approx(-1.0)
    assert np.isnan(skill_score(1.0, 0.0))
    model = xr.DataArray([1.0, 2.0, 3.0], dims="lead_time")
    ref = xr.DataArray([2.0, 2.0, 0.0], dims="lead_time")
    np.testing.assert_allclose(skill_score(model, ref).values, [0.5, 0.0, np.nan])
    np.testing.assert_allclose(skill_score(np.array([1.0, 3.0]), np.array([2.0, 4.0])), [0.5, 0.25])


def test_gain_captured() -> None:
    # reference 4, model 2, bound 1: (4 − 2) / (4 − 1) = 2/3
    assert gain_captured(2.0, 4.0, 1.0) == pytest.approx(2 / 3)
    assert gain_captured(1.0, 4.0, 1.0) == pytest.approx(1.0)  # reaches the bound
    assert gain_captured(4.0, 4.0, 1.0) == pytest.approx(0.0)  # no better than the reference
    assert gain_captured(5.0, 4.0, 1.0) == pytest.approx(-1 / 3)
    assert np.isnan(gain_captured(2.0, 4.0, 4.0))  # no attainable gain
    assert np.isnan(gain_captured(2.0, 4.0, 5.0))  # reference below the "bound"
    model = xr.DataArray([2.0, 3.0], dims="lead_time")
    ref = xr.DataArray([4.0, 3.0], dims="lead_time")
    bound = xr.DataArray([1.0, 3.0], dims="lead_time")
    out = gain_captured(model, ref, bound)
    assert isinstance(out, xr.DataArray)
    np.testing.assert_allclose(out.values, [2 / 3, np.nan])
