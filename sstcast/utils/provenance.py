"""Provenance shared by everything sstcast writes: its version and the CF ``history`` line.

Cubes (:mod:`sstcast.cube`), the TaxiBJ reader and forecast files all stamp what they did
the same way, so one ``history`` attribute reads as one log whichever stage wrote a line.
"""

from __future__ import annotations

import datetime as dt

#: UTC time at the start of a history line (ISO 8601, seconds, ``Z``).
HISTORY_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def sstcast_version() -> str:
    """The installed sstcast version (``"unknown"`` when run from a bare checkout)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sstcast")
    except PackageNotFoundError:
        return "unknown"


def history_line(action: str, *, tag: str | None = None) -> str:
    """One line for the CF ``history`` attribute: ``"<UTC time> sstcast <tag>: <action>"``.

    ``tag`` is the sstcast version unless given (the TaxiBJ reader names itself,
    ``open_taxibj``, instead).
    """
    now = dt.datetime.now(dt.UTC).strftime(HISTORY_TIME_FORMAT)
    return f"{now} sstcast {sstcast_version() if tag is None else tag}: {action}"
