"""Training: a Lightning module around any registry model, and :func:`fit` for a pipeline.

``module.py`` the LightningModule (loss over scored cells, validation per lead in physical
units through :mod:`sstcast.verify`), ``optim.py`` optimisers and schedules,
``callbacks.py`` progress, budget, metrics, ``loaders.py`` and ``sampler.py`` the data
order, ``estimate.py`` the time estimate, ``hardware.py`` device/precision/strategy,
``fit.py`` the workflow: resolve → build → train → summarise.
"""

from sstcast.training.fit import FitResult, fit, lead_table
from sstcast.training.module import ForecastModule
from sstcast.training.sampler import EpochShuffleSampler

__all__ = ["EpochShuffleSampler", "FitResult", "ForecastModule", "fit", "lead_table"]
