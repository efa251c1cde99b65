"""Command-line conventions: --version, -h, usage errors exit 2, the models listing."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from sstcast import __version__
from sstcast.cli import app

runner = CliRunner()


def test_version_and_short_help() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"sstcast {__version__}"
    result = runner.invoke(app, ["-h"])
    assert result.exit_code == 0
    for command in ("sample", "ingest", "train", "forecast", "evaluate", "maps", "models"):
        assert command in result.stdout


def test_models_lists_every_registry_model_with_counts() -> None:
    from sstcast.models import available

    result = runner.invoke(app, ["models", "--grid", "16x20"])
    assert result.exit_code == 0, result.output
    for name in available():
        assert f"{name}:tiny" in result.stdout and f"{name}:default" in result.stdout
    assert "24,385" in result.stdout  # convlstm:default, the Bohai pipeline's model
    bad = runner.invoke(app, ["models", "--grid", "big"])
    assert bad.exit_code == 2 and "HxW" in bad.stderr


def test_usage_errors_exit_2() -> None:
    result = runner.invoke(app, ["forecast", "--run", "x", "--device", "tpu"])
    assert result.exit_code == 2 and "auto, cpu or cuda" in result.stderr
    result = runner.invoke(app, ["forecast", "--run", "x", "--map-lead", "a,b"])
    assert result.exit_code == 2
    result = runner.invoke(app, ["train", "--device", "tpu", "--region", "bohai"])
    assert result.exit_code == 2


def _bad_inputs(tmp: Path) -> list[tuple[list[str], str]]:
    """(command line, words of the one error line) for files and options that are wrong."""
    import yaml

    good = yaml.safe_load(
        (Path(__file__).resolve().parents[1] / "pipelines" / "bohai.yaml").read_text()
    )

    def pipeline(name: str, change) -> str:
        data = yaml.safe_load(yaml.safe_dump(good))
        change(data)
        path = tmp / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data))
        return str(path)

    import netCDF4
    import numpy as np

    for name, lon, steps in (
        ("empty.nc", [100, 101, 102], 0),
        ("nanlon.nc", [100, np.nan, 102], 2),
    ):
        with netCDF4.Dataset(tmp / name, "w") as nc:
            nc.createDimension("time", None)
            nc.createDimension("lat", 2)
            nc.createDimension("lon", 3)
            t = nc.createVariable("time", "f8", ("time",))
            t.units = "days since 1800-01-01"
            t[:] = np.arange(steps, dtype=float)
            for axis, values, units in (
                ("lat", [10, 11], "degrees_north"),
                ("lon", lon, "degrees_east"),
            ):
                v = nc.createVariable(axis, "f8", (axis,))
                v.units = units
                v[:] = values
            sst = nc.createVariable("sst", "f4", ("time", "lat", "lon"))
            sst.units = "degC"
            sst[:] = np.full((steps, 2, 3), 15.0)
    (tmp / "intkey.yaml").write_text("1: x\n")
    (tmp / "rootkey.yaml").write_text("root: x\ndefault_source: oisst\n")
    (tmp / "binary.yaml").write_bytes(bytes(range(128, 256)))
    (tmp / "folder").mkdir()
    return [
        (["ingest", "--catalog", str(tmp / "intkey.yaml")], "keys must be names"),
        (["ingest", "--catalog", str(tmp / "rootkey.yaml")], "root: unknown key"),
        (["ingest", "--catalog", str(tmp / "binary.yaml")], "not a text file"),
        (["ingest", "--catalog", str(tmp / "folder")], "is a folder"),
        (["train", "--pipeline", str(tmp / "binary.yaml")], "not a text file"),
        (["train", "--pipeline", str(tmp / "folder")], "is a folder"),
        (["train", "--pipeline", pipeline("seed", lambda d: d.update(seed=-1))], "seed"),
        (["train", "--pipeline", pipeline("big", lambda d: d.update(seed=2**40))], "seed"),
        (["train", "--pipeline", pipeline("name", lambda d: d.update(name="../../x"))], "name"),
        (
            [
                "train",
                "--pipeline",
                pipeline("strat", lambda d: d["trainer"].update(strategy="warp")),
            ],
            "trainer.strategy",
        ),
        (
            [
                "train",
                "--pipeline",
                pipeline("lim", lambda d: d["trainer"].update(limit_train_batches=-3)),
            ],
            "limit_train_batches",
        ),
        (
            [
                "train",
                "--pipeline",
                pipeline("t0", lambda d: d["trainer"].update(max_time="00:00:00:00")),
            ],
            "max_time must be positive",
        ),
        (["train", "--pipeline", pipeline("ik", lambda d: d.update({1: 2}))], "keys must be names"),
        (["ingest", "--files", "x.nc", "--out", ""], "--out"),
        (["ingest", "--files", "x.nc", "--bbox", ""], "--bbox"),
        (["ingest", "--files", "x.nc", "--scheduler", "nowhere"], "not a scheduler address"),
        (["forecast", "--run", str(tmp / "folder")], "not a complete run folder"),
        (["ingest", "--files", "sst[red].nc"], "sst[red].nc"),  # user text shown as given
        (
            ["ingest", "--files", str(tmp / "empty.nc"), "--out", "e.zarr"],
            "empty.nc: variable 'sst' has no time steps",
        ),
        (
            ["ingest", "--files", str(tmp / "nanlon.nc"), "--out", "n.zarr"],
            "nanlon.nc: coordinate 'lon'",
        ),
        (
            ["ingest", "--files", str(tmp / "nanlon.nc"), "--out", str(tmp / "binary.yaml")],
            "nanlon.nc",
        ),
        (["evaluate", str(tmp / "binary.yaml")], "binary.yaml"),
        (["maps", str(tmp / "nothing.nc")], "nothing.nc"),
    ]


def test_bad_input_is_one_line_and_never_a_traceback(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    for args, words in _bad_inputs(tmp_path):
        result = runner.invoke(app, args)
        assert result.exit_code in (1, 2), (args, result.output)
        assert "Traceback" not in result.output, (args, result.output)
        assert not isinstance(result.exception, Exception) or isinstance(
            result.exception, SystemExit
        ), (args, repr(result.exception))
        lines = [line for line in result.stderr.splitlines() if line.startswith("error")]
        assert len(lines) == 1, (args, result.stderr)
        assert words in lines[0], (args, lines[0])


def test_a_file_url_output_is_a_local_cube(tmp_path: Path) -> None:
    from sstcast.cube import open_cube
    from tests.builders import DAYS, LAT, LON, write_cf

    src = write_cf(tmp_path / "a.nc", lat=LAT, lon=LON, days=DAYS)
    url = f"file://{tmp_path}/u.zarr"
    result = runner.invoke(app, ["ingest", "--files", str(src), "--out", url])
    assert result.exit_code == 0, result.output
    assert open_cube(url).sizes["time"] == len(DAYS)


def test_an_output_overlapping_the_inputs_is_refused_even_with_force(tmp_path: Path) -> None:
    from tests.builders import DAYS, LAT, LON, write_cf

    raw = tmp_path / "raw"
    raw.mkdir()
    src = write_cf(raw / "a.nc", lat=LAT, lon=LON, days=DAYS)
    for out in (src, raw, tmp_path):
        result = runner.invoke(app, ["ingest", "--files", str(src), "--out", str(out), "--force"])
        assert result.exit_code == 1, result.output
        assert "overlaps the input" in result.stderr or "not an sstcast cube" in result.stderr
        assert src.exists() and src.stat().st_size > 0  # the input is untouched


def test_shell_completion_is_offered_and_completes() -> None:
    result = runner.invoke(app, ["--help"])
    assert "--install-completion" in result.stdout and "--show-completion" in result.stdout
    env = {"_SSTCAST_COMPLETE": "complete_bash", "COMP_WORDS": "sstcast tr", "COMP_CWORD": "1"}
    result = runner.invoke(app, [], env=env, prog_name="sstcast")
    assert result.exit_code == 0 and result.stdout.split() == ["train"]
    env.update(COMP_WORDS="sstcast train --pri", COMP_CWORD="2")
    result = runner.invoke(app, [], env=env, prog_name="sstcast")
    assert result.stdout.split() == ["--print-config"]


def test_no_progress_reaches_every_command_that_draws_bars(monkeypatch, tmp_path: Path) -> None:
    """`sstcast CMD --no-progress` and `sstcast --no-progress CMD` both turn the bars off."""
    import types

    import sstcast.sample
    import sstcast.training
    import sstcast.workflows

    seen: list[bool] = []

    def record(*args, progress: bool = True, **kwargs):
        seen.append(progress)
        return types.SimpleNamespace(summary=lambda: "done", run_dir=tmp_path, rank=0)

    monkeypatch.setattr(sstcast.sample, "write_sample", record)
    monkeypatch.setattr(sstcast.workflows, "ingest", record)
    monkeypatch.setattr(sstcast.training, "fit", record)
    monkeypatch.setattr(sstcast.workflows, "forecast_verify_map", record)
    commands = {
        "sample": ["sample", "--out", str(tmp_path)],
        "ingest": ["ingest", "--files", "x.nc"],
        "train": ["train", "--region", "bohai"],
        "forecast": ["forecast", "--run", str(tmp_path)],
    }
    try:
        for name, args in commands.items():
            for extra, expected in (([], True), (["--no-progress"], False)):
                seen.clear()
                result = runner.invoke(app, [*args, *extra])
                assert result.exit_code == 0, (name, result.output)
                seen_local = list(seen)
                seen.clear()
                result = runner.invoke(app, [*extra, *args])
                assert result.exit_code == 0, (name, result.output)
                assert seen_local == seen == [expected], (name, extra, seen_local, seen)
        for name in ("evaluate", "maps"):  # they draw no bars; the global switch is accepted
            assert runner.invoke(app, ["--no-progress", name, "--help"]).exit_code == 0
    finally:
        from sstcast.utils.report import set_progress

        set_progress(True)  # the callback's choice outlives an in-process invocation
