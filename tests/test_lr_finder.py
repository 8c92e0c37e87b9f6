"""LearningRateFinder: real range tests in a real Trainer; everything it touches is restored exactly."""

from __future__ import annotations

import copy
import math
import sys

import pytest
import torch

import fhooks.trainer.lr_finder  # noqa: F401  (registers the FindLearningRate handler)
from fhooks import Trainer
from fhooks.callbacks.lr_finder import LearningRateFinder
from fhooks.core import Do, lambda_hook
from fhooks.errors import InvalidArgument
from fhooks.hooks.lr_finder import FindLearningRate, LRFinderResult, gradient, lr_finder, suggestion
from fhooks.trainer.trials import MissingAttribute
from tests.models import Regressor, loader


class Counting(Regressor):
    """A regressor with Adam (so the optimizer has state) that counts its training steps."""

    def __init__(self, lr: float = 0.01) -> None:
        super().__init__(lr=lr)
        self.calls = 0

    def training_step(self, batch, batch_idx):
        self.calls += 1
        return super().training_step(batch, batch_idx)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


def prime(ctx):
    """Take one optimizer step by hand, so weights, grads and optimizer state are all non-trivial."""
    module, opt = ctx.module, ctx.trainer.optimizers[0]
    x, y = (t.to(ctx.trainer.device) for t in next(iter(loader(n=8))))
    torch.nn.functional.mse_loss(module(x), y).backward()
    opt.step()


class Capture:
    """Copies of everything a finder must leave unchanged, taken by a Do effect."""

    def __init__(self) -> None:
        self.copies: dict = {}

    def __call__(self, ctx) -> None:
        t, m = ctx.trainer, ctx.module
        self.copies = {
            "params": {k: v.detach().clone() for k, v in m.state_dict().items()},
            "grads": [p.grad.clone() for p in m.parameters()],
            "optimizer": copy.deepcopy(t.optimizers[0].state_dict()),
            "rng": torch.get_rng_state(),
            "loops": (t.global_step, t.current_epoch, t.batches_done, t.should_stop, dict(t.callback_metrics)),
            "training": m.training,
        }


def assert_same(a: dict, b: dict) -> None:
    for key, value in a["params"].items():
        assert torch.equal(value, b["params"][key]), key
    assert all(torch.equal(x, y) for x, y in zip(a["grads"], b["grads"]))
    opt_a, opt_b = a["optimizer"], b["optimizer"]
    assert opt_a["param_groups"] == opt_b["param_groups"]
    assert opt_a["state"].keys() == opt_b["state"].keys() and opt_a["state"]
    for idx, state in opt_a["state"].items():
        for name, value in state.items():
            assert torch.equal(value, opt_b["state"][idx][name]), (idx, name)
    assert torch.equal(a["rng"], b["rng"])
    assert a["loops"] == b["loops"] and a["training"] == b["training"]


def run(finder, module=None, max_epochs=1, ckpt_path=None, tmp_path=None, extra=(), **kwargs):
    module = module or Counting()
    trainer = Trainer(callbacks=[*extra, finder], max_epochs=max_epochs, seed=3, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                      default_root_dir=tmp_path, **kwargs)
    trainer.fit(module, loader(n=128, batch_size=4, shuffle=True), ckpt_path=ckpt_path)
    return module, trainer


class TestRestoresEverything:
    def test_params_grads_optimizer_rng_and_loops_are_equal_after_the_finder(self):
        before, after = Capture(), Capture()
        capture = lambda_hook(on_fit_start=lambda e: (Do(prime), Do(before)))
        check = lambda_hook(on_fit_start=lambda e: Do(after))
        module = Counting()
        # no early stop: on CUDA, dropout draws other masks and the range test may diverge sooner
        finder = LearningRateFinder(num_training_steps=10, update_attr=False, early_stop_threshold=None)
        trainer = Trainer(callbacks=[capture, finder, check], max_epochs=1, seed=0, enable_checkpointing=False,
                          enable_progress_bar=False, enable_model_summary=False)
        trainer.fit(module, loader(n=64, batch_size=4, shuffle=True))
        assert module.calls == 10 + 16  # the range test ran, then the real epoch
        assert_same(before.copies, after.copies)

    def test_training_with_the_finder_equals_training_from_the_suggested_lr(self):
        finder = LearningRateFinder(min_lr=1e-4, num_training_steps=30, early_stop_threshold=None)
        found, trainer = run(finder, max_epochs=2)
        lr = finder.optimal_lr.suggestion()
        assert lr is not None and found.lr == lr and trainer.optimizers[0].param_groups[0]["lr"] == lr
        plain, _ = run(lambda_hook(), module=Counting(lr=lr), max_epochs=2)
        for (name, x), (_, y) in zip(found.state_dict().items(), plain.state_dict().items()):
            assert torch.equal(x, y), name

    def test_an_error_in_the_test_propagates_and_restores(self):
        class Failing(Counting):
            def training_step(self, batch, batch_idx):
                if self.calls == 5:
                    raise ValueError("step 5 broke")
                return super().training_step(batch, batch_idx)

        module = Failing()
        before = {k: v.clone() for k, v in module.state_dict().items()}
        with pytest.raises(ValueError, match="step 5 broke"):
            run(LearningRateFinder(num_training_steps=20), module=module)
        assert all(torch.equal(v, module.state_dict()[k].cpu()) for k, v in before.items())
        assert module.lr == 0.01


