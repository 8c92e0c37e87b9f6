"""Moved to :mod:`fhooks.interpret`; this name stays importable while code written against it is updated.

>>> from fhooks.trainer.interpret import handles
>>> from fhooks.interpret import handles as moved
>>> handles is moved
True
"""

from fhooks.interpret import HANDLERS, Context, Decision, handles, interpret, resolve

__all__ = ["HANDLERS", "Context", "Decision", "handles", "interpret", "resolve"]
