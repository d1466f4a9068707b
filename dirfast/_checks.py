"""Input checks shared by every public function (docs/conventions.md, "Input checks and host syncs").

Two kinds:

* always-on checks of shapes, dtypes, devices and parameter values: pure Python on metadata, never a
  host sync; they raise ``TypeError``/``ValueError`` naming the argument and what it got;
* value checks (NaN/inf, ranges) that need the data on the host: they run only when ``validate=True``
  is passed or ``DIRFAST_VALIDATE=1`` is set (the test suite sets it).

Fit-time and metric APIs (``LDS.fit``, ``lds_weights``, ``Bins.counts``, ``pseudo_labels``,
``DistLoss(train_labels)``, ``shot_metrics``) also take NumPy arrays and sequences of numbers, converted
once at the boundary by :func:`as_label_tensor`; per-step ops stay tensor-only (:func:`check_tensor`).
"""

from __future__ import annotations

import math
from typing import Iterable, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from ._env import getenv

FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
#: what fit-time and metric APIs accept for labels/predictions (see :func:`as_label_tensor`)
LabelsLike = Union[torch.Tensor, np.ndarray, Sequence]


def validation_enabled(validate: Optional[bool]) -> bool:
    """``validate`` if given, else ``DIRFAST_VALIDATE=1`` in the environment."""
    if validate is not None:
        return bool(validate)
    return getenv("DIRFAST_VALIDATE", "0") == "1"


def describe(t: torch.Tensor) -> str:
    return f"tensor of shape {tuple(t.shape)}, dtype {t.dtype}, device {t.device}"


def check_tensor(name: str, t, *, fn: str) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{fn}: {name} must be a torch.Tensor, got {type(t).__name__}")
    return t


#: NumPy dtype kinds accepted by :func:`as_label_tensor`: float, signed and unsigned integers
_LABEL_KINDS = {"f": "float", "i": "integer", "u": "unsigned integer"}
_KIND_NAMES = {"b": "bool", "c": "complex", "O": "object", "U": "str", "S": "bytes", "V": "void",
               "M": "datetime64", "m": "timedelta64"}
_NP_FLOATS = (np.float16, np.float32, np.float64)


def _describe_array(a: np.ndarray, origin: str) -> str:
    return f"{origin} of shape {a.shape}, dtype {a.dtype}"


def as_label_tensor(name: str, x, *, fn: str, ndim: Optional[Tuple[int, ...]] = (1, 2),
                    column: bool = False, device=None, floating: bool = False):
    """Fit-time boundary conversion: a ``torch.Tensor``, a NumPy array or a sequence of numbers → tensor.

    * ``torch.Tensor``: returned as is (same object: no copy, no move, no check here — the caller's
      usual tensor checks apply, with their usual messages).
    * ``np.ndarray`` (and objects with ``__array__``, e.g. a pandas Series): ``torch.from_numpy``,
      sharing memory (never written to), keeping the dtype (float16/float32/float64, signed and
      unsigned integers). Arrays torch cannot wrap are copied first (negative strides, non-native
      byte order, read-only buffers). bool, complex, object, str/bytes, datetime and extended
      precision (``float128``) arrays raise ``TypeError``.
    * Python lists/tuples (nested for 2-D): through ``np.asarray``: ints → int64, floats (or a mix)
      → float64; bools, strings, ``None`` and ragged nesting raise.
    * Scalars (Python numbers, NumPy scalars, 0-d arrays) raise ``ValueError``: labels come as an
      array. An empty sequence gives an empty float64 tensor (the API's "empty" error follows, as for
      an empty tensor).

    Args:
        ndim: accepted numbers of dimensions of a converted input (``None``: any ≥ 1).
        column: a converted input must be ``[N]`` or ``[N, 1]`` (the message is the tensor check's).
        device: where a converted input goes (default CPU); tensors are never moved.
        floating: a converted input must have a floating dtype (e.g. predictions).
    """
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, (str, bytes, bytearray)) or isinstance(x, (dict, set, frozenset)):
        raise TypeError(f"{fn}: {name} must be a torch.Tensor, a NumPy array or a sequence of numbers, "
                        f"got {type(x).__name__} {x!r:.60}")
    if isinstance(x, np.ndarray):
        a, origin = x, "NumPy array"
    elif isinstance(x, np.generic) or isinstance(x, (bool, int, float, complex)):
        raise ValueError(f"{fn}: {name} must be an array of labels (a torch.Tensor, a NumPy array or a "
                         f"sequence of numbers), got the scalar {type(x).__name__} {x!r}")
    elif isinstance(x, (list, tuple, range)) or hasattr(x, "__array__"):
        origin = type(x).__name__
        try:
            a = np.asarray(x)
        except (ValueError, TypeError, OverflowError) as exc:
            raise ValueError(f"{fn}: {name} could not be read as an array of numbers ({origin}): "
                             f"{exc}") from None
        if not hasattr(x, "__array__") and a.dtype.kind == "i" and a.dtype != np.int64:
            a = a.astype(np.int64)  # Python ints: int64 on every platform
    else:
        raise TypeError(f"{fn}: {name} must be a torch.Tensor, a NumPy array or a sequence of numbers, "
                        f"got {type(x).__name__}")
    kind = a.dtype.kind
    if kind not in _LABEL_KINDS or (kind == "f" and a.dtype.type not in _NP_FLOATS):
        what = _KIND_NAMES.get(kind, str(a.dtype))
        raise TypeError(f"{fn}: {name} must hold real numbers (float16/float32/float64 or integers), "
                        f"got {_describe_array(a, origin)} ({what})")
    if floating and kind != "f":
        raise TypeError(f"{fn}: {name} must be floating (float16, float32 or float64), got "
                        f"{_describe_array(a, origin)}")
    if a.ndim == 0:
        raise ValueError(f"{fn}: {name} must be an array of labels, got a 0-d {origin} "
                         f"({a.dtype} {a.item()!r})")
    if ndim is not None and a.ndim not in ndim:
        want = " or ".join(f"{d}-D" for d in ndim)
        raise ValueError(f"{fn}: {name} must be {want}, got {_describe_array(a, origin)}")
    if column and (a.ndim not in (1, 2) or (a.ndim == 2 and a.shape[1] != 1)):
        raise ValueError(f"{fn}: {name} must have shape [B] or [B, 1], got {_describe_array(a, origin)}")
    if (not a.dtype.isnative or not a.flags.writeable or any(s < 0 for s in a.strides)):
        # torch.from_numpy refuses (byte order, negative strides) or warns (read-only): copy
        a = np.array(a, dtype=a.dtype.newbyteorder("="), order="C")
    t = torch.from_numpy(a)
    return t if device is None else t.to(device)


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
