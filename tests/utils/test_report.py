"""Progress bars: the global switch, track(), and the bars of the normaliser fit and of
loading a split's steps."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from rich.console import Console

from sstcast.utils import report
from tests.builders import tiny_sst_dataset


@pytest.fixture
def screen(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """What the shared stderr console draws, as text (bars on, whatever ran before)."""
    buf = io.StringIO()
    monkeypatch.setattr(report, "_console", Console(file=buf, width=120))
    with report.progress_setting(True):
        yield buf


def test_track_draws_a_bar_per_pass_and_only_when_enabled(screen: io.StringIO) -> None:
    blocks = report.track([1, 2, 3], "fitting things")
    assert list(blocks) == [1, 2, 3] and len(blocks) == 3 and blocks[1] == 2
    assert list(blocks) == [1, 2, 3]
    assert "fitting things" in screen.getvalue() and "3/3" in screen.getvalue()
    assert "fitting things (pass 2)" in screen.getvalue()
    with report.progress_setting(False):
        assert list(report.track([1, 2, 3], "hidden")) == [1, 2, 3]
    assert list(report.track([1], "one block")) == [1]  # nothing to follow
    assert "hidden" not in screen.getvalue() and "one block" not in screen.getvalue()
    assert report.progress_enabled()  # the block's setting is undone after it


def test_set_progress_is_the_default_of_progress_bar(screen: io.StringIO) -> None:
    try:
        report.set_progress(False)
        assert not report.progress_enabled()
        assert report.progress_bar().disable
        assert not report.progress_bar(True).disable  # an explicit choice wins
        assert list(report.track([1, 2], "off")) == [1, 2]
        assert "off" not in screen.getvalue()
    finally:
        report.set_progress(True)
    assert not report.progress_bar().disable


def test_normaliser_fit_and_split_loading_show_progress(
    screen: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sstcast.data import normalize, windows
    from sstcast.data.normalize import make_normalizer
    from sstcast.data.windows import WindowDataset

    ds = tiny_sst_dataset(days=120)
    monkeypatch.setattr(normalize, "_BLOCK_BYTES", 8 * 8 * 10 * 30)  # 30 steps a block
    make_normalizer("anomaly").fit(ds["sst"])
    text = screen.getvalue()
    assert "fitting the normaliser (120 steps)" in text and "4/4" in text
    assert "(pass 2)" in text  # the anomaly normaliser reads the data twice

    monkeypatch.setattr(windows, "_LOAD_BLOCK_BYTES", 8 * 8 * 10 * 20)  # 20 steps a block
    splits = {"train": 0.6, "val": 0.2, "test": 0.2}
    data = WindowDataset(ds, n_in=4, n_out=3, split="train", splits=splits, in_memory=True)
    screen.seek(0)
    screen.truncate(0)
    with report.progress_setting(False):
        WindowDataset(ds, 4, 3, "train", splits, normalizer=data.normalizer, in_memory=True).load()
    assert "loading" not in screen.getvalue()
    data.load()
    assert f"loading the train split ({data._t1 - data._t0} steps)" in screen.getvalue()
