"""FLOPs for the throughput monitor: count a model's with ``torch.utils.flop_counter``, look up a chip's peak.

>>> import torch
>>> model = torch.nn.Linear(4, 3, bias=False)
>>> x = torch.randn(2, 4)
>>> measure_flops(model, lambda: model(x))  # 2 * batch * in * out
48
>>> measure_flops(model, lambda: model(x), loss_fn=lambda y: y.sum())  # forward + backward of the weight
96
>>> available_flops("cpu", "32-true") is None
True
"""

from __future__ import annotations

from collections.abc import Callable
import torch
from torch.utils.flop_counter import FlopCounterMode


def measure_flops(module: torch.nn.Module, forward_fn: Callable[[], torch.Tensor],
                  loss_fn: Callable[[torch.Tensor], torch.Tensor] | None = None) -> int:
    """The FLOPs of ``forward_fn()`` (and of ``loss_fn(output).backward()`` when ``loss_fn`` is given).

    Build the model on ``torch.device("meta")`` to count without memory or time.
    Pass the result as ``flops_per_batch`` to ``ThroughputMonitor``/``throughput_monitor``.
    ``module`` is the model being measured (kept for Lightning's signature).
    """
    counter = FlopCounterMode(display=False)
    with counter:
        output = forward_fn()
        if loss_fn is not None:
            loss_fn(output).backward()
    return int(counter.get_total_flops())


# Peak dense FLOP/s per device from the vendors' data sheets, by compute dtype ("tf32": float32 matmuls on tensor cores).
_PEAK: dict[str, dict[str, float]] = {
    "h200": {"float64": 3.4e13, "float32": 6.7e13, "tf32": 9.9e14, "bfloat16": 2.0e15, "float16": 2.0e15},
    "h100 nvl": {"float64": 6.7e13, "float32": 1.338e14, "tf32": 9.894e14, "bfloat16": 1.9788e15, "float16": 1.9788e15},
    "h100 pcie": {"float64": 2.56e13, "float32": 5.12e13, "tf32": 3.78e14, "bfloat16": 7.56e14, "float16": 7.56e14},
    "h100": {"float64": 3.35e13, "float32": 6.69e13, "tf32": 4.947e14, "bfloat16": 9.894e14, "float16": 9.894e14},
    "a100": {"float64": 9.7e12, "float32": 1.95e13, "tf32": 1.56e14, "bfloat16": 3.12e14, "float16": 3.12e14},
    "a10g": {"float32": 3.12e13, "tf32": 6.25e13, "bfloat16": 1.25e14, "float16": 1.25e14},
    "l40": {"float32": 9.05e13, "tf32": 9.05e13, "bfloat16": 1.81e14, "float16": 1.81e14},
    "l4": {"float32": 3.03e13, "tf32": 6.0e13, "bfloat16": 1.21e14, "float16": 1.21e14},
    "t4": {"float32": 8.1e12, "float16": 6.5e13},
    "v100": {"float64": 7.8e12, "float32": 1.57e13, "float16": 1.25e14},
}
_DTYPES = {"32-true": "float32", "32": "float32", "bf16-mixed": "bfloat16", "bf16-true": "bfloat16",
           "16-mixed": "float16", "16-true": "float16", "64-true": "float64", "64": "float64"}


def _chip(name: str) -> str | None:
    name = name.lower()
    if "h100" in name:
        return "h100 nvl" if "nvl" in name else "h100 pcie" if ("pcie" in name or "hbm2e" in name) else "h100"
    for chip in ("h200", "a100", "a10g", "l40", "l4", "t4", "v100"):
        if chip in name:
            return chip
    return None


def available_flops(device: torch.device | str, precision: str = "32-true") -> float | None:
    """Peak FLOP/s of one ``device`` at the compute dtype of ``precision``, or None when unknown (CPU, other chips).

    float32 counts as TF32 on Ampere and later unless ``torch.get_float32_matmul_precision()`` is ``"highest"``.
    Pass it as ``available_flops`` to the throughput monitor to get MFU.
    """
    device = torch.device(device)
    if device.type != "cuda" or not torch.cuda.is_available():
        return None
    table = _PEAK.get(_chip(torch.cuda.get_device_name(device)) or "", {})
    dtype = _DTYPES.get(str(precision), "float32")
    if dtype == "float32" and torch.cuda.get_device_capability(device)[0] >= 8 \
            and torch.get_float32_matmul_precision() != "highest":
        dtype = "tf32" if "tf32" in table else dtype
    return table.get(dtype)

