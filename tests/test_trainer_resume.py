"""Exact resume: a run killed mid-epoch and resumed from its checkpoint ends with identical weights."""

from __future__ import annotations

import pytest
import torch

from fhooks import SaveCheckpoint, Trainer, every_n, on, sequence, stateful
from fhooks.errors import CheckpointMismatch, CorruptCheckpoint
from fhooks.trainer.checkpoint_files import LEDGER
from tests.models import Regressor, loader


class Crash(RuntimeError):
    pass


class CrashingRegressor(Regressor):
    """Raises inside ``training_step`` once the trainer reaches ``crash_at`` optimizer steps."""

    def __init__(self, crash_at: int | None = None) -> None:
        super().__init__()
        self.crash_at = crash_at

    def training_step(self, batch, batch_idx):
        if self.crash_at is not None and self.trainer.global_step == self.crash_at:
            raise Crash(f"killed at step {self.crash_at}")
        return super().training_step(batch, batch_idx)


def batches_seen():
    return stateful(0, lambda n, e: (n + 1, None), kinds="train_batch_end", name="batches_seen")


def hooks(tmp_path):
    save_every_3 = every_n(3, on("train_batch_end", lambda e: SaveCheckpoint(str(tmp_path / "last.ckpt"))))
    save_on_crash = on("exception", lambda e: SaveCheckpoint(str(tmp_path / "crash.ckpt")))
    return [save_every_3, save_on_crash, batches_seen()]


def run(tmp_path, crash_at=None, ckpt_path=None, max_epochs=3):
    module = CrashingRegressor(crash_at)
    trainer = Trainer(callbacks=hooks(tmp_path), max_epochs=max_epochs, seed=7, enable_checkpointing=False,
                      num_sanity_val_steps=0, default_root_dir=tmp_path)
    trainer.fit(module, loader(shuffle=True), loader(n=16), ckpt_path=ckpt_path)
    return module, trainer


@pytest.fixture
def reference(tmp_path_factory):
    return run(tmp_path_factory.mktemp("reference"))


def assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(x, y), name


class TestExactResume:
    def test_crash_mid_epoch_then_resume_from_last_periodic_checkpoint(self, tmp_path, reference):
        with pytest.raises(Crash):
            run(tmp_path, crash_at=13)  # epoch 1, batch 5; last periodic save at step 12 (batch 3)
        saved = torch.load(tmp_path / "last.ckpt", weights_only=True)
        position = saved["position"]
        assert (saved["global_step"], position["batches_done"], position["epoch_end_done"]) == (12, 4, False)
        module, trainer = run(tmp_path, ckpt_path=tmp_path / "last.ckpt")
        ref_module, ref_trainer = reference
        assert_same_weights(module, ref_module)
        assert (trainer.global_step, trainer.current_epoch) == (ref_trainer.global_step, ref_trainer.current_epoch) == (24, 3)
        assert trainer.dispatcher.state[2] == ref_trainer.dispatcher.state[2] == 24

    def test_resume_from_the_checkpoint_written_when_the_exception_fired(self, tmp_path, reference):
        with pytest.raises(Crash):
            run(tmp_path, crash_at=13)
        module, trainer = run(tmp_path, ckpt_path=tmp_path / "crash.ckpt")
        assert_same_weights(module, reference[0])
        assert trainer.dispatcher.state[2] == 24

    def test_resume_from_an_epoch_boundary(self, tmp_path, reference):
        run(tmp_path, max_epochs=2)  # a clean stop after epoch 1; last save at step 15
        module, trainer = run(tmp_path, ckpt_path=tmp_path / "last.ckpt")
        assert_same_weights(module, reference[0])

    def test_the_checkpoint_holds_optimizer_rng_and_hook_state_as_plain_data(self, tmp_path):
        with pytest.raises(Crash):
            run(tmp_path, crash_at=4)
        saved = torch.load(tmp_path / "last.ckpt", weights_only=True)
        # the default bar and summary are part of the expression, and of what a resume must match
        assert saved["hooks"]["shape"] == ("sequence(every_n(on), on, batches_seen, TQDMProgressBar(progress_bar), "
                                           "ModelSummary(model_summary))")
        assert saved["hooks"]["parts"][2] == {
            "identity": "batches_seen(init=0, fn=tests.test_trainer_resume.batches_seen.<locals>.<lambda>, "
                        "kinds={'train_batch_end'}, name='batches_seen')",
            "kind": "batches_seen", "state": 3}
        assert set(saved["rng"]) >= {"torch", "python", "numpy", "epoch_start_torch"}
        assert saved["optimizer_states"][0]["state"]  # momentum buffers


