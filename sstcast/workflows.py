"""Each command as a short composition of the stages (earth2studio's ``run.py``).

The CLI parses arguments and calls one function here (or :func:`sstcast.training.fit`);
each function wires stage objects together and returns what it made.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sstcast.config import Catalog, find_catalog

log = logging.getLogger(__name__)


def ingest(
    catalog: Catalog | str | Path | None = None,
    source: str | None = None,
    *,
    files: Sequence[str] | None = None,
    use_sample: bool = False,
    progress: bool = True,
    **options: Any,
) -> Any:
    """``sstcast ingest``: with ``use_sample``, the catalog's sample source of the same kind
    (its files written first when missing), then :func:`sstcast.ingest.ingest_source`."""
    from sstcast.ingest import ingest_source

    cat = catalog if isinstance(catalog, Catalog) else find_catalog(catalog)
    if use_sample:
        from sstcast.sample import ensure_sample, sample_source

        name = source or cat.default_source
        kind = cat.source(name).kind if name is not None else "netcdf_sst"
        if name is None or not cat.source(name).sample:
            source = sample_source(cat, kind)
        else:
            source = name
        if files is None:
            ensure_sample(cat, source, progress=progress)
    return ingest_source(cat, source, files=files, progress=progress, **options)


@dataclass
class Journey:
    """What ``sstcast forecast`` made: the forecast, its scores, its pictures."""

    forecast: Any
    evaluation: Any | None = None
    figures: list[Path] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        """The lead-time table and where every file is, for the terminal."""
        fc = self.forecast
        lines = []
        if self.evaluation is not None:
            lines += [self.evaluation.table, ""]
        elif not fc.verifiable:
            lines.append("not verified: no valid time is in the cube yet (an operational forecast)")
        lines.append(f"forecast: {fc.path} ({fc.n_inits} inits × {len(fc.lead_time)} leads)")
        lines += [f"note:     {n}" for n in fc.notes]
        if self.evaluation is not None:
            lines.append(f"metrics:  {self.evaluation.netcdf}")
            lines.append(f"metrics:  {self.evaluation.csv}")
        lines += [f"figure:   {p}" for p in self.figures]
        if self.seconds:
            lines.append("time: " + ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items()))
        return "\n".join(lines)


def forecast_verify_map(
    *,
    evaluate: bool = True,
    maps: bool = True,
    map_leads: Sequence[int] | None = None,
    progress: bool = True,
    **options: Any,
) -> Journey:
    """``sstcast forecast``: write the forecast; score it when some valid time has truth;
    draw the maps and plots. ``options`` go to :func:`sstcast.forecast.run.forecast`."""
    from sstcast.forecast.run import forecast

    seconds: dict[str, float] = {}
    start = time.perf_counter()
    made = forecast(progress=progress, **options)
    seconds["forecast"] = time.perf_counter() - start
    journey = Journey(made, seconds=seconds)
    if evaluate and made.verifiable:
        from sstcast.verify.evaluate import evaluate as run_evaluate

        start = time.perf_counter()
        journey.evaluation = run_evaluate(made.path, cube=options.get("cube"))
        seconds["evaluate"] = time.perf_counter() - start
    if maps:
        start = time.perf_counter()
        metrics = journey.evaluation.netcdf if journey.evaluation is not None else False
        journey.figures = draw_maps(
            made.path, leads=map_leads, cube=options.get("cube"), metrics=metrics
        )
        seconds["maps"] = time.perf_counter() - start
    return journey


def draw_maps(
    forecast_path: str | Path,
    *,
    inits: Sequence[str] | None = None,
    leads: Sequence[int] | None = None,
    cube: str | Path | None = None,
    metrics: str | Path | bool | None = None,
    out_dir: str | Path | None = None,
) -> list[Path]:
    """``sstcast maps``: forecast/observed/error maps for the chosen inits and leads, and —
    when the forecast has been evaluated — the lead-time plot and the skill map. ``metrics``:
    the metrics file, None for the one beside the forecast (used only when it was computed
    from this very file), False for none."""
    import xarray as xr

    from sstcast.cube import open_cube
    from sstcast.errors import SstcastError
    from sstcast.forecast.schema import forecast_variable, open_forecast
    from sstcast.report import forecast_maps, lead_time_plot, skill_map
    from sstcast.report._figure import DEFAULT_LEADS, DEFAULT_MONTH_LEADS, lead_unit
    from sstcast.verify.evaluate import METRICS_SUFFIX

    path = Path(forecast_path)
    ds = open_forecast(path)
    out = Path(out_dir) if out_dir is not None else path.parent / f"{path.stem}_maps"
    truth = None
    cube_path = cube or ds.attrs.get("cube")
    if cube_path:
        try:
            cube_ds = open_cube(cube_path)
            truth = cube_ds[forecast_variable(ds, str(path))]
        except SstcastError as err:
            log.warning(f"maps without observations: {err}")
            truth = None
    n_lead = ds.sizes["lead_time"]
    default = DEFAULT_MONTH_LEADS if lead_unit(ds) == "months" else DEFAULT_LEADS
    leads = [k for k in (leads or default) if k <= n_lead] or [n_lead]
    model = str(ds.attrs.get("model", "model"))
    figures = forecast_maps(ds, truth, out, inits=inits, leads=leads, model=model)
    beside = path.parent / f"{path.stem}{METRICS_SUFFIX}.nc"
    metrics_path = None if metrics is False else Path(metrics) if metrics else beside
    m = None
    if metrics_path is not None and metrics_path.exists():
        with xr.open_dataset(metrics_path) as opened:
            m = opened.load()
        fresh = metrics_path.stat().st_mtime >= path.stat().st_mtime
        if m.attrs.get("forecast") != str(path.resolve()) or not fresh:
            log.info(f"note: {metrics_path} is not from this forecast; no skill plots drawn")
            m = None
    if m is not None:
        figures.append(lead_time_plot(m, out / "lead_time_skill.png"))
        if "cell_rmse_model" in m and "cell_rmse_anomaly_persistence" in m:
            figures.append(
                skill_map(
                    m["cell_rmse_model"],
                    m["cell_rmse_anomaly_persistence"],
                    out / "skill_map_vs_anomaly_persistence.png",
                    leads=leads,
                    model=model,
                )
            )
    return figures
