"""The CF history line and the version stamp, shared by cubes, readers and forecasts."""

from __future__ import annotations

import re

from sstcast import cube
from sstcast.utils.provenance import history_line, sstcast_version

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


def test_history_line_names_time_version_and_action() -> None:
    line = history_line("ingest_sst of 2 file(s)")
    assert re.fullmatch(
        rf"{STAMP} sstcast {re.escape(sstcast_version())}: ingest_sst of 2 file\(s\)", line
    )


def test_history_line_with_a_tag_instead_of_the_version() -> None:
    line = history_line("3 flow file(s) merged", tag="open_taxibj")
    assert re.fullmatch(rf"{STAMP} sstcast open_taxibj: 3 flow file\(s\) merged", line)


def test_cube_keeps_the_old_names() -> None:
    assert cube.history_line is history_line
    assert cube.sstcast_version is sstcast_version
