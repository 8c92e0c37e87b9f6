"""``fhooks.ignite.attach``: the same expression on the same metric stream decides as under ``fhooks.Trainer``."""

from __future__ import annotations

import os

import pytest
import torch

import fhooks
from fhooks import Log, Stop, lambda_hook
from fhooks.hooks import early_stopping, model_checkpoint

ignite = pytest.importorskip("ignite")
from ignite.engine import Engine, Events, create_supervised_trainer  # noqa: E402
from ignite.metrics import Average  # noqa: E402

import fhooks.ignite  # noqa: E402

SCRIPT = [5.0, 4.0, 4.5, 3.0, 3.5, 3.625, 3.75, 3.875, 3.9375, 4.0]  # exact in float32
TRAIN = [(torch.ones(2, 1), torch.ones(2, 1))] * 4


def expression():
    return [early_stopping("val_loss", patience=3), model_checkpoint(monitor="val_loss", save_top_k=2),
            lambda_hook(on_train_epoch_end=lambda e: Log({"seen": e.metrics["val_loss"]}))]


class Scripted(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(1, 1)

    def forward(self, x):
        return self.layer(x)

    def training_step(self, batch, batch_idx):
        return torch.nn.functional.mse_loss(self(batch[0]), batch[1])

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", torch.tensor(SCRIPT[self.trainer.current_epoch]))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def moments(decisions):
    return [(d.kind, d.epoch, d.step, type(d.effect).__name__, os.path.basename(getattr(d.effect, "path", "")),
             getattr(d.effect, "metrics", None)) for d in decisions]


def run_fhooks():
    trainer = fhooks.Trainer(callbacks=expression(), max_epochs=len(SCRIPT), logger=False, enable_progress_bar=False,
                             enable_model_summary=False, num_sanity_val_steps=0, accelerator="cpu",
                             default_root_dir=os.path.abspath("fh"))
    trainer.fit(Scripted(), TRAIN, TRAIN[:1])
    return trainer.decisions


def run_ignite(tmp_dir="ig"):
    model = Scripted()
    optimizer = model.configure_optimizers()
    trainer = create_supervised_trainer(model, optimizer, torch.nn.functional.mse_loss)
    evaluator = Engine(lambda engine, batch: SCRIPT[trainer.state.epoch - 1])
    Average().attach(evaluator, "val_loss")
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda: evaluator.run([0]))
    host = fhooks.ignite.attach(expression(), trainer, evaluator=evaluator, module=model, optimizers=[optimizer],
                                dirpath=tmp_dir)
    trainer.run(TRAIN, max_epochs=len(SCRIPT))
    return host, trainer


class TestAttach:
    def test_same_decisions_as_the_trainer_on_the_same_metric_stream(self):
        host, _ = run_ignite()
        expected = moments(run_fhooks())
        assert [m[3] for m in expected].count("Stop") == 1
        assert moments(host.decisions) == expected

    def test_stop_terminates_the_engine_and_checkpoints_hold_the_model(self):
        host, engine = run_ignite()
        assert engine.state.epoch == 7 and engine.state.iteration == 28
        assert host.stop_reason.startswith("Monitored metric val_loss did not improve in the last 3 records")
        kept = sorted(os.listdir("ig"))
        assert kept == ["epoch=3-step=16.ckpt", "epoch=4-step=20.ckpt"]
        checkpoint = torch.load(os.path.join("ig", kept[0]), weights_only=True)
        assert set(checkpoint["state_dict"]) == {"layer.weight", "layer.bias"}
        assert checkpoint["host"]["epoch"] == 4 and checkpoint["global_step"] == 16

    def test_an_exception_reaches_the_hooks_and_propagates(self):
        seen = []
        engine = Engine(lambda engine, batch: 1 / 0)
        fhooks.ignite.attach(lambda_hook(on_exception=lambda e: seen.append(type(e.data).__name__)), engine)
        with pytest.raises(ZeroDivisionError):
            engine.run([1, 2], max_epochs=1)
        assert seen == ["ZeroDivisionError"]

    def test_batch_events_carry_the_output_as_loss(self):
        steps = []
        engine = Engine(lambda engine, batch: float(batch))
        fhooks.ignite.attach(lambda_hook(
            on_train_batch_end=lambda e: steps.append((e.epoch, e.step, e.batch_idx, e.metrics["loss"]))), engine)
        engine.run([1, 2], max_epochs=2)
        assert steps == [(0, 1, 0, 1.0), (0, 2, 1, 2.0), (1, 3, 0, 1.0), (1, 4, 1, 2.0)]

    def test_stop_from_a_batch(self):
        engine = Engine(lambda engine, batch: None)
        host = fhooks.ignite.attach(lambda_hook(on_train_batch_end=lambda e: Stop("three") if e.step == 3 else None),
                                    engine)
        engine.run(list(range(5)), max_epochs=4)
        assert (engine.state.iteration, host.should_stop, host.stop_reason) == (3, True, "three")



    def test_hooks_learn_the_engines_epochs_and_length(self):
        infos = []
        engine = Engine(lambda engine, batch: None)
        fhooks.ignite.attach(lambda_hook(on_fit_start=lambda e: infos.append(e.data)), engine, dirpath="ckpts")
        engine.run([1, 2, 3], max_epochs=2)
        (info,) = infos
        assert (info.max_epochs, info.num_training_batches, info.checkpoint_dir) == (2, 3, os.path.abspath("ckpts"))
