"""StochasticWeightAveraging in real fhooks.Trainer runs: the average, the lrs, BatchNorm, resume, errors."""

from __future__ import annotations

import math

import pytest
import torch

import fhooks.interpret.model.swa  # noqa: F401  (registers the handlers)
from fhooks import Do, SaveCheckpoint, Trainer, on
from fhooks.callbacks.swa import StochasticWeightAveraging
from fhooks.errors import InvalidArgument, MisconfigurationError
from tests.models import loader


class Line(torch.nn.Module):
    def __init__(self, bn: bool = False, lr: float = 0.05, scheduler: bool = False) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.layer = torch.nn.Linear(4, 1)
        self.bn = torch.nn.BatchNorm1d(4) if bn else torch.nn.Identity()
        self.lr, self.scheduler = lr, scheduler

    def forward(self, x):
        return self.layer(self.bn(x))

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self(x), y)

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=self.lr)
        if self.scheduler:
            return [opt], [torch.optim.lr_scheduler.StepLR(opt, 1, gamma=0.5)]
        return opt


def snapshots():
    taken = []

    def take(ctx):
        taken.append((ctx.event.epoch, [p.detach().clone() for p in ctx.module.parameters()],
                      ctx.trainer.optimizers[0].param_groups[0]["lr"]))

    return taken, on("train_batch_start", lambda e: Do(take, "snapshot") if e.batch_idx == 0 else None)


def fit(module, callbacks, max_epochs=5, **kwargs):
    trainer = Trainer(callbacks=callbacks, max_epochs=max_epochs, enable_checkpointing=False,
                      enable_progress_bar=False, num_sanity_val_steps=0, **kwargs)
    trainer.fit(module, loader(n=32, batch_size=8))
    return trainer


class TestAverage:
    def test_final_weights_are_the_mean_of_the_averaged_epoch_start_weights(self):
        taken, snap = snapshots()
        module = Line()
        swa = StochasticWeightAveraging(swa_lrs=0.05, swa_epoch_start=2)
        fit(module, [snap, swa])
        assert (swa.swa_start, swa.swa_end, swa.n_averaged) == (1, 4, 4)
        averaged = [params for epoch, params, _ in taken if epoch >= 1]
        for i, p in enumerate(module.parameters()):
            mean = torch.stack([params[i] for params in averaged]).mean(0)
            torch.testing.assert_close(p.detach(), mean, rtol=1e-6, atol=1e-7)

    def test_custom_avg_fn_keeps_the_latest_weights(self):
        taken, snap = snapshots()
        module = Line()
        fit(module, [snap, StochasticWeightAveraging(0.05, swa_epoch_start=2, avg_fn=lambda a, p, n: p)])
        for p, q in zip(module.parameters(), taken[-1][1]):
            assert torch.equal(p.detach(), q)

    def test_a_stopped_run_keeps_its_trained_weights(self):
        taken, snap = snapshots()
        module = Line()
        stop = on("train_epoch_end", lambda e: fhooks_stop() if e.epoch == 2 else None)
        fit(module, [snap, StochasticWeightAveraging(0.05, swa_epoch_start=2), stop])
        assert not any(torch.equal(p.detach(), q) for p, q in zip(module.parameters(), taken[-1][1]))


def fhooks_stop():
    from fhooks import Stop

    return Stop("stop early")


