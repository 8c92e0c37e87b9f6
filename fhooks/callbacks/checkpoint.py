"""``Checkpoint``: Lightning's base class of the callbacks that write checkpoints.

>>> from fhooks.callbacks import Checkpoint, ModelCheckpoint, OnExceptionCheckpoint
>>> issubclass(ModelCheckpoint, Checkpoint), issubclass(OnExceptionCheckpoint, Checkpoint)
(True, True)
"""

from __future__ import annotations

from fhooks.callbacks.base import Callback


class Checkpoint(Callback):
    """Base class of checkpointing callbacks (``ModelCheckpoint``, ``OnExceptionCheckpoint``), as Lightning's.

    It adds nothing to :class:`Callback`; code tests ``isinstance(cb, Checkpoint)`` to find
    the callbacks that save, and a custom checkpointing callback subclasses it.

    >>> class SaveAtEnd(Checkpoint):
    ...     def on_fit_end(self, trainer, pl_module):
    ...         trainer.save_checkpoint("final.ckpt")
    >>> SaveAtEnd().kinds
    frozenset({'fit_end'})
    """
