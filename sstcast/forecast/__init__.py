"""The forecast file: schema (two layouts, validation, opening, mocks) and its writer.

:func:`forecast` (``sstcast forecast``) writes one CF-1.8 / ACDD-1.3 NetCDF4 file with
:class:`ForecastWriter`; ``sstcast evaluate`` and ``sstcast maps`` read it with
:func:`open_forecast`, which refuses anything that is not a forecast.
"""

from __future__ import annotations

from sstcast.forecast.run import ForecastResult, forecast
from sstcast.forecast.schema import (
    DIRECTIONS,
    KINDS,
    LAYOUTS,
    SST_KIND,
    TAXIBJ_KIND,
    ForecastLayout,
    default_space,
    forecast_template,
    layout_for_kind,
    layout_for_variable,
    mock_forecast,
    open_forecast,
    validate_forecast,
)
from sstcast.forecast.writer import ForecastWriter, write_forecast

__all__ = [
    "DIRECTIONS",
    "KINDS",
    "LAYOUTS",
    "SST_KIND",
    "TAXIBJ_KIND",
    "ForecastLayout",
    "ForecastResult",
    "ForecastWriter",
    "default_space",
    "forecast",
    "forecast_template",
    "layout_for_kind",
    "layout_for_variable",
    "mock_forecast",
    "open_forecast",
    "validate_forecast",
    "write_forecast",
]
