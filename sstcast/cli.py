"""The ``sstcast`` command line: parses arguments, reports progress, calls library functions.

No science lives here. Every command turns library errors (``SstcastError`` and config
errors) into one red line on stderr and exit code 1.
"""

from __future__ import annotations

import typer
from rich.console import Console

app = typer.Typer(
    name="sstcast",
    help="Gridded SST and crowd-flow data to short-range forecasts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)


def fail(message: str, code: int = 1) -> None:
    """Print one clear error line and exit non-zero."""
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


# Commands are added below, one function each: sample, ingest, train.


if __name__ == "__main__":
    app()
