"""The event contract of a ``fit`` stream, as a checker: for generated streams and the trainer's own.

>>> from fhooks.core import Event
>>> from fhooks.core.events import RunInfo
>>> info = RunInfo(max_epochs=1, num_training_batches=1)
>>> check_fit_stream([Event("setup", data=info), Event("fit_start", data=info), Event("train_start"),
...                   Event("train_epoch_start"), Event("train_epoch_end"), Event("train_end", epoch=1),
...                   Event("fit_end", epoch=1), Event("teardown", epoch=1)])
>>> check_fit_stream([Event("setup", data=info), Event("fit_end"), Event("fit_start")])
Traceback (most recent call last):
...
AssertionError: event 1 Event('fit_end'): expected fit_start after setup
"""

from __future__ import annotations

from collections.abc import Sequence

from fhooks.core.events import BatchData, Event, RunInfo

_BATCH_OPEN = {"train_batch_end": "train_batch_start", "validation_batch_end": "validation_batch_start"}


def _fail(i: int, event: Event, what: str) -> None:
    raise AssertionError(f"event {i} {event!r}: {what}")


def check_fit_stream(events: Sequence[Event]) -> None:
    """Assert ``events`` keep the trainer's contract for ``fit`` (Lightning's order).

    Checks: ``setup`` then ``fit_start``, both with a ``RunInfo``; time, epoch and
    step never decrease; ``batch_idx`` restarts at 0 each epoch and counts up;
    each ``*_batch_end`` follows its ``*_batch_start`` with the same index;
    validation runs are bracketed (``validation_start`` ... ``validation_end``);
    the events between ``sanity_check_start`` and ``sanity_check_end`` (and only
    they) have ``stage="sanity_check"``; the stream ends with
    ``teardown`` or, after a crash, ``exception``.

    Raises:
        AssertionError: naming the first event that breaks the contract.
    """
    if len(events) < 2:
        raise AssertionError(f"a fit stream has at least setup and fit_start, got {len(events)} events")
    for i, kind in enumerate(("setup", "fit_start")):
        if events[i].kind != kind:
            _fail(i, events[i], f"expected {kind}" + (" after setup" if i else " first"))
        if not isinstance(events[i].data, RunInfo):
            _fail(i, events[i], "expected data=RunInfo(...)")
    if events[-1].kind not in ("teardown", "exception"):
        _fail(len(events) - 1, events[-1], "a fit stream ends with teardown or exception")
    previous, open_batch, next_batch, in_validation, in_sanity = events[0], None, 0, False, False
    for i, e in enumerate(events):
        if e.time < previous.time or e.epoch < previous.epoch or e.step < previous.step:
            _fail(i, e, f"time, epoch and step never decrease (previous: {previous!r})")
        if e.kind in ("sanity_check_start", "sanity_check_end"):
            in_sanity = e.kind == "sanity_check_start"
        elif in_sanity != (e.stage == "sanity_check") and e.kind != "exception":
            _fail(i, e, "the events inside a sanity check, and only they, have stage='sanity_check'")
        if e.kind == "train_epoch_start":
            next_batch = 0
        if e.kind in ("train_batch_start", "validation_batch_start"):
            if e.kind == "train_batch_start" and e.batch_idx != next_batch:
                _fail(i, e, f"expected batch_idx={next_batch} (batch_idx restarts at 0 each epoch)")
            if not isinstance(e.data, BatchData):
                _fail(i, e, "expected data=BatchData(...)")
            open_batch, next_batch = e, next_batch + (e.kind == "train_batch_start")
        if e.kind in _BATCH_OPEN:
            if open_batch is None or open_batch.kind != _BATCH_OPEN[e.kind] or open_batch.batch_idx != e.batch_idx:
                _fail(i, e, f"expected after {_BATCH_OPEN[e.kind]} with batch_idx={e.batch_idx}")
            if not isinstance(e.data, BatchData):
                _fail(i, e, "expected data=BatchData(...)")
            open_batch = None
        if e.kind in ("validation_start", "validation_end"):
            if in_validation == (e.kind == "validation_start"):
                _fail(i, e, "validation_start and validation_end alternate")
            in_validation = e.kind == "validation_start"
        elif e.kind.startswith("validation_") and not in_validation:
            _fail(i, e, "validation events lie between validation_start and validation_end")
        previous = e
