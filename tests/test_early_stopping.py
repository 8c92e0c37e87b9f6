"""Example tests for ``early_stopping`` and ``EarlyStopping``: decision tables, where checks run, errors, state."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest

from fhooks.callbacks import EarlyStopping
from fhooks.core import Do, Event, Stop, all_of, any_of, fold, from_data, scan, sequence, to_data
from fhooks.core.events import RunInfo
from fhooks.errors import InvalidArgument, MissingMetric
from fhooks.hooks import EarlyStoppingState, early_stopping
from fhooks.hooks.early_stopping import LogMessage, RestoreWeights, SnapshotWeights

INF, NAN = math.inf, math.nan


def epochs(values, name="val_loss", kind="train_epoch_end", stage="fit"):
    return [Event(kind, stage=stage, epoch=i, metrics={name: v}) for i, v in enumerate(values)]


def stop_epochs(hook, events):
    return [e.epoch for e, (_, out) in zip(events, scan(hook, events)) if any(type(x) is Stop for x in out)]


class TestDecisions:
    # values, kwargs, epochs with a Stop, final (best_score, wait_count, stopped_epoch)
    TABLE = [
        ([3.0, 2.0, 2.5, 2.0], dict(patience=2), [3], (2.0, 2, 3)),
        ([3.0, 2.0, 2.5, 1.0, 1.0], dict(patience=2), [], (1.0, 1, 0)),
        ([1.0, 1.0], dict(patience=0), [1], (1.0, 1, 1)),
        ([1.0, 2.0], dict(patience=1), [1], (1.0, 1, 1)),
        ([1.0, 1.0, 1.0, 1.0], dict(), [3], (1.0, 3, 3)),
        ([1.0, 1.0, 1.0, 1.0, 1.0], dict(), [3, 4], (1.0, 4, 4)),
        ([10.0, 9.5], dict(min_delta=0.5, patience=1), [1], (10.0, 1, 1)),
        ([10.0, 9.25], dict(min_delta=0.5, patience=1), [], (9.25, 0, 0)),
        ([5.0, NAN], dict(), [1], (5.0, 0, 1)),
        ([5.0, INF], dict(), [1], (5.0, 0, 1)),
        ([5.0, NAN, 6.0], dict(check_finite=False, patience=2), [2], (5.0, 2, 2)),
        ([INF, INF], dict(check_finite=False, patience=2), [1], (INF, 2, 1)),
        ([-INF, -INF], dict(check_finite=False, patience=1), [1], (-INF, 1, 1)),
        ([5.0, 3.5, 3.0], dict(stopping_threshold=3.5), [2], (3.5, 0, 2)),
        ([5.0, 6.0, 7.0], dict(divergence_threshold=6.0), [2], (5.0, 1, 2)),
        ([1.0, 2.0, 2.0, 2.0], dict(mode="max", patience=2), [3], (2.0, 2, 3)),
        ([1.0, 0.5, 3.0], dict(mode="max", stopping_threshold=2.5), [2], (1.0, 1, 2)),
        ([1.0, 0.5], dict(mode="max", divergence_threshold=0.75), [1], (1.0, 0, 1)),
        ([1.0, -INF], dict(mode="max"), [1], (1.0, 0, 1)),
    ]

    @pytest.mark.parametrize("values, kwargs, stops, final", TABLE)
    def test_table(self, values, kwargs, stops, final):
        hook = early_stopping("val_loss", **kwargs)
        events = epochs(values)
        assert stop_epochs(hook, events) == stops
        state, _ = fold(hook, events)
        assert (state.best_score, state.wait_count, state.stopped_epoch) == final

    REASONS = [
        ([3.0, 2.0, 2.5, 2.0], dict(patience=2),
         "Monitored metric val_loss did not improve in the last 2 records. Best score: 2.000. Signaling Trainer to stop."),
        ([5.0, NAN], dict(),
         "Monitored metric val_loss = nan is not finite. Previous best value was 5.000. Signaling Trainer to stop."),
        ([-INF], dict(), "Monitored metric val_loss = -inf is not finite. Previous best value was inf. "
                         "Signaling Trainer to stop."),
        ([5.0, 3.0], dict(stopping_threshold=3.5),
         "Stopping threshold reached: val_loss = 3.0 < 3.5. Signaling Trainer to stop."),
        ([5.0, 7.0], dict(divergence_threshold=6),
         "Divergence threshold reached: val_loss = 7.0 < 6.0. Signaling Trainer to stop."),
        ([5.0, 3.0], dict(mode="max", divergence_threshold=4),
         "Divergence threshold reached: val_loss = 3.0 > 4.0. Signaling Trainer to stop."),
    ]

    @pytest.mark.parametrize("values, kwargs, reason", REASONS)
    def test_reason_text(self, values, kwargs, reason):
        assert fold(early_stopping(**kwargs), epochs(values))[1] == (Stop(reason),)

    def test_threshold_stop_leaves_best_and_wait(self):
        state, _ = fold(early_stopping(stopping_threshold=3.5, patience=5), epochs([5.0, 6.0, 1.0]))
        assert (state.best_score, state.wait_count) == (5.0, 1)

    def test_initial_state(self):
        assert early_stopping().init == EarlyStoppingState(INF)
        assert early_stopping(mode="max").init.best_score == -INF
        assert early_stopping(check_on_train_epoch_end=False).init.check_on_train_epoch_end is False

    def test_best_epoch(self):
        assert fold(early_stopping(patience=9), epochs([3.0, 1.0, 2.0, 1.0]))[0].best_epoch == 1


class TestWhereChecksRun:
    def stream(self, info, values=(1.0, 1.0), stage="fit"):
        events = [Event("fit_start", data=info)] if info is not None else []
        for i, v in enumerate(values):
            m = {"val_loss": v}
            events += [Event("validation_end", stage=stage, epoch=i, metrics=m),
                       Event("train_epoch_end", epoch=i, metrics=m)]
        return events

    @pytest.mark.parametrize("info, kind", [
        (RunInfo(), "train_epoch_end"),
        (None, "train_epoch_end"),
        (RunInfo(val_check_interval=1), "train_epoch_end"),
        (RunInfo(val_check_interval=0.5), "validation_end"),
        (RunInfo(val_check_interval=3), "validation_end"),
        (RunInfo(check_val_every_n_epoch=2), "validation_end"),
        (RunInfo(val_check_interval=10, check_val_every_n_epoch=None), "validation_end"),
    ])
    def test_resolved_from_run_info(self, info, kind):
        events = self.stream(info)
        stops = [e.kind for e, (_, out) in zip(events, scan(early_stopping(patience=1), events)) if out]
        assert stops == [kind]

    @pytest.mark.parametrize("flag, kind", [(True, "train_epoch_end"), (False, "validation_end")])
    def test_explicit_flag_wins(self, flag, kind):
        hook = early_stopping(patience=1, check_on_train_epoch_end=flag)
        events = self.stream(RunInfo(val_check_interval=0.5 if flag else 1.0))
        assert [e.kind for e, (_, out) in zip(events, scan(hook, events)) if out] == [kind]
        assert hook.kinds == {"fit_start", kind}

    @pytest.mark.parametrize("stage", ["sanity_check", "validate"])
    def test_skips_other_stages(self, stage):
        hook = early_stopping(patience=0, check_on_train_epoch_end=False)
        events = [Event("validation_end", stage=stage, metrics={"val_loss": NAN}), Event("validation_end")]
        assert fold(hook, events[:1]) == (hook.init, ())
        with pytest.raises(MissingMetric):  # the fit-stage check still runs
            fold(hook, events)

    def test_skips_fast_dev_run(self):
        events = [Event("fit_start", data=RunInfo(fast_dev_run=True)), *epochs([NAN, 1.0]), Event("train_epoch_end")]
        state, effects = fold(early_stopping(patience=0), events)
        assert effects == () and state.skip and state.wait_count == 0


class TestMissingMetric:
    def test_strict_raises_listing_names(self):
        event = Event("train_epoch_end", metrics={"loss": 1.0, "val_loss": 2.0})
        with pytest.raises(MissingMetric) as info:
            fold(early_stopping("val_los"), [event])
        assert str(info.value) == ("early_stopping: metric 'val_los' is not in the metrics (have: loss, val_loss); "
                                   "did you mean 'val_loss'?")
        assert isinstance(info.value, KeyError)

    def test_no_metrics_at_all(self):
        with pytest.raises(MissingMetric, match=r"^early_stopping: metric 'acc' is not in the metrics \(have: none\)$"):
            fold(early_stopping("acc"), [Event("train_epoch_end")])

    def test_not_strict_skips_the_check(self):
        hook = early_stopping("acc", strict=False, patience=0)
        events = [Event("train_epoch_end", epoch=i, metrics={"loss": 1.0}) for i in range(3)]
        assert fold(hook, events) == (hook.init, ())

    def test_not_strict_verbose_warns(self):
        _, effects = fold(early_stopping("acc", strict=False, verbose=True), [Event("train_epoch_end")])
        text = "early_stopping: metric 'acc' is not in the metrics (have: none)"
        assert effects == (Do(LogMessage(text, "warning"), text),)


class TestVerbose:
    def test_messages(self):
        _, effects = fold(early_stopping(verbose=True, patience=1, min_delta=0.5), epochs([5.0, 4.0, 4.0]))
        labels = [e.label for e in effects if type(e) is Do]
        assert labels == [
            "Metric val_loss improved. New best score: 5.000",
            "Metric val_loss improved by 1.000 >= min_delta = 0.5. New best score: 4.000",
            "Monitored metric val_loss did not improve in the last 1 records. Best score: 4.000. "
            "Signaling Trainer to stop.",
        ]
        assert type(effects[-1]) is Stop

    def test_rank_zero_only(self):
        events = [Event("train_epoch_end", metrics={"val_loss": 1.0}, rank=1)]
        assert fold(early_stopping(verbose=True, log_rank_zero_only=True), events)[1] == ()
        assert len(fold(early_stopping(verbose=True), events)[1]) == 1

    def test_log_message_logs(self, caplog):
        with caplog.at_level("INFO", logger="fhooks"):
            LogMessage("hello")(None)
        assert caplog.messages == ["hello"]


class TestArguments:
    @pytest.mark.parametrize("kwargs, message", [
        (dict(monitor=3), "early_stopping: monitor=3 must be a metric name (a non-empty string)"),
        (dict(monitor=""), "early_stopping: monitor='' must be a metric name (a non-empty string)"),
        (dict(mode="minimum"), "early_stopping: mode='minimum' must be 'min' or 'max'; did you mean 'min'?"),
        (dict(mode="up"), "early_stopping: mode='up' must be 'min' or 'max'"),
        (dict(patience=-1), "early_stopping: patience=-1 must be an int >= 0"),
        (dict(patience=1.5), "early_stopping: patience=1.5 must be an int >= 0"),
        (dict(patience=True), "early_stopping: patience=True must be an int >= 0"),
        (dict(min_delta=INF), "early_stopping: min_delta=inf must be a finite number "
                              "(the direction comes from mode; below 0 it tolerates a worse value, as Lightning)"),
        (dict(min_delta="0"), "early_stopping: min_delta='0' must be a number"),
        (dict(stopping_threshold="3"), "early_stopping: stopping_threshold='3' must be None or a number"),
        (dict(divergence_threshold=NAN), "early_stopping: divergence_threshold=nan must be None or a number"),
        (dict(strict="yes"), "early_stopping: strict='yes' must be True or False"),
        (dict(check_on_train_epoch_end=1), "early_stopping: check_on_train_epoch_end=1 must be None, True or False"),
        (dict(restore_best_weights=None), "early_stopping: restore_best_weights=None must be True or False"),
    ])
    def test_rejected(self, kwargs, message):
        with pytest.raises(InvalidArgument) as info:
            early_stopping(**kwargs)
        assert str(info.value) == message
        with pytest.raises(ValueError) as info:
            EarlyStopping(**{"monitor": "val_loss", **kwargs})
        assert str(info.value) == message.replace("early_stopping:", "EarlyStopping:")

    @pytest.mark.parametrize("hook, text", [
        (early_stopping(), "early_stopping('val_loss')"),
        (early_stopping("acc", mode="max", patience=5), "early_stopping('acc', patience=5, mode='max')"),
        (early_stopping(stopping_threshold=0.1, restore_best_weights=True),
         "early_stopping('val_loss', stopping_threshold=0.1, restore_best_weights=True)"),
    ])
    def test_repr(self, hook, text):
        assert repr(hook) == text

    def test_value_semantics(self):
        assert early_stopping(patience=2) == early_stopping(patience=2) != early_stopping(patience=3)
        assert repr(sequence(early_stopping(), early_stopping("acc"))) == \
            "sequence(early_stopping('val_loss'), early_stopping('acc'))"


class TestComposition:
    def test_any_of_stops_when_either_does(self):
        hook = any_of(early_stopping("a", patience=1), early_stopping("b", patience=3))
        events = [Event("train_epoch_end", epoch=i, metrics={"a": 1.0, "b": 3.0 - i}) for i in range(3)]
        assert stop_epochs(hook, events) == [1, 2]

    def test_all_of_needs_both_on_one_check(self):
        hook = all_of(early_stopping("a", patience=1), early_stopping("b", patience=2))
        a, b = [1.0, 1.0, 1.0, 0.0, 0.0, 0.0], [1.0, 0.5, 0.5, 0.5, 0.5, 0.5]
        events = [Event("train_epoch_end", epoch=i, metrics={"a": x, "b": y}) for i, (x, y) in enumerate(zip(a, b))]
        assert stop_epochs(hook, events) == [4, 5]


class TestRestoreBestWeights:
    def test_effects(self):
        hook = early_stopping(patience=5, restore_best_weights=True)
        key = "EarlyStopping{'monitor': 'val_loss', 'mode': 'min'}"
        _, effects = fold(hook, [*epochs([3.0, 1.0, 2.0]), Event("fit_end")])
        assert effects == (SnapshotWeights(key), SnapshotWeights(key), RestoreWeights(key))

    def test_nothing_to_restore_without_improvement(self):
        hook = early_stopping(restore_best_weights=True)
        assert fold(hook, [*epochs([NAN]), Event("fit_end")])[1] == (Stop(
            "Monitored metric val_loss = nan is not finite. Previous best value was inf. Signaling Trainer to stop."),)

    def test_handlers_restore_the_best_weights(self):
        torch = pytest.importorskip("torch")
        from fhooks.interpret import Context, interpret
        import fhooks.interpret.model.weights  # noqa: F401  (registers the handlers)

        trainer, module = SimpleNamespace(), torch.nn.Linear(2, 1)
        hook = early_stopping(patience=5, restore_best_weights=True)
        state = hook.init
        for epoch, value in enumerate([3.0, 1.0, 2.0]):
            with torch.no_grad():
                module.weight.fill_(float(epoch))
            state, effects = hook.step(state, Event("train_epoch_end", epoch=epoch, metrics={"val_loss": value}))
            for effect in effects:
                interpret(effect, Context(trainer, module, None))
        for effect in hook.step(state, Event("fit_end"))[1]:
            interpret(effect, Context(trainer, module, None))
        assert module.weight.tolist() == [[1.0, 1.0]]
        assert list(trainer.weight_snapshots) == [hook.weights_key]

    def test_restore_without_snapshot_leaves_weights(self, caplog):
        torch = pytest.importorskip("torch")
        from fhooks.interpret import Context, interpret
        import fhooks.interpret.model.weights  # noqa: F401

        module = torch.nn.Linear(1, 1)
        before = module.weight.clone()
        with caplog.at_level("WARNING", logger="fhooks"):
            interpret(RestoreWeights("k"), Context(SimpleNamespace(), module, None))
        assert torch.equal(module.weight, before) and "no snapshot under 'k'" in caplog.text


class TestEarlyStoppingClass:
    def test_lightning_attributes(self):
        es = EarlyStopping("val_acc", min_delta=0.3, patience=2, mode="max")
        assert (es.monitor, es.patience, es.mode, es.min_delta, es.strict, es.check_finite) == \
            ("val_acc", 2, "max", 0.3, True, True)
        assert EarlyStopping("x", min_delta=0.3).min_delta == -0.3
        assert (es.best_score, es.wait_count, es.stopped_epoch, es.best_epoch) == (-INF, 0, 0, None)
        assert es.state_key == "EarlyStopping{'monitor': 'val_acc', 'mode': 'max'}"
        assert repr(es) == "EarlyStopping('val_acc', min_delta=0.3, patience=2, mode='max')"

    def test_is_a_hook(self):
        es = EarlyStopping("val_loss", patience=1)
        _, effects = fold(es, epochs([2.0, 1.0, 1.5]))
        assert [type(e) for e in effects] == [Stop]
        assert (es.best_score, es.wait_count, es.stopped_epoch, es.best_epoch) == (1.0, 1, 2, 1)

    def test_state_dict_round_trip(self):
        es = EarlyStopping("val_loss", patience=3)
        fold(es, epochs([2.0, 1.0, 1.5]))
        saved = json.loads(json.dumps(es.state_dict()))
        assert {k: saved[k] for k in ("wait_count", "stopped_epoch", "best_score", "patience")} == \
            {"wait_count": 1, "stopped_epoch": 0, "best_score": 1.0, "patience": 3}
        fresh = EarlyStopping("val_loss", patience=3)
        fresh.load_state_dict(saved)
        assert fresh.state == es.state and fresh.init == es.state
        _, effects = fold(fresh, epochs([1.5, 1.5], ))
        assert [type(e) for e in effects] == [Stop] and fresh.wait_count == 3

    def test_loads_lightning_state_dict(self):
        torch = pytest.importorskip("torch")
        es = EarlyStopping("val_loss", patience=3)
        es.load_state_dict({"wait_count": 2, "stopped_epoch": 4, "best_score": torch.tensor(0.5), "patience": 5})
        assert (es.best_score, es.wait_count, es.stopped_epoch, es.patience) == (0.5, 2, 4, 5)

    def test_state_is_plain_data(self):
        state = EarlyStoppingState(1.5, 2, 3, 1, False, False)
        assert from_data(json.loads(json.dumps(to_data(state)))) == state


class TestWithTrainer:
    def test_restore_best_weights_in_a_real_fit(self, tmp_path):
        torch = pytest.importorskip("torch")
        import fhooks
        import fhooks.interpret.model.weights  # noqa: F401  (registers the handlers)

        script = [3.0, 1.0, 2.0, 2.0, 2.0]

        class Scripted(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.layer, self.seen = torch.nn.Linear(1, 1), []

            def training_step(self, batch, batch_idx):
                return (self.layer(batch[0]) - 5).pow(2).mean()

            def validation_step(self, batch, batch_idx):
                self.seen.append(self.layer.weight.detach().clone())
                return {"val_loss": torch.tensor(script[len(self.seen) - 1])}

            def configure_optimizers(self):
                return torch.optim.SGD(self.parameters(), lr=0.1)

        data = [(torch.ones(2, 1),)] * 2
        es = EarlyStopping("val_loss", patience=2, restore_best_weights=True)
        trainer = fhooks.Trainer(callbacks=[es], max_epochs=10, num_sanity_val_steps=0, enable_checkpointing=False,
                                 enable_progress_bar=False, default_root_dir=tmp_path)
        module = Scripted()
        trainer.fit(module, data, data[:1])
        assert (trainer.current_epoch, es.stopped_epoch, es.best_epoch) == (4, 3, 1)
        assert torch.equal(module.layer.weight, module.seen[1]) and not torch.equal(module.seen[1], module.seen[3])
