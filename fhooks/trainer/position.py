"""Where in the fit loop a checkpoint was taken, and the moment boundaries an exception rolls back to.

An epoch is a row of *moments*: the epoch start, then for each batch its
optimizer step, its ``train_batch_end`` and the validation due after it, then
the epoch end and the epoch schedulers' step. A :class:`Position` says which
of them had happened; resume runs exactly the ones that had not.

>>> p = Position(epoch=1, batches_done=8, epoch_started=True, step_done=True)
>>> p.batch_end_done, p.validation_done
(False, False)
>>> Position.from_plain(p.to_plain()) == p
True
>>> p.batch_finished
False
"""

from __future__ import annotations

from typing import Any, NamedTuple

import attrs

from fhooks.errors import CorruptCheckpoint


def _count(_: Any, attribute: Any, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CorruptCheckpoint(f"checkpoint position: {attribute.name}={value!r} is not a count (an int >= 0)")


def _flag(_: Any, attribute: Any, value: Any) -> None:
    if not isinstance(value, bool):
        raise CorruptCheckpoint(f"checkpoint position: {attribute.name}={value!r} is not a bool")


@attrs.frozen
class Position:
    """A point in ``fit``: the epoch, the batches whose step is done, and which moments after them happened.

    ``step_done``: the optimizer step of batch ``batches_done - 1`` is done;
    ``batch_end_done``: its ``train_batch_end`` was heard; ``validation_done``:
    the validation due after it ran. ``epoch_end_done``: ``train_epoch_end`` was
    heard; ``schedulers_stepped``: the epoch-interval schedulers stepped.
    """

    stage: str = "train"
    epoch: int = 0
    batches_done: int = 0
    epoch_started: bool = False
    step_done: bool = False
    batch_end_done: bool = False
    validation_done: bool = False
    epoch_end_done: bool = False
    schedulers_stepped: bool = False

    @property
    def batch_finished(self) -> bool:
        """Whether nothing of batch ``batches_done - 1`` is left to run."""
        return self.batch_end_done and self.validation_done

    def to_plain(self) -> dict[str, Any]:
        """As a plain dict (what the checkpoint stores)."""
        return attrs.asdict(self)

    @classmethod
    def from_plain(cls, data: Any) -> Position:
        """Read :meth:`to_plain`'s dict back; anything else raises CorruptCheckpoint."""
        if not isinstance(data, dict):
            raise CorruptCheckpoint(f"checkpoint position is {type(data).__name__}, not a dict")
        names = {a.name for a in attrs.fields(cls)}
        if set(data) != names:
            raise CorruptCheckpoint(f"checkpoint position has fields {sorted(data)}; expected {sorted(names)}")
        if data["stage"] != "train":
            raise CorruptCheckpoint(f"checkpoint position: stage={data['stage']!r}; fhooks records 'train'")
        for a in attrs.fields(cls)[1:]:
            (_count if a.type in (int, "int") else _flag)(None, a, data[a.name])
        return cls(**data)

    @classmethod
    def from_loops(cls, loops: dict[str, Any], total: int | None) -> Position:
        """The position of a checkpoint written before positions were recorded (format 1)."""
        done, finished = loops["batches_done"], loops["epoch_finished"]
        at_end = finished or (total is not None and done >= total)
        return cls(epoch=loops["epoch"], batches_done=done, epoch_started=done > 0 or finished,
                   step_done=done > 0, batch_end_done=done > 0, validation_done=done > 0,
                   epoch_end_done=at_end, schedulers_stepped=at_end and loops.get("epoch_schedulers_stepped", True))


# The moments of an epoch as bits of :attr:`LivePosition.done` (the flags of a Position, in field order).
EPOCH_STARTED, STEP_DONE, BATCH_END_DONE, VALIDATION_DONE, EPOCH_END_DONE, SCHEDULERS_STEPPED = 1, 2, 4, 8, 16, 32
#: Every moment of a batch: its step, its ``train_batch_end``, the validation due after it.
BATCH_DONE = STEP_DONE | BATCH_END_DONE | VALIDATION_DONE
_FLAGS = ((EPOCH_STARTED, "epoch_started"), (STEP_DONE, "step_done"), (BATCH_END_DONE, "batch_end_done"),
          (VALIDATION_DONE, "validation_done"), (EPOCH_END_DONE, "epoch_end_done"),
          (SCHEDULERS_STEPPED, "schedulers_stepped"))


def _position(epoch: int, batches_done: int, done: int) -> Position:
    return Position("train", epoch, batches_done, *(bool(done & bit) for bit, _ in _FLAGS))


class LivePosition:
    """The loop's position while it runs: three numbers changed in place, a :class:`Position` built only when read.

    The fit loop moves through several moments every batch; this keeps that free of allocations.

    >>> live = LivePosition()
    >>> live.set(Position(epoch=2, epoch_started=True))
    >>> live.done |= STEP_DONE
    >>> live.batches_done = 1
    >>> live.position() == Position(epoch=2, batches_done=1, epoch_started=True, step_done=True)
    True
    """

    __slots__ = ("epoch", "batches_done", "done")

    def __init__(self) -> None:
        self.epoch = self.batches_done = self.done = 0

    def position(self) -> Position:
        """Where the loop is, as a value."""
        return _position(self.epoch, self.batches_done, self.done)

    def set(self, position: Position) -> None:
        """Move to ``position`` (a resume, a trial's restore)."""
        self.epoch, self.batches_done = position.epoch, position.batches_done
        self.done = sum(bit for bit, name in _FLAGS if getattr(position, name))


class Boundary(NamedTuple):
    """What a moment started from: the position, the hook state, stop requests and (when kept) the RNG states.

    An exception rolls the hook state back to the boundary of the moment it
    interrupted, so the checkpoint it writes resumes by running that moment again.
    The position is kept as :class:`LivePosition`'s numbers (``at``) and built when read; the hook
    state in the dispatcher's fold form (``Dispatcher.state_of`` reads it).
    """

    at: tuple[int, int, int]
    hook_state: Any
    stop: tuple[bool, tuple[str, ...]]
    rng: dict[str, Any] | None = None
    batch_end: dict[str, Any] | None = None

    @property
    def position(self) -> Position:
        """The position the moment started at."""
        return _position(*self.at)
