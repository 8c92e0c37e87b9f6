"""Hosts: the loops that run hook expressions besides ``fhooks.Trainer``.

:func:`attach` serves a hand-written loop; ``fhooks.lightning.as_callback`` and
``fhooks.ignite.attach`` serve Lightning's Trainer and Ignite's engines, over
the same interpreter (:mod:`fhooks.interpret`).
"""

from fhooks.hosts.loop import LoopHost, attach

__all__ = ["LoopHost", "attach"]
