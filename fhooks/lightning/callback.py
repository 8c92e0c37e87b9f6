"""``as_callback``: a hook expression inside Lightning's own Trainer, as a real ``lightning.pytorch.Callback``.

Lightning's hook calls become fhooks events (same kinds, fields and metrics as under
``fhooks.Trainer``); effects are carried out through Lightning: ``Stop`` sets
``trainer.should_stop``, checkpoints go through ``trainer.save_checkpoint`` and the
strategy's ``remove_checkpoint``, ``Log`` through ``trainer.loggers``. The expression's
state rides in Lightning's checkpoints (``state_dict``/``load_state_dict``), so
``fit(ckpt_path=...)`` resumes it. Under DDP every rank steps the same events; a ``Stop``
asked on any rank is agreed by one all-reduce at the next stopping point
(``train_batch_end``, ``validation_end``, ``train_epoch_end``), so every rank stops at the
same step; files and logs are written by rank zero.

Lightning is imported when :func:`as_callback` is called, not before.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from fhooks.core.events import BatchData, Event, RunInfo
from fhooks.core.frozendict import EMPTY, frozendict
from fhooks.core.hook import HookLike, shape
from fhooks.hosts.info import existing_checkpoints, optimizer_infos, scheduler_infos
from fhooks.interpret.registry import resolve
from fhooks.interpret.runner import Runner, as_expression, load_handlers

#: Moments where ranks agree on a stop under DDP (Lightning checks ``should_stop`` after each).
STOP_POINTS = frozenset({"train_batch_end", "validation_end", "train_epoch_end"})
_STAGES = {"fit": "fit", "validate": "validate", "test": "test", "predict": "predict"}
_PLAIN = ("fit_start", "fit_end", "sanity_check_start", "sanity_check_end", "train_start", "train_end",
          "train_epoch_start", "train_epoch_end", "after_backward",
          *(f"{loop}_{part}" for loop in ("validation", "test", "predict")
            for part in ("start", "end", "epoch_start", "epoch_end")))
_WITH_DATA = ("before_backward", "before_optimizer_step", "before_zero_grad", "exception", "save_checkpoint",
              "load_checkpoint")
_IN_BATCH = frozenset({"before_backward", "after_backward", "before_optimizer_step", "before_zero_grad"})
_CLASS: type | None = None


def _number(value: Any) -> Any:
    item = getattr(value, "item", None)
    return item() if callable(item) and getattr(value, "numel", lambda: 1)() == 1 else value


def _stage(trainer: Any) -> str:
    if trainer.sanity_checking:
        return "sanity_check"
    fn = getattr(trainer.state.fn, "value", trainer.state.fn)
    return _STAGES.get(str(fn), "fit")


class LightningHost:
    """The host protocol over a live Lightning Trainer; one per callback, bound at ``setup``."""

    def __init__(self, hook: HookLike, dirpath: str | os.PathLike[str] | None) -> None:
        self.runner = Runner(hook, self)
        self.dirpath = None if dirpath is None else Path(os.path.abspath(os.fspath(dirpath)))
        self.trainer: Any = None
        self.module: Any = None
        self.extra_state: dict[str, Any] = {}
        self.stop_reasons: list[str] = []
        self.pending_stop = False
        self.batch_idx = 0
        self.restored = False  # a checkpoint restored the hooks (set by load_state_dict)
        self.started = time.monotonic()
        self.checkpoint_dir = Path("checkpoints")

    def bind(self, trainer: Any, module: Any) -> None:
        """Work on ``trainer`` and ``module`` from now on; the checkpoint folder is chosen as Lightning's own."""
        self.trainer, self.module = trainer, module
        if self.dirpath is not None:
            self.checkpoint_dir = self.dirpath
        elif trainer.loggers:
            self.checkpoint_dir = Path(trainer.log_dir or trainer.default_root_dir) / "checkpoints"
        else:
            self.checkpoint_dir = Path(trainer.default_root_dir) / "checkpoints"
        self.checkpoint_dir = Path(os.path.abspath(self.checkpoint_dir))

    # -- the protocol's attributes, read through Lightning ----------------------------------------
    @property
    def optimizers(self) -> list[Any]:
        return list(self.trainer.optimizers)

    @property
    def lr_scheduler_configs(self) -> list[Any]:
        return list(self.trainer.strategy.lr_scheduler_configs)

    @lr_scheduler_configs.setter
    def lr_scheduler_configs(self, configs: list[Any]) -> None:
        self.trainer.strategy.lr_scheduler_configs = list(configs)

    @property
    def accumulate_grad_batches(self) -> int:
        return int(self.trainer.accumulate_grad_batches)

    @accumulate_grad_batches.setter
    def accumulate_grad_batches(self, factor: int) -> None:
        self.trainer.accumulate_grad_batches = factor

    @property
    def global_rank(self) -> int:
        return int(self.trainer.global_rank) if self.trainer is not None else 0

    @property
    def world_size(self) -> int:
        return int(self.trainer.world_size) if self.trainer is not None else 1

    @property
    def loggers(self) -> list[Any]:
        return list(self.trainer.loggers)

    @property
    def device(self) -> Any:
        return self.module.device

    @property
    def train_loader(self) -> Any:
        return self.trainer.train_dataloader

    @property
    def num_training_batches(self) -> Any:
        total = self.trainer.num_training_batches
        return None if total == float("inf") else int(total)

    # -- events ------------------------------------------------------------------------------------
    def run_info(self) -> RunInfo:
        """What hooks learn at ``setup``/``fit_start``, from Lightning's trainer."""
        t = self.trainer
        val = getattr(t, "num_val_batches", None) or []
        return RunInfo(
            max_epochs=t.max_epochs, max_steps=None if t.max_steps == -1 else t.max_steps,
            min_epochs=t.min_epochs, min_steps=t.min_steps, num_training_batches=self.num_training_batches,
            num_val_batches=int(sum(val)) if all(v != float("inf") for v in val) else 0,
            val_check_interval=t.val_check_interval, check_val_every_n_epoch=t.check_val_every_n_epoch,
            accumulate_grad_batches=t.accumulate_grad_batches, fast_dev_run=bool(t.fast_dev_run),
            world_size=t.world_size, checkpoint_dir=str(self.checkpoint_dir), optimizers=optimizer_infos(t.optimizers),
            schedulers=scheduler_infos(t.strategy.lr_scheduler_configs, list(t.optimizers)),
            log_every_n_steps=t.log_every_n_steps,
            existing_checkpoints=None if self.restored else existing_checkpoints(self.runner.hook, self.checkpoint_dir))

    def emit(self, kind: str, *, data: Any = None, batch_idx: int = 0, stage: str | None = None) -> None:
        """Step the expression on Lightning's moment ``kind``; agree on stops at the stopping points."""
        t = self.trainer
        stage = stage or _stage(t)
        if kind == "train_batch_start":
            self.batch_idx = batch_idx
        elif kind in _IN_BATCH:
            batch_idx = self.batch_idx
        if kind in self.runner.kinds:
            metrics = t.callback_metrics
            frozen = frozendict({k: _number(v) for k, v in metrics.items()}) if metrics else EMPTY
            self.runner.step(Event(kind, stage, t.current_epoch, t.global_step, batch_idx,
                                   time.monotonic() - self.started, frozen, data, t.global_rank))
        if kind in STOP_POINTS and stage == "fit":
            self.agree_on_stop()

    def agree_on_stop(self) -> None:
        """Any rank asked to stop -> every rank stops, here (one all-reduce when there are several ranks)."""
        asked, self.pending_stop = self.pending_stop, False
        if self.world_size > 1:
            anyone = bool(self.trainer.strategy.reduce_boolean_decision(asked, all=False))
            if anyone and not asked:
                self.stop_reasons.append("another rank asked to stop")
            asked = anyone
        if asked:
            self.trainer.should_stop = True

    # -- effect targets ------------------------------------------------------------------------------
    def request_stop(self, reason: str) -> None:
        self.stop_reasons.append(reason)
        self.pending_stop = True
        if self.world_size == 1:
            self.trainer.should_stop = True

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        values = {k: _number(v) for k, v in metrics.items()}
        if step is None:
            step = self.trainer.fit_loop.epoch_loop._batches_that_stepped
        if self.global_rank == 0:
            for logger in self.trainer.loggers:
                logger.log_metrics(values, step=step)

    def save_checkpoint(self, path: str | os.PathLike[str], weights_only: bool = False) -> Path:
        target = resolve(path, self.checkpoint_dir)
        self.trainer.save_checkpoint(target, weights_only=weights_only)
        return target

    def remove_checkpoint(self, path: str | os.PathLike[str], even_if_resumed: bool = False) -> None:
        self.trainer.strategy.remove_checkpoint(resolve(path, self.checkpoint_dir))

    def link_checkpoint(self, path: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        from fhooks.trainer.checkpoint_links import link_checkpoint

        if self.global_rank == 0:
            link_checkpoint(resolve(path, self.checkpoint_dir), resolve(target, self.checkpoint_dir))
        self.trainer.strategy.barrier("fhooks.link_checkpoint")


def _plain_method(kind: str) -> Any:
    def method(self: Any, trainer: Any, pl_module: Any) -> None:
        self.host.emit(kind)
    return method


def _data_method(kind: str) -> Any:
    def method(self: Any, trainer: Any, pl_module: Any, data: Any) -> None:
        self.host.emit(kind, data=data)
    return method


def _batch_methods(loop: str) -> dict[str, Any]:
    def start(self: Any, trainer: Any, pl_module: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        self.host.emit(f"{loop}_batch_start", data=BatchData(batch, None, dataloader_idx), batch_idx=batch_idx)

    def end(self: Any, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int,
            dataloader_idx: int = 0) -> None:
        self.host.emit(f"{loop}_batch_end", data=BatchData(batch, outputs, dataloader_idx), batch_idx=batch_idx)

    return {f"on_{loop}_batch_start": start, f"on_{loop}_batch_end": end}


def _build_class() -> type:
    """The ``Callback`` subclass, made when Lightning is first needed."""
    from lightning.pytorch.callbacks import Callback

    def __init__(self: Any, hook: HookLike, dirpath: Any = None) -> None:
        Callback.__init__(self)
        self.hook = hook
        self.host = LightningHost(hook, dirpath)

    def setup(self: Any, trainer: Any, pl_module: Any, stage: str) -> None:
        self.host.bind(trainer, pl_module)
        self.host.emit("setup", data=self.host.run_info(), stage=_STAGES.get(stage, "fit"))

    def teardown(self: Any, trainer: Any, pl_module: Any, stage: str) -> None:
        self.host.emit("teardown", stage=_STAGES.get(stage, "fit"))

    def on_fit_start(self: Any, trainer: Any, pl_module: Any) -> None:
        self.host.emit("fit_start", data=self.host.run_info())

    def state_key(self: Any) -> str:
        return f"fhooks{ {'shape': shape(self.hook)}!r}"

    def state_dict(self: Any) -> dict[str, Any]:
        return {"hooks": self.host.runner.state_dict(), "extra_state": dict(self.host.extra_state),
                "stop_reasons": list(self.host.stop_reasons)}

    def load_state_dict(self: Any, state: dict[str, Any]) -> None:
        self.host.runner.load_state_dict(state["hooks"])
        self.host.restored = True  # the restored hooks know their own files; the folder's listing would disown them
        self.host.extra_state.update(state.get("extra_state", {}))
        self.host.stop_reasons = list(state.get("stop_reasons", []))

    def decisions(self: Any) -> list[Any]:
        return self.host.runner.decisions

    def stop_reason(self: Any) -> str | None:
        return "; ".join(self.host.stop_reasons) if self.host.stop_reasons else None

    def __repr__(self: Any) -> str:
        return f"as_callback({self.hook!r})"

    body: dict[str, Any] = {
        "__init__": __init__, "setup": setup, "teardown": teardown, "on_fit_start": on_fit_start,
        "state_key": property(state_key), "state_dict": state_dict, "load_state_dict": load_state_dict,
        "decisions": property(decisions, doc="Every recorded effect carried out in this process, with its moment."),
        "stop_reason": property(stop_reason, doc="Why this process's run was asked to stop, or None."),
        "__repr__": __repr__, "__module__": __name__,
        "__doc__": "A hook expression as a Lightning callback; build it with :func:`as_callback`.",
    }
    body.update({f"on_{kind}": _plain_method(kind) for kind in _PLAIN if kind != "fit_start"})
    body.update({f"on_{kind}": _data_method(kind) for kind in _WITH_DATA})
    for loop in ("train", "validation", "test", "predict"):
        body.update(_batch_methods(loop))
    cls = type("HooksCallback", (Callback,), body)
    cls.__qualname__ = "HooksCallback"
    return cls


def callback_class() -> type:
    """The ``lightning.pytorch.Callback`` subclass :func:`as_callback` builds (imports Lightning)."""
    global _CLASS
    if _CLASS is None:
        _CLASS = _build_class()
    return _CLASS


def __getattr__(name: str) -> Any:
    """``HooksCallback`` resolves on first use, so pickling (``ddp_spawn``) finds the class by name."""
    if name == "HooksCallback":
        return callback_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def as_callback(hook: HookLike | Iterable[HookLike], *, dirpath: str | os.PathLike[str] | None = None) -> Any:
    """A hook expression (or a list of hooks, ``fhooks.callbacks`` classes included) as a Lightning callback.

    ``dirpath`` is where relative checkpoint paths go (default: Lightning's own choice,
    ``<log_dir>/checkpoints``). After the run, ``callback.decisions`` lists what was done
    and ``callback.stop_reason`` says why it stopped.

    >>> import fhooks.lightning
    >>> from fhooks import Stop, lambda_hook
    >>> cb = fhooks.lightning.as_callback(lambda_hook(on_validation_end=lambda e: Stop("enough")))
    >>> import lightning.pytorch as pl
    >>> isinstance(cb, pl.Callback), cb.decisions
    (True, [])

    Raises:
        InvalidArgument: ``hook`` is not a hook or a list of hooks.
    """
    expression = as_expression(hook, "as_callback")
    load_handlers()
    return callback_class()(expression, dirpath)
