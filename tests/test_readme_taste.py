"""README "A taste": each line of the expression does what its comment says, under a real Trainer."""

from __future__ import annotations

from fhooks import Event, SaveCheckpoint, Stop, Trainer, any_of, every_n, lambda_hook, scan
from fhooks.hooks import early_stopping, model_checkpoint
from tests.models import Regressor, loader


def test_every_nth_epoch_end_checkpoint_saves_at_every_second_epoch_end():
    every_2nd = every_n(2, model_checkpoint(monitor="val_loss", save_top_k=2), kind="train_epoch_end")
    trainer = Trainer(max_epochs=6, callbacks=[every_2nd], enable_progress_bar=False, enable_model_summary=False,
                      logger=False)
    trainer.fit(Regressor(), loader(n=16), loader(n=8))
    saves = [(d.event.kind, d.event.epoch) for d in trainer.decisions if isinstance(d.effect, SaveCheckpoint)]
    assert saves == [("train_epoch_end", 1), ("train_epoch_end", 3), ("train_epoch_end", 5)]


def test_either_rule_stops_on_val_loss_patience_or_the_val_acc_threshold_only():
    threshold = lambda_hook(on_train_epoch_end=lambda e: Stop("val_acc > 0.99") if e.metrics["val_acc"] > 0.99 else None)
    either = any_of(early_stopping("val_loss", patience=3), threshold)
    accs = [0.5, 0.5, 0.5, 0.5, 0.5, 0.995]  # val_acc stalls for 5 epochs (no stop), then passes 0.99
    epochs = [Event("train_epoch_end", epoch=i, metrics={"val_loss": 1.0 / (i + 1), "val_acc": acc})
              for i, acc in enumerate(accs)]
    assert [effects for _, effects in scan(either, epochs)] == [()] * 5 + [(Stop("val_acc > 0.99"),)]
