"""ModelPruning in real fhooks.Trainer runs: measured sparsity, lottery ticket, permanence, resume, errors."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils import prune

import fhooks.interpret.model.pruning  # noqa: F401  (registers the handlers)
from fhooks import Do, SaveCheckpoint, Trainer, on
from fhooks.callbacks.pruning import ModelPruning
from fhooks.errors import InvalidArgument, MisconfigurationError
from tests.models import loader


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Linear(4, 10), torch.nn.ReLU(), torch.nn.Linear(10, 1))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def measure():
    seen = []

    def take(ctx):
        weights = [ctx.module.net[0].weight, ctx.module.net[2].weight]
        seen.append(sum(int((w == 0).sum()) for w in weights))

    return seen, on("train_epoch_end", lambda e: Do(take, "measure"))


def fit(module, callbacks, max_epochs=4, ckpt_path=None, root=None):
    trainer = Trainer(callbacks=callbacks, max_epochs=max_epochs, enable_checkpointing=False,
                      enable_progress_bar=False, num_sanity_val_steps=0, default_root_dir=root)
    trainer.fit(module, loader(n=32, batch_size=8), ckpt_path=ckpt_path)
    return trainer


WEIGHTS = [("net.0", "weight"), ("net.2", "weight")]  # 40 + 10 = 50 entries


class TestSparsity:
    def test_each_scheduled_step_prunes_the_requested_fraction_of_what_remains(self):
        amounts = {0: 0.5, 1: 0.0, 2: 0.2, 3: 0.5}
        pruning = ModelPruning("l1_unstructured", parameters_to_prune=WEIGHTS, amount=amounts.__getitem__,
                               use_lottery_ticket_hypothesis=False, make_pruning_permanent=False)
        seen, check = measure()
        fit(Net(), [pruning, check])
        expected, zeros = [], 0
        for epoch in range(4):
            zeros += round(amounts[epoch] * (50 - zeros))
            expected.append(zeros)
        assert seen == expected == [25, 25, 30, 40]

    def test_local_structured_pruning_removes_whole_rows(self):
        pruning = ModelPruning("ln_structured", parameters_to_prune=[("net.0", "weight")], amount=3,
                               use_global_unstructured=False, pruning_dim=0, pruning_norm=2,
                               apply_pruning=lambda epoch: epoch == 1, use_lottery_ticket_hypothesis=False)
        module = Net()
        fit(module, [pruning])
        rows = (module.net[0].weight == 0).all(dim=1)
        assert int(rows.sum()) == 3
        assert not prune.is_pruned(module)  # made permanent at train_end

    def test_module_objects_are_accepted_and_default_selects_every_weight_and_bias(self):
        module = Net()
        fit(module, [ModelPruning("random_unstructured", parameters_to_prune=[(module.net[2], "weight")],
                                  amount=4, apply_pruning=lambda e: e == 0)], max_epochs=1)
        assert int((module.net[2].weight == 0).sum()) == 4
        every = Net()
        trainer = Trainer(callbacks=[ModelPruning("l1_unstructured", amount=0.1)], max_epochs=1,
                          enable_checkpointing=False, enable_progress_bar=False)
        trainer.fit(every, loader(n=8))
        assert trainer.extra_state["model_pruning"]["parameters"] == [
            ["net.0", "weight"], ["net.2", "weight"], ["net.0", "bias"], ["net.2", "bias"]]


class TestLotteryTicket:
    def test_surviving_weights_are_reset_to_their_initial_values(self):
        module = Net()
        initial = module.net[0].weight.detach().clone()
        fit(module, [ModelPruning("l1_unstructured", parameters_to_prune=[("net.0", "weight")], amount=0.5,
                                  apply_pruning=lambda e: e == 3)])
        w = module.net[0].weight.detach().cpu()  # fit leaves the module on its device
        kept = w != 0
        assert int(kept.sum()) == 20
        assert torch.equal(w[kept], initial[kept])


class TestCheckpoints:
    def test_checkpoint_holds_folded_weights_and_resume_continues_pruning(self, tmp_path):
        def prune_args():
            return dict(parameters_to_prune=WEIGHTS, amount=0.3, use_lottery_ticket_hypothesis=False)

        save = on("train_epoch_end", lambda e: SaveCheckpoint(str(tmp_path / "e1.ckpt")) if e.epoch == 1 else None)
        full = Net()
        fit(full, [ModelPruning("l1_unstructured", **prune_args()), save], root=tmp_path)
        saved = torch.load(tmp_path / "e1.ckpt", weights_only=True)
        assert "net.0.weight" in saved["state_dict"] and "net.0.weight_orig" not in saved["state_dict"]
        resumed = Net()
        fit(resumed, [ModelPruning("l1_unstructured", **prune_args()), save], ckpt_path=tmp_path / "e1.ckpt",
            root=tmp_path)
        for (n, p), q in zip(full.named_parameters(), resumed.parameters()):
            assert torch.equal(p, q), n


class TestErrors:
    def test_a_pair_naming_no_parameter(self):
        with pytest.raises(MisconfigurationError) as info:
            fit(Net(), [ModelPruning("l1_unstructured", parameters_to_prune=[("net.1", "weight")])])
        assert str(info.value) == ("model_pruning: parameters_to_prune names ('net.1', 'weight') but 'net.1' (ReLU) "
                                   "has no parameter 'weight' (its parameters: none)")

    def test_a_pair_naming_no_module(self):
        with pytest.raises(MisconfigurationError) as info:
            fit(Net(), [ModelPruning("l1_unstructured", parameters_to_prune=[("net.7", "weight")])])
        assert str(info.value) == ("model_pruning: parameters_to_prune names ('net.7', 'weight') but Net has no "
                                   "submodule 'net.7'")

    @pytest.mark.parametrize("kwargs, message", [
        ({"pruning_fn": "l2_unstructured"}, "model_pruning: pruning_fn='l2_unstructured' is not one of ln_structured, "
         "l1_unstructured, random_structured, random_unstructured (or pass a torch BasePruningMethod subclass)"),
        ({"pruning_fn": "ln_structured"}, "model_pruning: pruning_fn='ln_structured' is structured; "
         "use_global_unstructured=True supports only unstructured methods (pass use_global_unstructured=False)"),
        ({"pruning_fn": "random_structured", "use_global_unstructured": False},
         "model_pruning: pruning_fn='random_structured' needs pruning_dim"),
        ({"pruning_fn": "ln_structured", "use_global_unstructured": False, "pruning_dim": 0},
         "model_pruning: pruning_fn='ln_structured' needs pruning_norm"),
        ({"pruning_fn": prune.l1_unstructured}, "model_pruning: pruning_fn=<function l1_unstructured at"),
        ({"pruning_fn": prune.LnStructured}, "model_pruning: pruning_fn=LnStructured has PRUNING_TYPE='structured'; "
         "use_global_unstructured=True supports only 'unstructured'"),
        ({"pruning_fn": "l1_unstructured", "amount": 1.5}, "model_pruning: amount=1.5 must be an int >= 0 (a count) "
         "or a float in [0, 1] (a fraction)"),
        ({"pruning_fn": "l1_unstructured", "parameter_names": ["gamma"]},
         "model_pruning: parameter_names has 'gamma'; accepted: 'weight', 'bias'"),
        ({"pruning_fn": "l1_unstructured", "verbose": 3}, "model_pruning: verbose=3 must be 0, 1 or 2"),
    ])
    def test_bad_arguments(self, kwargs, message):
        with pytest.raises(InvalidArgument) as info:
            ModelPruning(**kwargs)
        assert str(info.value).startswith(message)

    def test_a_callable_amount_returning_a_bad_value(self):
        with pytest.raises(InvalidArgument) as info:
            fit(Net(), [ModelPruning("l1_unstructured", amount=lambda e: -2)])
        assert str(info.value) == ("model_pruning: amount(0)=-2 must be an int >= 0 (a count) or a float in [0, 1] "
                                   "(a fraction)")
