"""The one reporting path: :mod:`logging` for messages, rich progress bars for long steps.

Library code never prints: it logs to a child of the ``sstcast`` logger
(``logging.getLogger(__name__)``) and draws progress through :func:`progress_bar` or
:func:`track`. The CLI calls :func:`setup_logging` once, which sends those records to stderr
through rich (user text is shown as given: no markup is interpreted in messages), and
:func:`set_progress` with its ``--no-progress`` choice; :func:`progress_setting` switches the
bars of library code on or off for a block (``fit`` turns them off while Lightning draws its
own).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

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


_progress: ContextVar[bool] = ContextVar("sstcast_progress", default=True)
T = TypeVar("T")


def set_progress(enabled: bool) -> None:
    """Draw progress bars (the default) or not, from now on (the CLI's ``--no-progress``)."""
    _progress.set(bool(enabled))


def progress_enabled() -> bool:
    """Whether progress bars are drawn (see :func:`set_progress`, :func:`progress_setting`)."""
    return _progress.get()


@contextlib.contextmanager
def progress_setting(enabled: bool) -> Iterator[None]:
    """Progress bars of library code on or off inside the block, as before after it."""
    token = _progress.set(bool(enabled))
    try:
        yield
    finally:
        _progress.reset(token)


def progress_bar(enabled: bool | None = None, unit: str = "items") -> Progress:
    """A rich progress bar on stderr; ``unit="bytes"`` shows sizes and speed. Disabled bars
    accept the same calls and draw nothing; ``enabled=None`` follows :func:`progress_enabled`."""
    if enabled is None:
        enabled = progress_enabled()
    columns: list[Any] = [TextColumn("{task.description}"), BarColumn()]
    if unit == "bytes":
        columns += [DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn()]
    else:
        columns += [MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn()]
    return Progress(*columns, console=console(), disable=not enabled, transient=False)


def _may_draw() -> bool:
    """Bars only in the main process of rank 0, and never inside another live display
    (DDP children and DataLoader workers stay silent; rich < 14 cannot nest displays)."""
    if multiprocessing.parent_process() is not None:
        return False
    if any(os.environ.get(k, "0") != "0" for k in ("RANK", "LOCAL_RANK", "NODE_RANK")):
        return False
    c = console()
    return not (getattr(c, "_live_stack", None) or getattr(c, "_live", None))


class Tracked(Sequence[T]):
    """A sequence that draws a progress bar each time it is iterated (when there are at
    least ``min_items`` items and bars are on): ``for block in Tracked(blocks, "fit")``.
    A second pass over it is labelled ``(pass 2)``."""

    def __init__(self, items: Sequence[T], description: str, min_items: int = 2) -> None:
        self.items = items
        self.description = description
        self.min_items = min_items
        self.passes = 0

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: Any) -> Any:
        return self.items[index]

    def __iter__(self) -> Iterator[T]:
        self.passes += 1
        if len(self.items) < self.min_items or not progress_enabled() or not _may_draw():
            yield from self.items
            return
        label = self.description + (f" (pass {self.passes})" if self.passes > 1 else "")
        with progress_bar(True) as bar:
            task = bar.add_task(label, total=len(self.items))
            for item in self.items:
                yield item
                bar.advance(task)


def track(items: Sequence[T], description: str, min_items: int = 2) -> Tracked[T]:
    """``items`` with a progress bar while they are iterated (see :class:`Tracked`)."""
    return Tracked(items, description, min_items)


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
