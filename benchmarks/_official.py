"""The literal official re-implementations (``tests/_official_{lds,fds,conr,distloss}.py``, the test
suite's parity oracles) for the benchmarks' ``official`` providers.

They live in ``tests/`` (they are test oracles, not part of the package); this loads them by path
under the module names pytest gives them, so both share one module object in one process.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from types import ModuleType

import torch

_DIST_Q = {}


def dist_pseudo_labels(n: int):
    """The official Dist Loss pseudo-labels of the AgeDB-DIR training ages for batch size ``n``
    (``official_label_distribution`` + ``official_batch_labels``; a NumPy float64 array, cached per
    ``n`` as the official code builds them once per batch size)."""
    if n not in _DIST_Q:
        from .runner import agedb_train

        off = load("distloss")
        dens = off.official_label_distribution(agedb_train().numpy())
        _DIST_Q[n] = off.official_batch_labels(dens, n)
    return _DIST_Q[n]

TESTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests")


def path(name: str) -> str:
    return os.path.join(TESTS, f"_official_{name}.py")


def available(name: str) -> bool:
    """True if ``tests/_official_<name>.py`` is present (a source checkout)."""
    return os.path.exists(path(name))


def load(name: str) -> ModuleType:
    """``tests/_official_<name>.py`` as module ``_official_<name>``."""
    mod_name = f"_official_{name}"
    mod = sys.modules.get(mod_name)
    if mod is not None:
        return mod
    spec = importlib.util.spec_from_file_location(mod_name, path(name))
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path(name)}")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        sys.modules.pop(mod_name, None)
        raise
    return mod


def dist_loss(preds, targets, pseudo_labels, weights=None, *, eps: float = 0.1, roundtrip=None):
    """The official ``DistLoss.forward`` (L1, λ = 1) of ``tests/_official_distloss.py`` on any device:
    on CPU its ``official_dist_loss``; on CUDA the same expression with the predictions copied to the
    host for the NumPy soft sort and the result copied back (what the official fast-soft-sort does on
    a GPU; the replica's autograd function returns host gradients, so the copy is made explicit).
    ``preds``/``targets``/``weights``: ``[N]`` or ``[N, 1]``; ``pseudo_labels``: ``[N, 1]`` float64
    on the predictions' device (or a NumPy array on CPU). ``roundtrip``: force (True) or avoid (False)
    the explicit host round trip (default: on non-CPU devices), so CPU tests can check that path."""
    off = load("distloss")
    p = preds.reshape(-1, 1)
    t = targets.reshape(-1, 1)
    w = None if weights is None else weights.reshape(-1, 1)
    if not (p.device.type != "cpu" if roundtrip is None else roundtrip):
        return off.official_dist_loss(p, t, pseudo_labels, w, loss="l1", eps=eps)
    pseudo_labels = torch.as_tensor(pseudo_labels, dtype=torch.float64, device=p.device).reshape(-1, 1)
    p64 = p.double()
    soft = off._OfficialSoftSort.apply(p64.reshape(-1).cpu(), eps).to(p.device).reshape(-1, 1)
    dist = off._elem("l1", soft, pseudo_labels)
    plain = off._elem("l1", p64, t.double())
    if w is not None:
        dist = dist * w.double()
        plain = plain * w.double()
    return (dist + plain).mean()
