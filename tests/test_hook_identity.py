"""Hook identity on resume: saved states go to the hooks with the same kind and configuration, in order."""

from __future__ import annotations

from pathlib import Path

import pytest

from fhooks import Trainer, stateful
from fhooks.callbacks import BaseFinetuning, EarlyStopping, LearningRateMonitor, ModelCheckpoint
from fhooks.core import Event, fold
from fhooks.core.identity import identity, kind_of, match
from fhooks.errors import CheckpointMismatch
from fhooks.hooks import early_stopping
from tests.models import Regressor, loader


def counting(name="seen"):
    return stateful(0, lambda n, e: (n + 1, None), kinds="train_batch_end", name=name)


class Unfreeze(BaseFinetuning):
    def freeze_before_training(self, pl_module):
        pass

    def finetune_function(self, pl_module, current_epoch, optimizer):
        pass


def fit(callbacks, max_epochs=1, ckpt_path=None, **options):
    settings = dict(enable_progress_bar=False, enable_model_summary=False, logger=False, num_sanity_val_steps=0)
    trainer = Trainer(callbacks=callbacks, max_epochs=max_epochs, **{**settings, **options})
    trainer.fit(Regressor(), loader(), loader(n=16), ckpt_path=ckpt_path)
    return trainer


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


class TestIdentity:
    def test_configuration_is_part_of_the_identity_and_not_of_the_kind(self):
        a, b = EarlyStopping("val_loss"), EarlyStopping("val_acc", mode="max")
        assert kind_of(a) == kind_of(b) and identity(a) != identity(b)
        assert identity(EarlyStopping("val_loss")) == identity(a)

    def test_a_lightning_style_callback_is_known_by_its_state_key(self):
        assert identity(Unfreeze()) == "Unfreeze"

    def test_equal_identities_are_matched_in_order(self):
        assert match(["a", "b", "a"], ["a", "a", "c"]) == [0, 2, None]

    def test_fold_with_a_state_of_another_shape_is_still_an_error(self):
        with pytest.raises((TypeError, AttributeError, ValueError)):
            fold(early_stopping("val_loss"), [Event("validation_end", metrics={"val_loss": 1.0})], state=(1, 2))


class TestResume:
    def test_a_changed_configuration_starts_fresh_with_a_warning(self, in_tmp):
        fit([counting(), ModelCheckpoint(dirpath="ck", filename="last")])
        changed = stateful(0, lambda n, e: (n + 1, None), kinds={"train_batch_end", "validation_end"}, name="seen")
        with pytest.warns(UserWarning, match=r"seen\(init=0, .*kinds=\{'train_batch_end'\}.*was saved, but the current "
                                             r"hook is seen\(.*'validation_end'.*its configuration changed"):
            trainer = fit([changed, ModelCheckpoint(dirpath="ck", filename="last")], max_epochs=2,
                          ckpt_path="ck/last.ckpt")
        assert trainer.dispatcher.state[0] == 8 + 1  # one epoch from a fresh state, not 8 + 8 + 1

    def test_early_stopping_on_another_metric_never_gets_the_old_state(self):
        from fhooks.trainer.restore import matched_hook_state

        old = early_stopping("val_loss")
        saved = {"parts": [{"identity": identity(old), "kind": kind_of(old), "state": None}]}
        current = early_stopping("val_acc", mode="max")
        state, notes = matched_hook_state(current, saved, strict=False, where="checkpoint 'x'")
        assert state == current.init and "its configuration changed" in notes[0]

    def test_strict_mode_refuses_a_changed_configuration(self, in_tmp):
        fit([early_stopping("val_loss"), ModelCheckpoint(dirpath="ck", filename="last")])
        with pytest.raises(CheckpointMismatch, match="its configuration changed"):
            fit([early_stopping("val_loss", patience=9), ModelCheckpoint(dirpath="ck", filename="last")],
                max_epochs=2, ckpt_path="ck/last.ckpt", resume_strict=True)

    def test_a_dropped_model_checkpoint_is_named_in_one_warning_and_the_finetuning_is_restored(self, in_tmp):
        saved_with = [Unfreeze(), ModelCheckpoint(dirpath="ck", filename="last"), counting()]
        fit(saved_with, max_epochs=2)
        resumed = Unfreeze()
        with pytest.warns(UserWarning) as caught:
            trainer = fit([resumed, counting()], max_epochs=3, ckpt_path="ck/last.ckpt", enable_checkpointing=False)
        assert len(caught) == 1
        assert "no current hook matches the saved state of ModelCheckpoint[model_checkpoint(dirpath=" in str(
            caught[0].message)
        assert resumed._last_epoch == 2 and trainer.dispatcher.state[1] == 24

    def test_an_added_learning_rate_monitor_starts_fresh_without_a_warning(self, in_tmp, recwarn):
        fit([counting(), ModelCheckpoint(dirpath="ck", filename="last")])
        trainer = fit([LearningRateMonitor(), counting(), ModelCheckpoint(dirpath="ck", filename="last")],
                      max_epochs=2, ckpt_path="ck/last.ckpt", logger=None)
        assert not [w for w in recwarn if "resuming" in str(w.message)]
        assert trainer.dispatcher.state[1] == 16

    def test_hooks_of_equal_identity_are_each_restored_around_an_inserted_one(self, in_tmp):
        fit([counting(), counting(), ModelCheckpoint(dirpath="ck", filename="last")])
        trainer = fit([counting(), LearningRateMonitor(), counting(), ModelCheckpoint(dirpath="ck", filename="last")],
                      max_epochs=2, ckpt_path=Path("ck/last.ckpt"), logger=None)
        state = trainer.dispatcher.state
        assert (state[0], state[2]) == (16, 16)
