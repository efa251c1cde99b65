"""Per-lead scores accumulated batch by batch in torch, for validation during training.

:class:`LeadAccumulator` keeps, per lead, the float64 sums

    sse = Σ w·(f − o)²    sae = Σ w·|f − o|    se = Σ w·(f − o)    weight = Σ w

over batch, channel and space, with the same pair rule as :mod:`sstcast.verify.metrics` (a
pair counts only where forecast, truth and weight are finite and the weight is > 0). Over a
validation epoch they give exactly the pooled scores of :func:`~sstcast.verify.metrics.mse`,
:func:`~sstcast.verify.metrics.rmse`, :func:`~sstcast.verify.metrics.mae` and
:func:`~sstcast.verify.metrics.bias` over the same forecasts::

    mse = sse / weight    rmse = sqrt(mse)    mae = sae / weight    bias = se / weight

Sums (not means) are kept so that a distributed strategy can add the raw tensors of every
process (``all_reduce`` of :meth:`LeadAccumulator.sums`) and compute the scores once with
:func:`metrics_from_sums`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from sstcast.errors import SstcastError

__all__ = ["SUM_KEYS", "LeadAccumulator", "metrics_from_sums"]

#: The sums an accumulator keeps, each a float64 tensor of shape (n_lead,).
SUM_KEYS = ("sse", "sae", "se", "weight")


def metrics_from_sums(sums: dict[str, Tensor]) -> dict[str, Tensor]:
    """Per-lead ``mse``, ``rmse``, ``mae``, ``bias`` from (possibly all-reduced) sums.

    NaN for a lead without any valid pair (``weight == 0``).
    """
    missing = [k for k in SUM_KEYS if k not in sums]
    if missing:
        raise SstcastError(f"metrics_from_sums: missing sums {missing}")
    w = sums["weight"].double()
    nan = torch.full_like(w, float("nan"))
    has = w > 0
    safe = torch.where(has, w, torch.ones_like(w))

    def mean(key: str) -> Tensor:
        return torch.where(has, sums[key].double() / safe, nan)

    mse = mean("sse")
    return {"mse": mse, "rmse": torch.sqrt(mse), "mae": mean("sae"), "bias": mean("se")}


class LeadAccumulator:
    """Per-lead weighted sums of errors over validation batches (see the module docstring).

    ``n_lead`` may be given up front so that :meth:`sums` has the right shape even for a
    process that never sees a batch (zeros); otherwise it is taken from the first update.
    """

    def __init__(self, n_lead: int | None = None, device: torch.device | str | None = None):
        self._sums: dict[str, Tensor] | None = None
        if n_lead is not None:
            if n_lead < 1:
                raise SstcastError(f"LeadAccumulator: n_lead must be >= 1, got {n_lead}")
            self._sums = {
                k: torch.zeros(n_lead, dtype=torch.float64, device=device) for k in SUM_KEYS
            }

    @classmethod
    def from_sums(cls, sums: dict[str, Tensor]) -> LeadAccumulator:
        """An accumulator holding these sums (e.g. the all-reduced sums of every process)."""
        missing = [k for k in SUM_KEYS if k not in sums]
        if missing:
            raise SstcastError(f"LeadAccumulator.from_sums: missing sums {missing}")
        acc = cls()
        acc._sums = {k: sums[k].detach().to(torch.float64).clone() for k in SUM_KEYS}
        return acc

    @property
    def n_lead(self) -> int | None:
        """Number of leads (None before the first update when not given)."""
        return None if self._sums is None else int(self._sums["weight"].numel())

    def reset(self) -> None:
        """Zero the sums (keeps the number of leads and the device)."""
        if self._sums is not None:
            for value in self._sums.values():
                value.zero_()

    @torch.no_grad()
    def update(self, pred: Tensor, truth: Tensor, weight: Tensor) -> None:
        """Add a batch: ``pred``, ``truth`` (B, n_lead, C, H, W) in physical units.

        ``weight`` is (H, W) or anything broadcastable to the batch (0 on land); pairs where
        pred, truth or weight is not finite, or the weight is <= 0, count zero.
        """
        if pred.shape != truth.shape or pred.ndim != 5:
            raise SstcastError(
                "LeadAccumulator.update: pred and truth must both be (B, n_lead, C, H, W), got "
                f"{tuple(pred.shape)} and {tuple(truth.shape)}"
            )
        f = pred.detach().double()
        o = truth.detach().to(f.device, torch.float64)
        w = weight.detach().to(f.device, torch.float64)
        try:
            w = torch.broadcast_to(w, f.shape)
        except RuntimeError:
            raise SstcastError(
                f"LeadAccumulator.update: weight {tuple(weight.shape)} does not broadcast to "
                f"the batch {tuple(pred.shape)}"
            ) from None
        valid = torch.isfinite(f) & torch.isfinite(o) & torch.isfinite(w) & (w > 0)
        zero = torch.zeros((), dtype=torch.float64, device=f.device)
        w = torch.where(valid, w, zero)
        error = torch.where(valid, f, zero) - torch.where(valid, o, zero)
        dims = (0, 2, 3, 4)
        batch = {
            "sse": (w * error.square()).sum(dims),
            "sae": (w * error.abs()).sum(dims),
            "se": (w * error).sum(dims),
            "weight": w.sum(dims),
        }
        if self._sums is None:
            self._sums = batch
            return
        if self.n_lead != pred.shape[1]:
            raise SstcastError(
                f"LeadAccumulator.update: batch has {pred.shape[1]} leads, earlier {self.n_lead}"
            )
        for key, value in batch.items():
            self._sums[key] += value.to(self._sums[key].device)

    def merge(self, other: LeadAccumulator) -> LeadAccumulator:
        """Add another accumulator's sums into this one (in place); returns ``self``."""
        if other._sums is None:
            return self
        if self._sums is None:
            self._sums = {k: v.clone() for k, v in other._sums.items()}
            return self
        if self.n_lead != other.n_lead:
            raise SstcastError(
                f"LeadAccumulator.merge: {other.n_lead} leads into an accumulator of {self.n_lead}"
            )
        for key, value in other._sums.items():
            self._sums[key] += value.to(self._sums[key].device)
        return self

    def sums(self) -> dict[str, Tensor]:
        """The raw per-lead float64 sums ``sse, sae, se, weight`` (the tensors themselves).

        A distributed strategy may all-reduce them in place (sum) before :meth:`compute`.
        """
        if self._sums is None:
            raise SstcastError("LeadAccumulator: no batch yet and no n_lead given")
        return self._sums

    def compute(self) -> dict[str, Tensor]:
        """Per-lead ``mse``, ``rmse``, ``mae``, ``bias`` (float64 tensors of shape (n_lead,))."""
        return metrics_from_sums(self.sums())
