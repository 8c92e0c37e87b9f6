"""Dispatch: build an event only if someone hears it, step the hook expression, carry out the effects.

The module's own Lightning-named hooks (``on_train_epoch_end``...) are called
after the hook expression, except at ``train_epoch_end`` and
``validation_epoch_end``, where the module goes first so that what it logs
is in the metrics the hooks see.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from functools import partial
from typing import Any

from fhooks.callbacks.base import hook_args
from fhooks.core.events import EVENT_KINDS, Event, host_event
from fhooks.core.frozendict import EMPTY
from fhooks.core.hook import HookLike, StepTable, fold_step_for, from_fold_state, to_fold_state
from fhooks.core.lambda_hook import keyword_for
from fhooks.interpret import Context, Decision, interpret
from fhooks.lightning.hooks import overridden

_MODULE_FIRST = frozenset({"train_epoch_end", "validation_epoch_end", "test_epoch_end"})


def module_hooks(module: Any) -> dict[str, Any]:
    """The module's Lightning-named hook methods, by event kind."""
    found = {}
    for kind in EVENT_KINDS:
        if kind in ("setup", "teardown", "exception"):
            continue
        name = keyword_for(kind)
        if overridden(module, name):
            found[kind] = getattr(module, name)
    return found


class Dispatcher:
    """Holds the expression's state and turns trainer moments into events, steps and actions.

    Between events the state is kept in its fold form (:func:`fhooks.core.hook.fold_step_for`: a
    filter's count and inner state as a plain pair); :attr:`state` is the hook state it stands for.
    """

    def __init__(self, trainer: Any, hook: HookLike, module: Any) -> None:
        self.trainer = trainer
        self.hook = hook
        self.steps = StepTable(hook, partial(fold_step_for, hook))  # kind -> the step of the hooks that hear it
        self.fold = to_fold_state(hook, hook.init)
        self.decisions: list[Decision] = []
        self.module_hooks = module_hooks(module)
        self.hook_kinds = frozenset(EVENT_KINDS) if hook.kinds is None else frozenset(hook.kinds)
        self.heard = self.hook_kinds | frozenset(self.module_hooks)
        self.started = time.monotonic()
        self.hook_names = {kind: keyword_for(kind) for kind in EVENT_KINDS}

    @property
    def state(self) -> Any:
        """The hook expression's state (what checkpoints store and resume from)."""
        return from_fold_state(self.hook, self.fold)

    @state.setter
    def state(self, value: Any) -> None:
        self.fold = to_fold_state(self.hook, value)

    def state_of(self, fold: Any) -> Any:
        """The hook state a fold state kept earlier (a moment boundary's) stands for."""
        return from_fold_state(self.hook, fold)

    def emit(self, kind: str, stage: str = "fit", *, metrics: Mapping[str, float] = EMPTY,
             data: Any = None, batch_idx: int = 0) -> Any:
        """Tell everyone who hears ``kind``; returns what the module's own hook returned (None without one).

        Callers check ``kind in dispatcher.heard`` first on hot paths.
        """
        if kind not in self.heard:
            return None
        trainer = self.trainer
        event = host_event(kind, stage, trainer.current_epoch, trainer.global_step, batch_idx,
                           time.monotonic() - self.started, metrics, data, trainer.global_rank)
        book = trainer.book
        outer, book.fx = book.fx, self.hook_names[kind]
        try:
            module_hook = self.module_hooks.get(kind)
            if module_hook is None:  # only the hook expression hears it
                self._step(kind, event)
                return None
            return self._deliver(kind, event, module_hook, metrics, data, batch_idx)
        finally:
            book.fx = outer

    def _deliver(self, kind: str, event: Event, module_hook: Any, metrics: Mapping[str, float], data: Any,
                 batch_idx: int) -> Any:
        """The event to the hook expression and the module's own hook, in Lightning's order for ``kind``."""
        trainer = self.trainer
        if kind in _MODULE_FIRST:
            module_hook(*hook_args(event))
            event = host_event(kind, event.stage, event.epoch, event.step, batch_idx, event.time,
                               trainer.metrics_for(kind, metrics), data, event.rank)
            module_hook = None
        if kind in self.hook_kinds:
            self._step(kind, event)
        if module_hook is not None:
            return module_hook(*hook_args(event))
        return None

    def _step(self, kind: str, event: Event) -> None:
        """Step the hook expression (the hooks that hear ``kind``) and carry out what they return."""
        step = self.steps[kind]
        if step is not None:
            self.fold, effects = step(self.fold, event)
            if effects:
                self.carry_out(effects, event)

    def carry_out(self, effects: tuple[Any, ...], event: Event) -> None:
        """Interpret ``effects`` in order, logging each recorded decision with its event."""
        ctx = Context(self.trainer, self.trainer.module, event)
        for effect in effects:
            if effect.recorded:
                self.decisions.append(Decision.of(event, effect))
            interpret(effect, ctx)
