"""The one reporting path: :mod:`logging` for messages, rich progress bars for long steps.

Library code never prints: it logs to a child of the ``sstcast`` logger
(``logging.getLogger(__name__)``) and draws progress through :func:`progress_bar`. The CLI
calls :func:`setup_logging` once, which sends those records to stderr through rich (user
text is shown as given: no markup is interpreted in messages).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

ROOT = "sstcast"
_console: Console | None = None


def console() -> Console:
    """The stderr console shared by the log handler and every progress bar."""
    global _console
    if _console is None:
        _console = Console(stderr=True, highlight=False, soft_wrap=True)
    return _console


class _PlainRich(logging.Handler):
    """Writes each record's message on the shared console: warnings prefixed, no markup."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.levelno >= logging.WARNING and not message.startswith(("warning", "note")):
                message = f"warning: {message}"
            console().print(message, markup=False, highlight=False, soft_wrap=True)
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)


def setup_logging(level: int = logging.INFO) -> None:
    """Show sstcast's log records at ``level`` and above on stderr (idempotent)."""
    logger = logging.getLogger(ROOT)
    logger.setLevel(level)
    if not any(isinstance(h, _PlainRich) for h in logger.handlers):
        logger.addHandler(_PlainRich())
    logger.propagate = False


def progress_bar(enabled: bool = True, unit: str = "items") -> Progress:
    """A rich progress bar on stderr; ``unit="bytes"`` shows sizes and speed. Disabled bars
    accept the same calls and draw nothing."""
    columns: list[Any] = [TextColumn("{task.description}"), BarColumn()]
    if unit == "bytes":
        columns += [DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn()]
    else:
        columns += [MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn()]
    return Progress(*columns, console=console(), disable=not enabled, transient=False)


def hms(seconds: float) -> str:
    """A duration for people: ``0.42 s``, ``3m07s``, ``2h05m00s``."""
    if seconds < 60:
        return f"{seconds:.2g} s" if seconds < 10 else f"{seconds:.0f} s"
    seconds = round(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


class _Buffer(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def run_log() -> Iterator[Callable[[Path], None]]:
    """Keep sstcast's log records of a command and, once its output folder is known, write
    them (and every later one) to a file there: ``with run_log() as to_file: ...;
    to_file(run_dir / "train.log")``. Info records are kept even when the caller shows only
    warnings."""
    logger = logging.getLogger(ROOT)
    level = logger.level
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    buffer = _Buffer()
    logger.addHandler(buffer)
    handlers: list[logging.Handler] = [buffer]

    def to_file(path: Path) -> None:
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        for record in buffer.records:
            handler.emit(record)
        logger.removeHandler(buffer)
        logger.addHandler(handler)
        handlers.append(handler)

    try:
        yield to_file
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
            handler.close()
        logger.setLevel(level)
