"""The ``sstcast`` command line: parses arguments, reports progress, calls library functions.

No science lives here. Every command turns library errors (``SstcastError`` and config
errors) into one red line on stderr and exit code 1 (a config file with several problems:
a first line naming the file, then one line per problem); usage errors exit 2. Shell
completion: ``sstcast --install-completion`` (see docs/cli.md).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(
    name="sstcast",
    help="Gridded SST and crowd-flow data to short-range forecasts.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)


def fail(message: str, code: int = 1) -> None:
    """Print one clear error line and exit non-zero (the message is shown as given)."""
    from rich.markup import escape

    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _version(value: bool) -> None:
    if value:
        from sstcast import __version__

        typer.echo(f"sstcast {__version__}")
        raise typer.Exit()


@app.callback(context_settings={"help_option_names": ["-h", "--help"]})
def main(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="also show debug messages"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="only warnings and errors"),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="show the version and exit"
    ),
    no_progress: bool = typer.Option(
        False, "--no-progress", help="no progress bars in any command (logs, CI)"
    ),
) -> None:
    """Gridded SST and crowd-flow data to short-range forecasts."""
    import logging

    from sstcast.utils.report import set_progress, setup_logging

    setup_logging(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)
    set_progress(not no_progress)


def _progress(flag: bool) -> bool:
    """A command's ``--progress/--no-progress`` and the global ``--no-progress`` together."""
    from sstcast.utils.report import progress_enabled

    return flag and progress_enabled()


#: The per-command switch of the commands that draw progress bars (default: on).
PROGRESS_HELP = "progress bars on stderr"


# Commands are added below, one function each: sample, ingest, train.


def _parse_years(text: str) -> list[int]:
    """``"2010-2021"`` (inclusive range) or ``"2010,2011,2015"`` -> a list of years."""
    from sstcast.errors import SstcastError

    try:
        if "-" in text.strip("-"):
            first, last = (int(p) for p in text.split("-", 1))
            years = list(range(first, last + 1))
        else:
            years = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise SstcastError(f"--years {text!r}: expected 2010-2021 or 2010,2011") from None
    if not years:
        raise SstcastError(f"--years {text!r}: no years in it")
    return years


@app.command()
def sample(
    out: str = typer.Option("data/sample", "--out", help="folder to write the sample into"),
    seed: int | None = typer.Option(None, "--seed", help="random seed (default: the sample's)"),
    years: str | None = typer.Option(
        None, "--years", help="years of daily SST: 2010-2021 or 2010,2011 (default: 2010-2021)"
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help=PROGRESS_HELP),
) -> None:
    """Write the built-in sample (toy OISST-style SST files and TaxiBJ-style flows)."""
    from sstcast.errors import SstcastError

    try:
        from sstcast.sample import write_sample

        kwargs: dict = {}
        if seed is not None:
            kwargs["seed"] = seed
        if years is not None:
            kwargs["years"] = _parse_years(years)
        result = write_sample(out, progress=_progress(progress), **kwargs)
    except SstcastError as err:
        fail(str(err))
    count = f"{len(result)} files " if isinstance(result, list) else ""
    typer.echo(f"sample: {count}written to {out}")


@app.command(context_settings={"allow_extra_args": True})
def ingest(
    ctx: typer.Context,
    source: str | None = typer.Argument(
        None, help="source in the catalog (default: its default_source)"
    ),
    files: Annotated[
        list[str] | None,
        typer.Option(
            "--files",
            help="input files, quoted globs or URLs (https://, s3://, gs://; replace the "
            "source's files)",
        ),
    ] = None,
    variable: str | None = typer.Option(None, "--variable", help="SST variable name in the files"),
    region: str | None = typer.Option(None, "--region", help="region name from the catalog"),
    bbox: str | None = typer.Option(None, "--bbox", help="box S,N,W,E in degrees"),
    out: str | None = typer.Option(None, "--out", help="cube path or fsspec URL"),
    force: bool = typer.Option(False, "--force", help="replace a cube with other provenance"),
    scheduler: str | None = typer.Option(
        None, "--scheduler", help="dask.distributed scheduler address, e.g. tcp://host:8786"
    ),
    use_sample: bool = typer.Option(
        False, "--sample", help="ingest the built-in sample (written first if missing)"
    ),
    allow_implausible: bool = typer.Option(
        False, "--allow-implausible", help="keep SST/flow values no sea or street can have"
    ),
    catalog: str | None = typer.Option(
        None, "--catalog", help="data catalog (default: ./data_catalog.yaml, else the built-in one)"
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help=PROGRESS_HELP),
) -> None:
    """Read raw files of a source and write its Zarr cube (idempotent, atomic)."""
    from sstcast.config import find_catalog
    from sstcast.errors import SstcastError
    from sstcast.ingest import parse_bbox
    from sstcast.workflows import ingest as ingest_workflow

    if out is not None and not out.strip():
        fail("--out '': give a path or URL for the cube", code=2)
    try:
        if scheduler is not None:
            from sstcast.cube import check_scheduler_address

            check_scheduler_address(scheduler)
        cat = find_catalog(catalog)
        # `--files a.nc b.nc` from a shell glob: the extra names arrive as SOURCE and extras.
        extra = list(ctx.args)
        if files and source is not None and source not in cat.sources:
            extra.insert(0, source)
            source = None
        if extra and not files:
            fail(f"unexpected arguments: {' '.join(extra)}")
        if files:
            files = [*files, *extra]
        result = ingest_workflow(
            cat,
            source,
            region=region,
            files=files or None,
            bbox=parse_bbox(bbox) if bbox is not None else None,
            out=out,
            variable=variable,
            force=force,
            scheduler=scheduler,
            use_sample=use_sample,
            allow_implausible=allow_implausible,
            progress=_progress(progress),
        )
    except SstcastError as err:
        fail(str(err))
    typer.echo(result.summary())


