"""Command-line conventions: --version, -h, usage errors exit 2, the models listing."""

from __future__ import annotations

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
