"""From cubes to torch: leak-free time splits, normalisation and sequence windows.

ST-ResNet sampling for TaxiBJ lives in :mod:`sstcast.data.stresnet`.
"""

from sstcast.data.normalize import (
    AnomalyNormalizer,
    MinMaxNormalizer,
    Normalizer,
    ZScoreNormalizer,
    load_normalizer,
    make_normalizer,
    normalizer_from_dataset,
)
from sstcast.data.splits import contiguous_runs, min_gap, time_splits, window_starts
from sstcast.data.windows import WindowDataset, collate_windows, expand_extra, make_loader

__all__ = [
    "AnomalyNormalizer",
    "MinMaxNormalizer",
    "Normalizer",
    "WindowDataset",
    "ZScoreNormalizer",
    "collate_windows",
    "contiguous_runs",
    "expand_extra",
    "load_normalizer",
    "make_loader",
    "make_normalizer",
    "min_gap",
    "normalizer_from_dataset",
    "time_splits",
    "window_starts",
]
