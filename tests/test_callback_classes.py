"""Every Lightning-named class is an ``fhooks.Callback``; subclasses that override ``on_*`` are called; the
``Checkpoint`` base; ``LambdaCallback``'s positional arguments in Lightning's order."""

from __future__ import annotations

import inspect
import os

import pytest

import fhooks
import fhooks.callbacks as fc
from fhooks.callbacks.base import user_kinds
from fhooks.callbacks.lambda_callback import PARAMETER_ORDER
from fhooks.core import Do, Event, fold
from tests.models import Regressor, loader

CLASSES = [getattr(fc, name) for name in fc.__all__
           if inspect.isclass(getattr(fc, name)) and name not in ("RichProgressBarTheme", "TrainingSpikeException")]
QUIET = dict(logger=False, enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_callback_class_is_a_callback(cls):
    assert issubclass(cls, fhooks.Callback)


def test_the_library_classes_add_no_user_kinds():
    assert all(user_kinds(cls) == frozenset() for cls in CLASSES)


class Watchful(fc.EarlyStopping):
    """A user's subclass that reads the state the parent's decision left."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.waits = []

    def on_train_epoch_end(self, trainer, pl_module):
        super().on_train_epoch_end(trainer, pl_module)
        self.waits.append((trainer.current_epoch, self.wait_count, trainer.should_stop))


def test_a_subclass_override_runs_after_the_parents_decision():
    es = Watchful("loss", patience=1, check_on_train_epoch_end=True)
    assert "train_epoch_end" in es.kinds
    state, effects = fold(es, [Event("train_epoch_end", epoch=0, metrics={"loss": 1.0})])
    assert [type(e).__name__ for e in effects] == ["Do"]
    assert effects[0].label == "Watchful.on_train_epoch_end"


def test_a_subclass_override_is_called_in_a_real_fit():
    es = Watchful("loss", patience=1, check_on_train_epoch_end=True, min_delta=100.0)
    trainer = fhooks.Trainer(callbacks=[es], max_epochs=5, **QUIET)
    trainer.fit(Regressor(), loader(32))
    assert es.waits == [(0, 0, False), (1, 1, True)]
    assert trainer.current_epoch == 2


def test_a_subclass_of_model_checkpoint_sees_its_files(tmp_path):
    seen = []

    class Noting(fc.ModelCheckpoint):
        def on_train_epoch_end(self, trainer, pl_module):
            seen.append(os.path.basename(self.best_model_path))

    trainer = fhooks.Trainer(callbacks=[Noting(dirpath="ckpts", save_top_k=-1, every_n_epochs=1)], max_epochs=2,
                             logger=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(Regressor(), loader(32))
    assert seen == ["epoch=0-step=4.ckpt", "epoch=1-step=8.ckpt"]


def test_checkpoint_base_class():
    assert issubclass(fc.ModelCheckpoint, fc.Checkpoint) and issubclass(fc.OnExceptionCheckpoint, fc.Checkpoint)
    assert not issubclass(fc.EarlyStopping, fc.Checkpoint)


class TestLambdaCallbackPositional:
    def test_order_is_lightnings(self):
        lightning = pytest.importorskip("lightning")
        theirs = list(inspect.signature(lightning.pytorch.callbacks.LambdaCallback).parameters)
        assert list(PARAMETER_ORDER) == theirs
        assert list(inspect.signature(fc.LambdaCallback).parameters) == theirs

    def test_positional_arguments_name_hooks(self):
        calls = []
        cb = fc.LambdaCallback(None, lambda t, m, stage: calls.append(stage), lambda t, m: calls.append("fit"))
        assert cb.kinds == {"teardown", "fit_start"}
        for effect in fold(cb, [Event("fit_start"), Event("teardown", stage="fit")])[1]:
            assert isinstance(effect, Do)
            effect.fn(type("Ctx", (), {"trainer": None, "module": None})())
        assert calls == ["fit", "fit"]

    def test_too_many_and_twice(self):
        with pytest.raises(TypeError, match="^LambdaCallback: 38 positional arguments given; it takes at most 37"):
            fc.LambdaCallback(*[print] * 38)
        with pytest.raises(TypeError, match="^LambdaCallback: setup given both by position and by keyword$"):
            fc.LambdaCallback(print, setup=print)


def test_lightning_lambda_order_runs_in_a_fit():
    epochs = []
    args = [None] * PARAMETER_ORDER.index("on_train_epoch_end") + [lambda t, m: epochs.append(t.current_epoch)]
    trainer = fhooks.Trainer(callbacks=[fc.LambdaCallback(*args)], max_epochs=2, **QUIET)
    trainer.fit(Regressor(), loader(16))
    assert epochs == [0, 1]
