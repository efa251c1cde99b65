"""Skill-versus-lead-time curves."""

from __future__ import annotations

from pathlib import Path

import pytest

from sstcast.errors import SstcastError
from sstcast.report import lead_time_plot
from tests.report import builders as b
from tests.report.test_maps import assert_not_blank


def test_lead_time_plot(tmp_path: Path) -> None:
    out = lead_time_plot(b.metrics(10), tmp_path / "curves.png")
    assert out == tmp_path / "curves.png"
    image = assert_not_blank(out, min_colours=100)
    assert image.shape[1] > 1.5 * image.shape[0]  # two subplots side by side
    # lead_time_days instead of timedelta64: the same figure, byte for byte
    days = lead_time_plot(b.metrics(10, as_days=True), tmp_path / "days.png")
    assert days.read_bytes() == out.read_bytes()


def test_missing_models_and_metrics_are_skipped(tmp_path: Path) -> None:
    metrics = b.metrics(5).sel(model=["convlstm", "bound"])
    out = lead_time_plot(metrics, tmp_path / "c.png", ("crps", "MAE", "acc"))
    assert_not_blank(out, min_colours=50)


def test_no_metric_to_plot_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SstcastError, match="none of crps in the metrics"):
        lead_time_plot(b.metrics(5), tmp_path / "c.png", ("crps",))
    assert not (tmp_path / "c.png").exists()


def test_sub_daily_leads_in_hours_and_taxibj_references_drawn_as_references(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import matplotlib.axes
    import numpy as np
    import xarray as xr

    from sstcast.report import curves

    labels: list[str] = []
    original = matplotlib.axes.Axes.set_xlabel
    monkeypatch.setattr(
        matplotlib.axes.Axes,
        "set_xlabel",
        lambda self, text, *a, **k: labels.append(text) or original(self, text, *a, **k),
    )
    names = ["stresnet", "persistence", "yesterday", "historical_average"]
    lead = (np.arange(1, 5) * np.timedelta64(30, "m")).astype("m8[ns]")
    value = np.linspace(15, 40, 16).reshape(1, 4, 4)
    metrics = xr.Dataset(
        {"value": (("metric", "model", "lead_time"), value)},
        coords={"metric": ["rmse"], "model": names, "lead_time": lead},
        attrs={"units": "flow count per 30 min"},
    )
    assert_not_blank(lead_time_plot(metrics, tmp_path / "bj.png"), min_colours=50)
    assert labels == ["lead time (hours)"]
    assert {"yesterday", "historical_average"} <= set(curves.BASELINES)
