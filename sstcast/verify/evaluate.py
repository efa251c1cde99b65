"""``sstcast evaluate FORECAST.nc``: score a forecast file against the truth and references.

For every lead, over all verified inits and cells (the pairs where the model's forecast and
the truth both exist; every reference is scored on exactly those pairs):

* SST: area-weighted RMSE, MAE, bias, ACC (against the run's training-years climatology)
  for the model, persistence, climatology and anomaly persistence — and on the built-in
  sample the toy ocean's noise-free bound; MSE skill scores against each reference; the
  share of the attainable gain captured; a paired block bootstrap of the MSE difference
  between the model and the best reference.
* TaxiBJ (the ST-ResNet protocol): RMSE and MAE in flow counts over both directions and all
  cells, beside persistence, yesterday's same slot and the historical average of the same
  slot of the week over the training weeks.

Outputs, named after the forecast file: ``<name>_metrics.nc`` (``value(metric, model,
lead_time)`` and per-cell RMSE for maps), ``<name>_metrics.csv`` (long: model,
lead_time_days, metric, value) and a text table.
Formulas and conventions: ``docs/metrics.md``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from sstcast import runs
from sstcast.cube import open_cube
from sstcast.data.normalize import AnomalyNormalizer, Normalizer
from sstcast.errors import DataError, SstcastError
from sstcast.forecast.schema import forecast_variable, open_forecast
from sstcast.tasks import SstTask, TaxiBJTask, get_task
from sstcast.utils.io import atomic_path
from sstcast.utils.timeaxis import is_month_lead
from sstcast.verify import baselines as refs
from sstcast.verify.bootstrap import block_bootstrap_mse_difference, default_block_length
from sstcast.verify.metrics import (
    acc,
    bias,
    gain_captured,
    mae,
    mse,
    per_cell_rmse,
    per_init_sums,
    skill_score,
)
from sstcast.verify.weights import area_weights

log = logging.getLogger(__name__)

#: Metrics files are named after the forecast: forecast.nc -> forecast_metrics.nc/.csv.
METRICS_SUFFIX = "_metrics"
REFERENCE_ORDER = (
    "persistence",
    "climatology",
    "anomaly_persistence",
    "yesterday",
    "historical_average",
)


@dataclass
class Evaluation:
    """What :func:`evaluate` made: the metrics, where they went, and the table."""

    metrics: xr.Dataset
    netcdf: Path
    csv: Path
    table: str
    model: str
    n_inits: int


# --------------------------------------------------------------------------------------
# Truth and references
# --------------------------------------------------------------------------------------
def truth_at_valid_times(cube: xr.Dataset, forecast: xr.DataArray, where: str) -> xr.DataArray:
    """The cube's field at each forecast's valid time, ``(init_time, lead_time, *space)``;
    NaN where the cube has no such time. One-line errors for another grid."""
    var = forecast.name
    if var not in cube.data_vars:
        raise DataError(f"{where}: the truth cube has no variable {var!r}")
    space = [d for d in forecast.dims if d not in ("init_time", "lead_time")]
    obs = cube[var]
    for d in space:
        if d not in obs.dims or obs.sizes[d] != forecast.sizes[d]:
            raise DataError(
                f"{where}: the truth cube is on another grid ({d}: "
                f"{obs.sizes.get(d)} vs {forecast.sizes[d]} in the forecast)"
            )
        if d in forecast.coords and d in obs.coords and np.issubdtype(obs[d].dtype, np.number):
            if not np.allclose(obs[d].values, forecast[d].values, atol=1e-4):
                raise DataError(f"{where}: the truth cube is on another grid ({d} differs)")
    valid = forecast["valid_time"].values
    picked = obs.transpose("time", *space).reindex(time=valid.ravel())
    values = np.asarray(picked.values).reshape(*valid.shape, *[obs.sizes[d] for d in space])
    return forecast.copy(data=values.astype(np.float32))


def training_climatology(
    normalizer: Normalizer, cube: xr.Dataset, record: dict[str, Any], harmonics: int = 3
) -> Callable[[np.ndarray], np.ndarray]:
    """The run's training-years climatology as a function of valid times: the run's own
    harmonic climatology when it normalises anomalies, else one fitted on the cube's
    training period with the same harmonics."""
    if isinstance(normalizer, AnomalyNormalizer):
        return normalizer.climatology
    first, last = record["train_period"][0], record["train_period"][-1]
    clim = AnomalyNormalizer(harmonics).fit(cube["sst"].sel(time=slice(first, last)))
    return clim.climatology


def _sst_references(
    fc: xr.DataArray,
    cube: xr.Dataset,
    normalizer: Normalizer,
    record: dict[str, Any],
    harmonics: int,
) -> tuple[dict[str, xr.DataArray], Any]:
    truth = cube["sst"]
    clim = training_climatology(normalizer, cube, record, harmonics)
    inits, leads = fc["init_time"].values, fc["lead_time"].values
    forecasters: list[refs.Forecaster] = [
        refs.Persistence(truth),
        refs.Climatology(truth, clim),
        refs.AnomalyPersistence(truth, clim),
    ]
    toy = refs.toy_ocean_for_cube(cube)
    if toy is not None:
        forecasters.append(refs.ToyOceanBound(toy[0], toy[1], truth))
    out = {f.name: f(inits, leads).transpose(*fc.dims) for f in forecasters}
    climatology = fc.copy(data=clim(fc["valid_time"].values).astype(np.float32))
    return out, climatology


def _flow_references(
    fc: xr.DataArray,
    cube: xr.Dataset,
    normalizer: Normalizer,
    record: dict[str, Any],
    harmonics: int,
) -> tuple[dict[str, xr.DataArray], Any]:
    """Persistence, yesterday's same slot, and the historical average of the same slot of
    the week over the training weeks (the ST-ResNet paper's baselines)."""
    flow = cube["flow"]
    inits, valid = fc["init_time"].values, fc["valid_time"].values
    n_lead = fc.sizes["lead_time"]

    def at(t: np.ndarray) -> np.ndarray:
        return np.asarray(flow.reindex(time=t.ravel()).values, np.float32).reshape(
            *t.shape, *flow.shape[1:]
        )

    persistence = np.repeat(at(inits)[:, None], n_lead, axis=1)
    # the latest same slot at or before the init: 1 day back for leads up to a day, more after
    lead = fc["lead_time"].values.astype("timedelta64[ns]")
    days_back = np.ceil(lead / np.timedelta64(1, "D")).astype(int)
    yesterday = at(valid - (days_back * np.timedelta64(1, "D")).astype("timedelta64[ns]"))
    first, last = record["train_period"][0], record["train_period"][-1]
    train = flow.sel(time=slice(first, f"{last}T23:59:59"))
    ttimes = pd.DatetimeIndex(train["time"].values)
    slot_of_week = lambda t: t.day_of_week * 10_000 + t.hour * 100 + t.minute  # noqa: E731
    mean = train.assign_coords(slot=("time", slot_of_week(ttimes))).groupby("slot").mean("time")
    keys = slot_of_week(pd.DatetimeIndex(valid.ravel()))
    hist = np.asarray(mean.reindex(slot=keys).values, np.float32).reshape(
        valid.shape + flow.shape[1:]
    )
    return {
        "persistence": fc.copy(data=persistence),
        "yesterday": fc.copy(data=yesterday),
        "historical_average": fc.copy(data=hist),
    }, None


_REFERENCES: dict[type, Callable[..., tuple[dict[str, xr.DataArray], Any]]] = {
    SstTask: _sst_references,
    TaxiBJTask: _flow_references,
}


# --------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------
def score(
    forecasts: dict[str, xr.DataArray],
    truth: xr.DataArray,
    weights: xr.DataArray | None,
    climatology: xr.DataArray | None,
    model: str,
    n_boot: int = 1000,
    seed: int = 0,
) -> xr.Dataset:
    """The metrics Dataset: ``value(metric, model, lead_time)`` for every forecaster, on the
    pairs where the model and the truth both exist, plus skill scores, gain captured and the
    bootstrap interval of the model's MSE difference to the best reference per lead."""
    pairs = np.isfinite(truth)
    for f in forecasts.values():  # every forecaster is scored on the very same pairs
        pairs = pairs & np.isfinite(f)
    dropped = int((np.isfinite(forecasts[model]) & np.isfinite(truth) & ~pairs).sum())
    if dropped:
        log.info(f"note: {dropped} pair(s) where a reference has no value are left out for all")
    truth = truth.where(pairs)
    rows: dict[tuple[str, str], xr.DataArray] = {}
    for name, f in forecasts.items():
        f = f.where(pairs)
        rows[("mse", name)] = mse(f, truth, weights)
        rows[("rmse", name)] = np.sqrt(rows[("mse", name)])
        rows[("mae", name)] = mae(f, truth, weights)
        rows[("bias", name)] = bias(f, truth, weights)
        if climatology is not None and name != "climatology":
            rows[("acc", name)] = acc(f, truth, climatology, weights)
    names = list(forecasts)
    references = [n for n in REFERENCE_ORDER if n in forecasts]
    for ref in references:
        rows[(f"skill_vs_{ref}", model)] = skill_score(rows[("mse", model)], rows[("mse", ref)])
        if "bound" in forecasts:
            rows[(f"skill_vs_{ref}", "bound")] = skill_score(
                rows[("mse", "bound")], rows[("mse", ref)]
            )
    if "bound" in forecasts and "anomaly_persistence" in forecasts:
        rows[("gain_captured", model)] = gain_captured(
            rows[("mse", model)], rows[("mse", "anomaly_persistence")], rows[("mse", "bound")]
        )
    # Significance against the best reference of each lead (bound excluded).
    best = xr.concat([rows[("mse", r)] for r in references], dim="ref").fillna(np.inf).argmin("ref")
    sums = {
        n: per_init_sums(forecasts[n].where(pairs), truth, weights) for n in [model, *references]
    }
    step = _lead_steps(forecasts[model])
    block = default_block_length(step)
    diffs = []
    for k in range(forecasts[model].sizes["lead_time"]):
        ref = references[int(best.values[k])]
        one = block_bootstrap_mse_difference(
            sums[model]["sse"].isel(lead_time=[k]),
            sums[ref]["sse"].isel(lead_time=[k]),
            sums[model]["weight"].isel(lead_time=[k]),
            block_length=int(block[k]),
            n_resamples=n_boot,
            seed=seed,
        )
        diffs.append(one)
    boot = xr.concat(diffs, dim="lead_time")
    rows[("mse_diff_vs_best_ref", model)] = boot["mean_difference"]
    rows[("mse_diff_lower", model)] = boot["lower"]
    rows[("mse_diff_upper", model)] = boot["upper"]
    metrics = sorted({m for m, _ in rows}, key=_metric_order)
    lead = forecasts[model]["lead_time"]
    value = np.full((len(metrics), len(names), lead.size), np.nan)
    for (m, n), da in rows.items():
        value[metrics.index(m), names.index(n)] = np.asarray(da.values, dtype=np.float64)
    units = forecasts[model].attrs.get("units", "")
    ds = xr.Dataset(
        {"value": (("metric", "model", "lead_time"), value)},
        coords={
            "metric": metrics,
            "model": names,
            "lead_time": ("lead_time", lead.values, _lead_attrs(lead.values)),
            **_lead_in_units(lead.values),
            "best_reference": ("lead_time", [references[int(i)] for i in best.values]),
            "n_inits": (
                "lead_time",
                pairs.any([d for d in pairs.dims if d not in ("init_time", "lead_time")])
                .sum("init_time")
                .values,
            ),
        },
        attrs={
            "units": units,
            "model_name": model,
            "rmse_convention": "root of the pooled weighted MSE over inits and cells (WeatherBench 2)",
            "acc_convention": "uncentred, per init over space, then the mean over inits (WeatherBench 2)",
            "weights": "cos(latitude), 0 on land, mean 1 over ocean"
            if weights is not None
            else "equal",
            "bootstrap": f"circular moving-block, {n_boot} resamples, 95 % percentile interval, "
            f"blocks of max(lead steps, 5) inits",
        },
    )
    return ds


def _lead_attrs(lead: np.ndarray) -> dict[str, str]:
    return {"units": "months"} if is_month_lead(lead) else {}


def _lead_in_units(lead: np.ndarray) -> dict[str, Any]:
    """``lead_time_months`` (whole months) or ``lead_time_days`` (float days): the lead axis
    as numbers, for tables and plots."""
    if is_month_lead(lead):
        return {"lead_time_months": ("lead_time", np.asarray(lead, np.int64))}
    return {"lead_time_days": ("lead_time", lead / np.timedelta64(1, "D"))}


def _lead_steps(fc: xr.DataArray) -> np.ndarray:
    values = fc["lead_time"].values
    lead = (
        values.astype(np.int64)
        if is_month_lead(values)
        else values.astype("m8[ns]").astype(np.int64)
    )
    step = lead[0] if lead[0] > 0 else 1
    return np.maximum(1, np.rint(lead / step).astype(int))


def _metric_order(name: str) -> tuple[int, str]:
    order = ["rmse", "mae", "bias", "acc", "mse"]
    return (order.index(name), name) if name in order else (len(order), name)


# --------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------
def long_table(metrics: xr.Dataset) -> pd.DataFrame:
    """``model, lead_time_days, metric, value`` rows (finite values only);
    ``lead_time_months`` instead for monthly forecasts."""
    df = metrics["value"].to_dataframe().reset_index()
    months = is_month_lead(metrics["lead_time"].values)
    column = "lead_time_months" if months else "lead_time_days"
    df[column] = df["lead_time"] if months else df["lead_time"] / np.timedelta64(1, "D")
    df = df.dropna(subset=["value"])
    return df[["model", column, "metric", "value"]].reset_index(drop=True)


def _lead_label(lead: Any) -> str:
    """``5`` (days, or months for month leads), ``6h`` or ``30min`` for a column head."""
    if is_month_lead(np.asarray(lead)):
        return f"{int(lead)}"
    minutes = int(lead / np.timedelta64(1, "m"))
    if minutes % 1440 == 0:
        return f"{minutes // 1440}"
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}min"


