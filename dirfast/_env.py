"""Environment variables read on hot paths (``DIRFAST_BACKEND``, ``DIRFAST_VALIDATE``, read at every
call so that a change takes effect on the next call).

``os.environ.get`` encodes the key on every call (~1.8 µs each on the CI machine, twice per op
call); :func:`getenv` looks the pre-encoded key up in ``os.environ``'s own mapping, which every
``os.environ[...] = ...`` / ``monkeypatch.setenv`` updates, so it sees exactly what
``os.environ.get`` sees. Falls back to ``os.environ.get`` where that mapping is not exposed.
"""

from __future__ import annotations

import os
from typing import Dict, Optional

_ENV = os.environ
_DATA = getattr(_ENV, "_data", None)
_ENCODE = getattr(_ENV, "encodekey", None)
_DECODE = getattr(_ENV, "decodevalue", None)
_KEYS: Dict[str, object] = {}


def getenv(name: str, default: Optional[str] = None) -> Optional[str]:
    """``os.environ.get(name, default)``, without re-encoding ``name`` at every call."""
    if _DATA is None or _ENCODE is None or _DECODE is None:  # pragma: no cover - other platforms
        return _ENV.get(name, default)
    key = _KEYS.get(name)
    if key is None:
        key = _KEYS[name] = _ENCODE(name)
    value = _DATA.get(key)
    return default if value is None else _DECODE(value)
