"""Throughput over a sliding window (Lightning's ``Throughput`` and ``ThroughputMonitor``), pure.

:class:`Throughput` is a value: ``update`` returns a new window, ``compute``
reads rates from it. Rates appear once the window holds ``window_size`` updates:

>>> tp = Throughput(available_flops=50, window_size=2)
>>> state = tp.update(tp.init, time=1.0, batches=1, samples=2, lengths=10, flops=10)
>>> tp.compute(state)
{'time': 1.0, 'batches': 1, 'samples': 2, 'lengths': 10}
>>> state = tp.update(state, time=2.0, batches=2, samples=4, lengths=20, flops=10)
>>> tp.compute(state)  # doctest: +NORMALIZE_WHITESPACE
{'time': 2.0, 'batches': 2, 'samples': 4, 'lengths': 20, 'device/batches_per_sec': 1.0,
 'device/samples_per_sec': 2.0, 'device/items_per_sec': 10.0, 'device/flops_per_sec': 10.0, 'device/mfu': 0.2}
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

import attrs

from fhooks.core.effects import NO_EFFECTS, Effects, Log, Raise
from fhooks.core.events import Event
from fhooks.core.frozendict import EMPTY, frozendict
from fhooks.core.serialize import state_class
from fhooks.errors import InvalidArgument

_WHERE = "throughput_monitor"


@state_class
class ThroughputState:
    """The last ``window_size`` cumulative totals given to :meth:`Throughput.update` (flops: per update, global)."""

    time: tuple[float, ...] = ()
    batches: tuple[float, ...] = ()
    samples: tuple[float, ...] = ()
    lengths: tuple[float, ...] = ()
    flops: tuple[float, ...] = ()


def _number(value: Any, name: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidArgument(f"{where}: {name}={value!r} must be a finite number")
    return value


def _push(window: tuple[float, ...], value: float, size: int) -> tuple[float, ...]:
    return (*window[1 - size:], value) if len(window) >= size else (*window, value)


@attrs.frozen
class Throughput:
    """Rates over the last ``window_size`` updates: batches, samples, items and FLOPs per second, and MFU.

    ``update`` takes cumulative totals (``time``, ``batches``, ``samples``,
    ``lengths``), each strictly greater than the last, and the FLOPs done *since
    the last update* on one device. ``compute`` always reports the latest totals;
    ``device/...`` rates once the window is full, global ones too when
    ``world_size > 1``; ``device/mfu`` when ``available_flops`` (per device) is known.

    Raises:
        InvalidArgument: ``world_size < 1`` or ``window_size < 2``.
    """

    available_flops: float | None = None
    world_size: int = 1
    window_size: int = 100
    separator: str = "/"
    init = ThroughputState()

    def __attrs_post_init__(self) -> None:
        check_window(self.window_size, self.world_size, self.separator, "Throughput")
        if self.available_flops is not None:
            _number(self.available_flops, "available_flops", "Throughput")

    def update(self, state: ThroughputState, *, time: float, batches: float, samples: float,
               lengths: float | None = None, flops: float | None = None) -> ThroughputState:
        """The window after one more update; raises :class:`InvalidArgument` (state untouched) on bad totals."""
        where = "Throughput.update"
        values = {"time": time, "batches": batches, "samples": samples}
        if lengths is not None:
            values["lengths"] = lengths
        for name, value in values.items():
            _number(value, name, where)
            window = getattr(state, name)
            if window and not value > window[-1]:
                raise InvalidArgument(f"{where}: {name}={value!r} must be greater than the last {name} "
                                      f"{window[-1]!r} (totals are cumulative and must increase at every update)")
        if samples < batches:
            raise InvalidArgument(f"{where}: samples={samples!r} must be at least batches={batches!r}")
        if lengths is not None and lengths < samples:
            raise InvalidArgument(f"{where}: lengths={lengths!r} must be at least samples={samples!r}")
        if flops is not None:
            _number(flops, "flops", where)
        for name, given in (("lengths", lengths), ("flops", flops)):
            if state.time and bool(getattr(state, name)) != (given is not None):
                now = "given now but not at" if given is not None else "missing now but given at"
                raise InvalidArgument(f"{where}: {name} {now} the earlier updates; "
                                      f"give {name} at every update or at none (start over from init)")
        size = self.window_size
        return ThroughputState(
            _push(state.time, time, size), _push(state.batches, batches, size), _push(state.samples, samples, size),
            state.lengths if lengths is None else _push(state.lengths, lengths, size),
            state.flops if flops is None else _push(state.flops, flops * self.world_size, size),
        )

    def compute(self, state: ThroughputState) -> dict[str, float]:
        """The latest totals, and the rates over the window once it holds ``window_size`` updates ({} before any)."""
        if not state.time:
            return {}
        t, sep, world, size = state.time, self.separator, self.world_size, self.window_size
        out: dict[str, float] = {"time": t[-1], "batches": state.batches[-1], "samples": state.samples[-1]}
        if state.lengths:
            out["lengths"] = state.lengths[-1]
        if len(t) < size:
            return out
        elapsed = t[-1] - t[0]
        batches = (state.batches[-1] - state.batches[0]) / elapsed
        samples = (state.samples[-1] - state.samples[0]) / elapsed
        out[f"device{sep}batches_per_sec"] = batches
        out[f"device{sep}samples_per_sec"] = samples
        if world > 1:
            out["batches_per_sec"] = batches * world
            out["samples_per_sec"] = samples * world
        if len(state.lengths) == size:
            items = (state.lengths[-1] - state.lengths[0]) / elapsed
            out[f"device{sep}items_per_sec"] = items
            if world > 1:
                out["items_per_sec"] = items * world
        if len(state.flops) == size:
            flops = (sum(state.flops) - state.flops[0]) / elapsed
            if world > 1:
                out["flops_per_sec"] = flops
            out[f"device{sep}flops_per_sec"] = flops / world
            if self.available_flops:
                out[f"device{sep}mfu"] = flops / world / self.available_flops
        return out


def check_window(window_size: Any, world_size: Any, separator: Any, where: str) -> None:
    """Validate the window options shared by :class:`Throughput` and the monitor."""
    if isinstance(window_size, bool) or not isinstance(window_size, int) or window_size < 2:
        raise InvalidArgument(f"{where}: window_size={window_size!r} must be an int of at least 2 "
                              "(rates need a first and a last update)")
    if isinstance(world_size, bool) or not isinstance(world_size, int) or world_size < 1:
        raise InvalidArgument(f"{where}: world_size={world_size!r} must be a positive int")
    if not isinstance(separator, str):
        raise InvalidArgument(f"{where}: separator={separator!r} must be a string")


# -- the monitor ------------------------------------------------------------------------------------
@state_class
class StageMeter:
    """One stage's clock and totals: ``start`` is the event time its clock counts from."""

    start: float = 0.0
    last: float = 0.0
    batches: int = 0
    samples: int = 0
    lengths: int = 0
    count: int = 0
    window: ThroughputState = ThroughputState()