class TestBadCheckpoints:
    def test_a_checkpoint_from_another_callback_list_restores_the_matching_hooks_and_warns(self, tmp_path):
        run(tmp_path, max_epochs=1)
        trainer = Trainer(callbacks=[batches_seen()], max_epochs=2, enable_checkpointing=False,
                          enable_progress_bar=False, enable_model_summary=False, logger=False)
        with pytest.warns(UserWarning, match=r"no current hook matches the saved state of every_n.*TQDMProgressBar.*"
                                             r"it was not restored") as caught:
            trainer.fit(Regressor(), loader(), ckpt_path=tmp_path / "last.ckpt")
        assert len(caught) == 1
        assert trainer.dispatcher.state == 16  # 8 batches saved, 8 more

    def test_strict_resume_refuses_a_different_callback_list_and_changes_nothing(self, tmp_path):
        run(tmp_path, max_epochs=1)
        module = Regressor()
        before = {k: v.clone() for k, v in module.state_dict().items()}
        trainer = Trainer(callbacks=[batches_seen()], max_epochs=2, enable_checkpointing=False,
                          enable_progress_bar=False, enable_model_summary=False, logger=False, resume_strict=True)
        with pytest.raises(CheckpointMismatch, match="no current hook matches the saved state of every_n"):
            trainer.fit(module, loader(), ckpt_path=tmp_path / "last.ckpt")
        assert all(torch.equal(before[k], v) for k, v in module.state_dict().items())

    def test_a_truncated_checkpoint_fails_clearly_and_loads_nothing(self, tmp_path):
        run(tmp_path, max_epochs=1)
        data = (tmp_path / "last.ckpt").read_bytes()
        (tmp_path / "torn.ckpt").write_bytes(data[: len(data) // 2])
        module = Regressor()
        before = {k: v.clone() for k, v in module.state_dict().items()}
        trainer = Trainer(callbacks=hooks(tmp_path), max_epochs=2, enable_checkpointing=False)
        with pytest.raises(CorruptCheckpoint, match=r"checkpoint '.*torn.ckpt' cannot be read \(.*\); it may be truncated"):
            trainer.fit(module, loader(), ckpt_path=tmp_path / "torn.ckpt")
        assert all(torch.equal(before[k], v.cpu()) for k, v in module.state_dict().items())

    def test_a_missing_checkpoint_says_so(self, tmp_path):
        trainer = Trainer(max_epochs=1, enable_checkpointing=False)
        with pytest.raises(FileNotFoundError, match="does not exist"):
            trainer.fit(Regressor(), loader(), ckpt_path=tmp_path / "nope.ckpt")

    def test_writes_leave_no_temporary_files(self, tmp_path):
        run(tmp_path, max_epochs=1)
        assert sorted(p.name for p in tmp_path.iterdir() if p.is_file() and p.name != LEDGER) == ["last.ckpt"]


class StepLRRegressor(Regressor):
    """An epoch-interval scheduler: its step at each epoch's end must survive a resume."""

    def configure_optimizers(self):
        optimizer = super().configure_optimizers()
        return {"optimizer": optimizer, "lr_scheduler": torch.optim.lr_scheduler.StepLR(optimizer, 1, gamma=0.5)}


class TestSchedulersAcrossResume:
    def fit(self, tmp_path, max_epochs, ckpt_path=None):
        save_at_epoch_end = on("train_epoch_end", lambda e: SaveCheckpoint(str(tmp_path / "epoch_end.ckpt")))
        module = StepLRRegressor()
        trainer = Trainer(callbacks=[save_at_epoch_end], max_epochs=max_epochs, seed=7, enable_checkpointing=False,
                          enable_progress_bar=False, enable_model_summary=False, logger=False)
        trainer.fit(module, loader(shuffle=True), ckpt_path=ckpt_path)
        return module, trainer

    def test_the_epoch_step_after_a_train_epoch_end_checkpoint_is_not_lost(self, tmp_path):
        reference, ref_trainer = self.fit(tmp_path / "ref", 3)
        self.fit(tmp_path, 2)  # its last checkpoint is written at train_epoch_end, before that epoch's scheduler step
        saved = torch.load(tmp_path / "epoch_end.ckpt", weights_only=True)
        assert saved["position"]["schedulers_stepped"] is False
        module, trainer = self.fit(tmp_path, 3, ckpt_path=tmp_path / "epoch_end.ckpt")
        assert trainer.optimizers[0].param_groups[0]["lr"] == ref_trainer.optimizers[0].param_groups[0]["lr"] == 0.01 / 8
        assert_same_weights(module, reference)


class TestValidationCountAcrossResume:
    """An int ``val_check_interval`` with ``check_val_every_n_epoch=None`` counts batches over the whole fit."""

    def fit(self, tmp_path, max_epochs, ckpt_path=None):
        validated_at: list[int] = []
        hooks = [on("train_epoch_end", lambda e: SaveCheckpoint(str(tmp_path / "epoch_end.ckpt"))),
                 on("validation_end", lambda e: validated_at.append(e.step))]
        trainer = Trainer(callbacks=hooks, max_epochs=max_epochs, seed=7, val_check_interval=3,
                          check_val_every_n_epoch=None, limit_val_batches=1, num_sanity_val_steps=0,
                          enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                          logger=False)
        trainer.fit(Regressor(), loader(), loader(n=16), ckpt_path=ckpt_path)
        return validated_at

    def test_a_resumed_fit_validates_where_the_uninterrupted_one_does(self, tmp_path):
        reference = self.fit(tmp_path / "ref", 3)
        assert reference == [3, 6, 9, 12, 15, 18, 21, 24]  # every 3rd of the fit's 24 batches, across epochs of 8
        self.fit(tmp_path, 2)
        assert self.fit(tmp_path, 3, ckpt_path=tmp_path / "epoch_end.ckpt") == [18, 21, 24]


class TestFormatOne:
    def test_a_checkpoint_from_before_positions_resumes_exactly(self, tmp_path, reference):
        from fhooks.core.serialize import from_data, to_data
        from fhooks.trainer.checkpoint import write_atomic

        with pytest.raises(Crash):
            run(tmp_path, crash_at=13)
        from fhooks.trainer.lightning_layout import flat

        # step 12, batch 3 of epoch 1, as fhooks wrote it before Lightning's layout (its loops at the top)
        saved = flat(torch.load(tmp_path / "last.ckpt", weights_only=True))
        position = saved.pop("position")
        saved["loops"].update(batches_done=position["batches_done"], epoch_finished=False,
                              epoch_schedulers_stepped=False)
        parts = saved["hooks"]["parts"]
        saved["hooks"] = {"shape": saved["hooks"]["shape"],
                          "state": to_data(tuple(from_data(p["state"]) for p in parts))}
        write_atomic(saved, tmp_path / "format1.ckpt")
        module, trainer = run(tmp_path, ckpt_path=tmp_path / "format1.ckpt")
        assert_same_weights(module, reference[0])
        assert trainer.dispatcher.state[2] == 24
