"""fhooks with Lightning: :func:`as_callback` runs a hook expression inside Lightning's own Trainer.

Lightning itself is imported only when a name that needs it is used.

>>> import sys, fhooks.lightning
>>> callable(fhooks.lightning.as_callback)
True
"""

from fhooks.lightning.callback import as_callback

__all__ = ["as_callback"]
