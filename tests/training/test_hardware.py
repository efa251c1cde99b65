"""Precision and compilation choices of the training loop (sstcast/training/hardware.py)."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch

from sstcast import models
from sstcast.errors import SstcastError
from sstcast.training import hardware
from sstcast.training.hardware import compile_mode, compile_model, select_precision


def test_auto_precision_is_float32_on_the_cpu_and_bf16_is_honoured() -> None:
    assert select_precision("auto", "cpu") == "32-true"
    assert select_precision("32-true", "cpu") == "32-true"
    assert select_precision("bf16-mixed", "cpu") == "bf16-mixed"
    with pytest.raises(SstcastError, match="16-mixed: float16 training needs CUDA"):
        select_precision("16-mixed", "cpu")


def test_bf16_on_a_cpu_without_it_in_hardware_says_so(monkeypatch, caplog) -> None:
    monkeypatch.setattr(hardware, "cpu_has_native_bf16", lambda: False)
    with caplog.at_level("INFO", logger="sstcast.training.hardware"):
        assert select_precision("bf16-mixed", "cpu") == "bf16-mixed"
    assert "no native bfloat16" in caplog.text


def test_compile_settings() -> None:
    assert compile_mode(False) is None
    assert compile_mode(True) == "default"
    assert compile_mode("max-autotune") == "max-autotune"
    model = models.create("convlstm", "tiny", in_channels=1)
    with pytest.raises(SstcastError, match="unknown mode 'fast'"):
        compile_model(model, "fast", "cpu")


def test_no_cpp_compiler_is_one_line(monkeypatch) -> None:
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setattr(hardware.shutil, "which", lambda name: None)
    model = models.create("convlstm", "tiny", in_channels=1)
    with pytest.raises(SstcastError, match="needs a C\\+\\+ compiler"):
        compile_model(model, "default", "cpu")


@pytest.mark.parametrize("name", ["convlstm", "swinlstm_b"])
def test_compiled_steps_give_the_plain_models_forecast_and_keep_its_names(name: str) -> None:
    """Dynamo traces each frame's step (backend ``eager``: the graph capture without code
    generation, so the test stays fast); the forecast, the gradients and the parameter
    names are the plain model's; a copy or a pickle is a plain model again."""
    torch.manual_seed(0)
    plain = models.create(name, "tiny", in_channels=1, extra_channels=1)
    compiled = copy.deepcopy(plain)
    compile_model(compiled, "default", "cpu", backend="eager")
    x, extra = torch.randn(2, 3, 1, 8, 8), torch.randn(2, 5, 1, 8, 8)
    want = plain(x, 2, extra=extra)
    got = compiled(x, 2, extra=extra)
    torch.testing.assert_close(got, want)
    got.square().mean().backward()
    want.square().mean().backward()
    for (n1, p1), (n2, p2) in zip(
        plain.named_parameters(), compiled.named_parameters(), strict=True
    ):
        assert n1 == n2
        if p1.grad is not None:
            torch.testing.assert_close(p2.grad, p1.grad)
    assert list(compiled.state_dict()) == list(plain.state_dict())
    assert compiled._compiled_steps and not copy.deepcopy(compiled)._compiled_steps
    assert not pickle.loads(pickle.dumps(compiled))._compiled_steps


def test_a_one_pass_model_is_compiled_whole() -> None:
    model = models.create("stresnet", "tiny")
    compile_model(model, "default", "cpu", backend="eager")
    assert model._compiled_call_impl is not None


def test_trainer_compile_compiles_the_model_in_the_training_loop(tmp_path, monkeypatch) -> None:
    """``trainer.compile: true`` reaches Lightning's ``configure_model`` hook; the run
    trains and its checkpoint holds the plain parameter names."""
    from sstcast import runs
    from sstcast.training import fit
    from tests.builders import tiny_pipeline_dict, write_pipeline, write_tiny_cube

    calls = []

    def eager_compile(model, mode, device, backend="inductor"):
        calls.append((type(model).__name__, mode, device))
        compile_model(model, mode, device, backend="eager")  # the original function

    monkeypatch.setattr(hardware, "compile_model", eager_compile)
    cube = write_tiny_cube(tmp_path / "cube.zarr")
    data = tiny_pipeline_dict(cube, epochs=1, limit_train_batches=2, limit_val_batches=1)
    data["trainer"]["compile"] = True
    result = fit(write_pipeline(tmp_path / "t.yaml", data), out=tmp_path / "r", progress=False)
    assert calls == [("ConvLSTM", "default", "cpu")]
    names = runs.read_checkpoint(result.last_checkpoint)["state_dict"]
    assert names and not any("_orig_mod" in n for n in names)


@pytest.mark.parametrize(
    ("env", "want"),
    [
        ({}, None),
        ({"LOCAL_RANK": "0", "WORLD_SIZE": "4"}, "torchrun"),
        ({"TORCHELASTIC_RUN_ID": "abc"}, "torchrun"),
        ({"SLURM_PROCID": "3", "SLURM_NTASKS": "8", "SLURM_JOB_NAME": "train"}, "srun"),
        ({"SLURM_PROCID": "0", "SLURM_NTASKS": "1"}, None),  # a one-task job
        ({"SLURM_PROCID": "0", "SLURM_NTASKS": "8", "SLURM_JOB_NAME": "bash"}, None),  # salloc
    ],
)
def test_external_launchers_are_recognised(monkeypatch, env, want) -> None:
    for name in ("LOCAL_RANK", "WORLD_SIZE", "TORCHELASTIC_RUN_ID", "SLURM_PROCID", "SLURM_NTASKS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("SLURM_JOB_NAME", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert hardware.external_launcher() == want


def test_ranks_started_by_a_launcher_need_one_run_folder(tmp_path, monkeypatch) -> None:
    """Under torchrun or srun every process runs ``fit`` from the start: without
    SSTCAST_RUN_DIR each would make its own run folder, so that is a one-line error."""
    from sstcast.training import fit
    from tests.builders import tiny_pipeline_dict, write_pipeline, write_tiny_cube

    monkeypatch.delenv("SSTCAST_RUN_DIR", raising=False)
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    cube = write_tiny_cube(tmp_path / "cube.zarr")
    data = tiny_pipeline_dict(cube, epochs=1)
    data["trainer"].update(devices=2, strategy="ddp")
    with pytest.raises(SstcastError, match=r"torchrun started the 2 processes.*SSTCAST_RUN_DIR"):
        fit(write_pipeline(tmp_path / "t.yaml", data), out=tmp_path / "r", progress=False)
    assert not (tmp_path / "r").exists()