def reference_swalr(lr, swa_lr, anneal_epochs, strategy, epochs):
    """torch's SWALR over a dummy optimizer: the lr of each SWA epoch."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    sched = torch.optim.swa_utils.SWALR(opt, swa_lr, anneal_epochs=anneal_epochs, anneal_strategy=strategy)
    out = []
    for _ in range(epochs):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


class TestLearningRates:
    @pytest.mark.parametrize("strategy", ["cos", "linear"])
    @pytest.mark.parametrize("anneal", [0, 1, 2, 3])
    def test_each_epochs_lr_matches_torch_swalr(self, strategy, anneal):
        taken, snap = snapshots()
        fit(Line(lr=0.05), [snap, StochasticWeightAveraging(0.01, swa_epoch_start=2, annealing_epochs=anneal,
                                                          annealing_strategy=strategy)])
        lrs = [lr for _, _, lr in taken]
        assert lrs[0] == 0.05
        assert lrs[1:] == pytest.approx(reference_swalr(0.05, 0.01, anneal, strategy, 4), rel=1e-12)

    def test_the_users_scheduler_stops_at_swa_start(self):
        taken, snap = snapshots()
        trainer = fit(Line(lr=0.08, scheduler=True), [snap, StochasticWeightAveraging(0.01, swa_epoch_start=3,
                                                                                     annealing_epochs=1)])
        assert [lr for _, _, lr in taken] == pytest.approx([0.08, 0.04, 0.02, 0.01, 0.01])
        assert trainer.lr_scheduler_configs == []


class TestBatchNorm:
    def test_running_stats_are_recomputed_over_the_training_data(self):
        module = Line(bn=True)
        trainer = fit(module, [StochasticWeightAveraging(0.05, swa_epoch_start=3)])
        x = torch.cat([b[0] for b in loader(n=32, batch_size=8)])
        torch.testing.assert_close(module.bn.running_mean.cpu(), x.mean(0))
        assert trainer.current_epoch == 5  # no extra epoch, unlike Lightning


class TestResume:
    def test_resumed_run_ends_with_the_same_average(self, tmp_path):
        save = on("train_epoch_end", lambda e: SaveCheckpoint(str(tmp_path / "e2.ckpt")) if e.epoch == 2 else None)
        full = Line()
        fit(full, [StochasticWeightAveraging(0.02, swa_epoch_start=2, annealing_epochs=2), save],
            default_root_dir=tmp_path)
        resumed = Line()
        trainer = Trainer(callbacks=[StochasticWeightAveraging(0.02, swa_epoch_start=2, annealing_epochs=2), save],
                          max_epochs=5, enable_checkpointing=False, enable_progress_bar=False,
                          num_sanity_val_steps=0, default_root_dir=tmp_path)
        trainer.fit(resumed, loader(n=32, batch_size=8), ckpt_path=tmp_path / "e2.ckpt")
        for p, q in zip(full.parameters(), resumed.parameters()):
            assert torch.equal(p, q)


class TestErrors:
    @pytest.mark.parametrize("start", [0, -1, 1.5, -0.1, True])
    def test_swa_epoch_start_out_of_range(self, start):
        with pytest.raises(InvalidArgument) as info:
            StochasticWeightAveraging(0.1, swa_epoch_start=start)
        assert str(info.value) == (f"stochastic_weight_averaging: swa_epoch_start={start!r} must be an int >= 1 "
                                   "or a float in [0, 1]")

    @pytest.mark.parametrize("lrs", [1, 0.0, -0.1, [0.1, 0], [], "0.1", math.nan])
    def test_bad_swa_lrs(self, lrs):
        with pytest.raises(InvalidArgument) as info:
            StochasticWeightAveraging(lrs)
        assert str(info.value) == (f"stochastic_weight_averaging: swa_lrs={lrs!r} must be a positive float or a "
                                   "list of positive floats")

    def test_bad_strategy(self):
        with pytest.raises(InvalidArgument, match=r"annealing_strategy='step' must be 'cos' or 'linear'"):
            StochasticWeightAveraging(0.1, annealing_strategy="step")

    def test_start_past_the_last_epoch(self):
        with pytest.raises(MisconfigurationError) as info:
            fit(Line(), [StochasticWeightAveraging(0.1, swa_epoch_start=7)], max_epochs=5)
        assert str(info.value) == ("stochastic_weight_averaging: swa_epoch_start=7 is past the last epoch "
                                   "(max_epochs=5); use an int in [1, 5] or a float in [0, 1]")

    def test_one_lr_per_group(self):
        with pytest.raises(MisconfigurationError, match=r"swa_lrs has 2 values for 1 param groups"):
            fit(Line(), [StochasticWeightAveraging([0.1, 0.2])])
