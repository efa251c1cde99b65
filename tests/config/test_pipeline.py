"""Pipeline files: validation, overrides, and bad files answered in one line by `sstcast train`."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from sstcast.cli import app
from sstcast.config import ConfigError, load_pipeline, parse_max_time
from tests.builders import tiny_pipeline_dict, write_pipeline

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


def train(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["train", "--no-progress", *args])
    return result.exit_code, result.output


def one_error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert lines[0].startswith("error: "), output
    return lines[0]


# -- the shipped pipelines --------------------------------------------------------------------
@pytest.mark.parametrize("name", ["bohai", "taxibj"])
def test_shipped_pipelines_load(name: str) -> None:
    pipe = load_pipeline(REPO / "pipelines" / f"{name}.yaml")
    assert pipe.name == name
    assert pipe.task == ("taxibj" if name == "taxibj" else "sst")


def test_bohai_pipeline_is_the_sample_setting() -> None:
    pipe = load_pipeline(REPO / "pipelines" / "bohai.yaml")
    assert (pipe.source, pipe.region) == ("sample_sst", "bohai")
    assert pipe.model.name == "convlstm" and pipe.model.config["residual"] is True
    assert pipe.data.normalization == "anomaly"
    assert set(pipe.data.static_channels) == {"mask", "lat", "lon"}


def test_taxibj_pipeline_is_stresnet_with_external_factors() -> None:
    pipe = load_pipeline(REPO / "pipelines" / "taxibj.yaml")
    assert pipe.source == "sample_taxibj" and pipe.model.name == "stresnet"
    assert (pipe.data.closeness, pipe.data.period, pipe.data.trend) == (3, 1, 1)
    assert pipe.data.external


# -- validation ---------------------------------------------------------------------------------
def test_split_checks(tmp_path: Path) -> None:
    base = tiny_pipeline_dict(tmp_path / "c.zarr")
    cases = {
        "overlap": (
            {
                "train": ["2010-01-01", "2010-12-31"],
                "val": ["2010-06-01", "2011-01-31"],
                "test": ["2011-02-01", "2011-03-01"],
            },
            "train and val overlap",
        ),
        "reversed": (
            {
                "train": ["2010-12-31", "2010-01-01"],
                "val": ["2011-01-01", "2011-02-01"],
                "test": ["2011-03-01", "2011-04-01"],
            },
            "end 2010-01-01 is before start",
        ),
        "not a date": (
            {
                "train": ["2010-13-01", "2010-12-31"],
                "val": ["2011-01-01", "2011-02-01"],
                "test": ["2011-03-01", "2011-04-01"],
            },
            "not a YYYY-MM-DD date",
        ),
        "mixed": (
            {"train": 0.8, "val": ["2011-01-01", "2011-02-01"], "test": 0.1},
            "all of train/val/test",
        ),
        "sum": ({"train": 0.8, "val": 0.2, "test": 0.1}, "sum to more than 1"),
    }
    for name, (split, message) in cases.items():
        data = {**base, "data": {**base["data"], "split": split}}
        path = write_pipeline(tmp_path / f"{name.replace(' ', '_')}.yaml", data)
        with pytest.raises(ConfigError, match=message):
            load_pipeline(path)


def test_unquoted_yaml_dates_are_accepted(tmp_path: Path) -> None:
    text = yaml.safe_dump(tiny_pipeline_dict(tmp_path / "c.zarr")).replace("'", "")
    path = tmp_path / "p.yaml"
    path.write_text(text)
    assert load_pipeline(path).data.split.train == ("2010-01-01", "2010-12-25")


def test_max_time_forms() -> None:
    assert parse_max_time("00:00:10:00") == timedelta(minutes=10)
    assert parse_max_time(90) == timedelta(minutes=90)
    assert parse_max_time("2.5") == timedelta(minutes=2.5)
    assert parse_max_time(None) is None
    with pytest.raises(ValueError, match="DD:HH:MM:SS"):
        parse_max_time("ten minutes")


def test_overrides_are_validated(tmp_path: Path) -> None:
    pipe = load_pipeline(write_pipeline(tmp_path / "p.yaml", tiny_pipeline_dict(tmp_path / "c")))
    assert pipe.with_overrides({"trainer.epochs": 9}).trainer.epochs == 9
    with pytest.raises(ConfigError, match=r"trainer\.epochs"):
        pipe.with_overrides({"trainer.epochs": 0})


def test_cube_path_relative_to_the_pipeline_file(tmp_path: Path) -> None:
    data = tiny_pipeline_dict(Path("cubes/x.zarr"))
    pipe = load_pipeline(write_pipeline(tmp_path / "p.yaml", data))
    assert pipe.cube_path() == str((tmp_path / "cubes" / "x.zarr").resolve())


# -- bad files through the CLI: exit 1, one line -----------------------------------------------
def test_unknown_key(tmp_path: Path) -> None:
    data = tiny_pipeline_dict(tmp_path / "c.zarr")
    data["trainer"]["epoch"] = 3
    code, out = train("--pipeline", str(write_pipeline(tmp_path / "p.yaml", data)))
    assert code == 1
    assert "trainer.epoch: unknown key" in one_error_line(out)


def test_unknown_model(tmp_path: Path) -> None:
    data = tiny_pipeline_dict(tmp_path / "c.zarr")
    data["model"]["name"] = "transformerzilla"
    code, out = train("--pipeline", str(write_pipeline(tmp_path / "p.yaml", data)))
    line = one_error_line(out)
    assert code == 1 and "unknown model 'transformerzilla'" in line and "convlstm" in line


def test_model_of_the_wrong_kind(tmp_path: Path) -> None:
    path = write_pipeline(tmp_path / "p.yaml", tiny_pipeline_dict(tmp_path / "c.zarr"))
    code, out = train("--pipeline", str(path), "--model", "stresnet")
    assert code == 1 and "needs a sequence model" in one_error_line(out.split("\n", 1)[1])


def test_bad_split_dates(tmp_path: Path) -> None:
    data = tiny_pipeline_dict(tmp_path / "c.zarr")
    data["data"]["split"]["val"] = ["2011-01-01", "2011-02-30"]
    code, out = train("--pipeline", str(write_pipeline(tmp_path / "p.yaml", data)))
    line = one_error_line(out)
    assert code == 1 and "data.split" in line and "2011-02-30" in line


def test_missing_cube_names_the_ingest_command(tmp_path: Path) -> None:
    shutil.copy(REPO / "data_catalog.yaml", tmp_path / "data_catalog.yaml")
    code, out = train(
        "--pipeline",
        str(REPO / "pipelines" / "bohai.yaml"),
        "--catalog",
        str(tmp_path / "data_catalog.yaml"),
    )
    line = one_error_line(out)
    assert code == 1 and "does not exist" in line
    assert "sstcast ingest sample_sst --region bohai" in line


def test_missing_cube_given_in_the_file(tmp_path: Path) -> None:
    path = write_pipeline(tmp_path / "p.yaml", tiny_pipeline_dict(tmp_path / "none.zarr"))
    code, out = train("--pipeline", str(path))
    assert code == 1 and "none.zarr does not exist" in one_error_line(out)


def test_unknown_region(tmp_path: Path) -> None:
    code, out = train("--region", "atlantis")
    line = one_error_line(out)
    assert code == 1 and "atlantis" in line and "bohai" in line


def test_bad_device_and_missing_target() -> None:
    code, out = train("--region", "bohai", "--device", "tpu")
    assert code == 2 and "--device 'tpu'" in one_error_line(out)  # a usage error
    code, out = train()
    assert code == 1 and "--region" in one_error_line(out)


def test_resume_of_nothing(tmp_path: Path) -> None:
    code, out = train("--resume", str(tmp_path / "no_run"))
    assert code == 1 and "no such run directory" in one_error_line(out)


# -- several problems at once ------------------------------------------------------------------
def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    data = tiny_pipeline_dict(tmp_path / "c.zarr")
    data["seed"] = -1
    data["data"]["n_in"] = 0
    data["data"]["split"]["val"] = [1, 2]  # not dates (a union member error each)
    data["trainer"]["epoch"] = 3
    data["trainer"]["max_time"] = "soon"
    data["optim"]["lr"] = -1
    path = write_pipeline(tmp_path / "p.yaml", data)
    with pytest.raises(ConfigError) as err:
        load_pipeline(path)
    first, *problems = str(err.value).splitlines()
    assert first == f"{path}: 6 problems"
    wheres = sorted(p.strip().split(":")[0] for p in problems)
    assert wheres == sorted(
        ["seed", "data.n_in", "data.split.val", "trainer.epoch", "trainer.max_time", "optim.lr"]
    )
    assert any(
        "trainer.epoch: unknown key (did you mean 'epochs'?); valid: " in p for p in problems
    )
    assert any("data.split.val: [1, 2] is not valid" in p for p in problems)
    # through the CLI: exit 1, one error line naming the file, then a line per problem
    code, out = train("--pipeline", str(path))
    lines = [line for line in out.splitlines() if line.strip()]
    assert code == 1 and lines[0] == f"error: {path}: 6 problems" and len(lines) == 7


def test_a_single_problem_stays_one_line(tmp_path: Path) -> None:
    data = tiny_pipeline_dict(tmp_path / "c.zarr")
    data["optim"]["lr"] = 0
    path = write_pipeline(tmp_path / "p.yaml", data)
    with pytest.raises(
        ConfigError, match=r"^\S+p\.yaml: optim\.lr: Input should be greater than 0$"
    ):
        load_pipeline(path)


# -- --set and --print-config ------------------------------------------------------------------
def test_set_values_are_yaml_and_keys_are_checked() -> None:
    from sstcast.config.pipeline import parse_overrides

    assert parse_overrides(
        [
            "optim.lr=1e-3",
            "trainer.batch_size=8",
            "trainer.logger=[csv, tensorboard]",
            "trainer.max_time=null",
            "data.day_of_year=true",
            "model.config.hidden=[8, 16]",  # the model's own options: any key
            "data.split.train=0.5",
        ]
    ) == {
        "optim.lr": 0.001,
        "trainer.batch_size": 8,
        "trainer.logger": ["csv", "tensorboard"],
        "trainer.max_time": None,
        "data.day_of_year": True,
        "model.config.hidden": [8, 16],
        "data.split.train": 0.5,
    }
    cases = {
        "trainer.batchsize=8": "--set trainer.batchsize: unknown key 'batchsize' in trainer "
        "(did you mean 'batch_size'?); valid: epochs, batch_size,",
        "optimiser.lr=1": "--set optimiser.lr: unknown key 'optimiser' at the top level (did you "
        "mean 'optim'?); valid: name, task, source, region, cube, data, model, optim, schedule, "
        "trainer, seed",
        "zzz=1": "--set zzz: unknown key 'zzz' at the top level; valid: name, task,",
        "trainer.epochs.max=1": "--set trainer.epochs.max: trainer.epochs is a value, not a section",
        "optim.lr": "--set 'optim.lr': expected KEY=VALUE",
        "root=/": "--set root: unknown key 'root'",
        "model.config=[1": "--set model.config: '[1' is not a YAML value",
    }
    for item, message in cases.items():
        with pytest.raises(ConfigError) as err:
            parse_overrides([item])
        assert str(err.value).startswith(message), (item, str(err.value))
        assert "\n" not in str(err.value)


def test_print_config_shows_the_resolved_pipeline_and_trains_nothing(tmp_path: Path) -> None:
    path = write_pipeline(tmp_path / "p.yaml", tiny_pipeline_dict(tmp_path / "none.zarr"))
    result = runner.invoke(
        app,
        [
            "train",
            "--pipeline",
            str(path),
            "--set",
            "optim.lr=2e-4",
            "--set",
            "trainer.batch_size=8",
            "--set",
            "model.config.hidden=[6]",
            "--epochs",
            "7",
            "--out",
            str(tmp_path / "runs"),
            "--print-config",
        ],
    )
    assert result.exit_code == 0, result.output
    resolved = yaml.safe_load(result.stdout)
    assert resolved["optim"]["lr"] == 2e-4 and resolved["trainer"]["batch_size"] == 8
    assert resolved["trainer"]["epochs"] == 7 and resolved["model"]["config"]["hidden"] == [6]
    assert resolved["trainer"]["logger"] == ["csv"]  # defaults are spelled out
    assert resolved["cube"] == str((tmp_path / "none.zarr").resolve())
    assert not (tmp_path / "runs").exists()


def test_set_errors_through_the_cli(tmp_path: Path) -> None:
    path = write_pipeline(tmp_path / "p.yaml", tiny_pipeline_dict(tmp_path / "none.zarr"))
    code, out = train("--pipeline", str(path), "--set", "trainer.batchsize=8")
    line = one_error_line(out)
    assert code == 2 and "trainer.batchsize" in line and "batch_size" in line
    code, out = train("--pipeline", str(path), "--set", "trainer.epochs=0", "--print-config")
    assert code == 1 and "trainer.epochs" in one_error_line(out)
