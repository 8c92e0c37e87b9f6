"""``fhooks.attach``: hooks in a hand-written loop."""

from __future__ import annotations

import os

import pytest
import torch

import fhooks
import fhooks.errors
from fhooks import Log, SetAccumulation, Stop, fold, lambda_hook
from fhooks.core import Event
from fhooks.errors import CheckpointMismatch, InvalidArgument
from fhooks.hooks import early_stopping, model_checkpoint
from fhooks.hooks.model_effects import Freeze
from fhooks.interpret import Host

LOSSES = [5.0, 4.0, 4.5, 3.0, 3.5, 3.625, 3.75, 3.875]


class Recorder:
    def __init__(self):
        self.rows = []

    def log_metrics(self, metrics, step=None):
        self.rows.append((step, dict(metrics)))


def loop(host, model, optimizer, epochs, start=0):
    """A plain loop: 2 batches per epoch, val_loss from the script."""
    for epoch in range(start, epochs):
        host.emit("train_epoch_start")
        for batch_idx in range(2):
            loss = model(torch.ones(1, 1)).pow(2).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            host.emit("train_batch_end", batch_idx=batch_idx, metrics={"loss": loss.detach()})
        host.emit("validation_end", metrics={"val_loss": LOSSES[epoch]})
        host.emit("train_epoch_end")
        if host.should_stop:
            break


def moments(decisions):
    return [(d.kind, d.epoch, d.step, type(d.effect).__name__, os.path.basename(getattr(d.effect, "path", "")))
            for d in decisions]


class TestCounting:
    def test_counts_steps_and_epochs_from_the_events(self):
        seen = []
        host = fhooks.attach(lambda_hook(on_train_batch_end=lambda e: seen.append((e.epoch, e.step, e.batch_idx))))
        for _ in range(2):
            for i in range(3):
                host.emit("train_batch_end", batch_idx=i)
            host.emit("train_epoch_end")
        assert seen == [(0, 1, 0), (0, 2, 1), (0, 3, 2), (1, 4, 0), (1, 5, 1), (1, 6, 2)]
        assert (host.current_epoch, host.global_step) == (2, 6)

    def test_the_loop_may_pass_its_own_counts(self):
        seen = []
        host = fhooks.attach(lambda_hook(on_validation_end=lambda e: seen.append((e.epoch, e.step))))
        host.emit("validation_end", epoch=7, step=70)
        assert seen == [(7, 70)]

    def test_accumulation_counts_one_step_per_window(self):
        host = fhooks.attach(lambda_hook(on_fit_start=lambda e: SetAccumulation(2)))
        host.emit("fit_start")
        for i in range(4):
            host.emit("train_batch_end", batch_idx=i)
        assert (host.accumulate_grad_batches, host.global_step) == (2, 2)

    def test_metrics_accumulate_like_callback_metrics(self):
        seen = []
        host = fhooks.attach(lambda_hook(on_train_epoch_end=lambda e: seen.append(dict(e.metrics))))
        host.emit("validation_end", metrics={"val_loss": torch.tensor(0.5)})
        host.emit("train_epoch_end", metrics={"loss": 1.0})
        assert seen == [{"val_loss": 0.5, "loss": 1.0}]

    def test_decides_as_fold_on_the_same_events(self):
        hook = early_stopping("val_loss", patience=2)
        host = fhooks.attach(hook)
        for epoch, value in enumerate(LOSSES):
            host.emit("train_epoch_end", metrics={"val_loss": value})
        events = [Event("train_epoch_end", epoch=e, metrics={"val_loss": v}) for e, v in enumerate(LOSSES)]
        assert [d.effect for d in host.decisions] == list(fold(hook, events)[1])


