"""The interpreter: effect handlers written against the host protocol, shared by every host.

``fhooks.Trainer``, :func:`fhooks.attach` (a hand-written loop), ``fhooks.lightning.as_callback``
and ``fhooks.ignite.attach`` step hooks with :class:`Runner` (or the trainer's dispatcher)
and carry out effects through :func:`interpret`; handlers reach the loop only through
:class:`Host`. The model-changing handlers (freeze, prune, SWA...) live in
:mod:`fhooks.interpret.model` and import torch; this package itself does not.

>>> from fhooks.core import Stop
>>> Stop in HANDLERS
True
"""

from fhooks.interpret import handlers as _handlers  # noqa: F401 - registers the core effects' handlers
from fhooks.interpret.decisions import Decision
from fhooks.interpret.host import Host
from fhooks.interpret.registry import HANDLERS, Context, handles, interpret, module_device, resolve
from fhooks.interpret.runner import Runner, load_handlers

__all__ = ["HANDLERS", "Context", "Decision", "Host", "Runner", "handles", "interpret", "load_handlers",
           "module_device", "resolve"]
