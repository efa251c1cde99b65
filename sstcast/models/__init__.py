"""Forecaster zoo. ``create(name, preset, **config)`` and ``available()``; one file per family.

Importing this package imports every family module so that each registers itself.
"""

from sstcast.models.registry import available, create, get_entry, register_model

__all__ = ["available", "create", "get_entry", "register_model"]
