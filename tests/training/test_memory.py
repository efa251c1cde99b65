"""Training-step memory: measured before training, a step that cannot fit is one line
(sstcast/training/memory.py, sstcast/utils/memory.py)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader
from typer.testing import CliRunner

from sstcast.cli import app
from sstcast.errors import SstcastError
from sstcast.training import fit
from sstcast.training.memory import (
    PEAK_FACTOR,
    PEAK_OVERHEAD,
    StepMemory,
    check_step_memory,
    measure_step_memory,
    out_of_memory_error,
    saved_for_backward,
)
from sstcast.training.module import ForecastModule
from sstcast.utils.memory import cgroup_free_bytes, human_bytes
from tests.builders import tiny_pipeline_dict, write_pipeline, write_tiny_cube

MiB = 2**20
GiB = 2**30


@pytest.fixture(scope="module")
def cube(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_cube(tmp_path_factory.mktemp("cube") / "tiny.zarr")


def test_saved_tensors_are_counted_once_each_and_parameters_apart() -> None:
    x = torch.randn(2, 4, requires_grad=True)  # 32 bytes
    w = torch.randn(3, 4, requires_grad=True)
    # linear keeps x and w; sigmoid keeps its (2, 3) output: 24 bytes
    assert saved_for_backward(lambda: torch.sigmoid(x @ w.T), exclude=[w]) == 32 + 24
    assert saved_for_backward(lambda: x * x) == 32  # one storage kept twice
    with torch.no_grad():
        assert saved_for_backward(lambda: torch.sigmoid(x @ w.T)) == 0


def _module() -> ForecastModule:
    return ForecastModule(
        task="sst",
        model="convlstm",
        preset="tiny",
        model_kwargs={"in_channels": 1, "extra_channels": 0},
        signature={},
        n_out=3,
        optim={"name": "adam", "lr": 1e-3},
        schedule={"name": "constant"},
    )


def test_one_sample_measures_what_a_batch_keeps_per_sample() -> None:
    module = _module().train()
    gen = torch.Generator().manual_seed(0)

    def batch(n: int) -> dict[str, torch.Tensor]:
        return {
            "x": torch.randn(n, 4, 1, 6, 7, generator=gen),
            "y": torch.randn(n, 3, 1, 6, 7, generator=gen),
            "mask": torch.ones(n, 6, 7),
        }

    def cat(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        return {k: torch.cat([it[k] for it in items]) for k in items[0]}

    loader = DataLoader([batch(1) for _ in range(3)], batch_size=2, collate_fn=cat)
    need = measure_step_memory(module, loader, torch.device("cpu"), bf16=False)
    n_params = sum(p.numel() for p in module.parameters())
    assert need is not None and need.state == 4 * 4 * n_params  # weights, grads, 2 moments
    params = list(module.parameters())
    eight = saved_for_backward(lambda: module.training_loss(batch(8))[0], params)
    assert 0.95 * 8 * need.per_sample <= eight <= 8 * need.per_sample
    assert need.at_least(8) == need.state + 8 * need.per_sample
    assert need.at_most(8) >= need.state + PEAK_OVERHEAD + PEAK_FACTOR * 8 * need.per_sample


def test_a_step_that_fits_passes_and_names_its_needs() -> None:
    need = StepMemory(per_sample=100 * MiB, state=50 * MiB)
    summary, warning = check_step_memory(need, 16, 8 * GiB, "model m (preset p)")
    assert warning is None
    assert summary == (
        "a training step of 16 samples needs 1.6 GiB to 3.4 GiB (100 MiB per sample kept "
        "for the backward pass); 8.0 GiB is free"
    )


def test_a_step_that_may_not_fit_warns_with_a_batch_size_that_does() -> None:
    need = StepMemory(per_sample=100 * MiB, state=50 * MiB)
    _, warning = check_step_memory(need, 16, 2 * GiB, "model m (preset p)")
    assert warning is not None and "may run out of memory" in warning
    fits = (2 * GiB - 50 * MiB - PEAK_OVERHEAD) // (PEAK_FACTOR * 100 * MiB)  # 8
    assert f"--batch-size {int(fits)} or less" in warning
    assert need.at_most(int(fits)) <= 2 * GiB < need.at_most(int(fits) + 1)


def test_a_step_that_cannot_fit_is_one_line() -> None:
    need = StepMemory(per_sample=880 * MiB, state=1 * MiB)
    with pytest.raises(SstcastError) as err:
        check_step_memory(need, 64, 20 * GiB, "model sam_convlstm (preset default)")
    text = str(err.value)
    assert "\n" not in text
    assert text.startswith("model sam_convlstm (preset default): a training step of 64 samples")
    assert "needs at least 55.0 GiB" in text and "use --batch-size 11 or less" in text
    with pytest.raises(SstcastError, match="even one sample does not fit"):
        check_step_memory(need, 4, 512 * MiB, "model m (preset p)")


def test_processes_on_one_host_share_its_memory() -> None:
    need = StepMemory(per_sample=100 * MiB, state=0)
    summary, warning = check_step_memory(need, 8, 4 * GiB, "m", processes=1)
    assert warning is None
    summary, warning = check_step_memory(need, 8, 4 * GiB, "m", processes=4)
    assert "in each of 4 processes" in summary and "needs 3.1 GiB to " in summary
    assert warning is not None and "--batch-size 3 or less" in warning


def test_a_run_whose_step_cannot_fit_stops_before_any_run_folder(
    cube: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fit_mod = importlib.import_module("sstcast.training.fit")  # the module, not the function
    monkeypatch.setattr(fit_mod, "free_bytes", lambda device: 1000)
    pipe = write_pipeline(tmp_path / "tiny.yaml", tiny_pipeline_dict(cube, epochs=1))
    with pytest.raises(SstcastError, match=r"model convlstm \(preset tiny\): a training step"):
        fit(pipe, out=tmp_path / "runs", progress=False)
    assert not (tmp_path / "runs").exists()
    result = CliRunner().invoke(
        app, ["train", "--pipeline", str(pipe), "--out", str(tmp_path / "runs"), "--no-progress"]
    )
    assert result.exit_code == 1
    assert "error: model convlstm (preset tiny): a training step of 16 samples" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()


def test_the_run_log_names_the_step_memory(cube: Path, tmp_path: Path, caplog) -> None:
    pipe = write_pipeline(tmp_path / "tiny.yaml", tiny_pipeline_dict(cube, epochs=1))
    with caplog.at_level("INFO", logger="sstcast"):
        result = fit(pipe, out=tmp_path / "runs", progress=False)
    assert "  memory  a training step of 16 samples needs" in caplog.text
    assert "memory  a training step" in (result.run_dir / "train.log").read_text()


@pytest.mark.parametrize(
    ("error", "where"),
    [
        (torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB"), "GPU"),
        (
            RuntimeError(
                "[enforce fail at alloc_cpu.cpp:121] DefaultCPUAllocator: can't allocate "
                "memory: you tried to allocate 68719476736 bytes"
            ),
            "host",
        ),
    ],
)
def test_running_out_of_memory_in_training_is_one_line(
    cube: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception, where: str
) -> None:
    def fail(self, batch, batch_idx):
        raise error

    monkeypatch.setattr(ForecastModule, "training_step", fail)
    pipe = write_pipeline(tmp_path / "tiny.yaml", tiny_pipeline_dict(cube, epochs=1))
    with pytest.raises(SstcastError) as err:
        fit(pipe, out=tmp_path / "runs", progress=False)
    assert str(err.value) == (
        f"model convlstm (preset tiny): out of {where} memory in a training step of 16 "
        "samples: lower --batch-size, or use a smaller preset or region"
    )


def test_a_sample_too_big_to_measure_is_one_line(
    cube: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 80.00 GiB")

    fit_mod = importlib.import_module("sstcast.training.fit")
    monkeypatch.setattr(fit_mod, "measure_step_memory", fail)
    pipe = write_pipeline(tmp_path / "tiny.yaml", tiny_pipeline_dict(cube, epochs=1))
    with pytest.raises(SstcastError) as err:
        fit(pipe, out=tmp_path / "runs", progress=False)
    assert str(err.value) == (
        "model convlstm (preset tiny): out of GPU memory in a training step of 1 sample: "
        "use a smaller preset or region"
    )
    assert not (tmp_path / "runs").exists()


def test_other_runtime_errors_are_not_taken_for_memory() -> None:
    assert out_of_memory_error(RuntimeError("shapes cannot be multiplied"), "m", 4) is None
    assert out_of_memory_error(ValueError("can't allocate memory"), "m", 4) is None


def _cgroup(tmp_path: Path, line: str, files: dict[str, str]) -> tuple[Path, Path]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    proc = tmp_path / "proc_cgroup"
    proc.write_text(line + "\n")
    root = tmp_path / "cgroup"
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text + "\n")
    return root, proc


def test_cgroup_v2_limit_of_the_group_or_a_parent_caps_free_memory(tmp_path: Path) -> None:
    root, proc = _cgroup(
        tmp_path,
        "0::/slurm/job_7/step_0",
        {
            "slurm/job_7/step_0/memory.max": "max",
            "slurm/job_7/step_0/memory.current": str(1 * GiB),
            "slurm/job_7/memory.max": str(8 * GiB),
            "slurm/job_7/memory.current": str(3 * GiB),
        },
    )
    assert cgroup_free_bytes(root, proc) == 5 * GiB


def test_cgroup_v1_limit_and_no_limit(tmp_path: Path) -> None:
    root, proc = _cgroup(
        tmp_path,
        "4:memory:/docker/abc",
        {
            "memory/docker/abc/memory.limit_in_bytes": str(4 * GiB),
            "memory/docker/abc/memory.usage_in_bytes": str(1 * GiB),
        },
    )
    assert cgroup_free_bytes(root, proc) == 3 * GiB
    root, proc = _cgroup(
        tmp_path / "none",
        "0::/user.slice",
        {"user.slice/memory.max": "max", "user.slice/memory.current": "100"},
    )
    assert cgroup_free_bytes(root, proc) is None
    assert cgroup_free_bytes(tmp_path / "absent", tmp_path / "absent_proc") is None


def test_sizes_read_as_people_write_them() -> None:
    assert human_bytes(13.75 * GiB) == "13.8 GiB"
    assert human_bytes(880 * MiB) == "880 MiB"
    assert human_bytes(2.4 * MiB) == "2.4 MiB"
