"""Hypothesis profiles: ``dev`` (default) and ``ci`` (more examples, derandomized).

Pick one with ``HYPOTHESIS_PROFILE=ci python3 -m pytest property_tests``.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "ci", max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
