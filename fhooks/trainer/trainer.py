"""The trainer: Lightning's arguments and attributes over a small loop that folds events through hooks.

>>> import torch
>>> from fhooks import Trainer, lambda_hook, Stop
>>> class Line(torch.nn.Module):
...     def __init__(self):
...         super().__init__()
...         self.w = torch.nn.Linear(1, 1)
...     def training_step(self, batch, batch_idx):
...         x, y = batch
...         return torch.nn.functional.mse_loss(self.w(x), y)
...     def configure_optimizers(self):
...         return torch.optim.SGD(self.parameters(), lr=0.1)
>>> data = [(torch.ones(4, 1), torch.ones(4, 1))] * 3
>>> stop = lambda_hook(on_train_epoch_end=lambda e: Stop("two epochs") if e.epoch == 1 else None)
>>> trainer = Trainer(callbacks=[stop], max_epochs=10, logger=False, enable_checkpointing=False,
...                   enable_progress_bar=False, enable_model_summary=False)
>>> trainer.fit(Line(), data)
>>> trainer.current_epoch, trainer.global_step, trainer.stop_reason
(2, 6, 'two epochs')
"""

from __future__ import annotations

import contextlib
import inspect
import os
import random
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch

from fhooks.callbacks.lightning_adapter import adapt_callbacks
from fhooks.core.combinators import sequence
from fhooks.core.events import OptimizerInfo, RunInfo, SchedulerInfo
from fhooks.core.frozendict import frozendict
from fhooks.core.hook import HookLike, check_hook
from fhooks.errors import CheckpointClash, InvalidArgument, MisconfigurationError
from fhooks.interpret import Decision, load_handlers, resolve
from fhooks.lightning import run as lightning
from fhooks.loggers import calls as logger_calls
from fhooks.trainer import (
    arguments,
    checkpoint_files,
    checkpoint_links,
    ckpt_select,
    defaults,
    interrupts,
    loop,
    moments,
    results_table,
    strategies,
)
from fhooks.trainer import checkpoint as ckpt
from fhooks.trainer import config as cfg
from fhooks.trainer.dispatch import Dispatcher
from fhooks.trainer.logbook import LogBook
from fhooks.trainer.outputs import EpochMeans
from fhooks.trainer.position import Boundary, LivePosition, Position
from fhooks.trainer.surface import TrainerSurface

load_handlers()