@state_class
class ThroughputMonitorState:
    """A meter per stage (``train``, ``validate``, ``test``, ``predict``) and what ``setup`` told."""

    stages: Any = EMPTY
    log_every_n_steps: int = 50
    world_size: int = 1
    available_flops: float | None = None
    batch_step: int = 0


_STARTS = {"train_start": "train", "validation_start": "validate", "test_start": "test", "predict_start": "predict"}
_ENDS = {"train_batch_end": "train", "validation_batch_end": "validate", "test_batch_end": "test",
         "predict_batch_end": "predict"}


def _name(fn: Any) -> str:
    return getattr(fn, "__name__", None) or repr(fn)


def _count(value: Any, name: str, event: Event, minimum: int) -> int:
    try:
        n = operator.index(value)
    except TypeError:
        n = None
    if n is None or isinstance(value, bool) or n < minimum:
        kind = "a positive int" if minimum else "a non-negative int"
        raise InvalidArgument(f"{name} returned {value!r} for {event.kind} batch {event.batch_idx}; "
                              f"it must return {kind}")
    return n


@attrs.frozen(repr=False)
class ThroughputMonitorHook:
    """Logs throughput per stage at Lightning's cadence; see :func:`throughput_monitor`."""

    batch_size_fn: Callable[[Any], int]
    length_fn: Callable[[Any], int] | None = None
    window_size: int = 100
    separator: str = "/"
    flops_per_batch: float | None = None
    available_flops: float | None = None
    kinds = frozenset({"setup", "train_batch_start", "validation_end", *_STARTS, *_ENDS})
    init = ThroughputMonitorState()
    shape_name = _WHERE

    def throughput(self, state: ThroughputMonitorState) -> Throughput:
        """The :class:`Throughput` the meters use, with what ``setup`` told."""
        return Throughput(state.available_flops, state.world_size, self.window_size, self.separator)

    def step(self, state: ThroughputMonitorState, event: Event) -> tuple[ThroughputMonitorState, Effects]:
        kind = event.kind
        if kind == "train_batch_start":
            return attrs.evolve(state, batch_step=event.step), NO_EFFECTS
        if event.stage == "sanity_check":
            return state, NO_EFFECTS
        if kind in _ENDS:
            return self._update(state, event, _ENDS[kind])
        if kind in _STARTS:
            old = state.stages.get(_STARTS[kind], StageMeter())
            meter = StageMeter(event.time, event.time, old.batches, old.samples, old.lengths)
            return attrs.evolve(state, stages=state.stages | {_STARTS[kind]: meter}), NO_EFFECTS
        if kind == "validation_end":
            train = state.stages.get("train")
            if event.stage != "fit" or train is None:
                return state, NO_EFFECTS
            moved = attrs.evolve(train, start=train.start + event.time - train.last, last=event.time)
            return attrs.evolve(state, stages=state.stages | {"train": moved}), NO_EFFECTS
        info = event.data  # setup
        flops = self.available_flops if self.available_flops is not None else getattr(info, "available_flops", None)
        return ThroughputMonitorState(state.stages, getattr(info, "log_every_n_steps", 50),
                                      getattr(info, "world_size", 1), flops, event.step), NO_EFFECTS

    def _update(self, state: ThroughputMonitorState, event: Event, stage: str) -> tuple[ThroughputMonitorState, Effects]:
        meter = state.stages.get(stage, StageMeter(event.time, event.time))
        batch = getattr(event.data, "batch", None)
        try:
            size = _count(self.batch_size_fn(batch), "batch_size_fn", event, 1)
            length = 0 if self.length_fn is None else _count(self.length_fn(batch), "length_fn", event, 0)
            batches, samples, lengths = meter.batches + 1, meter.samples + size, meter.lengths + length
            tp = self.throughput(state)
            window = tp.update(meter.window, time=event.time - meter.start, batches=batches, samples=samples,
                               lengths=None if self.length_fn is None else lengths, flops=self.flops_per_batch)
        except InvalidArgument as error:
            return state, (Raise(InvalidArgument(f"{_WHERE} ({stage}): {error}")),)
        meter = StageMeter(meter.start, event.time, batches, samples, lengths, meter.count + 1, window)
        state = ThroughputMonitorState(state.stages | {stage: meter}, state.log_every_n_steps, state.world_size,
                                       state.available_flops, state.batch_step)
        every = state.log_every_n_steps
        if stage == "train":
            due = every and event.step > state.batch_step and event.step % every == 0
        else:
            due = every and meter.count % every == 0
        if not due:
            return state, NO_EFFECTS
        metrics = {f"{stage}{self.separator}{k}": v for k, v in tp.compute(window).items()}
        if stage == "train":
            return state, (Log({**metrics, "epoch": event.epoch}, event.step),)
        return state, (Log(metrics, batches),)

    def __repr__(self) -> str:
        args = [_name(self.batch_size_fn)]
        if self.length_fn is not None:
            args.append(f"length_fn={_name(self.length_fn)}")
        args += [f"{f.name}={getattr(self, f.name)!r}" for f in attrs.fields(type(self))[2:]
                 if getattr(self, f.name) != f.default]
        return f"{_WHERE}({', '.join(args)})"


