"""Tests of fhooks.callbacks.base and lambda_callback: class adapters that are hooks."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from fhooks.callbacks import Callback, HookCallback, LambdaCallback
from fhooks.core import BatchData, Do, Event, Stop, fold, sequence, shape, stateful
from fhooks.core.lambda_hook import HOOK_NAMES
from fhooks.interpret import Context, interpret

TRAINER, MODULE = SimpleNamespace(name="trainer"), SimpleNamespace(name="module")


def run(effect, event):
    """Carry out a Do effect the way the trainer does, with a fake trainer and module."""
    assert type(effect) is Do
    interpret(effect, Context(TRAINER, MODULE, event))


class Recorder(Callback):
    """Records each call with its Lightning arguments."""

    def __init__(self):
        self.calls = []

    def setup(self, trainer, pl_module, stage):
        self.calls.append(("setup", trainer, pl_module, stage))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.calls.append(("on_train_batch_end", outputs, batch, batch_idx))

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        self.calls.append(("on_validation_batch_end", outputs, batch, batch_idx, dataloader_idx))

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.calls.append(("on_train_batch_start", batch, batch_idx))

    def on_exception(self, trainer, pl_module, exception):
        self.calls.append(("on_exception", exception))

    def on_save_checkpoint(self, trainer, pl_module, checkpoint):
        self.calls.append(("on_save_checkpoint", checkpoint))

    def on_before_backward(self, trainer, pl_module, loss):
        self.calls.append(("on_before_backward", loss))

    def on_after_backward(self, trainer, pl_module):
        self.calls.append(("on_after_backward",))

    def on_train_epoch_end(self, trainer, pl_module):
        self.calls.append(("on_train_epoch_end", trainer, pl_module))


class MoreRecorder(Recorder):
    def on_fit_end(self, trainer, pl_module):
        self.calls.append(("on_fit_end",))


class TestCallback:
    def test_kinds_from_overridden_methods(self):
        assert Recorder().kinds == {
            "setup", "train_batch_end", "validation_batch_end", "train_batch_start", "exception",
            "save_checkpoint", "before_backward", "after_backward", "train_epoch_end",
        }
        assert MoreRecorder().kinds == Recorder().kinds | {"fit_end"}
        assert Callback().kinds == frozenset()

    def test_step_returns_a_labelled_do(self):
        cb = Recorder()
        state, effects = cb.step(None, Event("train_epoch_end"))
        assert state is None and len(effects) == 1
        assert effects[0].label == "Recorder.on_train_epoch_end"
        assert cb.calls == []  # nothing runs until the trainer carries the effect out

    error = RuntimeError("boom")
    outputs = {"loss": 0.5}

    @pytest.mark.parametrize(
        ("event", "call"),
        [
            (Event("setup", stage="validate"), ("setup", TRAINER, MODULE, "validate")),
            (Event("train_batch_end", batch_idx=3, data=BatchData("b", outputs)),
             ("on_train_batch_end", outputs, "b", 3)),
            (Event("validation_batch_end", batch_idx=1, data=BatchData("b", outputs, dataloader_idx=2)),
             ("on_validation_batch_end", outputs, "b", 1, 2)),
            (Event("train_batch_start", batch_idx=2, data=BatchData("b")), ("on_train_batch_start", "b", 2)),
            (Event("train_batch_start", batch_idx=2), ("on_train_batch_start", None, 2)),
            (Event("exception", data=error), ("on_exception", error)),
            (Event("save_checkpoint", data=outputs), ("on_save_checkpoint", outputs)),
            (Event("before_backward", data=0.25), ("on_before_backward", 0.25)),
            (Event("after_backward"), ("on_after_backward",)),
            (Event("train_epoch_end"), ("on_train_epoch_end", TRAINER, MODULE)),
        ],
    )
    def test_do_calls_the_method_with_lightnings_arguments(self, event, call):
        cb = Recorder()
        _, (effect,) = fold(cb, [event])
        run(effect, event)
        assert cb.calls == [call]

    def test_mixes_with_functional_hooks(self):
        cb = Recorder()
        hook = sequence(cb, stateful(0, lambda n, e: (n + 1, Stop("once") if n == 0 else None),
                                     kinds="train_epoch_end"))
        state, effects = fold(hook, [Event("train_epoch_end"), Event("fit_end")])
        assert state == (None, 1)
        assert [type(e) for e in effects] == [Do, Stop]

    def test_state_dict_defaults(self):
        cb = Recorder()
        assert cb.state_dict() == {}
        assert cb.load_state_dict({}) is None
        assert cb.state_key == "Recorder"

    def test_repr_and_shape(self):
        assert repr(Recorder()) == "Recorder()"
        assert shape(Recorder()) == "Recorder"


def _count(n, event):
    return n + 1, Stop("three") if n + 1 == 3 else None


class EpochCounter(HookCallback):
    """A HookCallback over a pure counter, as library classes are built."""

    def __init__(self):
        self._wrap(stateful(0, _count, kinds="train_epoch_end", name="count_epochs"))

    @property
    def epochs_seen(self):
        return self.state


epochs = [Event("train_epoch_end", epoch=i) for i in range(4)]


class TestHookCallback:
    def test_delegates_to_the_hook(self):
        cb = EpochCounter()
        assert (cb.init, cb.kinds) == (0, {"train_epoch_end"})
        assert fold(cb, epochs) == (4, (Stop("three"),))

    def test_state_follows_the_last_step(self):
        cb = EpochCounter()
        fold(cb, epochs[:2])
        assert cb.state == cb.epochs_seen == 2

    def test_state_dict_is_plain_data(self):
        cb = EpochCounter()
        fold(cb, epochs[:2])
        assert json.loads(json.dumps(cb.state_dict())) == {"state": 2}

    def test_load_state_dict_resumes(self):
        saved = EpochCounter()
        fold(saved, epochs[:2])
        resumed = EpochCounter()
        resumed.load_state_dict(json.loads(json.dumps(saved.state_dict())))
        assert resumed.state == resumed.init == 2
        assert fold(resumed, epochs[2:]) == (4, (Stop("three"),))

    def test_structure(self):
        cb = EpochCounter()
        assert repr(cb) == "EpochCounter(count_epochs)"
        assert shape(cb) == "EpochCounter(count_epochs)"
        assert cb.state_key == "EpochCounter"


def on_end(trainer, pl_module):
    """A module-level function, for its repr."""


def record(log):
    def fn(trainer, pl_module, *args):
        log.append((trainer, pl_module, *args))

    return fn


class TestLambdaCallback:
    def test_kinds_and_repr(self):
        cb = LambdaCallback(on_fit_end=on_end, setup=on_end)
        assert cb.kinds == {"fit_end", "setup"}
        assert repr(cb) == "LambdaCallback(on_fit_end=on_end, setup=on_end)"

    @pytest.mark.parametrize(
        ("keyword", "event", "args"),
        [
            ("on_fit_end", Event("fit_end"), ()),
            ("setup", Event("setup"), ("fit",)),
            ("on_train_batch_end", Event("train_batch_end", batch_idx=4, data=BatchData("b", {"loss": 1.0})),
             ({"loss": 1.0}, "b", 4)),
            ("on_test_batch_start", Event("test_batch_start", stage="test", batch_idx=1, data=BatchData("b")),
             ("b", 1, 0)),
        ],
    )
    def test_calls_fn_with_lightnings_arguments(self, keyword, event, args):
        log = []
        _, (effect,) = fold(LambdaCallback(**{keyword: record(log)}), [event])
        assert effect.label == f"LambdaCallback.{keyword}"
        assert log == []
        run(effect, event)
        assert log == [(TRAINER, MODULE, *args)]

    def test_unknown_keyword(self):
        with pytest.raises(TypeError) as info:
            LambdaCallback(on_epoch_end=print)
        assert str(info.value).startswith("lambda_hook: unknown keyword 'on_epoch_end'")
        assert str(info.value).endswith(f"(accepted: {', '.join(HOOK_NAMES)})")

    def test_no_state(self):
        cb = LambdaCallback(on_fit_end=print)
        fold(cb, [Event("fit_end")])
        assert cb.state_dict() == {}
        assert cb.load_state_dict({"anything": 1}) is None
