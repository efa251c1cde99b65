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
