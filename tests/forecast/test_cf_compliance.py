"""Both forecast layouts pass the IOOS compliance checker's CF-1.8 suite without an issue.

Runs the checker's Python API (what ``cchecker.py --test=cf:1.8 FILE`` runs) offline: the
file names the standard name table the checker ships, and downloads are made to fail fast
in case an installed checker ships another one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sstcast.forecast import mock_forecast, write_forecast
from tests.forecast.helpers import cf_failures, cf_report

pytest.importorskip("compliance_checker")


@pytest.mark.parametrize("kind", ["sst", "taxibj"])
def test_cf_checker_finds_no_issue(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mock = mock_forecast(kind, n_init=3, n_lead=3, shape=(3, 4))
    path = write_forecast(mock, tmp_path / f"{kind}.nc", block_size=2)
    report = cf_report(path, tmp_path, monkeypatch)
    assert cf_failures(report["high_priorities"]) == []
    assert cf_failures(report["medium_priorities"]) == []
    assert cf_failures(report["low_priorities"]) == []
    # every check ran (a check that raises, e.g. on a string coordinate, scores nothing)
    assert report["checker_errors"] is False
    assert report["passed"] is True
    assert report["scored_points"] == report["possible_points"]
    names = {r["name"] for r in report["high_priorities"]}
    assert "§1.2 Terminology" in names and "§4.4 Time Coordinate" in names
