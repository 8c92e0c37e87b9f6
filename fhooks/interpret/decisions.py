"""The decision log: which effect was carried out, and at which moment of the run.

A :class:`Decision` keeps the event's kind, stage, counters, time and metrics,
never its ``data``: the batch, the outputs and the loss are not kept alive by the log.
Of a training batch's metrics it keeps those the hooks read (reading the others would
wait for the device at that step).

>>> from fhooks.core import Event, Stop
>>> d = Decision.of(Event("validation_end", epoch=2, step=6, metrics={"val_loss": 0.5}, data=[1.0] * 1000), Stop("x"))
>>> print(d)
validation_end (epoch 2, step 6): Stop('x')
>>> d.event.data is None, d.metrics["val_loss"]
(True, 0.5)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from fhooks.core.effects import Effect
from fhooks.core.events import EVENT_KINDS, Event
from fhooks.core.frozendict import EMPTY, frozendict


def _plain(value: Any) -> Any:
    """A metric value as a Python number where it is one (a tensor's ``item()``), else unchanged."""
    item = getattr(value, "item", None)
    if item is not None and getattr(value, "numel", lambda: 1)() == 1:
        return item()
    return value


def plain_metrics(metrics: Mapping[str, Any]) -> Mapping[str, Any]:
    """A frozen copy of ``metrics`` with tensors turned into numbers (no graph or device memory kept).

    Metrics that read their tensors lazily (a ``known()`` method: the trainer's batch-end metrics) give
    only what is known without a read: the values hooks read, no new wait for the device at that step.
    """
    if not metrics:
        return EMPTY
    known = getattr(metrics, "known", None)
    return frozendict({k: _plain(v) for k, v in (known() if known is not None else metrics).items()})


@attrs.frozen
class Decision:
    """One entry of a host's decision log: an effect and the moment (not the data) it came from."""

    kind: str
    stage: str
    epoch: int
    step: int
    batch_idx: int
    time: float
    metrics: Mapping[str, Any] = attrs.field(eq=False)
    effect: Effect

    @classmethod
    def of(cls, event: Event, effect: Effect) -> Decision:
        """The decision for ``effect`` made at ``event``, without the event's data."""
        return cls(event.kind, event.stage, event.epoch, event.step, event.batch_idx, event.time,
                   plain_metrics(event.metrics), effect)

    @property
    def event(self) -> Event:
        """The moment as an :class:`Event` (its ``data`` is None: the log keeps no batch data)."""
        return Event(self.kind, self.stage, self.epoch, self.step, self.batch_idx, self.time, self.metrics)

    def __str__(self) -> str:
        batch = f", batch {self.batch_idx}" if self.kind in _IN_BATCH else ""  # an epoch-end event has no batch
        return f"{self.kind} (epoch {self.epoch}, step {self.step}{batch}): {self.effect!r}"


#: The event kinds that happen inside a batch, whose batch index means something.
_IN_BATCH = frozenset(k for k in EVENT_KINDS if "_batch_" in k) | {
    "before_backward", "after_backward", "before_optimizer_step", "before_zero_grad", "exception"}
