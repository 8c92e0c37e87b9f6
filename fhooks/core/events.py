"""Training events: what a hook sees.

An :class:`Event` is an immutable record of one moment of a run. Its ``kind``
is Lightning's hook name without the ``on_`` prefix:

>>> Event("validation_end", epoch=2, metrics={"val_loss": 0.5}).metrics["val_loss"]
0.5
>>> Event("validaton_end")
Traceback (most recent call last):
...
fhooks.errors.InvalidEvent: Event: unknown kind 'validaton_end'; did you mean 'validation_end'? (valid kinds: after_backward, ...)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from fhooks.core.frozendict import EMPTY, frozendict
from fhooks.errors import InvalidEvent

_STAGED = ("start", "end", "epoch_start", "epoch_end", "batch_start", "batch_end")

#: Every event kind, in the order Lightning documents its hooks.
EVENT_KINDS: tuple[str, ...] = (
    "setup",
    "teardown",
    "fit_start",
    "fit_end",
    "sanity_check_start",
    "sanity_check_end",
    *(f"{loop}_{part}" for loop in ("train", "validation", "test", "predict") for part in _STAGED),
    "before_backward",
    "after_backward",
    "before_optimizer_step",
    "before_zero_grad",
    "exception",
    "save_checkpoint",
    "load_checkpoint",
)
_KIND_SET = frozenset(EVENT_KINDS)

#: The stages an event can belong to.
STAGES: tuple[str, ...] = ("fit", "validate", "test", "predict", "sanity_check")
_STAGE_SET = frozenset(STAGES)


def _suggest(word: str, choices: tuple[str, ...]) -> str:
    import difflib  # only when an error message is being written

    close = difflib.get_close_matches(word, choices, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def check_kind(kind: str, where: str = "Event") -> str:
    """Return ``kind`` if it is a known event kind, else raise :class:`InvalidEvent`.

    >>> check_kind("fit_start")
    'fit_start'
    """
    if kind not in _KIND_SET:
        valid = ", ".join(sorted(EVENT_KINDS))
        raise InvalidEvent(f"{where}: unknown kind {kind!r}{_suggest(str(kind), EVENT_KINDS)} (valid kinds: {valid})")
    return kind


def check_kinds(kinds: str | Any, where: str) -> frozenset[str]:
    """Normalise one kind or an iterable of kinds to a validated frozenset.

    >>> sorted(check_kinds("fit_end", "on"))
    ['fit_end']
    """
    if isinstance(kinds, str):
        kinds = (kinds,)
    return frozenset(check_kind(k, where) for k in kinds)


def _check_kind_field(_: Any, __: Any, kind: str) -> None:
    check_kind(kind)


def _check_stage_field(_: Any, __: Any, stage: str) -> None:
    if stage not in _STAGE_SET:
        raise InvalidEvent(f"Event: unknown stage {stage!r}{_suggest(str(stage), STAGES)} (valid stages: {', '.join(STAGES)})")


def _freeze_metrics(metrics: Mapping[str, float]) -> Mapping[str, float]:
    if type(metrics) is dict:
        return frozendict(metrics) if metrics else EMPTY
    if not isinstance(metrics, Mapping):
        raise InvalidEvent(f"Event: metrics must be a mapping of names to numbers, got {type(metrics).__name__}")
    return metrics


@attrs.frozen(repr=False)
class Event:
    """One moment of a run, as a hook sees it.

    Attributes:
        kind: Lightning's hook name without ``on_`` (see :data:`EVENT_KINDS`).
        stage: ``"fit"``, ``"validate"``, ``"test"``, ``"predict"`` or ``"sanity_check"``.
        epoch: the current epoch, 0-based.
        step: optimizer steps taken so far (Lightning's ``global_step``).
        batch_idx: index of the batch in its epoch, restarting at 0.
        time: seconds since the run began.
        metrics: read-only metric values (Lightning's ``callback_metrics``).
        data: kind-specific payload: a :class:`BatchData`, the exception, the loss...
        rank: global rank of the process that saw the event.

    Events compare as values (``data`` by identity; NaN metrics equal NaN):

    >>> e = Event("train_batch_end", epoch=1, step=12, batch_idx=3, metrics={"loss": 0.5})
    >>> e
    Event('train_batch_end', epoch=1, step=12, batch_idx=3, metrics={'loss': 0.5})
    >>> e.metrics["loss"], e == Event("train_batch_end", epoch=1, step=12, batch_idx=3,
    ...                                metrics={"loss": 0.5})
    (0.5, True)
    """

    kind: str = attrs.field(validator=_check_kind_field)
    stage: str = attrs.field(default="fit", validator=_check_stage_field)
    epoch: int = 0
    step: int = 0
    batch_idx: int = 0
    time: float = 0.0
    metrics: Mapping[str, float] = attrs.field(default=EMPTY, converter=_freeze_metrics, eq=False)
    data: Any = attrs.field(default=None, eq=False)
    rank: int = 0

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Event):
            return NotImplemented
        return (
            self.kind == other.kind
            and self.stage == other.stage
            and self.epoch == other.epoch
            and self.step == other.step
            and self.batch_idx == other.batch_idx
            and self.time == other.time
            and self.rank == other.rank
            and _same_metrics(self.metrics, other.metrics)
            and self.data is other.data
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        parts = [repr(self.kind)]
        for name, default in (("stage", "fit"), ("epoch", 0), ("step", 0), ("batch_idx", 0), ("time", 0.0), ("rank", 0)):
            value = getattr(self, name)
            if value != default:
                parts.append(f"{name}={value!r}")
        if self.metrics:
            parts.append(f"metrics={dict(self.metrics)!r}")
        if self.data is not None:
            parts.append(f"data={self.data!r}")
        return f"Event({', '.join(parts)})"


def host_event(kind: str, stage: str, epoch: int, step: int, batch_idx: int, time: float,
               metrics: Mapping[str, float], data: Any, rank: int) -> Event:
    """An :class:`Event` from a host's loop, whose fields it made itself: about half the cost of ``Event(...)``.

    Nothing is checked: ``kind`` and ``stage`` must be valid names and ``metrics`` a read-only
    mapping (a ``dict`` is frozen here). Hooks and tests build events with ``Event(...)``.

    >>> host_event("train_batch_end", "fit", 0, 5, 4, 0.5, {"loss": 0.25}, None, 0) == Event(
    ...     "train_batch_end", epoch=0, step=5, batch_idx=4, time=0.5, metrics={"loss": 0.25})
    True
    """
    event = _new(Event)
    _set_kind(event, kind)
    _set_stage(event, stage)
    _set_epoch(event, epoch)
    _set_step(event, step)
    _set_batch_idx(event, batch_idx)
    _set_time(event, time)
    _set_metrics(event, _freeze_metrics(metrics) if type(metrics) is dict else metrics)
    _set_data(event, data)
    _set_rank(event, rank)
    return event


def _slot_setters(cls: type) -> tuple[Any, ...]:
    """The ``__set__`` of each slot of a frozen attrs class, in field order (they pass its ``__setattr__``)."""
    return tuple(cls.__dict__[a.name].__set__ for a in attrs.fields(cls))


_new = object.__new__
(_set_kind, _set_stage, _set_epoch, _set_step, _set_batch_idx, _set_time, _set_metrics, _set_data,
 _set_rank) = _slot_setters(Event)


def _same_metrics(a: Mapping[str, float], b: Mapping[str, float]) -> bool:
    """Metric equality where NaN equals NaN, so events compare as values."""
    if a.keys() != b.keys():
        return False
    return all(x == y or (x != x and y != y) for x, y in ((a[k], b[k]) for k in a))


@attrs.frozen
class BatchData:
    """The payload of batch events: the batch, the step's outputs, the loader index.

    >>> BatchData(batch=[1, 2], outputs={"loss": 0.3}).outputs["loss"]
    0.3
    """

    batch: Any = None
    outputs: Any = None
    dataloader_idx: int = 0


def batch_data(batch: Any, outputs: Any = None, dataloader_idx: int = 0) -> BatchData:
    """``BatchData(batch, outputs, dataloader_idx)`` for a host's hot loop: its slots set directly, at half the cost.

    >>> batch_data([1, 2], {"loss": 0.3}) == BatchData([1, 2], {"loss": 0.3})
    True
    """
    data = _new(BatchData)
    _set_batch(data, batch)
    _set_outputs(data, outputs)
    _set_dataloader_idx(data, dataloader_idx)
    return data


_set_batch, _set_outputs, _set_dataloader_idx = _slot_setters(BatchData)


@attrs.frozen
class OptimizerInfo:
    """What a hook may know of an optimizer: its class name and each param group's hyperparameters.

    >>> OptimizerInfo("SGD", ({"lr": 0.1, "momentum": 0.9},)).param_groups[0]["lr"]
    0.1
    """

    name: str
    param_groups: tuple[Mapping[str, Any], ...] = ()


@attrs.frozen
class SchedulerInfo:
    """What a hook may know of a learning-rate scheduler: its optimizer's index, interval and name.

    >>> SchedulerInfo(0, "step").interval
    'step'
    """

    optimizer_idx: int
    interval: str = "epoch"
    name: str | None = None


@attrs.frozen
class RunInfo:
    """The run's configuration, sent as ``data`` of ``setup`` and ``fit_start``.

    Hooks whose decisions depend on how the trainer is set up (where validation
    runs, how many batches an epoch has) read it there and keep what they need
    in their state. ``None`` means unknown or unlimited. ``existing_checkpoints``
    lists the files already in the checkpoint folders when fitting starts that the
    run does not own (for a resume: all but those its lineage wrote up to the
    checkpoint), so a checkpoint hook's version counter steps around them.

    >>> info = RunInfo(max_epochs=10, num_training_batches=50)
    >>> info.max_epochs * info.num_training_batches, info.max_steps is None
    (500, True)
    """

    max_epochs: int | None = None
    max_steps: int | None = None
    min_epochs: int | None = None
    min_steps: int | None = None
    num_training_batches: int | None = None
    num_val_batches: int = 0
    num_sanity_val_batches: int = 0
    num_test_batches: int | None = None
    num_predict_batches: int | None = None
    val_check_interval: float | int = 1.0
    check_val_every_n_epoch: int | None = 1
    accumulate_grad_batches: int = 1
    fast_dev_run: bool = False
    world_size: int = 1
    global_rank: int = 0
    checkpoint_dir: str = "checkpoints"
    optimizers: tuple[OptimizerInfo, ...] = ()
    schedulers: tuple[SchedulerInfo, ...] = ()
    log_every_n_steps: int = 50
    existing_checkpoints: tuple[str, ...] | None = None
