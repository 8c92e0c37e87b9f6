"""Exact resume from a checkpoint taken anywhere in fit: every step, epoch ends, validation, exceptions, signals.

A 3-epoch run with validation, a shuffled loader, dropout and an epoch-interval
scheduler is the reference. Each checkpoint it writes, and each checkpoint an
exception writes, resumes to the same weights, optimizer state, hook state and
later decisions (compared with ``torch.equal`` and ``==``).
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

import pytest
import torch

from fhooks import SaveCheckpoint, Trainer, on, stateful
from fhooks.hooks import early_stopping, on_exception_checkpoint
from fhooks.trainer import checkpoint as ckpt_module
from tests.models import Regressor, loader

EPOCHS, BATCHES = 3, 4


class Boom(RuntimeError):
    pass


class Model(Regressor):
    """Regressor with a StepLR per epoch, and a way to fail once: in training_step or validation_step."""

    def __init__(self, fail: str | None = None, at_step: int = -1, error: type[BaseException] = Boom) -> None:
        super().__init__()
        self.fail, self.at_step, self.error = fail, at_step, error

    def configure_optimizers(self):
        optimizer = FailingSGD(self.parameters(), lr=self.lr, momentum=0.9)
        optimizer.model = self
        return {"optimizer": optimizer, "lr_scheduler": torch.optim.lr_scheduler.StepLR(optimizer, 1, gamma=0.7)}

    def _maybe_fail(self, where: str) -> None:
        if self.fail == where and self.trainer.global_step == self.at_step:
            self.fail = None
            if self.error in (signal.SIGTERM, signal.SIGINT):
                os.kill(os.getpid(), self.error)  # handled between two bytecodes, as a real signal
                return
            raise self.error(f"{where} at step {self.at_step}")

    def training_step(self, batch, batch_idx):
        self._maybe_fail("training_step")
        loss = super().training_step(batch, batch_idx)
        if self.fail == "backward":
            loss.register_hook(lambda grad: self._maybe_fail("backward"))
        return loss

    def validation_step(self, batch, batch_idx):
        self._maybe_fail("validation_step")
        return super().validation_step(batch, batch_idx)



class FailingSGD(torch.optim.SGD):
    """SGD whose step can fail once, before it changes anything (``Model(fail="optimizer.step")``), or be
    signalled once the parameters are updated, before the loop has counted the step (``"after optimizer.step"``)."""

    def step(self, closure=None):
        self.model._maybe_fail("optimizer.step")
        result = super().step(closure)
        self.model._maybe_fail("after optimizer.step")
        return result


class Trip:
    """A one-shot failure a hook function can carry (armed per run)."""

    kind: str | None = None
    step = -1

    @classmethod
    def check(cls, kind: str, step: int) -> None:
        if cls.kind == kind and step == cls.step:
            cls.kind = None
            raise Boom(f"hook on {kind} at step {step}")


def trip_on(kind: str):
    def fire(event):
        Trip.check(kind, event.step)
    return on(kind, fire)


def save_each(kind: str):
    """Save ``<kind>-e<epoch>-s<step>.ckpt`` in the run's folder at every ``kind`` event."""
    return on(kind, lambda e: SaveCheckpoint(f"{kind}-e{e.epoch}-s{e.step}.ckpt"))


def counter():
    return stateful(0, lambda n, e: (n + 1, None), kinds={"train_batch_end", "validation_batch_end", "train_epoch_end"},
                    name="counter")


def callbacks():
    hooks = [save_each("train_batch_end"), save_each("train_epoch_end"), save_each("validation_end"), counter(),
             early_stopping("val_loss", patience=50), on_exception_checkpoint(".")]
    hooks += [trip_on(kind) for kind in ("train_batch_end", "after_backward", "before_optimizer_step",
                                         "train_epoch_end", "validation_end")]
    return hooks


def fit(folder: Path, module: Model | None = None, ckpt_path=None, **options):
    """Train in ``folder`` (the working directory, as a user runs it: every path relative)."""
    module = module or Model()
    settings = dict(max_epochs=EPOCHS, seed=3, enable_progress_bar=False, num_sanity_val_steps=0,
                    enable_model_summary=False, logger=False)
    settings.update(options)
    folder.mkdir(parents=True, exist_ok=True)
    ckpt_path = None if ckpt_path is None else Path(ckpt_path).resolve()
    with contextlib.chdir(folder):
        trainer = Trainer(callbacks=callbacks(), **settings)
        trainer.fit(module, loader(n=8 * BATCHES, shuffle=True), loader(n=16), ckpt_path=ckpt_path)
    return module, trainer


