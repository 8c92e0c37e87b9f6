"""Learning-rate logging (Lightning's ``LearningRateMonitor``), as a pure hook.

The key names are decided at ``fit_start`` from ``RunInfo.optimizers``; the
values are read from the live optimizers when the trainer carries out a
:class:`LogOptimizerValues` effect:

>>> from fhooks.core import Event, fold
>>> from fhooks.core.events import OptimizerInfo, RunInfo
>>> info = RunInfo(optimizers=(OptimizerInfo("Adam", ({"lr": 1e-3}, {"lr": 1e-2})),))
>>> h = learning_rate_monitor(logging_interval="epoch")
>>> h
learning_rate_monitor(logging_interval='epoch')
>>> state, effects = fold(h, [Event("fit_start", data=info), Event("train_epoch_start")])
>>> state.names
('lr-Adam/pg1', 'lr-Adam/pg2')
>>> effects[0].label
'learning_rate_monitor: require a logger'
>>> list(effects[1].keys.items())
[('lr-Adam/pg1', (0, 0, 'lr', 'get')), ('lr-Adam/pg2', (0, 1, 'lr', 'get'))]
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from fhooks.core.effects import NO_EFFECTS, Do, Effect, Effects, Raise
from fhooks.core.events import Event, SchedulerInfo
from fhooks.core.frozendict import EMPTY, frozendict
from fhooks.core.serialize import state_class
from fhooks.errors import InvalidArgument, MisconfigurationError

_WHERE = "learning_rate_monitor"
INTERVALS = (None, "step", "epoch")
#: What a key reads: (optimizer index, param group index, hyperparameter, how); how is "get" (group[name])
#: or "momentum" (betas[0] if the optimizer has betas, else the group's momentum or 0).
KeySource = tuple[int, int, str, str]


@attrs.frozen
class LogOptimizerValues(Effect):
    """Log, at ``step``, each key's value read from ``trainer.optimizers[i].param_groups[j]``."""

    keys: Mapping[str, KeySource] = attrs.field(converter=frozendict)
    step: int | None = None


@state_class
class LearningRateMonitorState:
    """The lr key names, and the keys logged at ``train_batch_start`` and at ``train_epoch_start``."""

    names: tuple[str, ...] = ()
    at_step: Mapping[str, KeySource] = EMPTY
    at_epoch: Mapping[str, KeySource] = EMPTY
    log_every_n_steps: int = 50


def _group_names(base: str, groups: Sequence[Mapping[str, Any]]) -> list[str]:
    if len(groups) > 1:
        return [f"{base}/{g['name'] if 'name' in g else f'pg{i + 1}'}" for i, g in enumerate(groups)]
    name = groups[0].get("name") if groups else None
    return [f"{base}/{name}" if name else base for _ in groups]


def _duplicates(groups: Sequence[Mapping[str, Any]]) -> list[str]:
    names = [g["name"] if "name" in g else f"pg{i}" for i, g in enumerate(groups, start=1)]
    return sorted({str(n) for n in names if names.count(n) > 1})


def lr_names(optimizers: Sequence[Any], schedulers: Sequence[Any] = ()) -> list[tuple[int, list[str], str | None]]:
    """Lightning's lr key names: ``(optimizer index, one name per param group, scheduler interval or None)``.

    Scheduler configs come first, then optimizers without one; the n-th unnamed
    use of an optimizer class (n >= 2) gets ``-{n-1}``; several groups get
    ``/pg{k}`` or ``/<group name>``.

    >>> from fhooks.core.events import OptimizerInfo
    >>> sgd = OptimizerInfo("SGD", ({"lr": 0.1},))
    >>> lr_names([sgd, sgd], [SchedulerInfo(1, "step")])
    [(1, ['lr-SGD'], 'step'), (0, ['lr-SGD-1'], None)]

    Raises:
        MisconfigurationError: two param groups of one optimizer with the same name.
    """
    counts: dict[str, int] = {}
    out: list[tuple[int, list[str], str | None]] = []

    def names_for(idx: int, base: str, counted: bool) -> list[str]:
        opt = optimizers[idx]
        if counted:
            counts[opt.name] = counts.get(opt.name, 0) + 1
        dup = _duplicates(opt.param_groups)
        if dup:
            raise MisconfigurationError(
                f"{_WHERE}: optimizer {idx} ({base}) has several param groups named {dup}; "
                "the param group names of one optimizer must be unique"
            )
        if counts.get(opt.name, 0) > 1:
            base = f"{base}-{counts[opt.name] - 1}"
        return _group_names(base, opt.param_groups)

    for sched in schedulers:
        idx = sched.optimizer_idx
        base = sched.name if sched.name is not None else f"lr-{optimizers[idx].name}"
        out.append((idx, names_for(idx, base, sched.name is None), sched.interval))
    with_scheduler = {s.optimizer_idx for s in schedulers}
    for idx, opt in enumerate(optimizers):
        if idx not in with_scheduler:
            out.append((idx, names_for(idx, f"lr-{opt.name}", True), None))
    return out


def _lacks_momentum(optimizers: Sequence[Any], schedulers: Sequence[Any]) -> bool:
    """Lightning's test for its momentum warning: some optimizer lacks momentum and some lacks betas."""
    chosen = [optimizers[s.optimizer_idx] for s in schedulers] if schedulers else list(optimizers)
    keys = [set(opt.param_groups[0]) if opt.param_groups else set() for opt in chosen]
    return any("momentum" not in k for k in keys) and any("betas" not in k for k in keys)


