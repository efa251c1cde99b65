"""DDP on CPU: two gloo processes (ddp_spawn) train one run on disjoint shares of the data."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from lightning.pytorch.callbacks import Callback

from sstcast.training import fit
from tests.builders import tiny_pipeline_dict, write_pipeline, write_tiny_cube


class RecordWindows(Callback):
    """Each rank writes the window indices of its training batches to rank<k>.json."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.seen: list[int] = []

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        self.seen.extend(int(i) for i in batch["index"])

    def on_train_end(self, trainer, module) -> None:
        path = self.folder / f"rank{trainer.global_rank}.json"
        path.write_text(json.dumps({"world": trainer.world_size, "seen": self.seen}))


def test_ddp_two_cpu_processes_see_disjoint_data(tmp_path: Path) -> None:
    cube = write_tiny_cube(tmp_path / "tiny.zarr", days=560)
    data = tiny_pipeline_dict(
        cube, epochs=1, limit_train_batches=3, limit_val_batches=2, batch_size=8
    )
    pipe = write_pipeline(tmp_path / "tiny.yaml", data)
    result = fit(
        pipe,
        out=tmp_path / "runs",
        devices=2,
        strategy="ddp_spawn",
        progress=False,
        callbacks=[RecordWindows(tmp_path)],
    )
    ranks = [json.loads((tmp_path / f"rank{k}.json").read_text()) for k in (0, 1)]
    assert [r["world"] for r in ranks] == [2, 2]
    seen0, seen1 = set(ranks[0]["seen"]), set(ranks[1]["seen"])
    assert len(ranks[0]["seen"]) == len(ranks[1]["seen"]) == 3 * 8
    assert not seen0 & seen1  # DistributedSampler: each rank its own windows
    # One run directory, written once, with metrics reduced over both ranks.
    assert (result.run_dir / "checkpoints" / "last.ckpt").exists()
    with open(result.run_dir / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1 and float(rows[0]["val_rmse"]) > 0
