"""The exceptions fhooks raises.

Every error derives from :class:`FhooksError` and from the builtin it refines,
so ``except ValueError`` keeps working:

>>> issubclass(InvalidArgument, ValueError)
True
"""

from __future__ import annotations


class FhooksError(Exception):
    """Root of every error fhooks raises on purpose."""


class InvalidArgument(FhooksError, ValueError):
    """An argument was outside what a function accepts."""


class InvalidEvent(FhooksError, ValueError):
    """An event kind or stage that fhooks does not know."""


class MissingMetric(FhooksError, KeyError):
    """A monitored metric is absent from the metrics of an event."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class InvalidStepOutput(FhooksError, TypeError):
    """A step method returned something the trainer cannot use."""


class CheckpointMismatch(FhooksError, ValueError):
    """A checkpoint's hook state does not fit the current hook expression."""


class CorruptCheckpoint(FhooksError, ValueError):
    """A checkpoint file that cannot be read (truncated, not a checkpoint)."""


class MisconfigurationError(FhooksError, ValueError):
    """Trainer arguments or a module that do not fit together."""


class CheckpointClash(FhooksError, FileExistsError):
    """A checkpoint would replace, link over or escape to a path this run did not write."""


class CheckpointFolderBusy(FhooksError, RuntimeError):
    """Another live run holds the lock of the checkpoint folder."""


class HookStateWarning(UserWarning):
    """A resume did not restore some saved hook states (no hook matches them, or a hook's configuration changed).

    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", HookStateWarning)  # resuming with other callbacks on purpose
    ...     warnings.warn("not restored: ModelCheckpoint", HookStateWarning)
    """


class DistributedError(FhooksError, RuntimeError):
    """Another process of a distributed run failed, or stopped answering within the process group's timeout."""
