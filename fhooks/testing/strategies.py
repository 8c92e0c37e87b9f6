"""Hypothesis strategies for property-testing hook expressions without a trainer.

Streams follow the trainer's event contract (Lightning's order), and metric
values come with ties, NaN and infinities, the cases stop rules get wrong:

>>> from hypothesis import given
>>> import math
>>> from fhooks.core import fold, on, Stop
>>> stop_on_nan = on("validation_end", lambda e: Stop("nan") if math.isnan(e.metrics["val_loss"]) else None)
>>> @given(fit_streams())
... def test_stops_only_on_nan(events):
...     for stop in fold(stop_on_nan, events)[1]:
...         assert stop.reasons == ("nan",)
>>> test_stops_only_on_nan()
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence

from hypothesis import strategies as st

from fhooks.core.events import EVENT_KINDS, STAGES, BatchData, Event, OptimizerInfo, RunInfo, check_kinds
from fhooks.core.frozendict import EMPTY, frozendict

#: The values ``metric_values`` favours, so that equal metrics (ties) are common.
GRID: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0, -1.0)


@st.composite
def _metric_value(draw: st.DrawFn, finite: st.SearchStrategy[float], specials: tuple[float, ...]) -> float:
    pick = draw(st.integers(0, 9))
    if pick < 5:
        return draw(st.sampled_from(GRID))
    if pick == 9 and specials:
        return draw(st.sampled_from(specials))
    return draw(finite)


def metric_values(*, allow_nan: bool = True, allow_infinity: bool = True,
                  min_value: float = -1e6, max_value: float = 1e6) -> st.SearchStrategy[float]:
    """Metric values where ties are common: half from :data:`GRID`, the rest arbitrary, ~1 in 10 NaN or ±inf.

    Finite values lie in ``[min_value, max_value]``; shrinking goes towards ``0.0``.

    >>> from hypothesis import find, settings
    >>> seeded = settings(derandomize=True, database=None, max_examples=1000)
    >>> find(metric_values(), lambda x: x != x, settings=seeded)
    nan
    >>> find(metric_values(allow_nan=False), lambda x: x > 1e6, settings=seeded)
    inf
    """
    specials = (math.nan,) * allow_nan + (math.inf, -math.inf) * allow_infinity
    finite = st.floats(min_value, max_value, allow_nan=False, allow_infinity=False)
    return _metric_value(finite, specials)


class _Stream:
    """Appends events with the loop counters and a strictly increasing clock."""

    def __init__(self, times: Iterable[float]) -> None:
        self.events: list[Event] = []
        self.epoch = self.step = 0
        self.stage = "fit"
        self.clock = iter(times)

    def emit(self, kind: str, batch_idx: int = 0, metrics: frozendict = EMPTY, data: object = None) -> None:
        self.events.append(Event(kind, self.stage, self.epoch, self.step, batch_idx, next(self.clock), metrics, data))

    def validation(self, n_batches: int, metrics: frozendict) -> None:
        self.emit("validation_start", metrics=metrics)
        self.emit("validation_epoch_start", metrics=metrics)
        for i in range(n_batches):
            self.emit("validation_batch_start", i, metrics, BatchData(i))
            self.emit("validation_batch_end", i, metrics, BatchData(i))
        self.emit("validation_epoch_end", metrics=metrics)
        self.emit("validation_end", metrics=metrics)


def _clock(seed: int, dt: float) -> Iterable[float]:
    rng, t = random.Random(seed), 0.0
    while True:
        yield t
        t += dt * (0.5 + rng.random())


def _zeros() -> Iterable[float]:
    while True:
        yield 0.0


@st.composite
def _fit_stream(draw: st.DrawFn, metrics: tuple[str, ...], min_epochs: int, max_epochs: int, max_batches: int,
                validation: bool | None, sanity_check: bool | None, step_metrics: tuple[str, ...], time: bool,
                exception: bool, values: st.SearchStrategy[float]) -> list[Event]:
    n_epochs = draw(st.integers(min_epochs, max_epochs))
    n_batches = draw(st.integers(1, max_batches))
    validate = draw(st.booleans()) if validation is None else validation
    sanity = validate and (draw(st.booleans()) if sanity_check is None else sanity_check)
    n_val = draw(st.integers(1, 2)) if validate else 0
    if time:
        times = _clock(draw(st.integers(0, 2**32 - 1)), draw(st.sampled_from((0.001, 0.1, 1.0, 60.0))))
    else:
        times = _zeros()
    info = RunInfo(max_epochs=n_epochs, num_training_batches=n_batches, num_val_batches=n_val,
                   optimizers=(OptimizerInfo("SGD", (frozendict(lr=0.1, momentum=0.0),)),))

    def draw_metrics(names: tuple[str, ...]) -> frozendict:
        return frozendict((name, draw(values)) for name in names) if names else EMPTY

    s = _Stream(times)
    s.emit("setup", data=info)
    s.emit("fit_start", data=info)
    if sanity:
        s.stage = "sanity_check"
        s.emit("sanity_check_start")
        s.validation(n_val, draw_metrics(metrics))
        s.emit("sanity_check_end")
        s.stage = "fit"
    s.emit("train_start")
    for epoch in range(n_epochs):
        s.epoch = epoch
        s.emit("train_epoch_start")
        for i in range(n_batches):
            s.emit("train_batch_start", i, data=BatchData(i))
            s.step += 1
            step_values = draw_metrics(step_metrics)
            s.emit("train_batch_end", i, step_values, BatchData(i, step_values))
        epoch_values = draw_metrics(metrics)
        if validate:
            s.validation(n_val, epoch_values)
        s.emit("train_epoch_end", metrics=epoch_values)
    s.epoch = n_epochs
    s.emit("train_end")
    s.emit("fit_end")
    s.emit("teardown")
    events = s.events
    if exception and draw(st.booleans()):
        cut = draw(st.integers(2, len(events) - 3))
        last = events[cut]
        failure = Event("exception", last.stage, last.epoch, last.step, last.batch_idx, last.time,
                        data=RuntimeError("generated failure"))
        events = [*events[:cut], failure]
    return events


def fit_streams(metrics: Sequence[str] = ("val_loss",), *, min_epochs: int = 1, max_epochs: int = 8,
                max_batches: int = 4, validation: bool | None = True, sanity_check: bool | None = False,
                step_metrics: Sequence[str] = ("loss",), time: bool = True, exception: bool = False,
                values: st.SearchStrategy[float] | None = None) -> st.SearchStrategy[list[Event]]:
    """Well-formed ``fit`` event streams, in Lightning's order, as the trainer emits them.

    ``setup`` and ``fit_start`` carry a ``RunInfo`` matching the stream; each epoch
    has 1..``max_batches`` batches (``step`` counts them, ``batch_idx`` restarts);
    ``train_batch_end`` carries ``step_metrics``; the validation events and
    ``train_epoch_end`` carry the epoch's ``metrics`` (values from ``values``,
    default :func:`metric_values`). ``validation``/``sanity_check``: True, False or
    None (hypothesis chooses); sanity events have ``stage="sanity_check"``.
    ``time``: strictly increasing event times, else all 0.0. ``exception``: a
    stream may stop early with an ``exception`` event (``data`` the error), as a crash.

    >>> from hypothesis import find
    >>> stream = find(fit_streams(max_epochs=1, max_batches=1), lambda events: True)
    >>> [e.kind for e in stream][:6]
    ['setup', 'fit_start', 'train_start', 'train_epoch_start', 'train_batch_start', 'train_batch_end']
    >>> stream[5].step, stream[5].metrics
    (1, frozendict({'loss': 0.0}))
    """
    if not 0 <= min_epochs <= max_epochs or max_batches < 1:
        raise ValueError(f"fit_streams: need 0 <= min_epochs <= max_epochs and max_batches >= 1, got "
                         f"min_epochs={min_epochs}, max_epochs={max_epochs}, max_batches={max_batches}")
    return _fit_stream(tuple(metrics), min_epochs, max_epochs, max_batches, validation, sanity_check,
                       tuple(step_metrics), time, exception, metric_values() if values is None else values)


def _stage_for(kind: str) -> st.SearchStrategy[str]:
    for loop, stage in (("train_", "fit"), ("test_", "test"), ("predict_", "predict")):
        if kind.startswith(loop):
            return st.just(stage)
    if kind.startswith("validation_"):
        return st.sampled_from(("fit", "validate", "sanity_check"))
    return st.sampled_from(STAGES)


def _data_for(kind: str, batch_idx: int) -> st.SearchStrategy[object]:
    if kind in ("setup", "fit_start"):
        return st.builds(RunInfo, max_epochs=st.integers(1, 10), num_training_batches=st.integers(1, 10))
    if kind.endswith("_batch_start"):
        return st.just(BatchData(batch_idx))
    if kind.endswith("_batch_end"):
        return st.builds(lambda loss: BatchData(batch_idx, frozendict(loss=loss)), metric_values())
    if kind == "exception":
        return st.builds(RuntimeError, st.just("generated failure"))
    if kind in ("save_checkpoint", "load_checkpoint"):
        return st.builds(dict, epoch=st.integers(0, 10), global_step=st.integers(0, 100))
    return st.none()


@st.composite
def _event(draw: st.DrawFn, kinds: tuple[str, ...], metric_names: tuple[str, ...]) -> Event:
    kind = draw(st.sampled_from(kinds))
    batch_idx = draw(st.integers(0, 20)) if "_batch_" in kind else 0
    metrics = draw(st.dictionaries(st.sampled_from(metric_names), metric_values(), max_size=len(metric_names)))
    return Event(kind, draw(_stage_for(kind)), epoch=draw(st.integers(0, 20)), step=draw(st.integers(0, 1000)),
                 batch_idx=batch_idx, time=draw(st.floats(0, 1e5)), metrics=metrics,
                 data=draw(_data_for(kind, batch_idx)))


def events(kinds: str | Iterable[str] | None = None, *,
           metrics: Sequence[str] = ("loss", "val_loss", "val_acc")) -> st.SearchStrategy[Event]:
    """Single well-formed events of ``kinds`` (default: every kind), with plausible stage and data.

    >>> from hypothesis import find, settings
    >>> find(events("train_batch_end"), lambda e: "loss" in e.metrics, settings=settings(derandomize=True)).metrics
    frozendict({'loss': 0.0})
    """
    chosen = EVENT_KINDS if kinds is None else tuple(sorted(check_kinds(kinds, "events")))
    return _event(chosen, tuple(metrics))