def _warn_momentum(ctx: Any) -> None:
    warnings.warn(
        f"{_WHERE}: log_momentum=True, but some optimizers have neither momentum nor betas; "
        "their momentum is logged as 0",
        RuntimeWarning,
        stacklevel=2,
    )


def require_logger(ctx: Any) -> None:
    """Fail when the trainer has no logger to send learning rates to (Lightning checks at train start)."""
    trainer = ctx.trainer
    loggers = getattr(trainer, "loggers", None)
    if loggers is None:
        logger = getattr(trainer, "logger", None)
        loggers = [] if logger in (None, False) else [logger]
    if not loggers:
        raise MisconfigurationError(
            f"{_WHERE}: the Trainer has no logger; give it one (logger=...) or remove the callback"
        )


@attrs.frozen(repr=False)
class LearningRateMonitorHook:
    """Logs learning rates (and momentum, weight decay) at Lightning's cadence; see :func:`learning_rate_monitor`."""

    logging_interval: str | None = None
    log_momentum: bool = False
    log_weight_decay: bool = False
    kinds = frozenset({"fit_start", "train_batch_start", "train_epoch_start"})
    init = LearningRateMonitorState()
    shape_name = _WHERE

    def _sources(self, idx: int, group: int, name: str) -> list[tuple[str, KeySource]]:
        out = [(name, (idx, group, "lr", "get"))]
        if self.log_momentum:
            out.append((f"{name}-momentum", (idx, group, "momentum", "momentum")))
        if self.log_weight_decay:
            out.append((f"{name}-weight_decay", (idx, group, "weight_decay", "get")))
        return out

    def start(self, run: Any) -> tuple[LearningRateMonitorState, Effects]:
        """The state and effects at ``fit_start``, from the run's ``RunInfo``."""
        optimizers = tuple(getattr(run, "optimizers", ()))
        schedulers = tuple(getattr(run, "schedulers", ()))
        effects: tuple[Effect, ...] = (Do(require_logger, f"{_WHERE}: require a logger"),)
        if self.log_momentum and _lacks_momentum(optimizers, schedulers):
            effects += (Do(_warn_momentum, f"{_WHERE}: warn that momentum is missing"),)
        try:
            table = lr_names(optimizers, schedulers)
        except MisconfigurationError as error:
            return self.init, effects + (Raise(error),)
        names, at_step, at_epoch = [], [], []
        batch_filter = "step" if self.logging_interval is None else None
        epoch_filter = "epoch" if self.logging_interval is None else None
        for idx, group_names, interval in table:
            sources = [s for j, name in enumerate(group_names) for s in self._sources(idx, j, name)]
            names += group_names
            if interval is None or batch_filter in (None, interval):
                at_step += sources
            if interval is None or epoch_filter in (None, interval):
                at_epoch += sources
        every = getattr(run, "log_every_n_steps", 50)
        state = LearningRateMonitorState(
            tuple(names),
            frozendict(at_step) if self.logging_interval != "epoch" else EMPTY,
            frozendict(at_epoch) if self.logging_interval != "step" else EMPTY,
            every,
        )
        return state, effects

    def step(self, state: LearningRateMonitorState, event: Event) -> tuple[LearningRateMonitorState, Effects]:
        kind = event.kind
        if kind == "fit_start":
            return self.start(event.data)
        if kind == "train_batch_start":
            every = state.log_every_n_steps
            if state.at_step and every and (event.step + 1) % every == 0:
                return state, (LogOptimizerValues(state.at_step, event.step),)
            return state, NO_EFFECTS
        if state.at_epoch:
            return state, (LogOptimizerValues(state.at_epoch, event.step),)
        return state, NO_EFFECTS

    def __repr__(self) -> str:
        args = [f"{f.name}={getattr(self, f.name)!r}" for f in attrs.fields(type(self))
                if getattr(self, f.name) != f.default]
        return f"{_WHERE}({', '.join(args)})"


def build_learning_rate_monitor(logging_interval: Any, log_momentum: Any, log_weight_decay: Any,
                                where: str) -> LearningRateMonitorHook:
    """:func:`learning_rate_monitor` with errors that name ``where`` (the class adapter passes its own name)."""
    if logging_interval not in INTERVALS:
        raise InvalidArgument(f"{where}: logging_interval={logging_interval!r} must be 'step', 'epoch' or None")
    return LearningRateMonitorHook(logging_interval, bool(log_momentum), bool(log_weight_decay))


def learning_rate_monitor(logging_interval: str | None = None, log_momentum: bool = False,
                          log_weight_decay: bool = False) -> LearningRateMonitorHook:
    """Log each param group's learning rate as ``lr-<Optimizer>[-n][/pgK|/name]``, as Lightning does.

    ``"step"``: at ``train_batch_start`` when ``(step + 1) % log_every_n_steps == 0``;
    ``"epoch"``: at ``train_epoch_start``; ``None``: schedulers at their own
    interval, optimizers without a scheduler at both. With ``log_momentum`` /
    ``log_weight_decay`` also ``<key>-momentum`` / ``<key>-weight_decay``. At
    ``fit_start`` it checks the trainer has a logger (a ``Do`` effect).

    >>> learning_rate_monitor("step", log_momentum=True)
    learning_rate_monitor(logging_interval='step', log_momentum=True)

    Raises:
        InvalidArgument: ``logging_interval`` not in ``("step", "epoch", None)``.
    """
    return build_learning_rate_monitor(logging_interval, log_momentum, log_weight_decay, _WHERE)
