"""The error root: every user-facing problem is an :class:`SstcastError` with a one-line message.

The CLI catches this one class, prints the message and exits non-zero; library code never
lets a library's traceback reach a user for a problem with their input.
"""

from __future__ import annotations


class SstcastError(Exception):
    """A user-facing error: the message names the file (or option) and the problem."""


class ConfigError(SstcastError, ValueError):
    """A configuration file or option is missing, unreadable or invalid (names the file)."""


class DataError(SstcastError):
    """Input data that cannot be used: missing, on another grid, or outside a cube's range."""