def text_table(metrics: xr.Dataset, metric: str = "rmse", leads: list[int] | None = None) -> str:
    """Aligned text: ``metric`` per lead for every forecaster, the gain captured and the
    bootstrap interval of the model's MSE difference to the best reference. ``leads`` picks
    lead steps (1 = the first lead)."""
    lead = metrics["lead_time"].values
    months = is_month_lead(lead)
    lead = lead if months else lead.astype("timedelta64[ns]")
    n = len(lead)
    idx = list(range(n)) if leads is None else [k - 1 for k in leads if 1 <= k <= n]
    names = list(metrics["model"].values)
    width = max(len(n) for n in [*names, "beats best ref (95%)"]) + 2
    unit = metrics.attrs.get("units", "")
    heads = [_lead_label(lead[i]) for i in idx]
    in_days = all(h.isdigit() for h in heads)
    in_units = " (months)" if months else " (days)" if in_days else ""
    lines = [f"{metric.upper()} ({unit}) / lead{in_units}"]
    lines.append(" " * width + " ".join(f"{h:>7}" for h in heads))
    model = metrics.attrs["model_name"]
    for n in names:
        vals = metrics["value"].sel(metric=metric, model=n).values
        label = f"{n} *" if n == model else n
        lines.append(f"{label:<{width}}" + " ".join(f"{vals[i]:7.3f}" for i in idx))
    extra = [("gain captured", "gain_captured", "{:7.0%}")]
    for label, key, fmt in extra:
        if key in metrics["metric"].values:
            vals = metrics["value"].sel(metric=key, model=model).values
            lines.append(f"{label:<{width}}" + " ".join(fmt.format(vals[i]) for i in idx))
    if "mse_diff_vs_best_ref" in metrics["metric"].values:
        v = metrics["value"].sel(model=model)
        lo, hi = v.sel(metric="mse_diff_lower").values, v.sel(metric="mse_diff_upper").values
        sig = [
            "   yes " if h < 0 else ("  worse" if lo > 0 else "    no ")
            for lo, h in zip(lo, hi, strict=True)
        ]
        lines.append(f"{'beats best ref (95%)':<{width}}" + " ".join(sig[i] for i in idx))
    return "\n".join(lines)


