"""Input checks shared by every public function (conventions.md, "Input checks and host syncs").

Two kinds:

* always-on checks of shapes, dtypes, devices and parameter values: pure Python on metadata, never a
  host sync; they raise ``TypeError``/``ValueError`` naming the argument and what it got;
* value checks (NaN/inf, ranges) that need the data on the host: they run only when ``validate=True``
  is passed or ``DIRFAST_VALIDATE=1`` is set (the test suite sets it).
"""

from __future__ import annotations

import math
import os
from typing import Iterable, Optional

import torch

FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def validation_enabled(validate: Optional[bool]) -> bool:
    """``validate`` if given, else ``DIRFAST_VALIDATE=1`` in the environment."""
    if validate is not None:
        return bool(validate)
    return os.environ.get("DIRFAST_VALIDATE", "0") == "1"


def describe(t: torch.Tensor) -> str:
    return f"tensor of shape {tuple(t.shape)}, dtype {t.dtype}, device {t.device}"


def check_tensor(name: str, t, *, fn: str) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{fn}: {name} must be a torch.Tensor, got {type(t).__name__}")
    return t


def check_float(name: str, t: torch.Tensor, *, fn: str) -> None:
    if t.dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"{fn}: {name} must be a floating tensor (float16, bfloat16, float32 or float64), got "
            f"{describe(t)}"
        )


def check_same_device(fn: str, **tensors: Optional[torch.Tensor]) -> torch.device:
    items = [(k, v) for k, v in tensors.items() if v is not None]
    first_name, first = items[0]
    for name, t in items[1:]:
        if t.device != first.device:
            raise ValueError(
                f"{fn}: all tensors must be on one device, got {first_name} on {first.device} and "
                f"{name} on {t.device}"
            )
    return first.device


def check_scalar(name: str, value, *, fn: str, low=None, low_open=False, choices: Iterable = ()):
    """A finite real parameter, optionally bounded below (``> low`` if ``low_open`` else ``>= low``)."""
    choices = tuple(choices)
    if choices:
        if value not in choices:
            raise ValueError(f"{fn}: {name} must be one of {choices}, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{fn}: {name} must be a real number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{fn}: {name} must be finite, got {value!r}")
    if low is not None and (value <= low if low_open else value < low):
        raise ValueError(f"{fn}: {name} must be {'>' if low_open else '>='} {low}, got {value!r}")
    return float(value)


def check_finite_values(fn: str, **tensors: Optional[torch.Tensor]) -> None:
    """Value check (host sync): every given tensor is free of NaN/inf."""
    for name, t in tensors.items():
        if t is None or t.numel() == 0:
            continue
        bad = ~torch.isfinite(t.detach())
        if bool(bad.any()):
            idx = bad.reshape(-1).nonzero()[:5].reshape(-1).tolist()
            vals = t.detach().reshape(-1)[idx].tolist()
            raise ValueError(
                f"{fn}: {name} contains NaN/inf (validation on), e.g. at flat indices {idx}: {vals}"
            )
