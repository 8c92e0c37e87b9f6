"""``fhooks.ignite.attach``: a hook expression in an Ignite engine.

Ignite's events become fhooks events: ``STARTED`` -> ``setup``, ``fit_start``, ``train_start``;
``EPOCH_STARTED``/``EPOCH_COMPLETED`` -> ``train_epoch_start``/``train_epoch_end``;
``ITERATION_STARTED``/``ITERATION_COMPLETED`` -> ``train_batch_start``/``train_batch_end``
(a scalar ``engine.state.output`` is the ``loss`` metric); ``COMPLETED`` -> ``train_end``,
``fit_end``; an exception -> ``exception`` (then it propagates). The evaluator's runs become
``validation_start`` ... ``validation_end`` with its ``state.metrics`` as the metrics.
Epochs are 0-based and steps count iterations, as under ``fhooks.Trainer``. ``Stop`` calls
``engine.terminate()``; checkpoints and logs go through the host (see :func:`fhooks.attach`).

Attach after the handler that runs the evaluator at ``EPOCH_COMPLETED``, so that
``validation_end`` comes before ``train_epoch_end`` as in Lightning. Ignite is imported
when :func:`attach` is called.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import attrs

from fhooks.core.events import RunInfo
from fhooks.core.hook import HookLike
from fhooks.hosts.loop import LoopHost

__all__ = ["IgniteHost", "attach"]


class IgniteHost(LoopHost):
    """A :class:`~fhooks.hosts.loop.LoopHost` whose ``Stop`` also terminates the engine; ``trainer`` is the engine."""

    def __init__(self, hook: HookLike | Iterable[HookLike], engine: Any, **kwargs: Any) -> None:
        super().__init__(hook, **kwargs)
        self.trainer = engine

    def request_stop(self, reason: str) -> None:
        super().request_stop(reason)
        self.trainer.terminate()

    def run_info(self) -> RunInfo:
        """:meth:`LoopHost.run_info` with the engine's ``max_epochs`` and ``epoch_length`` (batches per epoch)."""
        state = self.trainer.state
        return attrs.evolve(super().run_info(), max_epochs=state.max_epochs, num_training_batches=state.epoch_length)

    def counters(self) -> dict[str, int]:
        """The engine's position as fhooks counts it: 0-based epoch, optimizer steps, batch index in the epoch."""
        state = self.trainer.state
        return {"epoch": max(state.epoch - 1, 0), "step": state.iteration}

    def batch_idx(self) -> int:
        """The current iteration's index in its epoch."""
        state = self.trainer.state
        return (state.iteration - 1) % (state.epoch_length or 1)


def _output_metrics(output: Any) -> dict[str, Any]:
    numel = getattr(output, "numel", None)
    if isinstance(output, (int, float)) or (callable(numel) and numel() == 1):
        return {"loss": output}
    return {}


def attach(hook: HookLike | Iterable[HookLike], engine: Any, *, evaluator: Any = None, module: Any = None,
           optimizers: Any = (), dirpath: str | os.PathLike[str] | None = None, logger: Any = None) -> IgniteHost:
    """Run ``hook`` in the Ignite ``engine`` (and its ``evaluator``); returns the host (``decisions``, ``stop_reason``).

    >>> from ignite.engine import Engine
    >>> from fhooks import Stop, lambda_hook
    >>> engine = Engine(lambda engine, batch: 0.5)
    >>> host = attach(lambda_hook(on_train_epoch_end=lambda e: Stop("two epochs") if e.epoch == 1 else None), engine)
    >>> _ = engine.run([1, 2, 3], max_epochs=10)
    >>> engine.state.epoch, host.global_step, host.stop_reason
    (2, 6, 'two epochs')

    Raises:
        InvalidArgument: ``hook`` is not a hook or a list of hooks, or ``logger`` has no ``log_metrics``.
    """
    from ignite.engine import Events

    host = IgniteHost(hook, engine, module=module, optimizers=optimizers, dirpath=dirpath, logger=logger)

    def emit(kind: str, **extra: Any) -> None:
        host.emit(kind, **host.counters(), **extra)

    def started(_: Any) -> None:
        for kind in ("setup", "fit_start", "train_start"):
            emit(kind)

    def iteration_started(e: Any) -> None:
        host.emit("train_batch_start", epoch=host.counters()["epoch"], step=e.state.iteration - 1,
                  batch_idx=host.batch_idx())

    def iteration_completed(e: Any) -> None:
        metrics = {**_output_metrics(e.state.output), **e.state.metrics}
        emit("train_batch_end", batch_idx=host.batch_idx(), metrics=metrics)

    def epoch_completed(_: Any) -> None:
        emit("train_epoch_end")

    def completed(_: Any) -> None:
        for kind in ("train_end", "fit_end"):
            emit(kind)

    told: list[BaseException] = []

    def failed(_: Any, error: BaseException) -> None:
        if not told or told[0] is not error:  # Ignite fires once per loop level the error passes
            told[:] = [error]
            emit("exception", data=error)
        raise error

    def validation_started(_: Any) -> None:
        for kind in ("validation_start", "validation_epoch_start"):
            emit(kind)

    def validation_completed(ev: Any) -> None:
        for kind in ("validation_epoch_end", "validation_end"):
            emit(kind, metrics=ev.state.metrics)

    engine.add_event_handler(Events.STARTED, started)
    engine.add_event_handler(Events.EPOCH_STARTED, lambda _: emit("train_epoch_start"))
    engine.add_event_handler(Events.ITERATION_STARTED, iteration_started)
    engine.add_event_handler(Events.ITERATION_COMPLETED, iteration_completed)
    engine.add_event_handler(Events.EPOCH_COMPLETED, epoch_completed)
    engine.add_event_handler(Events.COMPLETED, completed)
    engine.add_event_handler(Events.EXCEPTION_RAISED, failed)
    if evaluator is not None:
        evaluator.add_event_handler(Events.STARTED, validation_started)
        evaluator.add_event_handler(Events.COMPLETED, validation_completed)
    return host
