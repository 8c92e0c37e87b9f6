"""BatchSizeFinder: real trials in a real Trainer, with genuine CPU allocation failures; everything is restored."""

from __future__ import annotations

import copy

import pytest
import torch
from torch.utils.data import DataLoader

import fhooks.trainer.batch_size_finder  # noqa: F401  (registers the ScaleBatchSize handler)
from fhooks import Trainer
from fhooks.callbacks.batch_size_finder import BatchSizeFinder
from fhooks.core import Do, SaveCheckpoint, lambda_hook
from fhooks.errors import InvalidArgument, MisconfigurationError
from fhooks.hooks.batch_size_finder import ScaleBatchSize
from fhooks.trainer.batch_size_finder import is_oom
from fhooks.trainer.trials import MissingAttribute
from tests.models import Regressor, regression_data

IMPOSSIBLE = 2**45  # float32 elements per sample past the capacity: petabytes, refused by the allocator untouched


class Hungry(Regressor):
    """Memory grows with the batch size: past ``capacity`` samples the allocator genuinely fails."""

    def __init__(self, batch_size: int = 2, capacity: int = 20, n: int = 256, error: Exception | None = None) -> None:
        super().__init__()
        self.batch_size, self.capacity, self.n, self.error = batch_size, capacity, n, error
        self.calls = 0

    def train_dataloader(self):
        return DataLoader(regression_data(self.n), batch_size=self.batch_size, shuffle=True)

    def training_step(self, batch, batch_idx):
        self.calls += 1
        x, _ = batch
        if x.shape[0] > self.capacity:
            if self.error is not None:
                raise self.error
            torch.empty(x.shape[0] * IMPOSSIBLE, dtype=torch.float32)
        return super().training_step(batch, batch_idx)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


def prime(ctx):
    module, opt = ctx.module, ctx.trainer.optimizers[0]
    x, y = (t.to(ctx.trainer.device) for t in regression_data(8)[:])
    torch.nn.functional.mse_loss(module(x), y).backward()
    opt.step()


def capture(into: dict):
    def fn(ctx):
        m, t = ctx.module, ctx.trainer
        into.update(params={k: v.clone() for k, v in m.state_dict().items()},
                    grads=[p.grad.clone() for p in m.parameters()],
                    optimizer=copy.deepcopy(t.optimizers[0].state_dict()), rng=torch.get_rng_state(),
                    loops=(t.global_step, t.current_epoch, t.batches_done, t.train_loader))
    return fn


def fit(finder, module=None, max_epochs=1, extra=(), ckpt_path=None, tmp_path=None, **kwargs):
    module = module or Hungry()
    trainer = Trainer(callbacks=[*extra, finder], max_epochs=max_epochs, seed=1, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path, **kwargs)
    trainer.fit(module, ckpt_path=ckpt_path)
    return module, trainer


class TestFindsTheSize:
    @pytest.mark.parametrize(("mode", "expected"), [("power", 16), ("binsearch", 20)])
    def test_largest_size_that_fits_a_real_oom(self, mode, expected):
        finder = BatchSizeFinder(mode=mode, steps_per_trial=1)
        module, trainer = fit(finder, limit_train_batches=1)
        assert finder.optimal_batch_size == module.batch_size == expected
        assert trainer.train_loader.batch_size == expected
        saved = trainer.extra_state["batch_size_finder"]
        assert saved["batch_size"] == expected and [s for s, ok in saved["tried"] if ok][-1] <= 20

    def test_power_with_untried_doubling_returns_the_last_size_that_fit(self):
        finder = BatchSizeFinder(max_trials=3, steps_per_trial=1)
        fit(finder, module=Hungry(capacity=1000), limit_train_batches=1)
        assert finder.optimal_batch_size == 8  # Lightning: 16, never tried

    def test_dataset_length_stops_growth(self):
        finder = BatchSizeFinder(steps_per_trial=1)
        module, _ = fit(finder, module=Hungry(capacity=10**6, n=64), limit_train_batches=1)
        assert module.batch_size == 64

    def test_hparams_dict_holder(self):
        class FromHparams(Hungry):
            def __init__(self):
                super().__init__()
                del self.batch_size
                self.hparams = {"batch_size": 2}

            def train_dataloader(self):
                return DataLoader(regression_data(self.n), batch_size=self.hparams["batch_size"])

        module, trainer = fit(BatchSizeFinder(mode="binsearch", steps_per_trial=1), module=FromHparams(),
                              limit_train_batches=1)
        assert module.hparams["batch_size"] == 20 == trainer.train_loader.batch_size


class TestRestoresEverything:
    def test_params_grads_optimizer_rng_and_loops_are_equal_after_the_finder(self):
        before, after = {}, {}
        hooks = [lambda_hook(on_fit_start=lambda e: (Do(prime), Do(capture(before))))]
        check = lambda_hook(on_fit_start=lambda e: Do(capture(after)))
        module = Hungry()
        trainer = Trainer(callbacks=[*hooks, BatchSizeFinder(mode="binsearch"), check], max_epochs=1,
                          limit_train_batches=1, seed=0, enable_checkpointing=False, enable_progress_bar=False,
                          enable_model_summary=False)
        trainer.fit(module)
        for key, value in before["params"].items():
            assert torch.equal(value, after["params"][key]), key
        assert all(torch.equal(a, b) for a, b in zip(before["grads"], after["grads"]))
        assert before["optimizer"]["param_groups"] == after["optimizer"]["param_groups"]
        for idx, state in before["optimizer"]["state"].items():
            for name, value in state.items():
                assert torch.equal(value, after["optimizer"]["state"][idx][name]), (idx, name)
        assert torch.equal(before["rng"], after["rng"]) and before["loops"] == after["loops"]
        assert module.batch_size == 20 and trainer.train_loader.batch_size == 20

    def test_training_with_the_finder_equals_training_at_the_found_size(self):
        found, _ = fit(BatchSizeFinder(mode="binsearch", steps_per_trial=2))
        plain, _ = fit(lambda_hook(), module=Hungry(batch_size=20))
        for (name, x), (_, y) in zip(found.state_dict().items(), plain.state_dict().items()):
            assert torch.equal(x, y), name