def build_throughput_monitor(batch_size_fn: Any, length_fn: Any, window_size: Any, separator: Any,
                             flops_per_batch: Any, available_flops: Any, where: str) -> ThroughputMonitorHook:
    """:func:`throughput_monitor` with errors that name ``where`` (the class adapter passes its own name)."""
    if not callable(batch_size_fn):
        raise InvalidArgument(f"{where}: batch_size_fn={batch_size_fn!r} must be callable: batch -> number of samples")
    if length_fn is not None and not callable(length_fn):
        raise InvalidArgument(f"{where}: length_fn={length_fn!r} must be None or callable: batch -> number of items")
    check_window(window_size, 1, separator, where)
    for name, value in (("flops_per_batch", flops_per_batch), ("available_flops", available_flops)):
        if value is not None and (_number(value, name, where) < 0 or (name == "available_flops" and value == 0)):
            raise InvalidArgument(f"{where}: {name}={value!r} must be a positive number or None")
    return ThroughputMonitorHook(batch_size_fn, length_fn, window_size, separator, flops_per_batch, available_flops)


def throughput_monitor(batch_size_fn: Callable[[Any], int], length_fn: Callable[[Any], int] | None = None, *,
                       window_size: int = 100, separator: str = "/", flops_per_batch: float | None = None,
                       available_flops: float | None = None) -> ThroughputMonitorHook:
    """Log ``<stage>/time``, ``<stage>/samples``, ``<stage>/device/samples_per_sec``... as Lightning does.

    Each ``*_batch_end`` (train, validate, test, predict; not the sanity check)
    adds ``batch_size_fn(batch)`` samples and ``length_fn(batch)`` items to the
    stage's totals and the event time to its window (:class:`Throughput`). Train
    logs after batches that stepped when ``step % log_every_n_steps == 0``; the
    others every ``log_every_n_steps`` batches. Validation time is excluded from
    the training clock. ``flops_per_batch`` (see ``fhooks.trainer.flops.measure_flops``)
    gives FLOPs/s; with ``available_flops`` (per device) also MFU.

    >>> throughput_monitor(len, window_size=10)
    throughput_monitor(len, window_size=10)

    Raises:
        InvalidArgument: a function that is not callable, ``window_size < 2``, negative FLOPs.
    """
    return build_throughput_monitor(batch_size_fn, length_fn, window_size, separator, flops_per_batch,
                                    available_flops, _WHERE)
