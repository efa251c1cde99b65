"""ST-ResNet (Zhang, Zheng & Qi, AAAI 2017, "Deep Spatio-Temporal Residual Networks for
Citywide Crowd Flows Prediction"; DeepST).

Three identical convolutional branches look at the recent past (closeness), the same time
on previous days (period) and the same time in previous weeks (trend). Their outputs are
fused with learnt element-wise weights, an external-factor branch (weather, holidays, ...)
is added, and tanh squashes the result into [-1, 1] (the paper scales flows to [-1, 1]
with min-max; invert that scaling after prediction)::

    X_res  = W_c ∘ X_c + W_p ∘ X_p + W_t ∘ X_t        (W_* of shape (C, H, W))
    X̂_t    = tanh(X_res + X_ext)

Each branch: conv3x3(filters) → L residual units → ReLU → conv3x3(C). A residual unit is
``x + conv3x3(ReLU(conv3x3(ReLU(x))))`` (pre-activation, with optional BatchNorm before
each ReLU; off by default as in the paper's TaxiBJ setting). The external branch is
FC(ext_dim → 10) → ReLU → FC(10 → C·H·W), reshaped to (C, H, W); DeepST's code ends it with
one more ReLU (``external_relu``, on in the ``paper`` preset). With a single branch DeepST
skips the fusion weights (``fuse_single_branch=False``); by default they are kept.

Input layout — each branch takes its frames stacked frame-major on the channel axis,
newest first::

    xc (B, C·len_closeness, H, W) = [X_{t-1}, X_{t-2}, ..., X_{t-lc}]
    xp (B, C·len_period,    H, W) = [X_{t-p}, X_{t-2p}, ...]       p = one day
    xt (B, C·len_trend,     H, W) = [X_{t-q}, X_{t-2q}, ...]       q = one week

where each X is its C channels in order (for TaxiBJ: inflow, outflow), so for C = 2
``xc[:, 0]`` is the inflow at t−1, ``xc[:, 1]`` the outflow at t−1, ``xc[:, 2]`` the inflow
at t−2, and so on. ``ext`` is (B, ext_dim) for the target time. The fusion weights make
the grid fixed: ``height`` and ``width`` are part of the configuration and checked.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sstcast.errors import ConfigError
from sstcast.models.base import ModelInputError
from sstcast.models.registry import register_model


class ResidualUnit(nn.Module):
    """Pre-activation residual unit: x + conv(ReLU(conv(ReLU(x)))), optional BatchNorm."""

    def __init__(self, filters: int, batch_norm: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(2):
            if batch_norm:
                layers.append(nn.BatchNorm2d(filters))
            layers += [nn.ReLU(), nn.Conv2d(filters, filters, 3, padding=1)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class Branch(nn.Module):
    """conv3x3 → L residual units → ReLU → conv3x3 to ``channels``."""

    def __init__(
        self, in_channels: int, channels: int, filters: int, n_residual: int, batch_norm: bool
    ) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, filters, 3, padding=1),
            *(ResidualUnit(filters, batch_norm) for _ in range(n_residual)),
            nn.ReLU(),
            nn.Conv2d(filters, channels, 3, padding=1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class STResNet(nn.Module):
    """ST-ResNet: closeness/period/trend branches, parametric fusion, external branch, tanh.

    Args:
        len_closeness, len_period, len_trend: frames per branch (0 drops the branch;
            closeness is required).
        channels: flow channels per frame (2 for TaxiBJ inflow/outflow).
        height, width: the fixed grid the fusion weights are built for.
        ext_dim: length of the external-factor vector (0 = no external branch).
        n_residual: residual units per branch (the paper's L).
        filters: convolution filters inside the branches.
        batch_norm: BatchNorm in the residual units.
        external_relu: end the external branch with a ReLU, as DeepST's code does (the paper's
            text has none; a ReLU there can only raise the flows before the tanh).
        fuse_single_branch: keep the fusion weights when only one branch is used (DeepST
            passes a single branch's output through unweighted).
        zero_init: start from an output of exactly 0 (each branch's last convolution and the
            external branch's last layer zero): with flows as anomalies from the historical
            average (``data.normalization: anomaly``) the untrained network *is* the
            historical average, and training only adds what the inputs tell beyond it.
    """

    def __init__(
        self,
        len_closeness: int = 3,
        len_period: int = 1,
        len_trend: int = 1,
        channels: int = 2,
        height: int = 32,
        width: int = 32,
        ext_dim: int = 28,
        n_residual: int = 12,
        filters: int = 64,
        batch_norm: bool = False,
        external_relu: bool = False,
        fuse_single_branch: bool = True,
        zero_init: bool = False,
    ) -> None:
        super().__init__()
        for key, value, low in [
            ("len_closeness", len_closeness, 1),
            ("len_period", len_period, 0),
            ("len_trend", len_trend, 0),
            ("channels", channels, 1),
            ("height", height, 1),
            ("width", width, 1),
            ("ext_dim", ext_dim, 0),
            ("n_residual", n_residual, 0),
            ("filters", filters, 1),
        ]:
            if not isinstance(value, int) or value < low:
                raise ConfigError(
                    f"model stresnet: option '{key}' must be an int >= {low}, got {value!r}"
                )
        self.lengths = {"closeness": len_closeness, "period": len_period, "trend": len_trend}
        self.channels, self.height, self.width, self.ext_dim = channels, height, width, ext_dim
        self.branches = nn.ModuleDict()
        self.fusion = nn.ParameterDict()
        used = [name for name, length in self.lengths.items() if length]
        for name in used:
            self.branches[name] = Branch(
                channels * self.lengths[name], channels, filters, n_residual, batch_norm
            )
            if len(used) > 1 or fuse_single_branch:
                # DeepST initialises the fusion weights uniformly in [0, 1).
                self.fusion[name] = nn.Parameter(torch.rand(channels, height, width))
        if ext_dim:
            layers: list[nn.Module] = [
                nn.Linear(ext_dim, 10),
                nn.ReLU(),
                nn.Linear(10, channels * height * width),
            ]
            if external_relu:
                layers.append(nn.ReLU())
            self.external = nn.Sequential(*layers)
        else:
            self.external = None
        if zero_init:
            if external_relu and ext_dim:
                raise ConfigError(
                    "model stresnet: zero_init needs external_relu false (a ReLU passes no "
                    "gradient at 0, so a zeroed external branch would never learn)"
                )
            last = [branch.net[-1] for branch in self.branches.values()]
            if self.external is not None:
                last.append(next(m for m in reversed(self.external) if isinstance(m, nn.Linear)))
            for layer in last:
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)

    def _check(self, name: str, x: Tensor | None, batch: int | None) -> None:
        length = self.lengths[name]
        if length == 0:
            if x is not None:
                raise ModelInputError(f"STResNet: {name} input given but len_{name}=0")
            return
        if x is None:
            raise ModelInputError(f"STResNet: {name} input missing (len_{name}={length})")
        want = (self.channels * length, self.height, self.width)
        if x.ndim != 4 or tuple(x.shape[1:]) != want:
            raise ModelInputError(
                f"STResNet: {name} input must be (batch, {want[0]}, {want[1]}, {want[2]}) = "
                f"(batch, channels·len_{name}, height, width); got {tuple(x.shape)}"
            )
        if batch is not None and x.shape[0] != batch:
            raise ModelInputError(
                f"STResNet: {name} input has batch {x.shape[0]}, closeness has {batch}"
            )

    def forward(
        self,
        xc: Tensor,
        xp: Tensor | None = None,
        xt: Tensor | None = None,
        ext: Tensor | None = None,
    ) -> Tensor:
        """Predict the next frame (B, channels, height, width) in [-1, 1]."""
        self._check("closeness", xc, None)
        batch = xc.shape[0]
        self._check("period", xp, batch)
        self._check("trend", xt, batch)
        inputs = {"closeness": xc, "period": xp, "trend": xt}
        out = sum(
            (
                self.fusion[name] * branch(inputs[name])
                if name in self.fusion
                else branch(inputs[name])
            )
            for name, branch in self.branches.items()
        )
        if self.external is not None:
            if ext is None or ext.ndim != 2 or tuple(ext.shape) != (batch, self.ext_dim):
                got = None if ext is None else tuple(ext.shape)
                raise ModelInputError(
                    f"STResNet: ext must be (batch, ext_dim) = ({batch}, {self.ext_dim}); got {got}"
                )
            e = self.external(ext.to(xc.dtype))
            out = out + e.reshape(batch, self.channels, self.height, self.width)
        elif ext is not None:
            raise ModelInputError("STResNet: ext given but the model was built with ext_dim=0")
        return torch.tanh(out)


#: ST-ResNet's best TaxiBJ network (Zhang et al. 2017, L12-E): closeness 3, period 1,
#: trend 1, 12 residual units of 64 filters, the 28 external features, 32 x 32 grid.
_TAXIBJ_L12: dict[str, int] = {
    "len_closeness": 3,
    "len_period": 1,
    "len_trend": 1,
    "channels": 2,
    "height": 32,
    "width": 32,
    "ext_dim": 28,
    "n_residual": 12,
    "filters": 64,
}

register_model(
    "stresnet",
    kind="stresnet",
    presets={
        "tiny": {
            "len_closeness": 3,
            "len_period": 1,
            "len_trend": 1,
            "channels": 2,
            "height": 16,
            "width": 16,
            "ext_dim": 5,
            "n_residual": 1,
            "filters": 8,
        },
        # The paper's best TaxiBJ setting: lc=3, lp=1, lt=1, L=12, 64 filters, 28 ext features.
        "default": _TAXIBJ_L12,
        # Zhang et al. 2017 (the best TaxiBJ model of its comparison, L12-E: 12 residual units,
        # closeness 3 / period 1 / trend 1, 64 filters, external factors, no BatchNorm) as
        # DeepST's code builds it (github.com/lucktroy/
        # DeepST, deepst/models/STResNet.py): 28 external features (meteorology and
        # holidays), the external branch's final ReLU, no fusion weights for a single branch.
        "paper": {
            **_TAXIBJ_L12,
            "batch_norm": False,
            "external_relu": True,
            "fuse_single_branch": False,
        },
    },
    summary="ST-ResNet: closeness/period/trend residual branches + external (Zhang et al. 2017)",
)(STResNet)
