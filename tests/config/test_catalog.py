"""Latitude/longitude boxes: one rule for the catalog's regions and the ``--bbox`` option."""

from __future__ import annotations

from pathlib import Path

import pytest

from sstcast.config import ConfigError, load_catalog
from sstcast.config.catalog import check_bbox
from sstcast.ingest import parse_bbox


@pytest.mark.parametrize(
    ("box", "problem"),
    [
        ((40, 30, 100, 110), "need -90 <= south < north <= 90"),
        ((-91, 0, 100, 110), "need -90 <= south < north <= 90"),
        ((0, 10, 100, 100), "west and east must differ, in -180..360"),
        ((0, 10, 100, 361), "west and east must differ, in -180..360"),
    ],
)
def test_bad_boxes_name_where_and_why(box: tuple[float, ...], problem: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"^here: {problem}$"):
        check_bbox(*box, where="here")
    text = ",".join(str(v) for v in box)
    with pytest.raises(ConfigError, match=f"--bbox '{text}': {problem}"):
        parse_bbox(text)
    s, n, w, e = box
    path = tmp_path / "catalog.yaml"
    path.write_text(f"regions:\n  r:\n    lat: [{s}, {n}]\n    lon: [{w}, {e}]\nsources: {{}}\n")
    with pytest.raises(ConfigError, match=f"catalog.yaml: regions.r: .*{problem}"):
        load_catalog(path)


def test_boxes_across_0_or_180_degrees_are_fine() -> None:
    for box in [(0, 10, 350, 10), (0, 10, -10, 10), (20, 23, 170, -170)]:
        check_bbox(*box, where="here")
    assert parse_bbox("20,23,170,-170") == (20.0, 23.0, 170.0, -170.0)