class TestResults:
    def test_points_rates_and_extra_state(self):
        finder = LearningRateFinder(min_lr=1e-5, max_lr=0.1, num_training_steps=25, early_stop_threshold=None)
        _, trainer = run(finder)
        result = finder.optimal_lr
        assert isinstance(result, LRFinderResult)
        assert list(result.lrs) == [finder.hook.lr_at(i) for i in range(25)] and result.lrs[-1] == 0.1
        assert len(result.losses) == 25 and all(math.isfinite(v) for v in result.losses)
        assert trainer.extra_state["lr_finder"] == {**result.results, "suggestion": result.suggestion()}
        assert [type(d.effect) for d in trainer.decisions] == [FindLearningRate]

    def test_stops_when_the_batches_run_out(self):
        finder = LearningRateFinder(num_training_steps=100, early_stop_threshold=None)
        module, _ = run(finder, max_epochs=2, limit_train_batches=10)
        assert len(finder.optimal_lr.lrs) == 20 and module.calls == 20 + 20

    def test_diverging_loss_stops_early(self):
        finder = LearningRateFinder(min_lr=1e-3, max_lr=1e4, num_training_steps=50)
        run(finder, max_epochs=2)
        assert finder.optimal_lr.diverged and len(finder.optimal_lr.lrs) < 50

    def test_accumulation_takes_one_point_per_optimizer_step(self):
        finder = LearningRateFinder(num_training_steps=10, early_stop_threshold=None, update_attr=False)
        module, _ = run(finder, accumulate_grad_batches=2)
        assert len(finder.optimal_lr.lrs) == 10 and module.calls == 20 + 32

    def test_attr_name_in_hparams(self):
        module = Counting()
        module.hparams = {"base_lr": 0.5}
        finder = LearningRateFinder(min_lr=1e-4, num_training_steps=30, attr_name="base_lr", early_stop_threshold=None)
        run(finder, module=module)
        assert module.hparams["base_lr"] == finder.optimal_lr.suggestion() and module.lr == 0.01

    def test_fast_dev_run_skips(self):
        finder = LearningRateFinder(num_training_steps=10)
        module, trainer = run(finder, fast_dev_run=True)
        assert finder.optimal_lr is None and "lr_finder" not in trainer.extra_state

    def test_resumed_run_does_not_search_again(self, tmp_path):
        finder = LearningRateFinder(min_lr=1e-4, num_training_steps=20, early_stop_threshold=None)
        save = lambda_hook(on_train_epoch_end=lambda e: fhooks_save(tmp_path))
        module, trainer = run(finder, tmp_path=tmp_path, extra=[save])
        resumed = LearningRateFinder(min_lr=1e-4, num_training_steps=20, early_stop_threshold=None)
        module2, trainer2 = run(resumed, max_epochs=2, tmp_path=tmp_path, ckpt_path=tmp_path / "e.ckpt",
                                extra=[save])
        assert resumed.optimal_lr is None and module2.calls == 32
        assert trainer2.optimizers[0].param_groups[0]["lr"] == finder.optimal_lr.suggestion()


def fhooks_save(tmp_path):
    from fhooks.core import SaveCheckpoint

    return SaveCheckpoint(str(tmp_path / "e.ckpt"))


