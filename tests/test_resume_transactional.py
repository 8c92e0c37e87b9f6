"""A failed resume changes nothing: the whole checkpoint is checked before the module, optimizer or hooks change."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fhooks import Trainer
from fhooks.callbacks import Callback, EarlyStopping
from fhooks.errors import CheckpointMismatch, CorruptCheckpoint
from fhooks.trainer.checkpoint import write_atomic
from tests.models import Regressor, loader


class Remembers(Callback):
    """A callback with state: the epochs it saw."""

    def __init__(self):
        self.epochs = 0

    def on_train_epoch_end(self, trainer, pl_module):
        self.epochs += 1

    def state_dict(self):
        return {"epochs": self.epochs}

    def load_state_dict(self, state_dict):
        self.epochs = state_dict["epochs"]


def trainer(**options):
    settings = dict(max_epochs=2, enable_progress_bar=False, enable_model_summary=False, logger=False,
                    num_sanity_val_steps=0)
    settings.update(options)
    return Trainer(callbacks=[EarlyStopping("val_loss"), Remembers()], **settings)


@pytest.fixture
def saved(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    t = trainer(max_epochs=1)
    t.fit(Regressor(), loader(), loader(n=16))
    [path] = Path("checkpoints").glob("*.ckpt")
    return path


def weights(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def assert_untouched(module, before, t):
    assert all(torch.equal(before[k], v) for k, v in module.state_dict().items())
    assert t.callbacks[1].epochs == 0
    assert t.callbacks[0].best_score == torch.inf or float(t.callbacks[0].best_score) == float("inf")


def altered(path: Path, change) -> Path:
    checkpoint = torch.load(path, weights_only=True)
    change(checkpoint)
    target = path.with_name("altered.ckpt")
    write_atomic(checkpoint, target)
    return target


def fails(path, error, match, module=None, **options):
    module = module or Regressor()
    before = weights(module)
    t = trainer(**options)
    with pytest.raises(error, match=match):
        t.fit(module, loader(), loader(n=16), ckpt_path=path)
    assert_untouched(module, before, t)


class TestStructure:
    def test_missing_rng(self, saved):
        fails(altered(saved, lambda c: c.pop("rng")), CorruptCheckpoint, r"entry 'rng' is missing.*Nothing was loaded")

    def test_empty_optimizer_states(self, saved):
        fails(altered(saved, lambda c: c.update(optimizer_states=[])), CorruptCheckpoint,
              r"'optimizer_states' is empty, so the optimizer would start fresh")

    def test_tampered_hook_state(self, saved):
        def tamper(c):
            c["hooks"]["parts"][0]["state"] = {"__tuple__": [1, 2]}
        fails(altered(saved, tamper), CorruptCheckpoint, r"the state of EarlyStopping.* does not have the shape")

    def test_position_of_the_wrong_type(self, saved):
        fails(altered(saved, lambda c: c["position"].update(batches_done="3")), CorruptCheckpoint,
              r"batches_done='3' is not a count")

    def test_a_folder(self, saved):
        fails(saved.parent, CorruptCheckpoint, r"is a folder, not a checkpoint file; pass the path of a \.ckpt file")

    def test_weights_only(self, saved):
        t = trainer(max_epochs=1)
        module = Regressor()
        t.fit(module, loader(), loader(n=16))
        t.save_checkpoint("weights.ckpt", weights_only=True)  # relative to the working directory, as Lightning
        fails(Path("weights.ckpt"), CheckpointMismatch,
              r"holds the model's weights only .* no optimizer, loop or hook state to resume from")

    def test_a_lightning_checkpoint(self, saved):
        def as_lightning(c):
            c.pop("fhooks_version")
            c.pop("optimizer_states")
            c["pytorch-lightning_version"] = "2.5.6"
        lightning = altered(saved, as_lightning)  # Lightning's full checkpoints resume (tests/parity)
        fails(lightning, CheckpointMismatch, r"written by Lightning 2\.5\.6 with its weights only")


class TestShapes:
    def test_a_model_of_another_size_is_refused_before_any_weight_is_copied(self, saved):
        fails(saved, CheckpointMismatch, r"net\.0\.weight: \(16, 4\) in the checkpoint, \(8, 4\) in the model",
              module=Regressor(hidden=8))

    def test_an_optimizer_of_another_layout_is_refused_and_the_weights_are_put_back(self, saved):
        class TwoGroups(Regressor):
            def configure_optimizers(self):
                return torch.optim.SGD([{"params": self.net[0].parameters()}, {"params": self.net[3].parameters()}],
                                       lr=0.01, momentum=0.9)

        fails(saved, CheckpointMismatch, r"parameter groups of sizes \[4\], the current one has \[2, 2\]",
              module=TwoGroups())
