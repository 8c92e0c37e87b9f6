"""The rest of Lightning's Trainer attributes: what callbacks and scripts read, as a mixin of :class:`fhooks.Trainer`.

Values and types follow Lightning 2.5, with the differences listed in the porting guide
(``state``'s fields are plain strings, where Lightning's are string enums that compare equal to them).

>>> from fhooks import Trainer
>>> t = Trainer(logger=False, limit_val_batches=None, enable_progress_bar=False)
>>> t.state.fn, t.state.status, t.limit_val_batches, t.checkpoint_callback is t.checkpoint_callbacks[0]
(None, 'initializing', 1.0, True)
>>> t.validating, t.interrupted, t.received_sigterm, t.progress_bar_callback
(False, False, False, None)
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import attrs
import torch


@attrs.define
class TrainerState:
    """Lightning's ``trainer.state``: the entry point running (``fn``), its stage and the run's status."""

    fn: str | None = None
    status: str = "initializing"
    stage: str | None = None

    @property
    def finished(self) -> bool:
        """Whether the last run finished."""
        return self.status == "finished"

    @property
    def stopped(self) -> bool:
        """Whether the last run finished or was interrupted."""
        return self.status in ("finished", "interrupted")


def _loader_batches(loader: Any, limit: int | float) -> int | float:
    from fhooks.trainer.config import limited

    try:
        total: int | None = len(loader)
    except TypeError:
        total = None
    found = limited(total, limit)
    return float("inf") if found is None else found


class TrainerSurface:
    """Lightning's read-only Trainer attributes over fhooks' own fields (mixed into :class:`fhooks.Trainer`)."""

    callbacks: list[Any]
    limits: dict[str, int | float]
    module: Any

    # -- state ------------------------------------------------------------------------------------
    @property
    def state(self) -> TrainerState:
        """The entry point, stage and status, as Lightning's ``TrainerState`` (fields as strings)."""
        state = self.__dict__.setdefault("_state", TrainerState())
        state.stage = self._running_stage()
        return state

    def _running_stage(self) -> str | None:
        if self.__dict__.get("_state") is None or self._state.status != "running":
            return None
        if getattr(self, "sanity_checking", False):
            return "sanity_check"
        if self._state.fn == "fit":
            return "validate" if self.__dict__.get("validating_in_fit") else "train"
        return self._state.fn

    @property
    def training(self) -> bool:
        """Whether fit is running outside its validations and sanity check (Lightning's: the stage is "train")."""
        return self.state.stage == "train"

    @training.setter
    def training(self, value: bool) -> None:
        self.__dict__["_training_batches"] = bool(value)  # the loop's own mark; what users read is the stage

    @contextlib.contextmanager
    def _running(self, fn: str) -> Iterator[None]:
        """Mark ``state`` for one entry point: running, then finished (or interrupted by an exception)."""
        state = self.__dict__.setdefault("_state", TrainerState())
        state.fn, state.status = fn, "running"
        try:
            yield
        except BaseException:
            state.status = "interrupted"
            raise
        state.status = "finished"

    @property
    def interrupted(self) -> bool:
        """Whether the last run ended with an exception."""
        return self.state.status == "interrupted"

    @property
    def validating(self) -> bool:
        """Whether a validation (alone or inside fit) is running."""
        return self.state.stage == "validate"

    @property
    def testing(self) -> bool:
        """Whether ``test`` is running."""
        return self.state.stage == "test"

    @property
    def predicting(self) -> bool:
        """Whether ``predict`` is running."""
        return self.state.stage == "predict"

    @property
    def evaluating(self) -> bool:
        """Whether a validation, test or sanity check is running."""
        return self.state.stage in ("validate", "test", "sanity_check")

    barebones = property(lambda self: self.settings.barebones, doc="``barebones`` as given (False).")
    overfit_batches = property(lambda self: self.settings.overfit_batches, doc="``overfit_batches`` (0.0).")
    reload_dataloaders_every_n_epochs = property(lambda self: self.settings.reload_dataloaders_every_n_epochs,
                                                 doc="``reload_dataloaders_every_n_epochs`` (0).")

    @property
    def profiler(self) -> str | None:
        """``profiler`` as given: None or "simple" (Lightning gives a profiler object; fhooks times with callbacks)."""
        return self.settings.profiler

    @property
    def fit_loop(self) -> Any:
        """Lightning's fit-loop progress counters, read-only: ``fit_loop.epoch_progress.current.completed``,
        ``fit_loop.epoch_loop.batch_progress.current.ready``... (what a checkpoint in Lightning's layout holds)."""
        from fhooks.trainer.lightning_layout import fit_loop

        position = getattr(self, "position", None)
        state = fit_loop(self.current_epoch, self.global_step, getattr(self, "num_training_batches", None) or 0,
                         position.to_plain() if position is not None else None, self.accumulate_grad_batches)
        return _view(state)

    @property
    def received_sigterm(self) -> bool:
        """Whether a SIGTERM arrived (fhooks raises on SIGTERM, so a running loop never sees it set)."""
        return False

    # -- the model --------------------------------------------------------------------------------
    @property
    def model(self) -> Any:
        """The module being run (Lightning's ``trainer.model``; no strategy wrapper in fhooks)."""
        return self.module

    @contextlib.contextmanager
    def init_module(self, empty_init: bool | None = None) -> Iterator[None]:
        """Create a module's parameters under the run's precision default dtype (``bf16-true``: bfloat16)."""
        dtype = {"bf16-true": torch.bfloat16, "16-true": torch.float16, "64-true": torch.float64}.get(
            self.precision)
        if dtype is None:
            yield
            return
        previous = torch.get_default_dtype()
        torch.set_default_dtype(dtype)
        try:
            yield
        finally:
            torch.set_default_dtype(previous)

    def print(self, *args: Any, **kwargs: Any) -> None:
        """``print`` on rank zero only."""
        if getattr(self, "global_rank", 0) == 0:
            print(*args, **kwargs)

    # -- callbacks ----------------------------------------------------------------------------------
    def _of(self, cls: type) -> list[Any]:
        return [cb for cb in self.callbacks if isinstance(cb, cls)]

    @property
    def checkpoint_callbacks(self) -> list[Any]:
        """Every checkpointing callback (``Checkpoint`` subclasses)."""
        from fhooks.callbacks import Checkpoint

        return self._of(Checkpoint)

    @property
    def checkpoint_callback(self) -> Any:
        """The first ``ModelCheckpoint``, or None."""
        from fhooks.callbacks import ModelCheckpoint

        return next(iter(self._of(ModelCheckpoint)), None)

    @property
    def early_stopping_callbacks(self) -> list[Any]:
        """Every ``EarlyStopping``."""
        from fhooks.callbacks import EarlyStopping

        return self._of(EarlyStopping)

    @property
    def early_stopping_callback(self) -> Any:
        """The first ``EarlyStopping``, or None."""
        return next(iter(self.early_stopping_callbacks), None)

    @property
    def progress_bar_callback(self) -> Any:
        """The progress bar callback, or None."""
        from fhooks.callbacks.progress import ProgressBar

        return next(iter(self._of(ProgressBar)), None)

    # -- limits and counts --------------------------------------------------------------------------
    limit_train_batches = property(lambda self: self.limits["fit"], doc="``limit_train_batches`` as given.")
    limit_val_batches = property(lambda self: self.limits["validate"], doc="``limit_val_batches`` as given.")
    limit_test_batches = property(lambda self: self.limits["test"], doc="``limit_test_batches`` as given.")
    limit_predict_batches = property(lambda self: self.limits["predict"], doc="``limit_predict_batches``.")

    @property
    def enable_validation(self) -> bool:
        """Whether fit runs validation: a ``validation_step`` and a non-zero ``limit_val_batches``."""
        module = self.module
        has_step = module is not None and callable(getattr(module, "validation_step", None))
        return bool(has_step and self.limits["validate"] != 0)

    @property
    def num_val_batches(self) -> list[int | float]:
        """Batches per validation dataloader (``inf``: no length), as Lightning's list."""
        return [_loader_batches(loader, self.limits["validate"]) for loader in self.__dict__.get("val_loaders", [])]

    @property
    def num_sanity_val_batches(self) -> list[int | float]:
        """Batches per validation dataloader in the sanity check (``num_sanity_val_steps`` at most)."""
        steps = getattr(self, "num_sanity_val_steps", 0)
        return [b if steps == -1 else min(b, steps) for b in self.num_val_batches]

    @property
    def num_test_batches(self) -> list[int | float]:
        """Batches per test dataloader of the last ``test``."""
        return [_loader_batches(loader, self.limits["test"]) for loader in self.__dict__.get("test_loaders", [])]

    @property
    def num_predict_batches(self) -> list[int | float]:
        """Batches per predict dataloader of the last ``predict``."""
        return [_loader_batches(loader, self.limits["predict"])
                for loader in self.__dict__.get("predict_dataloaders") or []]

    @property
    def train_dataloader(self) -> Any:
        """The training dataloader of the current fit, or None."""
        return self.__dict__.get("train_loader")

    @property
    def val_dataloaders(self) -> Any:
        """The validation dataloader(s): one, a list of several, or None."""
        return _one_or_list(self.__dict__.get("val_loaders"))

    @property
    def test_dataloaders(self) -> Any:
        """The test dataloader(s) of the last ``test``."""
        return _one_or_list(self.__dict__.get("test_loaders"))

    @property
    def is_last_batch(self) -> bool:
        """Whether the training batch being run is the epoch's last."""
        total = getattr(self, "num_training_batches", None)
        return bool(total) and getattr(self, "batches_done", 0) >= total

    @property
    def val_check_batch(self) -> int | float:
        """After how many training batches validation runs (Lightning's: ``inf`` for an unknown length)."""
        interval = self.val_check_interval
        if isinstance(interval, int):
            return interval
        total = getattr(self, "num_training_batches", None)
        if total is None or (isinstance(total, float) and math.isinf(total)):
            return float("inf")
        return max(1, int(total * interval))

    @property
    def estimated_stepping_batches(self) -> int | float:
        """Optimizer steps the fit will take: ``max_steps`` if set, else epochs x batches / accumulation
        (what a ``OneCycleLR`` in ``configure_optimizers`` needs; the data is loaded to count it)."""
        if self.max_steps != -1:
            return self.max_steps
        if self.max_epochs in (None, -1):
            return float("inf")
        total = getattr(self, "num_training_batches", None)
        if total is None and self.module is not None:
            total = self._count_training_batches()
        if total is None or (isinstance(total, float) and math.isinf(total)):
            return float("inf")
        per_epoch = math.ceil(total / self.accumulate_grad_batches)
        return per_epoch * self.max_epochs

    def _count_training_batches(self) -> int | None:
        from fhooks.trainer.config import limited

        loader = self.__dict__.get("train_loader")
        if loader is None:  # asked in configure_optimizers, before the fit loads its data: load it, as Lightning
            from fhooks.trainer import loop

            found = loop._loaders(loop._data_source(self, self.module), self.__dict__.get("fit_train_loaders"),
                                  "train_dataloader")
            if not found:
                return None
            loader = found[0]
        try:
            return limited(len(loader), self.limits["fit"])
        except TypeError:
            return None


class _Counters:
    """Attribute access to a nested dict of counters (``a.b.c`` for ``{"a": {"b": {"c": 1}}}``)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.__dict__.update({k: _view(v) for k, v in data.items()})

    def __repr__(self) -> str:
        return f"Counters({', '.join(sorted(self.__dict__))})"


def _view(data: Any) -> Any:
    if not isinstance(data, dict):
        return data
    nested: dict[str, Any] = {}
    for key, value in data.items():  # "epoch_loop.batch_progress" -> epoch_loop.batch_progress
        head, _, rest = key.partition(".")
        if rest:
            nested.setdefault(head, {})[rest] = value
        else:
            nested[key] = value
    return _Counters(nested)


def _one_or_list(loaders: Any) -> Any:
    if not loaders:
        return None
    return loaders[0] if len(loaders) == 1 else list(loaders)
