"""Handlers of the effects that change the model and its optimizers: freeze, prune, SWA, weight snapshots...

Each works on what the host hands over (``host.module``, ``host.optimizers``,
``host.extra_state``), so they serve every host. Importing this package registers them.

>>> from fhooks.hooks.model_effects import Freeze
>>> from fhooks.interpret import HANDLERS
>>> Freeze in HANDLERS
True
"""

from fhooks.interpret.model import device_stats, finetuning, optim_values, pruning, swa, weights

__all__ = ["device_stats", "finetuning", "optim_values", "pruning", "swa", "weights"]