class TestErrors:
    @pytest.mark.parametrize("error", [ValueError("not memory"), RuntimeError("shape mismatch in layer 2")])
    def test_other_errors_propagate_and_the_size_is_put_back(self, error):
        module = Hungry(error=error)
        with pytest.raises(type(error)) as info:
            fit(BatchSizeFinder(steps_per_trial=1), module=module, limit_train_batches=1)
        assert info.value is error and module.batch_size == 2

    def test_nothing_fits(self):
        module = Hungry(batch_size=7, capacity=0)
        with pytest.raises(MisconfigurationError) as info:
            fit(BatchSizeFinder(init_val=4, steps_per_trial=1), module=module)
        assert str(info.value) == ("batch_size_finder: no batch size fit in memory (tried 4, 2, 1); lower init_val, "
                                   "raise max_trials, or make the model smaller")
        assert module.batch_size == 7

    def test_batch_arg_name_names_nothing(self):
        with pytest.raises(MissingAttribute) as info:
            fit(BatchSizeFinder(batch_arg_name="bs"))
        assert str(info.value) == (
            "batch_size_finder: batch_arg_name='bs' names nothing; looked in the module (Hungry), module.hparams "
            "(none), the datamodule (none), datamodule.hparams (none); set 'bs' where train_dataloader() reads it, "
            "or pass batch_arg_name= the attribute that holds the batch size")

    def test_needs_train_dataloader(self):
        class NoLoader(Hungry):
            train_dataloader = None

        trainer = Trainer(callbacks=[BatchSizeFinder()], max_epochs=1, enable_checkpointing=False,
                          enable_progress_bar=False, enable_model_summary=False)
        with pytest.raises(MisconfigurationError) as info:
            trainer.fit(NoLoader(), DataLoader(regression_data(16), batch_size=4))
        assert str(info.value) == (
            "batch_size_finder: needs the training data from NoLoader.train_dataloader(), to rebuild it with each "
            "batch size; define train_dataloader() instead of passing train_dataloaders to fit")

    @pytest.mark.parametrize(("kwargs", "message"), [
        ({"mode": "linear"}, "batch_size_finder: mode='linear' must be 'power' or 'binsearch'"),
        ({"steps_per_trial": 0}, "batch_size_finder: steps_per_trial=0 must be an int >= 1"),
        ({"init_val": 0}, "batch_size_finder: init_val=0 must be an int >= 1"),
        ({"max_trials": -1}, "batch_size_finder: max_trials=-1 must be an int >= 0"),
        ({"batch_arg_name": ""}, "batch_size_finder: batch_arg_name='' must be an attribute name (a non-empty string)"),
    ])
    def test_rejected_when_built(self, kwargs, message):
        with pytest.raises(InvalidArgument) as info:
            BatchSizeFinder(**kwargs)
        assert str(info.value) == message


class TestOomDetection:
    def test_real_cpu_allocation_failure(self):
        with pytest.raises(RuntimeError) as info:
            torch.empty(IMPOSSIBLE * 4, dtype=torch.float32)
        assert is_oom(info.value)

    @pytest.mark.parametrize(("error", "expected"), [
        (torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), True),
        (RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"), True),
        (RuntimeError("DefaultCPUAllocator: not enough memory: you tried to allocate 8 bytes."), True),
        (RuntimeError("out of memory"), False),
        (RuntimeError("cuDNN error: CUDNN_STATUS_NOT_SUPPORTED."), False),
        (MemoryError(), False),
        (ValueError("DefaultCPUAllocator: can't allocate memory"), False),
    ])
    def test_only_out_of_memory_errors(self, error, expected):
        assert is_oom(error) is expected


class TestRunShape:
    def test_one_search_then_training_at_step_zero(self):
        steps = []
        probe = lambda_hook(on_train_batch_start=lambda e: steps.append(e.step))
        finder = BatchSizeFinder(mode="binsearch", steps_per_trial=1)
        _, trainer = fit(finder, extra=[probe], limit_train_batches=2)
        assert steps == [0, 1]
        assert [d.effect for d in trainer.decisions] == [ScaleBatchSize(finder.hook)]

    def test_resumed_run_reapplies_the_size_without_searching(self, tmp_path):
        save = lambda_hook(on_train_epoch_end=lambda e: SaveCheckpoint(str(tmp_path / "e.ckpt")))
        fit(BatchSizeFinder(mode="binsearch", steps_per_trial=1), extra=[save], limit_train_batches=2,
            tmp_path=tmp_path)
        module = Hungry()
        resumed = BatchSizeFinder(mode="binsearch", steps_per_trial=1)
        _, trainer = fit(resumed, module=module, extra=[save], max_epochs=2, limit_train_batches=2,
                         ckpt_path=tmp_path / "e.ckpt", tmp_path=tmp_path)
        assert module.calls == 2 and module.batch_size == 20 == trainer.train_loader.batch_size
        assert resumed.optimal_batch_size == 20

    def test_fast_dev_run_skips(self):
        finder = BatchSizeFinder()
        module, trainer = fit(finder, fast_dev_run=True)
        assert module.batch_size == 2 and "batch_size_finder" not in trainer.extra_state