class Trainer(TrainerSurface):
    """Fit, validate, test and predict a ``torch.nn.Module`` with Lightning's method names, folding events through hooks.

    Arguments keep Lightning's names and defaults. ``callbacks`` is a list of hooks
    (functional hooks and ``Callback`` instances alike), composed in order with
    :func:`~fhooks.sequence`; a progress bar, a model summary, a ``ModelCheckpoint``
    and a ``CSVLogger`` are added unless turned off, as in Lightning.

    >>> trainer = Trainer(max_epochs=3, default_root_dir="runs")
    >>> [type(c).__name__ for c in trainer.callbacks], trainer.logger
    (['TQDMProgressBar', 'ModelSummary', 'ModelCheckpoint'], CSVLogger('runs', name='lightning_logs', version=None))
    """

    def __init__(
        self,
        *,
        callbacks: HookLike | Iterable[HookLike] | None = None,
        max_epochs: int | None = None,
        min_epochs: int | None = None,
        max_steps: int = -1,
        min_steps: int | None = None,
        max_time: Any = None,
        limit_train_batches: int | float | None = None,
        limit_val_batches: int | float | None = None,
        limit_test_batches: int | float | None = None,
        limit_predict_batches: int | float | None = None,
        overfit_batches: int | float = 0.0,
        val_check_interval: int | float | None = None,
        check_val_every_n_epoch: int | None = 1,
        num_sanity_val_steps: int | None = None,
        accumulate_grad_batches: int = 1,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str | None = None,
        default_root_dir: str | os.PathLike[str] | None = None,
        enable_checkpointing: bool | None = None,
        enable_progress_bar: bool | None = None,
        enable_model_summary: bool | None = None,
        logger: Any = None,
        log_every_n_steps: int | None = None,
        precision: str | int | None = None,
        accelerator: str = "auto",
        devices: int | str | list[int] = "auto",
        strategy: Any = "auto",
        num_nodes: int = 1,
        sync_batchnorm: bool = False,
        use_distributed_sampler: bool = True,
        seed: int | None = None,
        fast_dev_run: bool = False,
        resume_strict: bool = False,
        deterministic: bool | str | None = None,
        benchmark: bool | None = None,
        inference_mode: bool = True,
        profiler: Any = None,
        detect_anomaly: bool = False,
        barebones: bool = False,
        plugins: Any = None,
        reload_dataloaders_every_n_epochs: int = 0,
        model_registry: str | None = None,
        **unknown: Any,
    ) -> None:
        arguments.unknown_arguments(unknown, [n for n in _ARGUMENTS if n != "unknown"])
        self.settings = arguments.Settings.check(
            deterministic=deterministic, benchmark=benchmark, inference_mode=inference_mode, profiler=profiler,
            detect_anomaly=detect_anomaly, barebones=barebones, plugins=plugins, overfit_batches=overfit_batches,
            reload_dataloaders_every_n_epochs=reload_dataloaders_every_n_epochs, model_registry=model_registry)
        limit_train_batches, limit_val_batches, limit_test_batches, limit_predict_batches, val_check_interval = (
            1.0 if v is None else v for v in (limit_train_batches, limit_val_batches, limit_test_batches,
                                               limit_predict_batches, val_check_interval))
        num_sanity_val_steps = 2 if num_sanity_val_steps is None else num_sanity_val_steps
        log_every_n_steps = 50 if log_every_n_steps is None else log_every_n_steps
        enable_checkpointing, enable_progress_bar, enable_model_summary = (
            True if v is None else v for v in (enable_checkpointing, enable_progress_bar, enable_model_summary))
        self.callbacks = self._check_callbacks(callbacks)
        self.max_epochs = cfg.check_positive(max_epochs, "max_epochs", allow_none=True, minimum=-1)
        self.min_epochs = cfg.check_positive(min_epochs, "min_epochs", allow_none=True, minimum=0)
        self.max_steps = cfg.check_positive(max_steps, "max_steps", minimum=-1)
        self.min_steps = cfg.check_positive(min_steps, "min_steps", allow_none=True, minimum=0)
        self.max_time = cfg.parse_max_time(max_time)
        self.callbacks += defaults.default_callbacks(
            self.callbacks, max_time=self.max_time, checkpointing=enable_checkpointing,
            progress_bar=enable_progress_bar, model_summary=enable_model_summary)
        self.limits = {stage: cfg.check_limit(value, f"limit_{name}_batches") for stage, name, value in (
            ("fit", "train", limit_train_batches), ("validate", "val", limit_val_batches),
            ("test", "test", limit_test_batches), ("predict", "predict", limit_predict_batches))}
        self.val_check_interval = cfg.check_val_interval(val_check_interval)
        self.check_val_every_n_epoch = cfg.check_positive(check_val_every_n_epoch, "check_val_every_n_epoch",
                                                          allow_none=True)
        self.num_sanity_val_steps = cfg.check_positive(num_sanity_val_steps, "num_sanity_val_steps", minimum=-1)
        self.accumulate_grad_batches = cfg.check_positive(accumulate_grad_batches, "accumulate_grad_batches")
        self.gradient_clip_val = cfg.check_clip(gradient_clip_val)
        if gradient_clip_algorithm not in (None, "norm", "value"):
            raise InvalidArgument(f"Trainer: gradient_clip_algorithm={gradient_clip_algorithm!r}; accepted: 'norm', "
                                  "'value' or None ('norm')")
        self.gradient_clip_algorithm = gradient_clip_algorithm
        self.default_root_dir = os.path.normpath(os.path.expanduser(os.fspath(default_root_dir or os.getcwd())))
        self.enable_checkpointing = enable_checkpointing
        self.enable_progress_bar = enable_progress_bar
        self.enable_model_summary = enable_model_summary
        self.loggers = defaults.default_loggers(logger, self.default_root_dir)
        self.log_every_n_steps = cfg.check_positive(log_every_n_steps, "log_every_n_steps", minimum=0)
        self.precision = cfg.check_precision(precision)
        self.device = self._device(accelerator)
        self.accelerator = self.device.type
        strategies.configure(self, accelerator, devices, strategy, num_nodes, sync_batchnorm, use_distributed_sampler)
        if self.precision == "16-mixed" and self.device.type != "cuda":
            raise InvalidArgument("Trainer: precision='16-mixed' needs a CUDA device; use precision='bf16-mixed' on CPU")
        self.seed = cfg.check_seed(seed)
        self.fast_dev_run = bool(fast_dev_run)
        if fast_dev_run:
            self._fast_dev_run(cfg.check_positive(int(fast_dev_run), "fast_dev_run"))
        self.resume_strict = cfg.check_bool(resume_strict, "resume_strict")
        self.file_guard: checkpoint_files.FileGuard | None = None
        self.settings.apply_globally()
        self._reset()

    # -- construction helpers -------------------------------------------------------------------
    def _fast_dev_run(self, batches: int) -> None:
        """Lightning's smoke-test mode: ``batches`` batches of every stage, one epoch, no sanity check, no loggers."""
        self.limits = dict.fromkeys(self.limits, batches)
        self.max_epochs, self.max_steps, self.num_sanity_val_steps = 1, batches, 0
        self.val_check_interval, self.check_val_every_n_epoch = 1.0, 1
        self.loggers = []

    @staticmethod
    def _check_callbacks(callbacks: Any) -> list[HookLike]:
        if callbacks is None:
            return []
        items = adapt_callbacks(callbacks)  # Lightning's Callback objects run through an adapter
        checked = [check_hook(c, f"Trainer: callbacks[{i}]") for i, c in enumerate(items)]
        for i, hook in enumerate(checked):
            cfg.check_nesting(hook, f"callbacks[{i}]")
        return checked

    @staticmethod
    def _device(accelerator: str) -> torch.device:
        if accelerator == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        if accelerator in ("cpu", "cuda", "gpu"):
            if accelerator != "cpu" and not torch.cuda.is_available():
                raise InvalidArgument(f"Trainer: accelerator={accelerator!r} but CUDA is not available; use 'cpu'")
            return torch.device("cpu" if accelerator == "cpu" else "cuda")
        raise InvalidArgument(f"Trainer: accelerator={accelerator!r}; accepted: 'auto', 'cpu', 'cuda' (or 'gpu')")

    def _reset(self) -> None:
        self.current_epoch = 0
        self.global_step = 0
        self.batches_before_epoch = 0  # training batches of the epochs before the current one
        self.should_stop = False
        self.stop_reasons: list[str] = []
        self.callback_metrics: dict[str, Any] = {}  # tensors from self.log, floats from returned values
        self.logged_metrics: dict[str, Any] = {}
        self.optimizers: list[torch.optim.Optimizer] = []
        self.lr_scheduler_configs: list[Any] = []
        self.module: Any = None
        self.sanity_checking = False
        self.training = False
        self.dispatcher: Dispatcher | None = None
        self.written_checkpoints: list[Path] = []
        self.live = LivePosition()  # where fit is; see the position property
        self.boundary: Boundary | None = None
        self.interrupts = interrupts.Interrupts()  # SIGINT/SIGTERM held while an optimizer step is taken
        self.mid_moment = False
        self.resuming: Any = None
        self.log_step: int | None = None
        self.epoch_start_rng: torch.Tensor | None = None
        self.train_means = EpochMeans()
        self.book = LogBook(self)
        self.pbar_metrics: dict[str, Any] = {}
        self.returned_metrics = True
        self.stage = "fit"
        self.handling_exception = False
        self.extra_state: dict[str, Any] = {}
        self.ckpt_path: str | os.PathLike[str] | None = None
        self.reload_train_dataloader = False
        self.scaler: Any = None
        self.datamodule: Any = None
        self.step_mode: str | None = None
        self.batch_hooks = False
        self.step_optimizers: list[Any] = []
        self.predict_dataloaders: Any = None
        self.batch_idx = 0

    def _reset_metrics(self) -> None:
        """A new validate/test/predict run starts with no metrics, as in Lightning (counters are kept)."""
        self.callback_metrics = {}
        self.logged_metrics = {}
        self.pbar_metrics = {}
        self.book = LogBook(self)

    # -- what users read ------------------------------------------------------------------------
    @property
    def hook(self) -> HookLike:
        """The hook expression built from ``callbacks``: ``sequence(*callbacks)``."""
        return sequence(*self.callbacks)

    @property
    def decisions(self) -> list[Decision]:
        """Every effect carried out so far, with the event it came from."""
        return self.dispatcher.decisions if self.dispatcher else []

    @property
    def stop_reason(self) -> str | None:
        """Why the run stopped early (the reasons of every stop request, joined), or None."""
        return "; ".join(self.stop_reasons) if self.stop_reasons else None

    @property
    def checkpoint_dir(self) -> Path:
        """Where relative checkpoint paths go: ``save_dir/name/version_N/checkpoints`` of the first logger, else
        ``default_root_dir/checkpoints`` (Lightning's folders), resolved (``realpath``) against the working
        directory of the moment, so a relative ``default_root_dir`` is never joined twice."""
        return logger_calls.checkpoint_folder(self.loggers, self.default_root_dir)

    @property
    def logger(self) -> Any:
        """The first logger, or None."""
        return self.loggers[0] if self.loggers else None

    @property
    def log_dir(self) -> str:
        """The first logger's folder (``default_root_dir`` without a logger), as Lightning's ``trainer.log_dir``."""
        found = getattr(self.logger, "log_dir", None)
        return os.fspath(found or self.default_root_dir)

    @property
    def lightning_module(self) -> Any:
        """The module being run (Lightning's name; what Lightning callbacks read)."""
        return self.module

    @property
    def is_global_zero(self) -> bool:
        """Whether this process is global rank 0, as Lightning's attribute."""
        return self.global_rank == 0

    @property
    def lr_schedulers(self) -> list[Any]:
        """The schedulers ``configure_optimizers`` returned."""
        return [c.scheduler for c in self.lr_scheduler_configs]

    @property
    def position(self) -> Position:
        """Where in fit the loop is (what a checkpoint written now records)."""
        return self.live.position()

    @position.setter
    def position(self, position: Position) -> None:
        self.live.set(position)

    @property
    def batches_done(self) -> int:
        """Batches of the current epoch whose optimizer step is done (the live position's count)."""
        return self.live.batches_done

    @batches_done.setter
    def batches_done(self, count: int) -> None:
        self.live.batches_done = count

    @property
    def can_stop(self) -> bool:
        """Whether a stop request may be honoured now (``min_epochs``/``min_steps`` reached)."""
        epochs_ok = self.min_epochs is None or self.current_epoch >= self.min_epochs
        steps_ok = self.min_steps is None or self.global_step >= self.min_steps
        return epochs_ok and steps_ok

    def run_info(self, num_training_batches: int | None = None, num_val_batches: int = 0, **counts: Any) -> RunInfo:
        """The configuration hooks see at ``setup`` and ``fit_start``; ``counts``: the other stages' batch totals."""
        optimizers = tuple(OptimizerInfo(type(o).__name__, tuple(
            frozendict({k: v for k, v in g.items() if k != "params" and isinstance(v, (int, float, str, tuple))})
            for g in o.param_groups)) for o in self.optimizers)
        return RunInfo(
            max_epochs=self.max_epochs, max_steps=None if self.max_steps == -1 else self.max_steps,
            min_epochs=self.min_epochs, min_steps=self.min_steps, num_training_batches=num_training_batches,
            num_val_batches=num_val_batches, val_check_interval=self.val_check_interval,
            check_val_every_n_epoch=self.check_val_every_n_epoch,
            accumulate_grad_batches=self.accumulate_grad_batches, fast_dev_run=self.fast_dev_run,
            world_size=self.world_size, global_rank=self.global_rank, checkpoint_dir=str(self.checkpoint_dir),
            optimizers=optimizers,
            schedulers=tuple(self._scheduler_info(c) for c in self.lr_scheduler_configs),
            log_every_n_steps=self.log_every_n_steps, **counts)

    def _scheduler_info(self, config: Any) -> SchedulerInfo:
        optimizer = getattr(config.scheduler, "optimizer", None)
        index = next((i for i, o in enumerate(self.optimizers) if o is optimizer), 0)
        return SchedulerInfo(index, config.interval, config.name)

    # -- effect targets ---------------------------------------------------------------------------
    def request_stop(self, reason: str) -> None:
        """Ask the fit loop to stop (what a ``Stop`` effect does)."""
        self.should_stop = True
        self.stop_reasons.append(reason)

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Send metrics to ``logged_metrics`` and every logger (what a ``Log`` effect does).

        ``logged_metrics`` keeps the values as given; the loggers get Python numbers, read only when
        there is a logger to give them to (on CUDA a read waits for the device). Without a
        ``step`` the logger's row gets an ``epoch`` column and Lightning's step: while training, the
        optimizer steps taken before the current batch (so the rows of the 50th batch say 49), else
        the global step. Each logger saves after.
        """
        self.logged_metrics.update(metrics)
        if not self.loggers or not metrics or self.global_rank != 0:
            return
        values = {k: v.item() if isinstance(v, torch.Tensor) else v for k, v in metrics.items()}
        if step is None:
            values.setdefault("epoch", self.current_epoch)
            step = self.global_step if self.log_step is None else self.log_step
        for logger in self.loggers:
            logger.log_metrics(values, step)
        self._tell_loggers("save")

    def log_hyperparams(self, module: Any) -> None:
        """Give every logger the module's hyperparameters (when there are any, as Lightning), its graph, and save."""
        if self.global_rank == 0:
            logger_calls.start_run(self.loggers, module, getattr(self, "datamodule", None))

    def finalize_loggers(self, status: str) -> None:
        """Tell every logger the run ended: ``"success"`` or ``"failed"``."""
        self._tell_loggers("finalize", status)

    def _tell_loggers(self, method: str, *args: Any) -> None:
        """Call ``method`` on every logger that has it (a logger needs only ``log_metrics``); rank zero only."""
        for logger in self.loggers if self.global_rank == 0 else ():
            fn = getattr(logger, method, None)
            if fn is not None:
                fn(*args)

    def save_checkpoint(self, path: str | os.PathLike[str], weights_only: bool = False) -> Path:
        """Write a checkpoint atomically; a relative path is relative to the working directory, as Lightning's
        (a ``SaveCheckpoint`` effect's relative path goes to :attr:`checkpoint_dir`).

        During a fit, a path in a checkpoint folder must resolve inside it and may replace only a file
        this run wrote (see :mod:`fhooks.trainer.checkpoint_files`).

        Raises:
            CheckpointClash: the path escapes its checkpoint folder or names a file this run did not write
                (while an exception is being handled: a warning instead, so that exception propagates).
        """
        target = Path(os.path.abspath(path))
        if self.world_size > 1:  # every rank builds it (hooks hear save_checkpoint), rank zero writes, all wait
            with strategies.between_barriers(self):
                if self.global_rank != 0:
                    loop.build_checkpoint(self, weights_only)
                    return target
                return self._save_checkpoint(target, weights_only)
        return self._save_checkpoint(target, weights_only)

    def _save_checkpoint(self, target: Path, weights_only: bool) -> Path:
        guard, run = self.file_guard, checkpoint_files.run_id(self)
        if guard is not None and not checkpoint_files.may_write(guard, str(target), run, self.handling_exception):
            return target
        seq = checkpoint_files.stamp(self)
        checkpoint = loop.build_checkpoint(self, weights_only)
        # the ledger records the complete file before it takes the target's name: a kill between the two leaves
        # either the old file (its earlier record still matches it) or the new one, owned either way
        record = None if guard is None else (lambda written: guard.wrote(str(target), run, seq, written=written))
        with moments.interrupts_surface():
            ckpt.write_atomic(checkpoint, target, record)
        self.written_checkpoints.append(target)
        logger_calls.after_checkpoint(self)
        return target

    def remove_checkpoint(self, path: str | os.PathLike[str], even_if_resumed: bool = False) -> None:
        """Delete a checkpoint file (what ``RemoveCheckpoint`` does), not the one this run resumed from
        unless ``even_if_resumed``.

        Only a file this run wrote is deleted: during a fit, one the folder's ledger lists as this run's
        (and still the same file; anything else is kept, with a warning); outside a fit, one this trainer wrote.
        """
        if self.global_rank != 0:
            return
        target = resolve(os.fspath(path), self.checkpoint_dir)
        resumed = self.ckpt_path is not None and target.resolve() == Path(self.ckpt_path).resolve()
        if resumed and not even_if_resumed:
            return
        if self.file_guard is not None:
            self.file_guard.remove(str(target), checkpoint_files.run_id(self))
        elif target in self.written_checkpoints:
            target.unlink(missing_ok=True)

    def link_checkpoint(self, path: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        """Point ``path`` at the checkpoint ``target`` (what ``LinkCheckpoint`` does); rank zero only."""
        if self.global_rank != 0:
            return
        directory = self.checkpoint_dir
        path, target = resolve(os.fspath(path), directory), resolve(os.fspath(target), directory)
        guard = self.file_guard
        if guard is None:
            checkpoint_links.link_checkpoint(path, target)
            return
        run = checkpoint_files.run_id(self)
        guard.check_write(str(path), run)
        if not guard.owns(str(target), run):
            raise CheckpointClash(f"cannot link {str(path)!r} to {str(target)!r}: the target is not a checkpoint this "
                                  "run wrote inside its checkpoint folder")
        checkpoint_links.link_checkpoint(path, target)
        guard.wrote(str(path), run)

    def metrics_for(self, kind: str, given: Mapping[str, float]) -> Mapping[str, float]:
        """The metrics an epoch-end event carries after the module's own hook may have logged more."""
        return loop.epoch_end_metrics(self, kind) if kind.endswith("epoch_end") and kind != "predict_epoch_end" else given

    # -- Lightning-style logging for modules ----------------------------------------------------
    def module_log(self, name: str, value: Any, *args: Any, **kwargs: Any) -> None:
        """``self.log(name, value, ...)`` inside a module, with Lightning's arguments and rules."""
        self.book.log(name, value, *args, **kwargs)

    def module_log_dict(self, dictionary: Mapping[str, Any], *args: Any, **kwargs: Any) -> None:
        """``self.log_dict(values, ...)`` inside a module."""
        self.book.log_dict(dictionary, *args, **kwargs)

    @property
    def progress_bar_metrics(self) -> dict[str, Any]:
        """The latest values logged with ``prog_bar=True``: numbers, as Lightning's attribute, read from their
        tensors when asked for (on CUDA a read waits for the device: never once per step unasked)."""
        return {name: value.item() if isinstance(value, torch.Tensor) and value.numel() == 1 else value
                for name, value in self.pbar_metrics.items()}

    @contextlib.contextmanager
    def _attached(self, module: torch.nn.Module) -> Any:
        """Give the module ``trainer``, ``log`` and ``log_dict`` for the length of a run, unless it has its own."""
        self.returned_metrics = not lightning.is_lightning_module(module)
        if not self.returned_metrics:
            self.module = module
            with lightning.attached(self, module, self.datamodule):
                yield
            return
        added = [name for name, value in (("trainer", self), ("log", self.module_log),
                                          ("log_dict", self.module_log_dict)) if not hasattr(type(module), name)]
        for name in added:
            module.__dict__[name] = {"trainer": self, "log": self.module_log, "log_dict": self.module_log_dict}[name]
        self.module = module
        try:
            yield
        finally:
            for name in added:
                module.__dict__.pop(name, None)

    @staticmethod
    def _datamodule(method: str, datamodule: Any, loaders: Any, *more: Any) -> tuple[Any, Any]:
        """``(datamodule, loaders)``: a data module given in place of the loaders moves to its own argument."""
        if datamodule is None and lightning.is_datamodule(loaders):
            datamodule, loaders = loaders, None
        if datamodule is not None and (loaders is not None or any(m is not None for m in more)):
            raise MisconfigurationError(f"Trainer.{method}: got both dataloaders and a datamodule; pass one of them")
        if datamodule is not None and not lightning.is_datamodule(datamodule):
            raise MisconfigurationError(f"Trainer.{method}: datamodule={type(datamodule).__name__}; accepted: a "
                                        "LightningDataModule (fhooks' or Lightning's)")
        return datamodule, loaders

    def _merge_module_callbacks(self, model: Any) -> None:
        """Add the module's ``configure_callbacks()`` to :attr:`callbacks` as Lightning merges them."""
        merged = lightning.merge_callbacks(self.callbacks, model)
        if merged is not self.callbacks:
            self.callbacks = self._check_callbacks(merged)

    def _seed(self) -> None:
        if self.seed is not None:
            random.seed(self.seed)
            torch.manual_seed(self.seed)
            try:
                import numpy as np
            except ImportError:  # pragma: no cover
                return
            np.random.seed(self.seed)

    # -- entry points ------------------------------------------------------------------------------
    def fit(self, model: torch.nn.Module, train_dataloaders: Any = None, val_dataloaders: Any = None,
            datamodule: Any = None, ckpt_path: str | os.PathLike[str] | None = None) -> None:
        """Train ``model``; resume from ``ckpt_path`` when given. Emits events in Lightning's order.

        Data comes from ``train_dataloaders``/``val_dataloaders``, a ``datamodule`` (also accepted in
        place of ``train_dataloaders``, as Lightning), or the module's ``*_dataloader`` methods.
        """
        if self.strategy.spawning:
            return self.strategy.spawn(self, "fit", model, train_dataloaders, val_dataloaders, datamodule, ckpt_path)
        self._reset()
        self._seed()
        self.ckpt_path = ckpt_path
        if self.min_epochs is None:  # Lightning's value while fitting: one epoch when min_steps is set, else 0
            self.min_epochs = 1 if self.min_steps is not None else 0
        self.datamodule, train_dataloaders = self._datamodule("fit", datamodule, train_dataloaders, val_dataloaders)
        self.fit_train_loaders = train_dataloaders  # what estimated_stepping_batches counts before the fit loads it
        self._merge_module_callbacks(model)
        with self._running("fit"), self.settings.anomaly_detection(), self.strategy.world(self), \
                self._attached(model), checkpoint_files.guarded(self), interrupts.handled(self.interrupts):
            self.dispatcher = Dispatcher(self, self.hook, model)
            loop.fit(self, model, train_dataloaders, val_dataloaders, ckpt_path)

    def validate(self, model: torch.nn.Module | None = None, dataloaders: Any = None,
                 ckpt_path: str | os.PathLike[str] | None = None, verbose: bool = True,
                 datamodule: Any = None) -> list[dict[str, float]]:
        """Run one validation epoch; returns ``[metrics]`` and prints their table (``verbose``), as Lightning.

        Without ``model``, the fitted one, loaded from ``ckpt_path`` (``"best"``, ``"last"`` or a path;
        None: ``"best"``, with Lightning's warning).
        """
        model, ckpt_path = self._model_and_ckpt("validate", model, ckpt_path)
        if self.strategy.spawning:
            return self.strategy.spawn(self, "validate", model, dataloaders, ckpt_path, verbose, datamodule)
        self.datamodule, dataloaders = self._datamodule("validate", datamodule, dataloaders)
        return self._evaluate("validate", model, dataloaders, ckpt_path, verbose)

    def test(self, model: torch.nn.Module | None = None, dataloaders: Any = None,
             ckpt_path: str | os.PathLike[str] | None = None, verbose: bool = True,
             datamodule: Any = None) -> list[dict[str, float]]:
        """Run one test epoch; returns ``[metrics]`` and prints their table (``verbose``); ``model``/``ckpt_path``
        as in :meth:`validate`."""
        model, ckpt_path = self._model_and_ckpt("test", model, ckpt_path)
        if self.strategy.spawning:
            return self.strategy.spawn(self, "test", model, dataloaders, ckpt_path, verbose, datamodule)
        self.datamodule, dataloaders = self._datamodule("test", datamodule, dataloaders)
        return self._evaluate("test", model, dataloaders, ckpt_path, verbose)

    def predict(self, model: torch.nn.Module | None = None, dataloaders: Any = None, datamodule: Any = None,
                return_predictions: bool | None = None,
                ckpt_path: str | os.PathLike[str] | None = None) -> list[Any] | None:
        """Run ``predict_step`` over every batch; returns the predictions in order (None with
        ``return_predictions=False``); ``model``/``ckpt_path`` as in :meth:`validate`."""
        model, ckpt_path = self._model_and_ckpt("predict", model, ckpt_path)
        if self.strategy.spawning:
            return self.strategy.spawn(self, "predict", model, dataloaders, datamodule, return_predictions, ckpt_path)
        self.datamodule, dataloaders = self._datamodule("predict", datamodule, dataloaders)
        self._reset_metrics()
        with self._running("predict"), self.strategy.world(self), self._attached(model):
            self._continue_hooks(model)
            predictions = loop.predict(self, model, dataloaders, ckpt_path)
        return None if return_predictions is False else predictions

    def _model_and_ckpt(self, fn: str, model: Any, ckpt_path: Any) -> tuple[Any, Any]:
        """The model to run (the fitted one when None) and the checkpoint file to load, by Lightning's rules."""
        provided = model is not None
        if not provided:
            model = self.module
            if model is None:
                raise TypeError(f"`Trainer.{fn}()` requires a `LightningModule` when it hasn't been passed in a "
                                "previous run")
        return model, ckpt_select.select(self, fn, ckpt_path, model_provided=provided)

    def _continue_hooks(self, model: torch.nn.Module) -> None:
        """A new dispatcher whose hooks keep the state the previous run left (Lightning keeps its callbacks)."""
        previous = self.dispatcher
        self.dispatcher = Dispatcher(self, self.hook, model)
        if previous is not None and previous.hook == self.dispatcher.hook:
            self.dispatcher.state = previous.state

    def _evaluate(self, stage: str, model: torch.nn.Module, dataloaders: Any, ckpt_path: Any,
                  verbose: bool = True) -> list[dict[str, float]]:
        if stage == "test" and not callable(getattr(model, "test_step", None)):
            raise MisconfigurationError(f"Trainer.test: {type(model).__name__} has no test_step method")
        self._reset_metrics()
        with self._running(stage), self.strategy.world(self), self._attached(model):
            self._continue_hooks(model)
            results = loop.evaluate(self, stage, model, dataloaders, ckpt_path)
        if verbose and self.global_rank == 0:
            results_table.show(results[0], stage)
        return results


#: The Trainer's argument names (for the "did you mean" of a misspelt one).
_ARGUMENTS = tuple(inspect.signature(Trainer.__init__).parameters)[1:]
