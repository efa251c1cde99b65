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


def test_every_problem_of_a_catalog_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(
        "regions:\n"
        "  r: {lat: [0, 10], lon: [0, 10], colour: red}\n"
        "  s: {lat: [0, 10]}\n"
        "sources:\n"
        "  a: {kind: grib, files: []}\n"
        "defaults: {}\n"
    )
    with pytest.raises(ConfigError) as err:
        load_catalog(path)
    first, *problems = str(err.value).splitlines()
    assert first == f"{path}: 5 problems"
    assert [p.strip().split(":")[0] for p in problems] == [
        "regions.r.colour",
        "regions.s.lon",
        "sources.a.kind",
        "sources.a.files",
        "defaults",
    ]
    assert "regions.r.colour: unknown key; valid: lat, lon, description" in problems[0]
    assert "regions.s.lon: required (missing)" in problems[1]
    assert "defaults: unknown key (did you mean 'default_source'?)" in problems[4]


def test_every_key_that_is_no_name_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text("regions:\n  1: x\nsources:\n  2: y\n")
    with pytest.raises(ConfigError, match=r"2 problems\n  regions\.1: keys must be names"):
        load_catalog(path)