def write_metrics(metrics: xr.Dataset, out_dir: Path, stem: str) -> tuple[Path, Path]:
    """``<stem>_metrics.nc`` and ``<stem>_metrics.csv`` in ``out_dir`` (atomically)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    nc = out_dir / f"{stem}{METRICS_SUFFIX}.nc"
    csv = out_dir / f"{stem}{METRICS_SUFFIX}.csv"
    months = is_month_lead(metrics["lead_time"].values)  # whole months stay integers
    enc = {} if months else {"lead_time": {"units": "days", "dtype": "float64"}}
    with atomic_path(nc) as tmp:
        metrics.to_netcdf(tmp, encoding=enc)
    with atomic_path(csv) as tmp:
        long_table(metrics).to_csv(tmp, index=False, float_format="%.6g")
    return nc, csv


# --------------------------------------------------------------------------------------
# evaluate
# --------------------------------------------------------------------------------------
def evaluate(
    forecast_path: str | Path,
    *,
    cube: str | Path | None = None,
    run: str | Path | None = None,
    out_dir: str | Path | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> Evaluation:
    """Score a forecast file (see the module docstring); writes next to it by default."""
    path = Path(forecast_path)
    ds = open_forecast(path)
    var = forecast_variable(ds, str(path))
    fc = ds[var].load()
    run_dir = Path(run or ds.attrs.get("run_folder", ""))
    if not (run_dir / "run.json").exists():
        raise SstcastError(f"{path}: its run folder {run_dir} is missing (give --run DIR)")
    record = runs.read_record(run_dir)
    pipeline = runs.load_run_pipeline(run_dir)
    normalizer = runs.load_normalizer(run_dir)
    task = get_task(pipeline)
    cube_path = cube or ds.attrs.get("cube") or record["cube"]
    truth_cube = open_cube(cube_path)
    truth = truth_at_valid_times(truth_cube, fc, str(path))
    verified = np.isfinite(truth) & np.isfinite(fc)
    if not bool(verified.any()):
        t = truth_cube["time"].values
        raise DataError(
            f"{path}: no valid time of the forecast has truth in {cube_path} "
            f"({pd.Timestamp(t[0]):%Y-%m-%d} .. {pd.Timestamp(t[-1]):%Y-%m-%d}); nothing to verify"
        )
    inits_ok = verified.any([d for d in verified.dims if d != "init_time"])
    if not bool(inits_ok.all()):
        log.info(f"note: {int((~inits_ok).sum())} init(s) have no truth yet and are not scored")
    model = str(ds.attrs.get("model", "model"))
    harmonics = int(getattr(pipeline.data, "harmonics", 3))
    references, climatology = _REFERENCES[type(task)](fc, truth_cube, normalizer, record, harmonics)
    forecasts = {model: fc, **references}
    weights = None
    if "lat" in fc.dims:
        mask = np.isfinite(fc).any(("init_time", "lead_time"))
        weights = area_weights(fc["lat"], mask)
    metrics = score(forecasts, truth, weights, climatology, model, n_boot=n_boot, seed=seed)
    for name in [model, "anomaly_persistence"]:
        if name in forecasts and "lat" in fc.dims:
            cell = per_cell_rmse(forecasts[name].where(verified), truth.where(verified))
            metrics[f"cell_rmse_{name}" if name != model else "cell_rmse_model"] = cell
    metrics.attrs.update(forecast=str(path.resolve()), run_folder=str(run_dir), cube=str(cube_path))
    if record.get("units"):  # "degC", "flow count per 30 min"
        metrics.attrs["units"] = str(record["units"])
    out = Path(out_dir) if out_dir is not None else path.parent
    nc, csv = write_metrics(metrics, out, path.stem)
    leads = [1, 2, 3, 5, 7, 10] if metrics.sizes["lead_time"] > 8 else None
    table = text_table(metrics, "rmse", leads)
    return Evaluation(metrics, nc, csv, table, model, int(inits_ok.sum()))