def outcome(module, trainer):
    """What an exact resume must reproduce."""
    optimizer = trainer.optimizers[0].state_dict()
    return {
        "weights": {k: v.clone() for k, v in module.state_dict().items()},
        "momentum": [optimizer["state"][k]["momentum_buffer"].clone() for k in sorted(optimizer["state"])],
        "lr": optimizer["param_groups"][0]["lr"],
        "hooks": trainer.dispatcher.state,
        "counters": (trainer.global_step, trainer.current_epoch),
        "decisions": decisions(trainer),
    }


def decisions(trainer):
    return [(d.event.kind, d.event.epoch, d.event.step, d.event.batch_idx, type(d.effect).__name__,
             os.path.basename(getattr(d.effect, "path", ""))) for d in trainer.decisions]


def assert_same(got, want, since: int = 0):
    for name in ("lr", "hooks", "counters"):
        assert got[name] == want[name], name
    for key, value in want["weights"].items():
        assert torch.equal(got["weights"][key], value), key
    assert len(got["momentum"]) == len(want["momentum"])
    for a, b in zip(got["momentum"], want["momentum"]):
        assert torch.equal(a, b), (a - b).abs().max()
    tail = want["decisions"][since:]
    if tail:
        assert got["decisions"][-len(tail):] == tail


def after(want, name: str) -> int:
    """The index of the decision after the one that saved ``name``."""
    return next(i for i, d in enumerate(want["decisions"]) if d[-1] == name) + 1


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reference")
    module, trainer = fit(folder)
    return folder, outcome(module, trainer)


def _saved(folder: Path) -> list[str]:
    return sorted(p.name for p in (folder / "checkpoints").glob("*.ckpt") if p.name.startswith(("train", "val")))