class TestBadInput:
    @pytest.mark.parametrize(("kwargs", "message"), [
        ({"min_lr": 1.0, "max_lr": 0.5}, "lr_finder: min_lr=1.0 must be less than max_lr=0.5"),
        ({"min_lr": 0.1, "max_lr": 0.1}, "lr_finder: min_lr=0.1 must be less than max_lr=0.1"),
        ({"mode": "cosine"}, "lr_finder: mode='cosine' must be 'exponential' or 'linear'"),
        ({"min_lr": 0}, "lr_finder: min_lr=0 must be > 0 in exponential mode"),
        ({"min_lr": -1.0, "mode": "linear"}, "lr_finder: min_lr=-1.0 must be >= 0"),
        ({"num_training_steps": 0}, "lr_finder: num_training_steps=0 must be an int >= 1"),
        ({"early_stop_threshold": 0}, "lr_finder: early_stop_threshold=0 must be None or a number > 0"),
        ({"max_lr": math.inf}, "lr_finder: max_lr=inf must be a finite number"),
    ])
    def test_rejected_when_built(self, kwargs, message):
        with pytest.raises(InvalidArgument) as info:
            LearningRateFinder(**kwargs)
        assert str(info.value) == message

    def test_mode_is_case_insensitive(self):
        assert LearningRateFinder(mode="Linear").hook.mode == "linear"

    def test_no_lr_attribute(self):
        class NoLr(Counting):
            def configure_optimizers(self):
                return torch.optim.SGD(self.parameters(), lr=0.1)

        module = NoLr()
        del module.lr
        with pytest.raises(MissingAttribute) as info:
            run(LearningRateFinder(), module=module)
        assert str(info.value) == (
            "lr_finder: update_attr=True but there is no 'lr' or 'learning_rate'; looked in the module (NoLr), "
            "module.hparams (none), the datamodule (none), datamodule.hparams (none); add one of them, "
            "pass attr_name=..., or pass update_attr=False")
        assert isinstance(info.value, AttributeError)

    def test_attr_name_names_nothing(self):
        with pytest.raises(MissingAttribute) as info:
            run(LearningRateFinder(attr_name="rate"))
        assert str(info.value) == (
            "lr_finder: attr_name='rate' names nothing; looked in the module (Counting), module.hparams (none), "
            "the datamodule (none), datamodule.hparams (none); pass the name of the attribute that holds the "
            "learning rate")


class TestSuggestionAndPlot:
    def test_gradient_matches_torch(self):
        g = torch.Generator().manual_seed(0)
        xs = torch.cumsum(torch.rand(50, generator=g, dtype=torch.float64) + 0.01, 0)
        ys = torch.randn(50, generator=g, dtype=torch.float64)
        expected = torch.gradient(ys, spacing=[xs])[0]
        assert torch.allclose(torch.tensor(gradient(ys.tolist(), xs.tolist()), dtype=torch.float64), expected)

    def test_skip_end_zero_keeps_the_last_point(self):
        lrs, losses = [1.0, 2.0, 3.0], [3.0, 2.0, 0.0]
        assert suggestion(lrs, losses, skip_begin=0, skip_end=0) == 2
        assert suggestion(lrs, losses, skip_begin=0, skip_end=1) == 0

    def test_plot_without_matplotlib(self, monkeypatch):
        monkeypatch.setitem(sys.modules, "matplotlib", None)
        result = LRFinderResult("exponential", 1e-3, 1.0, 3, (1e-3, 0.03, 1.0), (1.0, 0.5, 2.0))
        with pytest.raises(ImportError) as info:
            result.plot(suggest=True)
        assert str(info.value) == ("LRFinderResult.plot: needs matplotlib, which is not installed; "
                                   "install it with `pip install 'fhooks[plot]'` (or `pip install matplotlib`)")

    def test_plot_saves_a_png(self, tmp_path):
        pytest.importorskip("matplotlib")
        result = LRFinderResult("exponential", 1e-3, 1.0, 3, (1e-3, 0.03, 1.0), (1.0, 0.5, 2.0))
        result.plot(suggest=True, path=tmp_path / "lr.png")
        assert (tmp_path / "lr.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parity
class TestLightningParity:
    def test_learning_rates_and_suggestion(self):
        lightning_lr = pytest.importorskip("lightning.pytorch.tuner.lr_finder")
        for mode, low, high in (("exponential", 1e-4, 1.0), ("linear", 0.01, 1.0)):
            n = 40
            net = torch.nn.Linear(1, 1)
            opt = torch.optim.SGD(net.parameters(), lr=low)
            cls = lightning_lr._ExponentialLR if mode == "exponential" else lightning_lr._LinearLR
            sched = cls(opt, high, n)
            theirs = []
            for _ in range(n):
                theirs.append(sched.lr[0])
                opt.step()
                sched.step()
            ours = [lr_finder(low, high, n, mode).lr_at(i) for i in range(n)]
            assert ours == pytest.approx(theirs, rel=1e-12)
            losses = [(math.log10(lr) + 2) ** 2 + 1 for lr in ours]
            their_finder = lightning_lr._LRFinder(mode, low, high, n)
            their_finder.results = {"lr": ours, "loss": losses}
            their_lr = their_finder.suggestion()
            assert their_lr is not None and suggestion(ours, losses) == their_finder._optimal_idx
            assert LRFinderResult(mode, low, high, n, tuple(ours), tuple(losses)).suggestion() == their_lr
