"""fhooks.loggers.Logger and where the trainer calls loggers (fhooks/loggers/base.py, calls.py)."""

from __future__ import annotations

import inspect
import os
import types

import pytest

import fhooks
from fhooks.errors import MisconfigurationError
from fhooks.loggers import CSVLogger, Logger, TensorBoardLogger
from fhooks.loggers.calls import checkpoint_folder, hyperparameters
from tests.models import Regressor, loader


class Recording(Logger):
    name = "rec"
    version = 1

    def __init__(self):
        self.calls = []

    def log_metrics(self, metrics, step=None):
        pass

    def log_hyperparams(self, params, *args, **kwargs):
        self.calls.append(("log_hyperparams", dict(params)))

    def log_graph(self, model, input_array=None):
        self.calls.append(("log_graph", type(model).__name__))

    def after_save_checkpoint(self, checkpoint_callback):
        self.calls.append(("after_save_checkpoint", os.path.basename(checkpoint_callback.best_model_path)))

    def finalize(self, status):
        self.calls.append(("finalize", status))


def fit(logger, module, **settings):
    trainer = fhooks.Trainer(logger=logger, max_epochs=2, enable_progress_bar=False, enable_model_summary=False,
                             **settings)
    trainer.fit(module, loader(16))
    return trainer


def test_the_base_class_has_lightnings_interface():
    lightning = pytest.importorskip("lightning")
    theirs = {n for n in dir(lightning.pytorch.loggers.Logger) if not n.startswith("_")}
    ours = {n for n in dir(Logger) if not n.startswith("_")}
    assert theirs <= ours
    for name in ("log_metrics", "log_hyperparams", "log_graph", "finalize", "after_save_checkpoint"):
        assert list(inspect.signature(getattr(Logger, name)).parameters) == \
            list(inspect.signature(getattr(lightning.pytorch.loggers.Logger, name)).parameters)


def test_file_loggers_are_loggers(tmp_path):
    assert isinstance(CSVLogger(tmp_path), Logger) and isinstance(TensorBoardLogger(tmp_path), Logger)
    with pytest.raises(TypeError, match="abstract"):
        Logger()


def test_calls_in_a_fit_without_hyperparameters():
    logger = Recording()
    fit(logger, Regressor())
    assert logger.calls == [("log_graph", "Regressor"), ("after_save_checkpoint", "epoch=0-step=2.ckpt"),
                            ("after_save_checkpoint", "epoch=1-step=4.ckpt"), ("finalize", "success")]


def test_calls_with_hyperparameters_and_no_checkpoint_callback():
    module = Regressor()
    module.hparams = {"lr": 0.01}
    logger = Recording()
    fit(logger, module, enable_checkpointing=False)
    assert logger.calls == [("log_hyperparams", {"lr": 0.01}), ("log_graph", "Regressor"), ("finalize", "success")]


def test_checkpoints_go_under_the_first_loggers_run_folder():
    trainer = fit([Recording(), CSVLogger("csv")], Regressor())
    assert trainer.checkpoint_dir == checkpoint_folder(trainer.loggers, trainer.default_root_dir)
    assert os.path.relpath(trainer.checkpoint_dir) == os.path.join("rec", "version_1", "checkpoints")
    assert sorted(n for n in os.listdir(trainer.checkpoint_dir) if n.endswith(".ckpt")) == ["epoch=1-step=4.ckpt"]


class TestHyperparameters:
    def test_plain_modules_only_when_they_have_some(self):
        assert hyperparameters(types.SimpleNamespace(hparams={})) is None
        assert hyperparameters(types.SimpleNamespace()) is None
        assert hyperparameters(types.SimpleNamespace(hparams={"a": 1})) == {"a": 1}

    def test_lightning_style_modules_follow_log_hyperparams(self):
        logged = types.SimpleNamespace(_log_hyperparams=True, hparams_initial={})
        silent = types.SimpleNamespace(_log_hyperparams=False, hparams_initial={"a": 1})
        assert hyperparameters(logged) == {} and hyperparameters(silent) is None

    def test_data_module_merged_and_clash_refused(self):
        module = types.SimpleNamespace(hparams={"a": 1, "_class_path": "x"})
        assert hyperparameters(module, types.SimpleNamespace(hparams={"b": 2})) == {"a": 1, "b": 2}
        with pytest.raises(MisconfigurationError, match=r"^Trainer.fit: hyperparameters \['a'\] differ between the "
                                                        r"module and the datamodule; give them one value$"):
            hyperparameters(module, types.SimpleNamespace(hparams={"a": 2}))