class TestEffects:
    def test_stop_log_and_a_model_effect(self):
        model = torch.nn.Sequential(torch.nn.Linear(1, 1))
        logger = Recorder()
        host = fhooks.attach(lambda_hook(on_train_epoch_end=lambda e: (Log({"x": 1.0}), Freeze(("0",)), Stop("done"))),
                             model, logger=logger)
        host.emit("train_epoch_end")
        assert host.should_stop and host.stop_reason == "done"
        assert logger.rows == [(0, {"x": 1.0})] and host.logged_metrics == {"x": 1.0}
        assert not any(p.requires_grad for p in model.parameters())

    def test_checkpoints_land_in_dirpath_and_hold_module_optimizer_and_hooks(self):
        model = torch.nn.Linear(1, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        host = fhooks.attach([early_stopping("val_loss", patience=2), model_checkpoint(monitor="val_loss")], model,
                             optimizer, dirpath="ckpts")
        loop(host, model, optimizer, len(LOSSES))
        assert os.listdir("ckpts") == ["epoch=3-step=8.ckpt"]
        checkpoint = torch.load(os.path.join("ckpts", "epoch=3-step=8.ckpt"), weights_only=True)
        assert set(checkpoint["state_dict"]) == {"weight", "bias"} and len(checkpoint["optimizer_states"]) == 1
        assert checkpoint["host"]["epoch"] == 4 and checkpoint["host"]["hooks"]["shape"]  # resumes at the next epoch
        assert not [n for n in os.listdir("ckpts") if n.endswith(".tmp")]

    def test_never_removes_a_file_it_did_not_write(self):
        os.makedirs("ckpts")
        with open(os.path.join("ckpts", "mine.ckpt"), "w") as f:
            f.write("not yours")
        host = fhooks.attach(lambda_hook(), dirpath="ckpts")
        host.remove_checkpoint("mine.ckpt")
        assert os.listdir("ckpts") == ["mine.ckpt"]

    def test_bad_hook_and_bad_logger(self):
        with pytest.raises(InvalidArgument, match=r"^attach: expected a hook .* got 'nope'$"):
            fhooks.attach("nope")
        with pytest.raises(InvalidArgument, match=r"^attach: logger=3 has no log_metrics method"):
            fhooks.attach(lambda_hook(), logger=3)

    def test_is_a_host(self):
        assert isinstance(fhooks.attach(lambda_hook()), Host)
        trainer = fhooks.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False)
        assert isinstance(trainer, Host)


class TestResume:
    def test_state_dict_resumes_to_the_same_decisions(self):
        def hooks():
            return [early_stopping("val_loss", patience=2), model_checkpoint(monitor="val_loss", save_top_k=2)]

        def fresh(dirpath):
            torch.manual_seed(0)
            model = torch.nn.Linear(1, 1)
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
            return fhooks.attach(hooks(), model, optimizer, dirpath=dirpath), model, optimizer

        whole, model, optimizer = fresh("whole")
        loop(whole, model, optimizer, len(LOSSES))
        cut, model, optimizer = fresh("cut")
        loop(cut, model, optimizer, 4)
        checkpoint = torch.load(os.path.join("cut", "epoch=3-step=8.ckpt"), weights_only=True)
        resumed, model, optimizer = fresh("cut")
        model.load_state_dict(checkpoint["state_dict"])
        optimizer.load_state_dict(checkpoint["optimizer_states"][0])
        resumed.load_state_dict(checkpoint["host"])
        loop(resumed, model, optimizer, len(LOSSES), start=4)
        assert moments(resumed.decisions) == [m for m in moments(whole.decisions) if m[1] >= 4]
        assert sorted(os.listdir("cut")) == sorted(os.listdir("whole"))

    def test_state_of_another_expression_is_refused(self):
        host = fhooks.attach(early_stopping("val_loss"))
        other = fhooks.attach([early_stopping("val_loss"), lambda_hook()])
        with pytest.raises(CheckpointMismatch):
            other.load_state_dict(host.state_dict())


class TestFinders:
    def test_the_lr_finder_says_it_needs_the_trainer(self):
        from fhooks.hooks import lr_finder

        host = fhooks.attach(lr_finder(), torch.nn.Linear(1, 1))
        with pytest.raises(fhooks.errors.MisconfigurationError,
                           match=r"^lr_finder: needs trial training steps, which only fhooks.Trainer runs; LoopHost "):
            host.emit("fit_start")


class TestDistributed:
    def test_a_stop_on_one_rank_stops_both_at_the_same_step(self, tmp_path):
        import json
        import signal
        import socket
        import subprocess
        import sys

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        root = os.path.dirname(os.path.dirname(__file__))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        proc = subprocess.Popen([sys.executable, os.path.join(root, "tests", "ddp_attach_script.py"), str(port),
                                 str(tmp_path)], env=env, start_new_session=True, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        try:
            output, _ = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            pytest.fail("a rank was left waiting")
        assert proc.returncode == 0, output[-3000:]
        rank0, rank1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
        assert rank0["world_size"] == 2 and rank0["steps"] == rank1["steps"] == 3
        assert rank0["global_step"] == rank1["global_step"] == 3
        assert (rank0["reason"], rank1["reason"]) == ("another rank asked to stop", "rank 1 saw step 3")
