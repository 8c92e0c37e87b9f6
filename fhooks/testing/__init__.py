"""Helpers for property-testing hook expressions: event-stream strategies and the resume law.

Needs ``hypothesis`` (a dev dependency); imports no torch.

>>> from hypothesis import given, strategies as st
>>> from fhooks.core import stateful
>>> from fhooks.testing import assert_resumes, fit_streams
>>> epochs = stateful(0, lambda n, e: (n + 1, None), kinds="train_epoch_end")
>>> @given(fit_streams(), st.data())
... def test_resumes(events, data):
...     assert_resumes(epochs, events, data.draw(st.integers(0, len(events))))
>>> test_resumes()
"""

from fhooks.testing.contract import check_fit_stream
from fhooks.testing.resume import assert_resumes, resume_split, roundtrip, same
from fhooks.testing.strategies import GRID, events, fit_streams, metric_values

__all__ = [
    "GRID",
    "assert_resumes",
    "check_fit_stream",
    "events",
    "fit_streams",
    "metric_values",
    "resume_split",
    "roundtrip",
    "same",
]
