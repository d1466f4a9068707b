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
