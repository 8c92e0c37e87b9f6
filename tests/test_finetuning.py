"""BaseFinetuning and BackboneFinetuning in real fhooks.Trainer runs."""

from __future__ import annotations

import pytest
import torch

import fhooks.interpret.model.finetuning  # noqa: F401  (registers the handlers)
from fhooks import Do, SaveCheckpoint, Trainer, on
from fhooks.callbacks.finetuning import BackboneFinetuning, BaseFinetuning
from fhooks.errors import InvalidArgument, MisconfigurationError
from tests.models import loader


class Net(torch.nn.Module):
    def __init__(self, scheduler: bool = False) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.backbone = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU())
        self.head = torch.nn.Linear(8, 1)
        self.scheduler = scheduler

    def forward(self, x):
        return self.head(self.backbone(x))

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self(x), y)

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.head.parameters(), lr=0.1)
        if self.scheduler:
            return [opt], [torch.optim.lr_scheduler.StepLR(opt, 1, gamma=0.7)]
        return opt


class NoBackbone(Net):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = self.backbone
        del self.backbone


def recorder():
    seen = []

    def take(ctx):
        opt = ctx.trainer.optimizers[0]
        seen.append((ctx.event.epoch, [g["lr"] for g in opt.param_groups],
                     {n: p.detach().clone() for n, p in ctx.module.backbone.named_parameters()}))

    return seen, on("train_batch_start", lambda e: Do(take, "record") if e.batch_idx == 0 else None)


def fit(module, callbacks, max_epochs=6, ckpt_path=None, root=None):
    trainer = Trainer(callbacks=callbacks, max_epochs=max_epochs, enable_checkpointing=False,
                      enable_progress_bar=False, num_sanity_val_steps=0, default_root_dir=root)
    trainer.fit(module, loader(n=32, batch_size=8), ckpt_path=ckpt_path)
    return trainer


class TestBackboneFinetuning:
    def test_frozen_backbone_gets_no_updates_until_the_unfreeze_epoch(self):
        seen, record = recorder()
        module = Net()
        fit(module, [record, BackboneFinetuning(unfreeze_backbone_at_epoch=2, train_bn=False)], max_epochs=4)
        linear = {n: v for n, v in seen[0][2].items() if n.startswith("0.")}
        for epoch, lrs, params in seen[:3]:
            assert all(torch.equal(params[n], v) for n, v in linear.items()), epoch
        assert [len(lrs) for _, lrs, _ in seen] == [1, 1, 2, 2]
        assert seen[2][1][1] == pytest.approx(0.1 * 0.1)
        assert not torch.equal(seen[3][2]["0.weight"], linear["0.weight"])
        assert not torch.equal(module.backbone[0].weight.detach(), linear["0.weight"])

    def test_lrs_follow_lightnings_worked_example(self):
        seen, record = recorder()
        fit(Net(scheduler=True), [record, BackboneFinetuning(unfreeze_backbone_at_epoch=2)])
        expected = [[0.1], [0.07], [0.049, 0.0049], [0.0343, 0.0098], [0.02401, 0.0196], [0.016807, 0.016807]]
        assert [lrs for _, lrs, _ in seen] == [pytest.approx(e) for e in expected]

    def test_backbone_initial_lr_and_no_alignment(self):
        seen, record = recorder()
        fit(Net(), [record, BackboneFinetuning(1, lambda_func=lambda e: 10.0, backbone_initial_lr=0.05,
                                               should_align=False)], max_epochs=3)
        assert [lrs[-1] for _, lrs, _ in seen] == pytest.approx([0.1, 0.05, 0.5])

    def test_module_without_backbone(self):
        with pytest.raises(MisconfigurationError) as info:
            fit(NoBackbone(), [BackboneFinetuning()])
        assert str(info.value) == ("Freeze: NoBackbone has no submodule 'backbone' (its children: head, encoder); "
                                   "name modules by their dotted attribute path")

    @pytest.mark.parametrize("kwargs, message", [
        ({"unfreeze_backbone_at_epoch": -1}, "backbone_finetuning: unfreeze_backbone_at_epoch=-1 must be an int >= 0"),
        ({"lambda_func": 2.0}, "backbone_finetuning: lambda_func=2.0 must be callable epoch -> multiplier"),
        ({"backbone_initial_lr": 0}, "backbone_finetuning: backbone_initial_lr=0 must be None or a positive number"),
        ({"should_align": 1}, "backbone_finetuning: should_align=1 must be True or False"),
    ])
    def test_bad_arguments(self, kwargs, message):
        with pytest.raises(InvalidArgument) as info:
            BackboneFinetuning(**kwargs)
        assert str(info.value) == message

    def test_resume_after_unfreeze_rebuilds_the_param_groups(self, tmp_path):
        save = on("train_epoch_end", lambda e: SaveCheckpoint(str(tmp_path / "e3.ckpt")) if e.epoch == 3 else None)
        full = Net()
        fit(full, [BackboneFinetuning(2), save], root=tmp_path)
        resumed = Net()
        trainer = fit(resumed, [BackboneFinetuning(2), save], ckpt_path=tmp_path / "e3.ckpt", root=tmp_path)
        assert len(trainer.optimizers[0].param_groups) == 2
        for (n, p), q in zip(full.named_parameters(), resumed.parameters()):
            assert torch.equal(p, q), n


