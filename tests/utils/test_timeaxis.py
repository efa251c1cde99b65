"""The time-axis step: inferred as a string at ingest, read back as an offset by the data stage."""

from __future__ import annotations

import pandas as pd
import pytest

from sstcast import sources
from sstcast.errors import SstcastError
from sstcast.utils.timeaxis import infer_frequency, step_offset, to_offset


def test_sources_reexports_the_one_inference() -> None:
    assert sources.infer_frequency is infer_frequency


def test_to_offset_reads_what_ingest_writes() -> None:
    for freq in ("1D", "1MS", "30min", "7D"):
        assert to_offset(freq) == pd.tseries.frequencies.to_offset(freq)
    with pytest.raises(SstcastError, match="'every tuesday': not a pandas frequency"):
        to_offset("every tuesday")


def test_step_offset_given_inferred_or_one_day() -> None:
    months = pd.date_range("2010-01-01", periods=14, freq="MS").delete(5)
    assert step_offset(months) == to_offset(infer_frequency(months)) == to_offset("1MS")
    assert step_offset(months, "1D") == to_offset("1D")  # a given step wins
    assert step_offset(months, "irregular") == to_offset("1MS")
    assert step_offset(months[:1]) == to_offset("1D")  # one step: nothing to infer
