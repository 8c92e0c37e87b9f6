"""``LearningRateMonitor``: Lightning's class, over :func:`~fhooks.hooks.learning_rate_monitor`.

>>> from fhooks.core import Event, fold
>>> from fhooks.core.events import OptimizerInfo, RunInfo
>>> cb = LearningRateMonitor(log_momentum=True)
>>> cb
LearningRateMonitor(log_momentum=True)
>>> info = RunInfo(optimizers=(OptimizerInfo("SGD", ({"lr": 0.1, "momentum": 0.9},)),))
>>> _ = fold(cb, [Event("fit_start", data=info)])
>>> cb.keys
['lr-SGD', 'lr-SGD-momentum']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fhooks.callbacks.base import HookCallback
from fhooks.core.effects import Do, Effects
from fhooks.core.events import Event
from fhooks.hooks.lr_monitor import (
    LearningRateMonitorHook,
    LearningRateMonitorState,
    LogOptimizerValues,
    build_learning_rate_monitor,
)


class LearningRateMonitor(HookCallback):
    """Log the learning rate of every param group (and momentum, weight decay) under Lightning's key names.

    ``logging_interval``: ``"step"``, ``"epoch"`` or None (each scheduler at its
    own interval; optimizers without one at both). The values go to the
    trainer's loggers; the key names are decided at ``fit_start``.

    Raises:
        InvalidArgument: ``logging_interval`` not in ``("step", "epoch", None)``.
    """

    hook: LearningRateMonitorHook
    _state: LearningRateMonitorState

    def __init__(self, logging_interval: str | None = None, log_momentum: bool = False,
                 log_weight_decay: bool = False) -> None:
        self._wrap(build_learning_rate_monitor(logging_interval, log_momentum, log_weight_decay, "LearningRateMonitor"))
        self.lrs: dict[str, list[float]] = {}
        self.last_momentum_values: dict[str, float | None] = {}
        self.last_weight_decay_values: dict[str, float | None] = {}

    def step(self, state: Any, event: Event) -> tuple[Any, Effects]:
        """The hook's step; at ``fit_start`` Lightning's ``lrs``/``last_*_values`` start anew, and after each
        ``LogOptimizerValues`` a ``Do`` effect copies the logged values into them."""
        state, effects = super().step(state, event)
        if event.kind == "fit_start":
            names = self.state.names
            self.lrs = {name: [] for name in names}
            self.last_momentum_values = {f"{name}-momentum": None for name in names}
            self.last_weight_decay_values = {f"{name}-weight_decay": None for name in names}
        logged = [e for e in effects if isinstance(e, LogOptimizerValues)]
        if logged:
            effects = (*effects, Do(lambda ctx: self._record(logged[0].keys, ctx.trainer.callback_metrics),
                                    "LearningRateMonitor: keep lrs"))
        return state, effects

    def _record(self, keys: Mapping[str, Any], metrics: Mapping[str, float]) -> None:
        """Keep the values just logged under ``keys``, as Lightning's attributes."""
        for key in keys:
            if key in self.last_momentum_values:
                self.last_momentum_values[key] = metrics[key]
            elif key in self.last_weight_decay_values:
                self.last_weight_decay_values[key] = metrics[key]
            else:
                self.lrs.setdefault(key, []).append(metrics[key])

    logging_interval = property(lambda self: self.hook.logging_interval, doc="'step', 'epoch' or None.")
    log_momentum = property(lambda self: self.hook.log_momentum, doc="Whether momentum is logged too.")
    log_weight_decay = property(lambda self: self.hook.log_weight_decay, doc="Whether weight decay is logged too.")

    @property
    def lr_names(self) -> list[str]:
        """The learning-rate key of every param group, decided at the last ``fit_start`` (Lightning's ``lrs`` keys)."""
        return list(self.state.names)

    @property
    def keys(self) -> list[str]:
        """Every key this monitor logs (lr, then momentum and weight decay when enabled), in Lightning's order."""
        suffixes = [""] + ["-momentum"] * self.log_momentum + ["-weight_decay"] * self.log_weight_decay
        return [name + suffix for name in self.state.names for suffix in suffixes]

    def __repr__(self) -> str:
        return "LearningRateMonitor" + repr(self.hook)[len("learning_rate_monitor"):]
