"""Benchmark every registered model: parameters, FLOPs per sample, training and inference
throughput, at a Bohai-sized and a TaxiBJ-sized input. Prints one markdown table.

    .venv/bin/python benchmarks/bench_models.py --quick
    .venv/bin/python benchmarks/bench_models.py --models convlstm predrnn --seconds 5
    .venv/bin/python benchmarks/bench_models.py --presets default paper

Inputs (the presets given, ``default`` unless ``--presets`` says otherwise):
    bohai   sequence models: 10 frames in -> 10 out, 1 channel + 3 extra, 16 x 20
    taxibj  sequence models: 4 frames in -> 4 out, 2 channels, 32 x 32
            ST-ResNet: closeness 3, period 1, trend 1, 2 channels, 32 x 32, 28 external
            features -> the next frame (the model is one-step by design)

FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode`` for one forward pass of
one sample (matrix products, convolutions and attention; element-wise gate arithmetic is
not counted). Throughput is samples per second from the median iteration time over as many iterations
as fit in ``--seconds`` (at least one) after one warm-up iteration — the median resists
other processes sharing the machine; training is forward + MSE loss + backward + Adam.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from sstcast.models import available, create, is_sequence_model


@dataclass(frozen=True)
class Setting:
    """One benchmark input: a name and the sizes of a sample."""

    name: str
    n_in: int
    n_out: int
    channels: int
    extra: int
    height: int
    width: int


SETTINGS = [
    Setting("bohai", n_in=10, n_out=10, channels=1, extra=3, height=16, width=20),
    Setting("taxibj", n_in=4, n_out=4, channels=2, extra=0, height=32, width=32),
]


def build(
    name: str, setting: Setting, preset: str = "default"
) -> tuple[nn.Module, Callable[[int, torch.device], tuple]]:
    """The model for ``setting`` and a function making a batch of inputs and targets."""
    if is_sequence_model(name):
        model = create(name, preset, in_channels=setting.channels, extra_channels=setting.extra)

        def batch(b: int, device: torch.device) -> tuple:
            s = setting
            x = torch.randn(b, s.n_in, s.channels, s.height, s.width, device=device)
            y = torch.randn(b, s.n_out, s.channels, s.height, s.width, device=device)
            extra = (
                torch.randn(b, s.n_in + s.n_out, s.extra, s.height, s.width, device=device)
                if s.extra
                else None
            )
            return (x, s.n_out), {"extra": extra}, y

        return model, batch
    if setting.name != "taxibj":
        raise ValueError("ST-ResNet is benchmarked at the TaxiBJ setting only")
    model = create(name, preset)
    c, h, w = model.channels, model.height, model.width

    def batch(b: int, device: torch.device) -> tuple:
        lc, lp, lt = (model.lengths[k] for k in ("closeness", "period", "trend"))
        xs = [torch.randn(b, c * n, h, w, device=device) if n else None for n in (lc, lp, lt)]
        ext = torch.randn(b, model.ext_dim, device=device) if model.ext_dim else None
        return (*xs, ext), {}, torch.randn(b, c, h, w, device=device)

    return model, batch


def cpu_flash_attention_flops(query, key, value, *args, out_shape=None, **kwargs) -> int:
    """FLOPs of the CPU's fused attention (``FlopCounterMode`` has no formula for it): the
    two matrix products, Q Kᵀ and the weights times V, as executed (on the CPU the
    query/key side of SA/SAM-ConvLSTM is zero-padded to the value's width)."""
    *lead, length, width = query
    keys, value_width = key[-2], value[-1]
    batch = math.prod(lead)
    return 2 * batch * length * keys * (width + value_width)


def flops_per_sample(model: nn.Module, make_batch: Callable) -> float:
    """Forward FLOPs for one sample."""
    args, kwargs, _ = make_batch(1, torch.device("cpu"))
    model = model.cpu().eval()
    counter = FlopCounterMode(
        display=False,
        custom_mapping={
            torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: (cpu_flash_attention_flops)
        },
    )
    with torch.no_grad(), counter:
        model(*args, **kwargs)
    return float(counter.get_total_flops())


def throughput(
    model: nn.Module,
    make_batch: Callable,
    device: torch.device,
    batch: int,
    seconds: float,
    train: bool,
) -> float:
    """Samples per second for training steps (``train``) or inference forwards."""
    model = model.to(device).train(train)
    args, kwargs, target = make_batch(batch, device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4) if train else None

    def one() -> None:
        if train:
            opt.zero_grad(set_to_none=True)
            loss = ((model(*args, **kwargs) - target) ** 2).mean()
            loss.backward()
            opt.step()
        else:
            with torch.no_grad():
                model(*args, **kwargs)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    one()  # warm-up (allocations, kernel selection)
    sync()
    times: list[float] = []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds and len(times) < 200:
        tick = time.perf_counter()
        one()
        sync()
        times.append(time.perf_counter() - tick)
    return batch / statistics.median(times)


def machine() -> str:
    """One line naming the hardware and software the numbers come from."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    parts = [f"CPU {cpu} ({torch.get_num_threads()} torch threads, {os.cpu_count()} cores)"]
    if torch.cuda.is_available():
        parts.append(f"GPU {torch.cuda.get_device_name(0)}")
    parts.append(f"torch {torch.__version__}")
    return "; ".join(parts)


def fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", help="model names (default: all registered)")
    parser.add_argument("--quick", action="store_true", help="short timings (0.5 s each)")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per timing")
    parser.add_argument("--batch", type=int, default=8, help="batch size on the CPU")
    parser.add_argument("--cuda-batch", type=int, default=32, help="batch size on CUDA")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--presets", nargs="*", default=["default"], help="presets to measure (default, paper)"
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    seconds = 0.5 if args.quick else args.seconds
    names = args.models or available()
    devices = [torch.device("cpu")]
    if torch.cuda.is_available():
        devices.append(torch.device("cuda"))

    header = ["model", "preset", "input", "params", "GFLOPs/sample"]
    for dev in devices:
        header += [f"train samples/s ({dev.type})", f"infer samples/s ({dev.type})"]
    print(
        f"Machine: {machine()}; batch {args.batch} (CPU), {args.cuda_batch} (CUDA); "
        f"{seconds:g} s per timing\n"
    )
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    jobs = [(n, p, s) for n in names for p in args.presets for s in SETTINGS]
    for name, preset, setting in jobs:
        if not is_sequence_model(name) and setting.name != "taxibj":
            continue
        label = (
            f"{setting.name} {setting.n_in}→{setting.n_out}, "
            f"{setting.channels}+{setting.extra}ch {setting.height}×{setting.width}"
            if is_sequence_model(name)
            else "taxibj c3/p1/t1→1, 2ch 32×32, ext 28"
        )
        try:
            torch.manual_seed(0)
            model, make_batch = build(name, setting, preset)
            params = sum(p.numel() for p in model.parameters())
            row = [
                name,
                preset,
                label,
                f"{params:,}",
                fmt(flops_per_sample(model, make_batch) / 1e9, 3),
            ]
            for dev in devices:
                b = args.batch if dev.type == "cpu" else args.cuda_batch
                for train in (True, False):
                    row.append(fmt(throughput(model, make_batch, dev, b, seconds, train)))
        except Exception as err:  # a broken model must not hide the others' numbers
            row = [name, preset, label, f"error: {type(err).__name__}: {err}"]
            row += [""] * (len(header) - len(row))
        print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
