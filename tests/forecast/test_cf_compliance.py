"""Both forecast layouts pass the IOOS compliance checker's CF-1.8 suite without an issue.

Runs the checker's Python API (what ``cchecker.py --test=cf:1.8 FILE`` runs) offline: the
file names the standard name table the checker ships, and downloads are made to fail fast
in case an installed checker ships another one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sstcast.forecast import mock_forecast, write_forecast

pytest.importorskip("compliance_checker")


def _no_download(*args: object, **kwargs: object) -> None:
    raise OSError("offline test: no standard name table download")


def cf_report(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """The cf:1.8 JSON report of ``path`` (strict criteria) plus the runner's verdicts."""
    from compliance_checker.cf import util as cf_util
    from compliance_checker.runner import CheckSuite, ComplianceChecker

    monkeypatch.setattr(cf_util, "download_cf_standard_name_table", _no_download)
    CheckSuite.load_all_available_checkers()
    out = tmp_path / "report.json"
    passed, errors = ComplianceChecker.run_checker(
        str(path), ["cf:1.8"], 1, "strict", output_filename=str(out), output_format="json"
    )
    report = json.loads(out.read_text())["cf:1.8"]
    report["passed"], report["checker_errors"] = passed, errors
    return report


def _failures(results: list[dict]) -> list[str]:
    return [f"{r['name']}: {r['msgs']}" for r in results if r["value"][0] != r["value"][1]]


@pytest.mark.filterwarnings("ignore:The ioos_sos checker is deprecated:DeprecationWarning")
@pytest.mark.parametrize("kind", ["sst", "taxibj"])
def test_cf_checker_finds_no_issue(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mock = mock_forecast(kind, n_init=3, n_lead=3, shape=(3, 4))
    path = write_forecast(mock, tmp_path / f"{kind}.nc", block_size=2)
    report = cf_report(path, tmp_path, monkeypatch)
    assert _failures(report["high_priorities"]) == []
    assert _failures(report["medium_priorities"]) == []
    assert _failures(report["low_priorities"]) == []
    # every check ran (a check that raises, e.g. on a string coordinate, scores nothing)
    assert report["checker_errors"] is False
    assert report["passed"] is True
    assert report["scored_points"] == report["possible_points"]
    names = {r["name"] for r in report["high_priorities"]}
    assert "§1.2 Terminology" in names and "§4.4 Time Coordinate" in names
