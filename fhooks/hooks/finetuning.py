"""``backbone_finetuning``: train a frozen ``backbone`` from a given epoch on (Lightning's ``BackboneFinetuning``).

The backbone is frozen at ``setup``; at ``unfreeze_backbone_at_epoch`` it joins the
optimizer as a new param group, and its lr then follows a pure schedule of the epoch,
the first group's lr and its own previous lr:

>>> from fhooks.core import Event, fold
>>> h = backbone_finetuning(unfreeze_backbone_at_epoch=1)
>>> h
backbone_finetuning(unfreeze_backbone_at_epoch=1)
>>> fold(h, [Event("setup"), Event("train_epoch_start"), Event("train_epoch_start", epoch=1)])[1]
(Freeze(modules=('backbone',), train_bn=True), BackboneLearningRate(epoch=1, schedule=...))
>>> s = h.schedule
>>> s.lr(1, main_lr=0.1, previous=None), s.lr(2, main_lr=0.1, previous=0.01), s.lr(5, main_lr=0.1, previous=0.08)
(0.010000000000000002, 0.02, 0.1)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import attrs

from fhooks.core.effects import NO_EFFECTS, Effects
from fhooks.core.events import Event
from fhooks.core.serialize import state_class
from fhooks.errors import InvalidArgument
from fhooks.hooks.model_effects import AddParamGroup, BackboneLearningRate, Freeze

_WHERE = "backbone_finetuning"
#: The key under which the trainer keeps the backbone's previous lr (``trainer.extra_state``).
EXTRA_KEY = "backbone_finetuning"


def multiplicative(epoch: int) -> float:
    """Lightning's default ``lambda_func``: double the backbone lr every epoch.

    >>> multiplicative(7)
    2.0
    """
    return 2.0


@attrs.frozen
class BackboneSchedule:
    """The backbone lr rule, pure: see :meth:`lr`. Fields are :func:`backbone_finetuning`'s arguments."""

    unfreeze_at: int = 10
    lambda_func: Callable[[int], float] = multiplicative
    initial_ratio_lr: float = 0.1
    initial_lr: float | None = None
    should_align: bool = True
    initial_denom_lr: float = 10.0
    train_bn: bool = True
    verbose: bool = False
    rounding: int = 12

    def lr(self, epoch: int, main_lr: float, previous: float | None) -> float | None:
        """The backbone lr at the start of ``epoch`` (None before the unfreeze epoch).

        At the unfreeze epoch (or the first one seen after it): ``initial_lr``, else
        ``main_lr * initial_ratio_lr``. Afterwards ``lambda_func(epoch + 1) * previous``,
        capped at ``main_lr`` when ``should_align``. ``main_lr`` is the first param
        group's lr at that moment; ``previous`` the backbone lr this returned last.

        >>> BackboneSchedule(unfreeze_at=2).lr(1, 0.1, None) is None
        True
        """
        if epoch < self.unfreeze_at:
            return None
        if previous is None or epoch == self.unfreeze_at:
            return self.initial_lr if self.initial_lr is not None else main_lr * self.initial_ratio_lr
        nxt = self.lambda_func(epoch + 1) * previous
        return main_lr if self.should_align and nxt > main_lr else nxt


@state_class
class BackboneFinetuningState:
    """Whether the backbone was unfrozen, and the last epoch whose lr was set (-1: none)."""

    unfrozen: bool = False
    last_epoch: int = -1