class UnfreezeFirstLayer(BaseFinetuning):
    def freeze_before_training(self, pl_module):
        self.freeze(pl_module.backbone, train_bn=False)

    def finetune_function(self, pl_module, current_epoch, optimizer):
        if current_epoch == 1:
            self.unfreeze_and_add_param_group(pl_module.backbone[0], optimizer, initial_denom_lr=4.0)


class TestBaseFinetuning:
    def test_users_schedule_adds_a_group(self):
        seen, record = recorder()
        module = Net()
        cb = UnfreezeFirstLayer()
        fit(module, [record, cb], max_epochs=3)
        assert [lrs for _, lrs, _ in seen] == [[0.1], [0.1, 0.025], [0.1, 0.025]]
        assert not module.backbone[1].weight.requires_grad
        assert [g["params"] for g in cb.state_dict()["internal_optimizer_metadata"][0]] == [
            ["head.weight", "head.bias"], ["backbone.0.weight", "backbone.0.bias"]]

    def test_resume_rebuilds_groups_and_trainable_flags(self, tmp_path):
        save = on("train_epoch_end", lambda e: SaveCheckpoint(str(tmp_path / "e1.ckpt")) if e.epoch == 1 else None)
        full = Net()
        fit(full, [UnfreezeFirstLayer(), save], max_epochs=3, root=tmp_path)
        resumed = Net()
        trainer = fit(resumed, [UnfreezeFirstLayer(), save], max_epochs=3, ckpt_path=tmp_path / "e1.ckpt", root=tmp_path)
        assert [g["lr"] for g in trainer.optimizers[0].param_groups] == [0.1, 0.025]
        assert resumed.backbone[0].weight.requires_grad
        for (n, p), q in zip(full.named_parameters(), resumed.parameters()):
            assert torch.equal(p, q), n

    def test_static_helpers_keep_lightnings_semantics(self):
        net = Net()
        assert [type(m).__name__ for m in BaseFinetuning.flatten_modules(net)] == ["Linear", "BatchNorm1d", "ReLU",
                                                                                   "Linear"]
        BaseFinetuning.freeze(net.backbone)
        assert [p.requires_grad for p in net.backbone.parameters()] == [False, False, True, True]
        assert not list(BaseFinetuning.filter_params(net.backbone, train_bn=False))
        opt = torch.optim.SGD(net.head.parameters(), lr=0.1)
        with pytest.warns(UserWarning, match="already exist within another group"):
            assert BaseFinetuning.filter_on_optimizer(opt, net.head.parameters()) == []
        BaseFinetuning.make_trainable(net)
        assert all(p.requires_grad for p in net.parameters())
