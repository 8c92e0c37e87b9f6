"""Every argument of Lightning 2.5.6's Trainer (introspected) is fhooks.Trainer's, with Lightning's default, and
accepted at that default; an argument fhooks cannot honour fails naming what is supported; a misspelt one gets a
suggestion."""

from __future__ import annotations

import inspect

import pytest

import fhooks
from fhooks.errors import InvalidArgument

pl = pytest.importorskip("lightning.pytorch")

pytestmark = pytest.mark.parity

#: Added by the distributed strategy work (session/branch ``ddp``), not by this one.
DISTRIBUTED = {"strategy", "num_nodes", "sync_batchnorm", "use_distributed_sampler"}
#: fhooks' own arguments, which Lightning does not have.
FHOOKS_ONLY = {"seed", "resume_strict", "unknown"}

LIGHTNING = {n: p for n, p in inspect.signature(pl.Trainer.__init__).parameters.items() if n != "self"}
FHOOKS = {n: p for n, p in inspect.signature(fhooks.Trainer.__init__).parameters.items() if n != "self"}


def test_every_lightning_argument_with_its_default():
    missing = sorted(set(LIGHTNING) - set(FHOOKS) - DISTRIBUTED)
    assert not missing
    differ = {n: (p.default, FHOOKS[n].default) for n, p in LIGHTNING.items()
              if n in FHOOKS and p.default != FHOOKS[n].default}
    assert not differ
    assert set(FHOOKS) - set(LIGHTNING) == FHOOKS_ONLY


def test_lightnings_declared_defaults_are_accepted(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    given = {n: p.default for n, p in LIGHTNING.items() if n not in DISTRIBUTED}
    trainer = fhooks.Trainer(**given)
    lightning = pl.Trainer(**given, **{n: LIGHTNING[n].default for n in DISTRIBUTED})
    for name in ("precision", "limit_train_batches", "limit_val_batches", "limit_test_batches",
                 "limit_predict_batches", "val_check_interval", "num_sanity_val_steps", "log_every_n_steps",
                 "gradient_clip_algorithm", "default_root_dir", "max_epochs", "min_epochs"):
        mine, theirs = getattr(trainer, name, None), getattr(lightning, name, None)
        if theirs is not None or mine is not None:
            assert (name, type(mine), mine) == (name, type(theirs), theirs) or name in ("max_epochs", "min_epochs")


@pytest.mark.parametrize("name, value", [("profiler", "advanced"), ("barebones", True), ("overfit_batches", 2),
                                         ("reload_dataloaders_every_n_epochs", 1), ("plugins", [object()]),
                                         ("model_registry", "org/model")])
def test_what_fhooks_cannot_honour_is_refused_with_what_is_supported(name, value):
    with pytest.raises(InvalidArgument, match=rf"{name}=.* is not supported by fhooks; supported: "):
        fhooks.Trainer(**{name: value})


def test_honoured_arguments(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    trainer = fhooks.Trainer(deterministic=True, benchmark=False, inference_mode=False, profiler="simple",
                             detect_anomaly=False, plugins=None, logger=False)
    try:
        import torch

        assert torch.are_deterministic_algorithms_enabled() and not torch.backends.cudnn.benchmark
    finally:
        torch.use_deterministic_algorithms(False)
    assert trainer.settings.inference_mode is False
    with pytest.raises(InvalidArgument, match=r"deterministic='yes'; accepted: None, True, False, 'warn'"):
        fhooks.Trainer(deterministic="yes")


def test_a_misspelt_argument_gets_did_you_mean():
    with pytest.raises(InvalidArgument, match=r"unknown argument 'max_epoch' \(did you mean 'max_epochs'"):
        fhooks.Trainer(max_epoch=3)
    with pytest.raises(InvalidArgument, match=r"unknown argument 'zzz'; accepted: .*max_epochs"):
        fhooks.Trainer(zzz=1)


@pytest.mark.parametrize("inference_mode", [True, False])
@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore:.*does not have many workers",
                            "ignore:The number of training batches", "ignore:GPU available")
def test_inference_mode_as_lightning(tmp_path, monkeypatch, inference_mode):
    import torch

    from tests.parity.test_entry_points_parity import Regressor, loader

    class Seen(Regressor):
        def validation_step(self, batch, batch_idx):
            self.modes.append((torch.is_inference_mode_enabled(), torch.is_grad_enabled()))

    seen = {}
    for lib, trainer_cls in (("lightning", pl.Trainer), ("fhooks", fhooks.Trainer)):
        (tmp_path / lib).mkdir()
        monkeypatch.chdir(tmp_path / lib)
        model = Seen()
        model.modes = []
        trainer = trainer_cls(max_epochs=1, inference_mode=inference_mode, logger=False, enable_progress_bar=False,
                              enable_model_summary=False, enable_checkpointing=False)
        trainer.fit(model, loader(), loader(2))
        trainer.validate(model, loader(2), verbose=False)
        seen[lib] = model.modes
    assert seen["fhooks"] == seen["lightning"]
    assert seen["fhooks"][0] == (False, False) and seen["fhooks"][-1] == (inference_mode, False)  # fit: no_grad