@app.command()
def train(
    region: str | None = typer.Option(
        None, "--region", help="train the pipeline pipelines/<REGION>.yaml (e.g. bohai)"
    ),
    pipeline: str | None = typer.Option(None, "--pipeline", help="pipeline file (YAML)"),
    model: str | None = typer.Option(None, "--model", help="registry model (overrides the file)"),
    preset: str | None = typer.Option(None, "--preset", help="model preset, e.g. tiny, default"),
    epochs: int | None = typer.Option(None, "--epochs", min=1, help="maximum epochs"),
    batch_size: int | None = typer.Option(None, "--batch-size", min=1, help="samples per batch"),
    max_time: str | None = typer.Option(
        None, "--max-time", help="wall-clock limit: DD:HH:MM:SS or minutes"
    ),
    device: str | None = typer.Option(None, "--device", help="auto, cpu or cuda"),
    devices: int | None = typer.Option(None, "--devices", min=1, help="devices per node"),
    strategy: str | None = typer.Option(None, "--strategy", help="Lightning strategy, e.g. ddp"),
    num_nodes: int | None = typer.Option(None, "--num-nodes", min=1, help="nodes (multi-node DDP)"),
    out: str = typer.Option("runs", "--out", help="runs root: runs/<pipeline>/<model>/<time>/"),
    resume: str | None = typer.Option(
        None, "--resume", help="run directory or checkpoint to continue from"
    ),
    catalog: str | None = typer.Option(None, "--catalog", help="data catalog file"),
    settings: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="KEY=VALUE",
            help="set a pipeline key, e.g. optim.lr=1e-3 (repeatable; YAML values)",
        ),
    ] = None,
    print_config: bool = typer.Option(
        False, "--print-config", help="print the resolved pipeline (YAML) and exit"
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help=PROGRESS_HELP),
) -> None:
    """Train a pipeline's model (Lightning): checkpoints, metrics and stats in a run folder."""
    from sstcast.config.pipeline import parse_overrides, pipeline_yaml
    from sstcast.errors import SstcastError

    if device is not None and device not in ("auto", "cpu", "cuda"):
        fail(f"--device {device!r}: use auto, cpu or cuda", code=2)
    try:
        overrides = parse_overrides(settings or [])
    except SstcastError as err:
        fail(str(err), code=2)
    if pipeline is None and region is None and resume is None:
        fail("give --region NAME (pipelines/NAME.yaml), --pipeline FILE or --resume RUN_DIR")
    options = dict(model=model, preset=preset, epochs=epochs, batch_size=batch_size)
    options.update(max_time=max_time, device=device, devices=devices, strategy=strategy)
    options.update(num_nodes=num_nodes)
    try:
        from sstcast.training import fit
        from sstcast.training.fit import resolved_config

        if print_config:
            resolved = resolved_config(
                pipeline,
                region=region,
                catalog=catalog,
                resume=resume,
                overrides=overrides,
                **options,
            )
            typer.echo(pipeline_yaml(resolved), nl=False)
            return
        result = fit(
            pipeline,
            region=region,
            catalog=catalog,
            out=out,
            resume=resume,
            overrides=overrides,
            progress=_progress(progress),
            **options,
        )
    except SstcastError as err:
        fail(str(err))
    if result.rank == 0:
        typer.echo(str(result.run_dir))


def _leads(text: str | None) -> list[int] | None:
    """``"1,5,10"`` -> [1, 5, 10]."""
    if text is None:
        return None
    try:
        leads = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        fail(f"--map-lead {text!r}: expected lead steps such as 1,5,10", code=2)
    if not leads or min(leads) < 1:
        fail(f"--map-lead {text!r}: expected lead steps >= 1 such as 1,5,10", code=2)
    return leads


def _device(device: str) -> str:
    if device not in ("auto", "cpu", "cuda"):
        fail(f"--device {device!r}: use auto, cpu or cuda", code=2)
    return device


