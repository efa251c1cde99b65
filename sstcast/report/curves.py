"""Skill-versus-lead-time curves: one subplot per metric, one line per model.

:func:`lead_time_plot` reads a metrics dataset with ``value(metric, model, lead_time)`` and
draws the forecast model(s) bold, the reference forecasts (persistence, climatology, anomaly
persistence) thin, and the ``bound`` dashed. The PNG is written atomically and
reproducibly (see :mod:`sstcast.report._figure`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.ticker import MaxNLocator

from sstcast.errors import SstcastError
from sstcast.report._figure import (
    display_units,
    lead_days,
    lead_unit,
    list_values,
    new_figure,
    save_png,
    styled,
)

__all__ = ["BASELINES", "lead_time_plot"]

#: Reference forecasts and bounds, drawn thin (in this legend order) after the models.
BASELINES: dict[str, dict[str, Any]] = {
    "persistence": {"color": "#7a7a7a", "marker": "s", "label": "persistence"},
    "anomaly_persistence": {"color": "#8e6bbf", "marker": "D", "label": "anomaly persistence"},
    "climatology": {"color": "#c49a2c", "marker": "^", "label": "climatology"},
    "bound": {"color": "#111111", "marker": "", "linestyle": "--", "label": "bound"},
    # TaxiBJ's references (the ST-ResNet paper's)
    "yesterday": {"color": "#4f8fbf", "marker": "v", "label": "yesterday"},
    "historical_average": {"color": "#5a9e5a", "marker": "o", "label": "historical average"},
}
#: Colours of the forecast models, in the order they appear in the file.
MODEL_COLOURS = ("#c0392b", "#1f77b4", "#2ca02c", "#ff7f0e", "#17becf", "#e377c2")

_METRIC_LABELS = {
    "rmse": ("RMSE", True),
    "mae": ("MAE", True),
    "bias": ("bias, forecast − observed", True),
    "mse": ("MSE", True),
    "acc": ("ACC (anomaly correlation)", False),
    "corr": ("correlation", False),
    "skill": ("skill score", False),
}


def lead_time_plot(
    metrics: xr.Dataset | xr.DataArray,
    out: str | Path,
    metrics_to_plot: Sequence[str] = ("rmse", "acc"),
    *,
    title: str | None = None,
) -> Path:
    """Plot metric versus lead time (days) per model; write ``out`` (PNG) and return it.

    ``metrics`` holds ``value(metric, model, lead_time)`` (a Dataset with a ``value``
    variable, or that DataArray); ``lead_time`` is timedelta64 or days, or a
    ``lead_time_days`` coordinate gives the days. Metric names are matched
    case-insensitively. Metrics or models that are missing or all-NaN are skipped quietly;
    if none of ``metrics_to_plot`` is there a one-line :class:`SstcastError` lists those
    that are. Units for the error metrics come from ``metrics.attrs["units"]`` (default
    °C); ACC is unitless. The title defaults to ``metrics.attrs["title"]``, else names the
    model(s).
    """
    value = _value_array(metrics)
    attrs = dict(metrics.attrs)
    units = display_units(attrs.get("units") or value.attrs.get("units"))
    days = lead_days(value)
    unit = lead_unit(value)
    if unit == "days" and days.size and np.nanmax(days) < 2.0:  # sub-daily leads: hours
        days, unit = days * 24.0, "hours"
    metric_names = [str(m) for m in value["metric"].values]
    model_names = [str(m) for m in value["model"].values]
    wanted: list[tuple[str, int]] = []
    lower = [m.lower() for m in metric_names]
    for name in metrics_to_plot:
        if name.lower() in lower:
            pos = lower.index(name.lower())
            data = np.asarray(value.isel(metric=pos).values, dtype=float)
            if np.isfinite(data).any():
                wanted.append((name.lower(), pos))
    if not wanted:
        raise SstcastError(
            f"lead_time_plot: none of {', '.join(metrics_to_plot)} in the metrics "
            f"(has {list_values(metric_names) or 'none'})"
        )
    models = [m for m in model_names if m not in BASELINES]
    order = models + [b for b in BASELINES if b in model_names]
    title = title or attrs.get("title") or _default_title(models)
    return _draw(
        Path(out),
        value.transpose("metric", "model", "lead_time"),
        days,
        wanted,
        order,
        model_names,
        models,
        units,
        str(title),
        unit,
    )


def _value_array(metrics: xr.Dataset | xr.DataArray) -> xr.DataArray:
    if isinstance(metrics, xr.Dataset):
        if "value" not in metrics.data_vars:
            raise SstcastError(
                "lead_time_plot: metrics need a data variable 'value(metric, model, lead_time)'"
            )
        value = metrics["value"]
    else:
        value = metrics
    missing = {"metric", "model", "lead_time"} - set(value.dims)
    if missing:
        raise SstcastError(
            f"lead_time_plot: 'value' needs dims (metric, model, lead_time), got {value.dims}"
        )
    return value


def _default_title(models: list[str]) -> str:
    if not models:
        return "sstcast · skill by lead time"
    return f"sstcast {', '.join(models)} · skill by lead time"


def _style(name: str, models: list[str]) -> dict[str, Any]:
    if name in BASELINES:
        style = dict(BASELINES[name])
        style.setdefault("linestyle", "-")
        style.update(linewidth=1.3, markersize=4.0, zorder=2, alpha=0.95)
        if name == "bound":
            style.update(linewidth=1.4)
        return style
    colour = MODEL_COLOURS[models.index(name) % len(MODEL_COLOURS)]
    return {
        "color": colour,
        "marker": "o",
        "linestyle": "-",
        "linewidth": 2.6,
        "markersize": 5.5,
        "zorder": 4,
        "label": name,
    }


@styled
def _draw(
    path: Path,
    value: xr.DataArray,
    days: np.ndarray,
    wanted: list[tuple[str, int]],
    order: list[str],
    model_names: list[str],
    models: list[str],
    units: str,
    title: str,
    lead_unit: str = "days",
) -> Path:
    n = len(wanted)
    ncols = 2 if n == 4 else min(n, 3)
    nrows = -(-n // ncols)
    fig = new_figure(4.6 * ncols + 0.4, 3.5 * nrows + 0.75)
    axes = [fig.add_subplot(nrows, ncols, k + 1) for k in range(n)]
    sort = np.argsort(days, kind="stable")
    x = days[sort]
    handles: dict[str, Any] = {}
    for ax, (metric, pos) in zip(axes, wanted, strict=True):
        label, has_units = _METRIC_LABELS.get(metric, (metric.upper(), True))
        for name in order:
            y = np.asarray(value.isel(metric=pos, model=model_names.index(name)).values, float)
            y = y[sort]
            if not np.isfinite(y).any():
                continue
            style = _style(name, models)
            (line,) = ax.plot(x, y, **style)
            handles.setdefault(name, line)
        if metric == "bias":
            ax.axhline(0.0, color="#999999", linewidth=0.8, zorder=1)
        bottom, top = ax.get_ylim()
        if metric in ("acc", "corr"):
            ax.set_ylim(bottom, min(top, 1.02))
        elif metric in ("rmse", "mae", "mse") and bottom > 0:
            ax.set_ylim(0.0, top)
        ax.set_title(label.split(" (")[0].split(",")[0], loc="left")
        ax.set_xlabel(f"lead time ({lead_unit})")
        ax.set_ylabel(f"{label} ({units})" if has_units else label)
        ax.xaxis.set_major_locator(MaxNLocator(integer=lead_unit != "hours", nbins=10))
        ax.grid(True, color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        if x.size:
            pad = 0.03 * max(float(x[-1] - x[0]), 1.0)
            ax.set_xlim(float(x[0]) - pad, float(x[-1]) + pad)
    if handles:
        names = [n for n in order if n in handles]
        fig.legend(
            [handles[n] for n in names],
            [handles[n].get_label() for n in names],
            loc="outside lower center",
            ncols=min(len(names), 6),
            frameon=False,
        )
    fig.suptitle(title)
    return save_png(fig, path)
