"""Forecast, skill and TaxiBJ maps: names, panels, errors, determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from sstcast.errors import SstcastError
from sstcast.report import DPI, flow_maps, forecast_maps, map_filename, skill_map
from sstcast.report._figure import lead_days, pick_inits, pick_leads
from tests.report import builders as b

#: Natural Earth scale for most tests: 50m reads fastest (the default, auto, is tested once).
NE = "50m"
#: Widths (pixels) that tell a three-panel map from a forecast-only one.
THREE_PANELS = 11.0 * DPI
ONE_PANEL = 7.0 * DPI


def assert_not_blank(path: Path, min_colours: int = 150) -> np.ndarray:
    """The PNG exists, is not one flat colour and has many distinct colours."""
    assert path.is_file(), path
    image = imread(path)[..., :3]
    assert image.std() > 0.05, f"{path.name} looks blank"
    rgb = (image.reshape(-1, 3) * 255).round().astype(np.uint32)
    colours = np.count_nonzero(np.bincount(rgb[:, 0] << 16 | rgb[:, 1] << 8 | rgb[:, 2]))
    assert colours >= min_colours, f"{path.name}: only {colours} colours"
    return image


@pytest.fixture(scope="module")
def small() -> dict:
    """A 6 x 8 Bohai-like grid at 0.5°, truth for March 2021 and a 5-day forecast."""
    lat, lon = b.grid(38.0, 41.0, 118.0, 122.0, 0.5)
    land = b.simple_land(lat, lon)
    times = pd.date_range("2021-02-25", "2021-03-14", freq="D")
    return {
        "lat": lat,
        "lon": lon,
        "land": land,
        "truth": b.truth(lat, lon, times, land),
        "forecast": b.forecast(lat, lon, ["2021-03-01", "2021-03-02"], 5, land),
    }


def test_three_panel_maps_default_leads(small: dict, tmp_path: Path) -> None:
    paths = forecast_maps(small["forecast"], small["truth"], tmp_path)  # resolution auto
    assert [p.name for p in paths] == [  # the default leads (1, 5, 10) the file has
        "map_sst_init20210301_lead01d.png",
        "map_sst_init20210301_lead05d.png",
    ]
    for path in paths:
        image = assert_not_blank(path)
        assert image.shape[1] > THREE_PANELS  # forecast | observed | error
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)


def test_truth_none_draws_forecast_only(small: dict, tmp_path: Path) -> None:
    paths = forecast_maps(small["forecast"], None, tmp_path, leads=[5], resolution=NE)
    assert [p.name for p in paths] == ["map_sst_init20210301_lead05d.png"]
    assert assert_not_blank(paths[0]).shape[1] < ONE_PANEL


def test_unverified_valid_time_draws_forecast_only(small: dict, tmp_path: Path) -> None:
    truth = small["truth"].sel(time=slice(None, "2021-03-04"))  # has lead 2, not lead 5
    paths = forecast_maps(small["forecast"], truth, tmp_path, leads=[5], resolution=NE)
    assert assert_not_blank(paths[0]).shape[1] < ONE_PANEL


def test_inits_all_leads_none_and_reproducible_bytes(small: dict, tmp_path: Path) -> None:
    fc = small["forecast"].isel(lead_time=[4])
    paths = forecast_maps(fc, None, tmp_path / "a", inits="all", leads=None, resolution=NE)
    assert [p.name for p in paths] == [
        "map_sst_init20210301_lead05d.png",
        "map_sst_init20210302_lead05d.png",
    ]
    again = forecast_maps(
        fc, None, tmp_path / "b", inits=[np.datetime64("2021-03-02")], leads=[5], resolution=NE
    )
    assert again[0].read_bytes() == paths[1].read_bytes()


def test_default_leads_use_what_the_file_has(small: dict, tmp_path: Path) -> None:
    fc = b.forecast(small["lat"], small["lon"], ["2021-03-01"], 3, small["land"], lead_zero=True)
    assert [p.name for p in forecast_maps(fc, None, tmp_path, resolution=NE)] == [
        "map_sst_init20210301_lead01d.png"
    ]


def test_missing_lead_and_init_are_one_line_errors(small: dict, tmp_path: Path) -> None:
    with pytest.raises(SstcastError, match=r"lead\(s\) 10 d not in .*available: 1 d, 2 d") as err:
        forecast_maps(small["forecast"], small["truth"], tmp_path, leads=[1, 10])
    assert "\n" not in str(err.value)
    with pytest.raises(SstcastError, match=r"init\(s\) 2021-04-01 not in .*2021-03-01, 2021-03-02"):
        forecast_maps(small["forecast"], small["truth"], tmp_path, inits=["2021-04-01"])
    with pytest.raises(SstcastError, match="no variable 'sst_anomaly'"):
        forecast_maps(small["forecast"], None, tmp_path, var="sst_anomaly")
    assert not list(tmp_path.iterdir())


def test_lead_and_init_selection() -> None:
    days = np.array([0.0, 1.0, 2.0, 5.0])
    default = (1, 5, 10)
    assert pick_leads(days, default, "f", default=default) == [1, 3]
    assert pick_leads(np.array([0.0, 2.0]), default, "f", default=default) == [1]
    assert pick_leads(days, None, "f") == [0, 1, 2, 3]
    with pytest.raises(SstcastError, match="10 d"):
        pick_leads(days, [10], "f", default=default)
    times = pd.date_range("2021-03-01", periods=3).values
    assert pick_inits(times, None, "f") == [0]
    assert pick_inits(times, "all", "f") == [0, 1, 2]
    assert pick_inits(times, "2021-03-03", "f") == [2]
    assert pick_inits(times, [pd.Timestamp("2021-03-02"), np.datetime64("2021-03-01")], "f") == [
        1,
        0,
    ]
    ds = b.metrics(3, as_days=True)
    assert lead_days(ds).tolist() == [1.0, 2.0, 3.0]
    assert lead_days(b.metrics(3)).tolist() == [1.0, 2.0, 3.0]


def test_file_names() -> None:
    assert map_filename("sst", "2021-03-01", 5) == "map_sst_init20210301_lead05d.png"
    assert map_filename("sst", "2021-03-01T06", 12) == "map_sst_init20210301T06_lead12d.png"
    assert map_filename("flow", "2016-03-01 08:30", 1 / 48) == (
        "map_flow_init20160301T0830_lead30min.png"
    )


def test_skill_map(small: dict, tmp_path: Path) -> None:
    model, ref = b.rmse_maps(small["lat"], small["lon"], [1, 5, 10], small["land"])
    out = skill_map(model, ref, tmp_path / "skill.png", model="convlstm", resolution=NE)
    assert out == tmp_path / "skill.png"
    assert assert_not_blank(out).shape[1] > THREE_PANELS  # leads 1, 5, 10 side by side
    with pytest.raises(SstcastError, match=r"lead\(s\) 7 d not in"):
        skill_map(model, ref, tmp_path / "bad.png", leads=[7])
    with pytest.raises(SstcastError, match="same lead times and grid"):
        skill_map(model, ref.isel(lat=slice(1, None)), tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists()


def test_taxibj_flow_maps(tmp_path: Path) -> None:
    fc, cube = b.flow_data(n_inits=2, size=8)
    paths = forecast_maps(fc, cube, tmp_path)  # dispatched on the flow layout
    assert [p.name for p in paths] == ["map_flow_init20160301T08_lead30min.png"]
    image = assert_not_blank(paths[0])
    assert image.shape[1] > 1.3 * image.shape[0]  # forecast | observed | error
    alone = flow_maps(fc, None, tmp_path / "alone", inits=["2016-03-01 08:30"], leads=[1])
    assert [p.name for p in alone] == ["map_flow_init20160301T0830_lead30min.png"]
    assert_not_blank(alone[0], min_colours=50)
    with pytest.raises(SstcastError, match="available"):
        flow_maps(fc, cube, tmp_path, leads=[2])


def test_forecast_schema_mocks_are_drawn(tmp_path: Path) -> None:
    schema = pytest.importorskip("sstcast.forecast.schema")
    sst = schema.mock_forecast("sst", n_init=1, n_lead=2, shape=(4, 5))
    paths = forecast_maps(sst, None, tmp_path, resolution=NE)
    assert [p.name for p in paths] == ["map_sst_init20200101_lead01d.png"]
    flow = schema.mock_forecast("taxibj", n_init=1, n_lead=2, shape=(6, 6))
    paths = forecast_maps(flow, None, tmp_path, leads=[2])
    assert [p.name for p in paths] == ["map_flow_init20200101_lead01h.png"]
