"""``Logger``: the base class of loggers, with the interface of Lightning's ``Logger``.

A logger writes ``log_metrics`` and ``log_hyperparams`` and names its run with ``name``
and ``version``; everything else has a default. The trainer calls each method where
Lightning's trainer does (see :func:`fhooks.loggers.calls.start_run` and
:func:`fhooks.loggers.calls.after_checkpoint`). Lightning's own loggers are accepted as
they are; this class is for writing one without Lightning.

>>> class Printing(Logger):
...     name, version = "printing", 0
...     def log_metrics(self, metrics, step=None):
...         print(step, metrics)
...     def log_hyperparams(self, params, *args, **kwargs):
...         print(dict(params))
>>> logger = Printing()
>>> logger.log_metrics({"loss": 0.5}, step=3)
3 {'loss': 0.5}
>>> logger.save_dir, logger.log_dir, logger.group_separator
(None, None, '/')
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from argparse import Namespace
from collections.abc import Mapping
from typing import Any


class Logger(ABC):
    """Base class of loggers: override ``log_metrics``, ``log_hyperparams``, ``name`` and ``version``.

    Attributes:
        group_separator: joins a metric's group and name (``"train/loss"``), as Lightning's.
    """

    group_separator: str = "/"

    @property
    @abstractmethod
    def name(self) -> str | None:
        """The experiment's name."""

    @property
    @abstractmethod
    def version(self) -> int | str | None:
        """The run's version within the experiment."""

    @property
    def save_dir(self) -> str | None:
        """The folder that holds every run (None for a logger that writes no files)."""
        return None

    @property
    def root_dir(self) -> str | None:
        """``save_dir/name``, where a file logger keeps its versions (None here)."""
        return None

    @property
    def log_dir(self) -> str | None:
        """This run's folder (None here)."""
        return None

    @abstractmethod
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Record ``metrics`` at ``step``."""

    @abstractmethod
    def log_hyperparams(self, params: Mapping[str, Any] | Namespace, *args: Any, **kwargs: Any) -> None:
        """Record the run's hyperparameters; the trainer calls it once per fit when the module has any."""

    def log_graph(self, model: Any, input_array: Any = None) -> None:
        """Record the model's graph; called once per fit after the hyperparameters. Does nothing by default."""

    def save(self) -> None:
        """Flush what is buffered; called after each batch of logged values. Does nothing by default."""

    def finalize(self, status: str) -> None:
        """The run ended with ``status`` (``"success"``, ``"failed"``); saves by default."""
        self.save()

    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        """A ``ModelCheckpoint`` wrote a checkpoint; ``checkpoint_callback`` has its paths. Does nothing by default."""