@attrs.frozen(repr=False)
class BackboneFinetuningHook:
    """The hook :func:`backbone_finetuning` builds."""

    schedule: BackboneSchedule
    kinds: frozenset[str] = frozenset({"setup", "fit_start", "train_epoch_start"})
    init: BackboneFinetuningState = BackboneFinetuningState()
    shape_name = _WHERE

    def step(self, state: BackboneFinetuningState, event: Event) -> tuple[BackboneFinetuningState, Effects]:
        kind, s = event.kind, self.schedule
        if kind == "setup":
            return state, (Freeze(("backbone",), train_bn=s.train_bn),)
        if kind == "fit_start":
            if not state.unfrozen:
                return state, NO_EFFECTS
            # a resumed run: rebuild the backbone's param group so the saved optimizer state fits
            return state, (AddParamGroup(("backbone",), None, s.initial_denom_lr, s.train_bn),)
        if event.stage != "fit" or event.epoch < s.unfreeze_at or event.epoch <= state.last_epoch:
            return state, NO_EFFECTS
        return BackboneFinetuningState(True, event.epoch), (BackboneLearningRate(event.epoch, s),)

    def __repr__(self) -> str:
        s, args = self.schedule, []
        for name, field in (("unfreeze_backbone_at_epoch", "unfreeze_at"), ("lambda_func", "lambda_func"),
                            ("backbone_initial_ratio_lr", "initial_ratio_lr"), ("backbone_initial_lr", "initial_lr"),
                            ("should_align", "should_align"), ("initial_denom_lr", "initial_denom_lr"),
                            ("train_bn", "train_bn"), ("verbose", "verbose"), ("rounding", "rounding")):
            value = getattr(s, field)
            if value != getattr(_DEFAULT, field):
                args.append(f"{name}={getattr(value, '__name__', None) or value!r}")
        return f"{_WHERE}({', '.join(args)})"


_DEFAULT = BackboneSchedule()


def _positive(name: str, value: Any, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
        raise InvalidArgument(f"{_WHERE}: {name}={value!r} must be {'None or ' if optional else ''}a positive number")
    return float(value)


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidArgument(f"{_WHERE}: {name}={value!r} must be True or False")
    return value


def backbone_finetuning(unfreeze_backbone_at_epoch: int = 10, lambda_func: Callable[[int], float] = multiplicative,
                        backbone_initial_ratio_lr: float = 0.1, backbone_initial_lr: float | None = None,
                        should_align: bool = True, initial_denom_lr: float = 10.0, train_bn: bool = True,
                        verbose: bool = False, rounding: int = 12) -> BackboneFinetuningHook:
    """Freeze ``module.backbone`` until ``unfreeze_backbone_at_epoch``, then train it with a rising lr.

    At ``setup``: :class:`Freeze` (BatchNorm stays trainable when ``train_bn``). At the
    ``train_epoch_start`` of the unfreeze epoch and every later epoch: a
    :class:`BackboneLearningRate` effect; its lr follows :meth:`BackboneSchedule.lr`
    (Lightning's formulas: ``lambda_func(epoch + 1) * previous``, capped at the first
    group's lr when ``should_align``). Each epoch's lr is set once, even when a resumed
    run starts that epoch again. ``initial_denom_lr`` is used only to rebuild the group
    when a run resumes (the lr then comes from the optimizer state).

    Raises:
        InvalidArgument: a negative epoch, a non-callable ``lambda_func``, a non-positive lr
            argument or a bad flag. (A module without ``backbone`` fails at ``setup``.)
    """
    epoch = unfreeze_backbone_at_epoch
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise InvalidArgument(f"{_WHERE}: unfreeze_backbone_at_epoch={epoch!r} must be an int >= 0")
    if not callable(lambda_func):
        raise InvalidArgument(f"{_WHERE}: lambda_func={lambda_func!r} must be callable epoch -> multiplier")
    if isinstance(rounding, bool) or not isinstance(rounding, int) or rounding < 0:
        raise InvalidArgument(f"{_WHERE}: rounding={rounding!r} must be an int >= 0")
    schedule = BackboneSchedule(
        epoch, lambda_func, _positive("backbone_initial_ratio_lr", backbone_initial_ratio_lr),
        _positive("backbone_initial_lr", backbone_initial_lr, optional=True), _flag("should_align", should_align),
        _positive("initial_denom_lr", initial_denom_lr), _flag("train_bn", train_bn), _flag("verbose", verbose),
        rounding)
    return BackboneFinetuningHook(schedule)