class TestEveryCheckpoint:
    def test_the_reference_saved_at_every_step_epoch_end_and_validation(self, reference):
        folder, _ = reference
        names = _saved(folder)
        assert sum(n.startswith("train_batch_end") for n in names) == EPOCHS * BATCHES
        assert sum(n.startswith("train_epoch_end") for n in names) == EPOCHS
        assert sum(n.startswith("validation_end") for n in names) == EPOCHS

    def test_resume_from_each_checkpoint_is_exact(self, reference, tmp_path, monkeypatch):
        folder, want = reference
        monkeypatch.chdir(tmp_path)
        for name in _saved(folder):
            module, trainer = fit(Path(name.replace(".ckpt", "")), ckpt_path=folder / "checkpoints" / name)
            assert_same(outcome(module, trainer), want, since=after(want, name))

    def test_the_last_batch_of_an_epoch_without_validation(self, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        want = outcome(*fit(Path("ref"), check_val_every_n_epoch=2))
        name = f"train_batch_end-e0-s{BATCHES}.ckpt"
        got = outcome(*fit(Path("resumed"), ckpt_path=Path("ref/checkpoints") / name, check_val_every_n_epoch=2))
        assert_same(got, want, since=after(want, name))

    def test_val_check_interval_within_the_epoch(self, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        want = outcome(*fit(Path("ref"), val_check_interval=2))
        for name in ("train_batch_end-e0-s2.ckpt", "validation_end-e0-s2.ckpt", "train_batch_end-e1-s6.ckpt"):
            got = outcome(*fit(Path(name), ckpt_path=Path("ref/checkpoints") / name, val_check_interval=2))
            assert_same(got, want, since=after(want, name))


PLACES = [
    ("training_step", {"fail": "training_step", "at_step": 5}, None),
    ("first batch of an epoch", {"fail": "training_step", "at_step": BATCHES}, None),
    ("validation_step", {"fail": "validation_step", "at_step": BATCHES}, None),
    ("backward", {"fail": "backward", "at_step": 6}, None),
    ("optimizer.step", {"fail": "optimizer.step", "at_step": 6}, None),
    ("after_backward hook", {}, ("after_backward", 6)),
    ("before_optimizer_step hook", {}, ("before_optimizer_step", 6)),
    ("train_batch_end hook, after the step", {}, ("train_batch_end", 6)),
    ("last train_batch_end of an epoch", {}, ("train_batch_end", BATCHES)),
    ("validation_end hook", {}, ("validation_end", BATCHES)),
    ("train_epoch_end hook", {}, ("train_epoch_end", 2 * BATCHES)),
    ("KeyboardInterrupt", {"fail": "training_step", "at_step": 7, "error": KeyboardInterrupt}, None),
    ("SIGTERM", {"fail": "training_step", "at_step": 9, "error": signal.SIGTERM}, None),
    ("SIGINT once the parameters moved", {"fail": "after optimizer.step", "at_step": 6, "error": signal.SIGINT}, None),
    ("SIGTERM once the parameters moved", {"fail": "after optimizer.step", "at_step": 6, "error": signal.SIGTERM}, None),
]


class TestExceptionsAnywhere:
    @pytest.mark.parametrize("place, failure, trip", PLACES, ids=[p[0] for p in PLACES])
    def test_the_exception_checkpoint_resumes_exactly(self, place, failure, trip, reference, tmp_path, monkeypatch):
        _, want = reference
        monkeypatch.chdir(tmp_path)
        Trip.kind, Trip.step = trip if trip else (None, -1)
        with pytest.raises(BaseException) as info:
            fit(Path("crashed"), Model(**failure))
        assert not isinstance(info.value, AssertionError)
        [crashed] = Path("crashed").rglob("on_exception.ckpt")
        module, trainer = fit(Path("crashed"), ckpt_path=crashed)
        got = outcome(module, trainer)
        got["decisions"] = [d for d in got["decisions"] if d[-1] != "on_exception.ckpt"]
        assert_same(got, want, since=len(want["decisions"]))
        assert not crashed.exists()  # removed at the teardown of the run that finished, as Lightning

    def test_a_failing_checkpoint_write_is_retried_by_the_resumed_run(self, reference, tmp_path, monkeypatch):
        _, want = reference
        monkeypatch.chdir(tmp_path)
        real = ckpt_module.write_atomic

        def failing(checkpoint, path, *before_replace):
            if Path(path).name == "train_batch_end-e1-s6.ckpt":
                raise OSError("disk full")
            real(checkpoint, path, *before_replace)

        monkeypatch.setattr(ckpt_module, "write_atomic", failing)
        with pytest.raises(OSError, match="disk full"):
            fit(Path("crashed"))
        monkeypatch.setattr(ckpt_module, "write_atomic", real)
        [crashed] = Path("crashed").rglob("on_exception.ckpt")
        module, trainer = fit(Path("crashed"), ckpt_path=crashed)
        assert Path("crashed/checkpoints/train_batch_end-e1-s6.ckpt").is_file()
        got = outcome(module, trainer)
        got["decisions"] = [d for d in got["decisions"] if d[-1] != "on_exception.ckpt"]
        assert_same(got, want, since=after(want, "train_batch_end-e1-s6.ckpt") - 1)  # the failed save, again

    def test_ctrl_c_during_a_checkpoint_write_surfaces_as_keyboard_interrupt(self, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        real = torch.serialization._save
        calls = []

        def interrupted(*args, **kwargs):  # a SIGINT inside torch's zip writer, while the pickle is written
            calls.append(1)
            if len(calls) == 3:
                raise KeyboardInterrupt
            return real(*args, **kwargs)

        monkeypatch.setattr(torch.serialization, "_save", interrupted)
        with pytest.raises(KeyboardInterrupt):
            fit(Path("run"))
        assert not list(Path("run").rglob(".*.tmp"))
        [crashed] = Path("run").rglob("on_exception.ckpt")
        saved = torch.load(crashed, weights_only=True)
        assert (saved["global_step"], saved["position"]["batch_end_done"]) == (3, False)  # its batch end runs again


class TestRestoredPosition:
    def test_a_last_batch_checkpoint_records_the_validation_and_epoch_end_still_to_come(self, reference):
        folder, _ = reference
        saved = torch.load(folder / "checkpoints" / f"train_batch_end-e0-s{BATCHES}.ckpt", weights_only=True)
        assert saved["position"] == {"stage": "train", "epoch": 0, "batches_done": BATCHES, "epoch_started": True,
                                     "step_done": True, "batch_end_done": True, "validation_done": False,
                                     "epoch_end_done": False, "schedulers_stepped": False}

    def test_resume_prints_no_scheduler_order_warning(self, reference, tmp_path, monkeypatch, recwarn):
        folder, _ = reference
        monkeypatch.chdir(tmp_path)
        fit(Path("resumed"), ckpt_path=folder / "checkpoints" / f"train_batch_end-e0-s{BATCHES}.ckpt")
        assert not [w for w in recwarn if "lr_scheduler.step()" in str(w.message)]
