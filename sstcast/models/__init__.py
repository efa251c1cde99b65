"""Forecaster zoo. ``create(name, preset, **config)`` and ``available()``; one file per family.

Importing this package imports every family module so that each registers itself.
"""

from sstcast.models import convlstm, datlstm, predrnn, sa_convlstm, stresnet, swinlstm
from sstcast.models.base import ModelInputError, SequenceForecaster
from sstcast.models.registry import available, create, get_entry, register_model


def is_sequence_model(name: str) -> bool:
    """True for models called as ``model(x, n_out, ...)``; False for ST-ResNet-style ones."""
    return get_entry(name).kind == "sequence"


__all__ = [
    "ModelInputError",
    "SequenceForecaster",
    "available",
    "convlstm",
    "create",
    "datlstm",
    "get_entry",
    "is_sequence_model",
    "predrnn",
    "register_model",
    "sa_convlstm",
    "stresnet",
    "swinlstm",
]
