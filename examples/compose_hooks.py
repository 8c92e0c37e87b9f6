"""Fold a composed hook expression over a hand-made event stream: no torch, no trainer.

The stream is what a trainer would emit for a run whose validation loss falls,
then stalls. The expression logs every second epoch, saves a checkpoint when the
loss is the best so far, and stops on a plateau or a time budget, whichever
comes first. ``scan`` shows what it decides, event by event. Runtime: under half a second:

    python examples/compose_hooks.py
"""

from __future__ import annotations

import math

from fhooks.core import Event, Log, SaveCheckpoint, Stop, any_of, every_n, lambda_hook, scan, sequence, stateful, when
from fhooks.core.events import RunInfo
from fhooks.hooks import early_stopping, timer

VAL_LOSSES = [0.90, 0.61, 0.48, 0.45, 0.46, 0.44, 0.47, 0.45, 0.46, 0.45]


def stream(val_losses: list[float], seconds_per_epoch: float = 30.0) -> list[Event]:
    """setup, fit_start, then per epoch a validation run and train_epoch_end, as the trainer orders them."""
    info = RunInfo(max_epochs=len(val_losses), num_training_batches=10, num_val_batches=1)
    events = [Event("setup", data=info), Event("fit_start", data=info), Event("train_start")]
    for epoch, loss in enumerate(val_losses):
        at = dict(epoch=epoch, step=10 * (epoch + 1), time=seconds_per_epoch * (epoch + 1))
        metrics = {"val_loss": loss}
        events += [Event("train_epoch_start", epoch=epoch, step=10 * epoch, time=seconds_per_epoch * epoch),
                   Event("validation_start", **at), Event("validation_end", metrics=metrics, **at),
                   Event("train_epoch_end", metrics=metrics, **at)]
    return events


def save_best():
    """A checkpoint whenever val_loss is the lowest so far; the state is the best value."""

    def step(best: float, event: Event):
        loss = event.metrics["val_loss"]
        if loss < best:
            return loss, SaveCheckpoint(f"best-epoch={event.epoch}.ckpt")
        return best, None

    return stateful(math.inf, step, kinds="train_epoch_end", name="save_best")


def policy():
    return sequence(
        every_n(2, lambda_hook(on_train_epoch_end=lambda e: Log({"val_loss": e.metrics["val_loss"]}))),
        when(lambda e: e.stage == "fit", save_best()),
        any_of(early_stopping("val_loss", patience=3, min_delta=0.01), timer({"minutes": 10})),
    )


def main() -> None:
    expression = policy()
    print(f"expression: {expression!r}\n")
    events = stream(VAL_LOSSES)
    for event, (state, effects) in zip(events, scan(expression, events)):
        for effect in effects:
            print(f"epoch {event.epoch} {event.kind}, val_loss={event.metrics['val_loss']:.2f}: {effect!r}")
        if any(isinstance(effect, Stop) for effect in effects):
            print(f"\na trainer would stop after epoch {event.epoch}; the best val_loss seen was {state[1]:.2f}")
            break


if __name__ == "__main__":
    main()
