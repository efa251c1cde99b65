"""Shared plumbing for report figures: headless Agg figures, one style, deterministic PNGs.

Figures are :class:`matplotlib.figure.Figure` objects bound to an Agg canvas, never made
through ``pyplot``: no GUI backend is ever touched, whatever ``MPLBACKEND`` says, and no
figure is left registered in a global figure manager. :func:`save_png` writes a PNG
atomically with a fixed dpi and no time- or version-dependent metadata, so the same inputs
give the same bytes.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import matplotlib as mpl
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from sstcast.errors import SstcastError
from sstcast.utils.io import atomic_path

with warnings.catch_warnings():
    # cmocean 3.0 builds its colormaps with an argument matplotlib 3.11 deprecates.
    warnings.simplefilter("ignore", DeprecationWarning)
    import cmocean

#: The cmocean colormaps of the report (Thyng et al. 2016).
THERMAL = cmocean.cm.thermal
BALANCE = cmocean.cm.balance
BALANCE_R = cmocean.cm.balance_r
AMP = cmocean.cm.amp

#: Resolution of every report PNG.
DPI = 110
#: Default leads (days) of :func:`~sstcast.report.maps.forecast_maps` and
#: :func:`~sstcast.report.maps.skill_map`: those the file has are drawn.
DEFAULT_LEADS: tuple[int, ...] = (1, 5, 10)
#: The same for monthly forecasts (months).
DEFAULT_MONTH_LEADS: tuple[int, ...] = (1, 3, 6)

#: matplotlib settings used while a report figure is built and saved.
STYLE: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 9.0,
    "axes.titlesize": 10.0,
    "axes.labelsize": 9.0,
    "xtick.labelsize": 8.0,
    "ytick.labelsize": 8.0,
    "legend.fontsize": 8.5,
    "figure.titlesize": 12.0,
    "figure.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "savefig.facecolor": "white",
    "figure.facecolor": "white",
    "image.interpolation": "nearest",
    "pcolor.shading": "flat",
    "path.simplify": True,
    "svg.hashsalt": "sstcast",
}

_UNIT_NAMES = {
    "degc": "°C",
    "deg_c": "°C",
    "degrees_c": "°C",
    "degree_c": "°C",
    "degree_celsius": "°C",
    "degrees_celsius": "°C",
    "celsius": "°C",
    "°c": "°C",
    "c": "°C",
    "k": "K",
    "kelvin": "K",
}

F = TypeVar("F", bound=Callable[..., Any])


def styled(func: F) -> F:
    """Run ``func`` under :data:`STYLE` (an :func:`matplotlib.rc_context`)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with mpl.rc_context(STYLE):
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def new_figure(width: float, height: float) -> Figure:
    """A white figure (inches) on an Agg canvas, with constrained layout."""
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_png(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` to ``path`` as PNG, atomically and byte-for-byte reproducibly; free it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=DPI, metadata={"Software": None})
    finally:
        fig.clear()
    return path


def display_units(units: Any, default: str = "°C") -> str:
    """``degC`` and friends as ``°C``; other CF unit strings unchanged; ``default`` if unset."""
    if units is None or str(units).strip() in ("", "1"):
        return default
    text = str(units).strip()
    return _UNIT_NAMES.get(text.lower().replace(" ", "_"), text)


# --------------------------------------------------------------------------------------
# Times and leads
# --------------------------------------------------------------------------------------
def as_timestamp(value: Any) -> pd.Timestamp:
    """Any date-like (string, datetime, numpy datetime64) as a naive :class:`pd.Timestamp`."""
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as err:
        raise SstcastError(f"not a date/time: {value!r}") from err
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp


def format_time(value: Any) -> str:
    """``2021-03-01`` at midnight, else ``2021-03-01 06:30``."""
    stamp = as_timestamp(value)
    if stamp == stamp.normalize():
        return stamp.strftime("%Y-%m-%d")
    return stamp.strftime("%Y-%m-%d %H:%M")


def time_token(value: Any) -> str:
    """File-name form of a time: ``20210301``, ``20210301T06``, or ``20210301T0630``."""
    stamp = as_timestamp(value)
    token = stamp.strftime("%Y%m%d")
    if stamp == stamp.normalize():
        return token
    if stamp.minute == 0 and stamp.second == 0:
        return f"{token}T{stamp:%H}"
    return f"{token}T{stamp:%H%M}"


def lead_unit(obj: xr.DataArray | xr.Dataset) -> str:
    """``"months"`` for monthly forecasts (integer ``lead_time`` in months, or a
    ``lead_time_months`` coordinate), else ``"days"``."""
    if "lead_time_months" in obj.coords:
        return "months"
    if "lead_time" in obj.coords:
        lead = obj["lead_time"]
        if lead.dtype.kind in "iu" and lead.attrs.get("units") == "months":
            return "months"
    return "days"


def lead_days(obj: xr.DataArray | xr.Dataset) -> np.ndarray:
    """The ``lead_time`` axis of ``obj`` in days (float), or in months for monthly
    forecasts (:func:`lead_unit`).

    Uses a ``lead_time_days`` (``lead_time_months``) coordinate if there is one, else
    ``lead_time`` as timedelta64, else ``lead_time`` as numbers already in its unit.
    """
    if "lead_time_months" in obj.coords:
        return np.asarray(obj["lead_time_months"].values, dtype=float).reshape(-1)
    if "lead_time_days" in obj.coords:
        return np.asarray(obj["lead_time_days"].values, dtype=float).reshape(-1)
    if "lead_time" not in obj.coords and "lead_time" not in obj.dims:
        raise SstcastError("no lead_time coordinate (expected timedelta64 or lead_time_days)")
    if "lead_time" not in obj.coords:
        return np.arange(obj.sizes["lead_time"], dtype=float)
    values = np.asarray(obj["lead_time"].values)
    if values.dtype.kind == "m":
        return values.astype("timedelta64[ns]").astype(np.int64) / 86_400e9
    return values.astype(float)


def _lead_in_units(days: float) -> tuple[int, str]:
    """A lead as a whole number of its largest fitting unit: days, else hours, else minutes."""
    if abs(days - round(days)) < 1e-9:
        return round(days), "d"
    hours = days * 24.0
    if abs(hours - round(hours)) < 1e-6:
        return round(hours), "h"
    return round(hours * 60.0), "min"


def lead_label(days: float, unit: str = "days") -> str:
    """``5 d`` for whole days, else ``6 h`` or ``30 min``; ``3 mo`` for month leads."""
    if unit == "months":
        return f"{round(days)} mo"
    value, short = _lead_in_units(days)
    return f"{value} {short}"


def lead_token(days: float, unit: str = "days") -> str:
    """File-name form of a lead: ``05d``, else ``06h``, else ``30min`` (zero-padded);
    ``03mo`` for month leads."""
    if unit == "months":
        return f"{round(days):02d}mo"
    value, short = _lead_in_units(days)
    return f"{value:02d}{short}"


def list_values(values: Iterable[str], limit: int = 12) -> str:
    """``a, b, c`` — the first ``limit`` then ``… (N in all)``."""
    items = list(values)
    if len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f", … ({len(items)} in all)"


def pick_leads(
    days: np.ndarray,
    leads: Sequence[float] | None,
    what: str,
    default: Sequence[float] | None = None,
    unit: str = "days",
) -> list[int]:
    """Positions on the lead axis ``days`` of the requested ``leads`` (days, or months
    when ``unit`` is ``"months"``: the default then is months 1, 3 and 6).

    ``leads is None``: every lead. ``leads is default``: those of ``default`` present, or
    the first lead after 0 if none is (lead 0 if that is all there is). Otherwise every
    requested lead must be present, else a one-line :class:`SstcastError` lists those
    available.
    """
    if len(days) == 0:
        raise SstcastError(f"{what} has no lead times")
    if leads is None:
        return list(range(len(days)))
    lenient = default is not None and leads is default
    if lenient and unit == "months":
        leads = DEFAULT_MONTH_LEADS
    chosen: list[int] = []
    missing: list[float] = []
    for lead in leads:
        hits = np.flatnonzero(np.abs(days - float(lead)) < 1e-6)
        if hits.size:
            if int(hits[0]) not in chosen:
                chosen.append(int(hits[0]))
        else:
            missing.append(float(lead))
    if lenient:
        if not chosen:
            positive = np.flatnonzero(days > 0)
            chosen = [int(positive[0]) if positive.size else 0]
        return chosen
    if missing:
        raise SstcastError(
            f"lead(s) {', '.join(lead_label(m, unit) for m in missing)} not in {what}; "
            f"available: {list_values(lead_label(d, unit) for d in days)}"
        )
    return chosen


def pick_inits(times: np.ndarray, inits: Sequence[Any] | str | None, what: str) -> list[int]:
    """Positions in ``times`` of the requested ``inits``: first one if None, all if ``"all"``.

    A requested time that is not there raises a one-line :class:`SstcastError` listing the
    available ones.
    """
    index = pd.DatetimeIndex(np.asarray(times, dtype="datetime64[ns]"))
    if len(index) == 0:
        raise SstcastError(f"{what} has no init times")
    if inits is None:
        return [0]
    if isinstance(inits, str) and inits == "all":
        return list(range(len(index)))
    if isinstance(inits, str) or not isinstance(inits, Sequence | np.ndarray | pd.Index):
        inits = [inits]
    chosen: list[int] = []
    missing: list[str] = []
    for init in inits:
        stamp = as_timestamp(init)
        hits = np.flatnonzero(index == stamp)
        if hits.size:
            if int(hits[0]) not in chosen:
                chosen.append(int(hits[0]))
        else:
            missing.append(format_time(stamp))
    if missing:
        raise SstcastError(
            f"init(s) {', '.join(missing)} not in {what}; "
            f"available: {list_values(format_time(t) for t in index)}"
        )
    return chosen


# --------------------------------------------------------------------------------------
# Colour limits
# --------------------------------------------------------------------------------------
def nice_range(*arrays: np.ndarray) -> tuple[float, float]:
    """Round (vmin, vmax) enclosing the finite values of ``arrays`` (0, 1 if there are none)."""
    finite = [np.asarray(a, dtype=float)[np.isfinite(a)] for a in arrays]
    finite = [f for f in finite if f.size]
    if not finite:
        return 0.0, 1.0
    lo = float(min(f.min() for f in finite))
    hi = float(max(f.max() for f in finite))
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    ticks = MaxNLocator(nbins=8).tick_values(lo, hi)
    return float(ticks[0]), float(ticks[-1])


def nice_symmetric(*arrays: np.ndarray, cap: float | None = None) -> float:
    """A round limit L with the finite values of ``arrays`` inside [-L, L] (at most ``cap``)."""
    finite = [np.abs(np.asarray(a, dtype=float)[np.isfinite(a)]) for a in arrays]
    finite = [f for f in finite if f.size]
    top = float(max(f.max() for f in finite)) if finite else 0.0
    if cap is not None:
        top = min(top, cap)
    if top <= 0.0:
        return 0.1 if cap is None else min(0.1, cap)
    limit = float(MaxNLocator(nbins=6, symmetric=True).tick_values(-top, top)[-1])
    return limit if cap is None else min(limit, cap)


def weighted_mean(values: np.ndarray, lat: np.ndarray | None) -> float:
    """Mean of the finite ``values`` (…, lat, lon), weighted by cos(lat) when ``lat`` given."""
    values = np.asarray(values, dtype=float)
    if lat is None:
        weights = np.ones_like(values)
    else:
        weights = np.broadcast_to(
            np.cos(np.deg2rad(np.asarray(lat, dtype=float)))[:, None], values.shape
        )
    ok = np.isfinite(values)
    if not ok.any():
        return float("nan")
    return float(np.sum(values[ok] * weights[ok]) / np.sum(weights[ok]))
