"""Hypothesis profiles of the property tier (``tests/property``).

* ``ci`` (the default): bounded and **derandomized** (``derandomize=True``, no example database), so
  CI runs the same examples every time; each test's ``max_examples`` is its ``@budget(n)``
  (``_strategies.budget``, 24 to 120 per test), **2,544 generated examples** in all plus the
  explicit ``@example`` cases; the whole tier takes 25–50 s on the 2-core machine (load average
  0.5–4).
* ``long`` (``HYPOTHESIS_PROFILE=long``, ``make fuzz``): random (a fresh seed per run; a failure
  prints a ``@reproduce_failure`` blob), no database, every test's budget ×30 (``LONG_FACTOR``):
  **76,320 generated examples** per run, about 8 minutes.
* ``generated`` (``HYPOTHESIS_PROFILE=generated``): the ``ci`` examples without the explicit
  ``@example`` phase — hypothesis stops a test at a failing ``@example``, so while a known bug's
  reproducer fails this shows whether the generated examples find anything else.

Select with ``HYPOTHESIS_PROFILE=ci|long|generated``; a failure hypothesis finds becomes an ``@example`` on its
property (see the ``_strategies`` module docstring).
"""

import os

from hypothesis import HealthCheck, Phase, settings

#: the long profile multiplies every test's ``@budget`` by ``_strategies.LONG_FACTOR`` (30); the
#: profiles' own max_examples only apply to a test without a budget
LONG_FACTOR = 30

_COMMON = dict(
    deadline=None,  # shared 2-core machines: timing is noise, not a property
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much],
)
settings.register_profile("ci", derandomize=True, max_examples=20, **_COMMON)
settings.register_profile("long", derandomize=False, max_examples=20 * LONG_FACTOR, **_COMMON)
settings.register_profile("generated", derandomize=True, max_examples=20,
                          phases=[Phase.generate, Phase.shrink], **_COMMON)

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
if PROFILE not in ("ci", "long", "generated"):
    raise ValueError(f"HYPOTHESIS_PROFILE must be 'ci', 'long' or 'generated', got {PROFILE!r}")
settings.load_profile(PROFILE)
