"""Position bookkeeping for the fit loop: moment boundaries, the rollback an exception does, signals.

The loop calls :func:`boundary` when a moment starts (a batch's step, its
``train_batch_end``, a validation, the epoch end, the schedulers' step). An
exception rolls the hook state back to that boundary before ``exception`` is
emitted, so a checkpoint written then resumes by running the interrupted moment
again from its start, with the RNG states it started from.

>>> from types import SimpleNamespace
>>> trainer = SimpleNamespace(live=LivePosition(), dispatcher=SimpleNamespace(fold=0, heard=frozenset()),
...                           should_stop=False, stop_reasons=[], boundary=None)
>>> trainer.live.set(Position(epoch_started=True))
>>> boundary(trainer)
>>> trainer.dispatcher.fold = 5
>>> roll_back(trainer)
>>> trainer.dispatcher.fold, trainer.live.position().epoch_started
(0, True)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch

from fhooks.trainer import checkpoint as ckpt
from fhooks.trainer.interrupts import SIGTERMException
from fhooks.trainer.position import (
    BATCH_DONE,
    BATCH_END_DONE,
    STEP_DONE,
    VALIDATION_DONE,
    Boundary,
    LivePosition,
    Position,
)


def boundary(trainer: Any, *, keep_rng: bool = False, batch_end: dict[str, Any] | None = None) -> None:
    """Remember where the loop is as the start of the next moment.

    RNG states are kept when ``keep_rng`` or when someone hears ``exception`` (only an exception
    checkpoint, or one written in the middle of a validation, goes back to a boundary).
    """
    live = trainer.live
    d = trainer.dispatcher
    rng = ckpt.rng_states() if keep_rng or "exception" in d.heard else None
    reasons = trainer.stop_reasons
    trainer.boundary = _new_boundary(Boundary, ((live.epoch, live.batches_done, live.done), d.fold,
                                                (trainer.should_stop, tuple(reasons) if reasons else ()), rng, batch_end))


_new_boundary = tuple.__new__  # Boundary(...) without the named tuple's Python-level __new__: two per batch


def batch_starts(trainer: Any, batch_idx: int) -> None:
    """Every moment of the batches before ``batch_idx`` happened; the next moment is this batch's step."""
    live = trainer.live
    live.batches_done = batch_idx
    live.done |= BATCH_DONE
    boundary(trainer)


def batch_stepped(trainer: Any, batch_idx: int, batch_end: dict[str, Any] | None) -> None:
    """Batch ``batch_idx`` stepped; the next moment is its ``train_batch_end`` (``batch_end``: what re-runs it)."""
    live = trainer.live
    live.batches_done = batch_idx + 1
    live.done = (live.done | STEP_DONE) & _BEFORE_BATCH_END
    boundary(trainer, batch_end=batch_end)


_BEFORE_BATCH_END = ~(BATCH_END_DONE | VALIDATION_DONE)  # the bits batch_stepped clears


def advance(trainer: Any, moments: int) -> None:
    """Mark ``moments`` (bits of :mod:`fhooks.trainer.position`) as happened: the hook state includes them."""
    trainer.live.done |= moments


def roll_back(trainer: Any) -> None:
    """Put the hook state and stop requests back to the last boundary (before ``exception`` is emitted)."""
    b = trainer.boundary
    if b is None:
        return
    trainer.dispatcher.fold = b.hook_state
    live = trainer.live
    live.epoch, live.batches_done, live.done = b.at
    trainer.should_stop, reasons = b.stop
    trainer.stop_reasons = list(reasons)


def batch_end_payload(values: dict[str, Any], outputs: dict[str, Any], log_step: int | None) -> dict[str, Any]:
    """What re-emitting a batch's ``train_batch_end`` needs: its metrics and outputs (numbers and tensors)."""
    def plain(d: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in d.items() if isinstance(v, (torch.Tensor, int, float))}
    return {"values": plain(values), "outputs": plain(outputs), "log_step": log_step}


def checkpoint_entries(trainer: Any) -> dict[str, Any]:
    """The position part of a checkpoint: where it was taken, its RNG states and, if pending, the batch end.

    During ``exception`` handling, or in the middle of a validation, that is the last boundary; otherwise now.
    """
    b = trainer.boundary
    at_boundary = b is not None and b.rng is not None and (trainer.handling_exception or trainer.mid_moment)
    entries: dict[str, Any] = {
        "position": (b.position if at_boundary else trainer.live.position()).to_plain(),
        "rng": ckpt.packed_rng(b.rng if at_boundary else ckpt.rng_states()),
    }
    if at_boundary and trainer.mid_moment and not trainer.handling_exception:
        entries["hook_state"] = trainer.dispatcher.state_of(b.hook_state)
        entries["stop"] = b.stop
    elif at_boundary:
        entries["stop"] = b.stop
    if at_boundary and b.batch_end is not None and not b.position.batch_end_done:
        entries["batch_end"] = b.batch_end
    if trainer.epoch_start_rng is not None:
        entries["rng"] = {**entries["rng"], "epoch_start_torch": trainer.epoch_start_rng}
    return entries


def interrupt_behind(error: BaseException) -> BaseException | None:
    """The KeyboardInterrupt/SystemExit an error replaced (torch's zip writer turns one into a RuntimeError).

    >>> try:
    ...     try:
    ...         raise KeyboardInterrupt
    ...     except KeyboardInterrupt:
    ...         raise RuntimeError("unexpected pos")
    ... except RuntimeError as e:
    ...     type(interrupt_behind(e)).__name__
    'KeyboardInterrupt'
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, (KeyboardInterrupt, SystemExit)):
            return current
        seen.add(id(current))
        current = current.__context__
    return None


@contextlib.contextmanager
def interrupts_surface() -> Iterator[None]:
    """Let an interrupt that hit a checkpoint write surface as itself, not as the writer's follow-up error."""
    try:
        yield
    except Exception as exc:
        interrupt = interrupt_behind(exc)
        if interrupt is None:
            raise
        raise interrupt.with_traceback(interrupt.__traceback__) from None


__all__ = ["LivePosition", "Position", "SIGTERMException", "advance", "batch_starts", "batch_stepped", "boundary",
           "checkpoint_entries", "roll_back"]