@app.command()
def forecast(
    region: str | None = typer.Option(
        None, "--region", help="use the latest run of pipelines/<REGION>.yaml"
    ),
    pipeline: str | None = typer.Option(
        None, "--pipeline", help="use the latest run of this pipeline file"
    ),
    run: str | None = typer.Option(None, "--run", help="run folder to forecast with"),
    checkpoint: str | None = typer.Option(
        None, "--checkpoint", help="checkpoint file (inside a run folder)"
    ),
    init: Annotated[
        list[str] | None,
        typer.Option("--init", help="init date(s), repeatable, or 'latest' (the cube's last day)"),
    ] = None,
    period: str = typer.Option("test", "--period", help="test, val, train or FIRST:LAST dates"),
    lead: int = typer.Option(10, "--lead", min=1, help="lead steps (days for daily SST)"),
    out: str | None = typer.Option(
        None, "--out", help="forecast file (default <run>/forecast_<test|latest|dates>.nc)"
    ),
    cube: str | None = typer.Option(
        None, "--cube", help="cube to forecast from (default: the run's)"
    ),
    runs_root: str = typer.Option(
        "runs", "--runs", help="where runs live (for --region/--pipeline)"
    ),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda"),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="inits per model call"),
    evaluate: bool = typer.Option(
        True, "--evaluate/--no-evaluate", help="score it where truth exists"
    ),
    maps: bool = typer.Option(True, "--maps/--no-maps", help="draw maps and plots"),
    map_lead: str | None = typer.Option(
        None, "--map-lead", help="leads to map (default 1,5,10; months 1,3,6)"
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help=PROGRESS_HELP),
) -> None:
    """Forecast from a trained run: a CF NetCDF file, its scores and maps."""
    from sstcast.errors import SstcastError
    from sstcast.workflows import forecast_verify_map

    try:
        made = forecast_verify_map(
            run=run,
            checkpoint=checkpoint,
            region=region,
            pipeline=pipeline,
            runs_root=runs_root,
            init=init,
            period=period,
            lead=lead,
            out=out,
            cube=cube,
            device=_device(device),
            batch_size=batch_size,
            evaluate=evaluate,
            maps=maps,
            map_leads=_leads(map_lead),
            progress=_progress(progress),
        )
    except SstcastError as err:
        fail(str(err))
    typer.echo(made.summary())


@app.command(name="evaluate")
def evaluate_cmd(
    forecast_file: str = typer.Argument(
        ..., metavar="FORECAST.nc", help="a file from sstcast forecast"
    ),
    cube: str | None = typer.Option(None, "--cube", help="truth cube (default: the forecast's)"),
    run: str | None = typer.Option(None, "--run", help="run folder (default: the forecast's)"),
    out: str | None = typer.Option(None, "--out", help="folder for the metrics files"),
    bootstrap: int = typer.Option(1000, "--bootstrap", min=1, help="bootstrap resamples"),
) -> None:
    """Score a forecast per lead against persistence, climatology and anomaly persistence."""
    from sstcast.errors import SstcastError
    from sstcast.verify.evaluate import evaluate

    try:
        ev = evaluate(forecast_file, cube=cube, run=run, out_dir=out, n_boot=bootstrap)
    except SstcastError as err:
        fail(str(err))
    typer.echo(ev.table)
    typer.echo(f"metrics: {ev.netcdf}\nmetrics: {ev.csv}")


@app.command(name="maps")
def maps_cmd(
    forecast_file: str = typer.Argument(
        ..., metavar="FORECAST.nc", help="a file from sstcast forecast"
    ),
    init: Annotated[
        list[str] | None, typer.Option("--init", help="init date(s) to map (default: the first)")
    ] = None,
    lead: str | None = typer.Option(
        None, "--lead", help="leads to map (default 1,5,10; months 1,3,6)"
    ),
    cube: str | None = typer.Option(None, "--cube", help="truth cube (default: the forecast's)"),
    metrics: str | None = typer.Option(
        None, "--metrics", help="metrics file (default: beside the forecast)"
    ),
    out: str | None = typer.Option(
        None, "--out", help="folder for the PNGs (default: beside the forecast)"
    ),
) -> None:
    """Draw forecast/observed/error maps, the lead-time plot and the skill map (PNG)."""
    from sstcast.errors import SstcastError
    from sstcast.workflows import draw_maps

    try:
        paths = draw_maps(
            forecast_file, inits=init, leads=_leads(lead), cube=cube, metrics=metrics, out_dir=out
        )
    except SstcastError as err:
        fail(str(err))
    for p in paths:
        typer.echo(str(p))


@app.command(name="models")
def models_cmd(
    grid: str = typer.Option("16x20", "--grid", help="grid HxW for the parameter counts"),
) -> None:
    """List the model registry: names, presets, one-line summaries, parameter counts."""
    from sstcast.models.registry import describe

    try:
        h, w = (int(v) for v in grid.lower().split("x"))
    except ValueError:
        fail(f"--grid {grid!r}: expected HxW such as 16x20", code=2)
    rows = describe((h, w))
    width = max(len(f"{r['model']}:{r['preset']}") for r in rows)
    typer.echo(f"{'model:preset':<{width}}  {'params':>10}  summary (parameters on {h}x{w})")
    for r in rows:
        n = f"{r['parameters']:,}" if r["parameters"] is not None else "-"
        typer.echo(f"{r['model'] + ':' + r['preset']:<{width}}  {n:>10}  {r['summary']}")


if __name__ == "__main__":
    app()
