"""ST-ResNet's ``zero_init``: the untrained network outputs exactly 0, which with flows as
anomalies from the historical average is the historical average itself."""

from __future__ import annotations

import pytest
import torch

from sstcast.errors import ConfigError
from sstcast.models import create


def test_zero_init_starts_at_zero_and_still_learns() -> None:
    model = create("stresnet", "tiny", zero_init=True)
    b = 3
    xc, xp, xt = (torch.randn(b, 2 * n, 16, 16) for n in (3, 1, 1))
    ext = torch.rand(b, 5)
    out = model(xc, xp, xt, ext)
    assert out.shape == (b, 2, 16, 16) and torch.equal(out, torch.zeros_like(out))
    # every parameter the output depends on first gets a gradient at the next steps
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    target = torch.full_like(out, 0.3)
    for _ in range(3):
        opt.zero_grad()
        loss = ((model(xc, xp, xt, ext) - target) ** 2).mean()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.09  # moved off the zero start
    assert model(xc, xp, xt, ext).abs().sum() > 0


def test_zero_init_refuses_a_final_relu_on_the_external_branch() -> None:
    with pytest.raises(ConfigError, match="external_relu"):
        create("stresnet", "tiny", zero_init=True, external_relu=True)
    # without zero_init, DeepST's random start is kept
    out = create("stresnet", "tiny")(*(torch.randn(2, 2 * n, 16, 16) for n in (3, 1, 1)),
                                     torch.rand(2, 5))  # fmt: skip
    assert out.abs().sum() > 0
