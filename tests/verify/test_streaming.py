"""The torch LeadAccumulator gives exactly the scores of sstcast.verify.metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr

from sstcast.errors import SstcastError
from sstcast.verify import area_weights, bias, mae, mse, rmse
from sstcast.verify.streaming import SUM_KEYS, LeadAccumulator, metrics_from_sums

B, L, C, H, W = 6, 4, 1, 5, 7
DIMS = ("init_time", "lead_time", "channel", "lat", "lon")


def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray, xr.DataArray]:
    """Random pred / truth (B, L, C, H, W) with NaN gaps, an inf, land and area weights."""
    rng = np.random.default_rng(seed)
    truth = 15.0 + 3.0 * rng.standard_normal((B, L, C, H, W))
    pred = truth + 0.1 * np.arange(1, L + 1)[None, :, None, None, None] * rng.standard_normal(
        truth.shape
    )
    mask = np.ones((H, W), dtype=np.int8)
    mask[0, :3] = 0
    mask[4, 6] = 0
    truth[:, :, :, mask == 0] = np.nan  # land
    truth[rng.random(truth.shape) < 0.1] = np.nan  # unverified cells
    pred[2, 1, 0, 3, 3] = np.inf
    pred[0, 3, 0, 2, 2] = np.nan
    lat = np.linspace(30.0, 60.0, H)
    weights = area_weights(
        lat, xr.DataArray(mask, dims=("lat", "lon"), coords={"lat": lat, "lon": np.arange(W)})
    )
    return pred, truth, weights


def _xr(values: np.ndarray, weights: xr.DataArray) -> xr.DataArray:
    return xr.DataArray(
        values,
        dims=DIMS,
        coords={"lat": weights["lat"], "lon": weights["lon"], "lead_time": np.arange(L)},
    )


def test_matches_metrics_over_several_batches() -> None:
    pred, truth, weights = _data()
    w = torch.from_numpy(weights.values)
    acc = LeadAccumulator()
    for part in (slice(0, 2), slice(2, 3), slice(3, B)):
        acc.update(torch.from_numpy(pred[part]), torch.from_numpy(truth[part]), w)
    got = acc.compute()
    f, o = _xr(pred, weights), _xr(truth, weights)
    expected = {
        "mse": mse(f, o, weights),
        "rmse": rmse(f, o, weights),
        "mae": mae(f, o, weights),
        "bias": bias(f, o, weights),
    }
    assert set(got) == set(expected)
    for name, value in expected.items():
        assert got[name].dtype == torch.float64 and got[name].shape == (L,)
        np.testing.assert_allclose(got[name].numpy(), value.values, rtol=0, atol=1e-10)
    assert torch.isfinite(got["rmse"]).all()


def test_float32_inputs_and_broadcast_weight() -> None:
    pred, truth, weights = _data(1)
    p32, t32 = pred.astype(np.float32), truth.astype(np.float32)
    acc = LeadAccumulator(n_lead=L)
    acc.update(
        torch.from_numpy(p32), torch.from_numpy(t32), torch.from_numpy(weights.values)[None, None]
    )
    expected = rmse(_xr(p32, weights), _xr(t32, weights), weights)
    np.testing.assert_allclose(acc.compute()["rmse"].numpy(), expected.values, atol=1e-10)


def test_merge_and_sums_for_distributed_use() -> None:
    pred, truth, weights = _data(2)
    w = torch.from_numpy(weights.values)
    whole = LeadAccumulator()
    whole.update(torch.from_numpy(pred), torch.from_numpy(truth), w)
    rank0, rank1 = LeadAccumulator(n_lead=L), LeadAccumulator(n_lead=L)
    rank0.update(torch.from_numpy(pred[:3]), torch.from_numpy(truth[:3]), w)
    rank1.update(torch.from_numpy(pred[3:]), torch.from_numpy(truth[3:]), w)
    idle = LeadAccumulator(n_lead=L)  # a process without batches contributes zeros
    assert set(idle.sums()) == set(SUM_KEYS)
    assert all(float(v.abs().sum()) == 0.0 for v in idle.sums().values())

    # what an all_reduce(sum) would produce
    reduced = {k: rank0.sums()[k] + rank1.sums()[k] + idle.sums()[k] for k in SUM_KEYS}
    for name, value in metrics_from_sums(reduced).items():
        torch.testing.assert_close(value, whole.compute()[name], rtol=0, atol=1e-12)
    merged = LeadAccumulator().merge(rank0).merge(rank1).merge(idle)
    rebuilt = LeadAccumulator.from_sums(reduced)
    for name, value in whole.compute().items():
        torch.testing.assert_close(merged.compute()[name], value, rtol=0, atol=1e-12)
        torch.testing.assert_close(rebuilt.compute()[name], value, rtol=0, atol=1e-12)

    whole.reset()
    assert whole.n_lead == L
    assert torch.isnan(whole.compute()["mse"]).all()  # no valid pair: NaN, not an error


def test_bad_input_is_one_line() -> None:
    acc = LeadAccumulator()
    with pytest.raises(SstcastError, match="no batch yet"):
        acc.compute()
    x = torch.zeros(2, 3, 1, 4, 5)
    with pytest.raises(SstcastError, match=r"\(B, n_lead, C, H, W\)"):
        acc.update(x, x[:, :2], torch.ones(4, 5))
    with pytest.raises(SstcastError, match="does not broadcast"):
        acc.update(x, x, torch.ones(5, 4))
    acc.update(x, x, torch.ones(4, 5))
    with pytest.raises(SstcastError, match="leads"):
        acc.update(x[:, :2], x[:, :2], torch.ones(4, 5))
    with pytest.raises(SstcastError, match="missing sums"):
        metrics_from_sums({"sse": torch.zeros(3)})
