"""Tests of fhooks.core.events: Event, kinds, stages, payload records."""

from __future__ import annotations

import math
import pickle

import attrs
import pytest

from fhooks.core import EVENT_KINDS, STAGES, BatchData, Event
from fhooks.core.events import OptimizerInfo, RunInfo, check_kind, check_kinds
from fhooks.core.frozendict import frozendict
from fhooks.errors import FhooksError, InvalidEvent

VALID = ", ".join(sorted(EVENT_KINDS))


class TestEventKinds:
    def test_lightning_hook_names_without_on(self):
        assert EVENT_KINDS[:6] == (
            "setup", "teardown", "fit_start", "fit_end", "sanity_check_start", "sanity_check_end"
        )
        for loop in ("train", "validation", "test", "predict"):
            for part in ("start", "end", "epoch_start", "epoch_end", "batch_start", "batch_end"):
                assert f"{loop}_{part}" in EVENT_KINDS
        for kind in ("before_backward", "after_backward", "before_optimizer_step", "before_zero_grad",
                     "exception", "save_checkpoint", "load_checkpoint"):
            assert kind in EVENT_KINDS

    def test_no_duplicates(self):
        assert len(set(EVENT_KINDS)) == len(EVENT_KINDS) == 37

    def test_stages(self):
        assert STAGES == ("fit", "validate", "test", "predict", "sanity_check")


class TestCheckKind:
    def test_known(self):
        assert check_kind("train_epoch_end") == "train_epoch_end"

    @pytest.mark.parametrize(
        ("kind", "hint"),
        [
            ("validaton_end", "; did you mean 'validation_end'?"),
            ("on_fit_start", "; did you mean 'fit_start'?"),
            ("xyzzy", ""),
        ],
    )
    def test_unknown_lists_valid_kinds(self, kind, hint):
        with pytest.raises(InvalidEvent) as info:
            check_kind(kind, "here")
        assert str(info.value) == f"here: unknown kind {kind!r}{hint} (valid kinds: {VALID})"

    def test_kinds_normalises_one_or_many(self):
        assert check_kinds("fit_end", "on") == frozenset({"fit_end"})
        assert check_kinds(["fit_end", "fit_start", "fit_end"], "on") == frozenset({"fit_end", "fit_start"})

    def test_kinds_rejects_one_bad_kind(self):
        with pytest.raises(InvalidEvent, match=r"^on: unknown kind 'fit_ends'; did you mean 'fit_end'\?"):
            check_kinds(["fit_start", "fit_ends"], "on")


class TestEvent:
    def test_defaults(self):
        e = Event("fit_start")
        assert (e.kind, e.stage, e.epoch, e.step, e.batch_idx, e.time, e.data, e.rank) == (
            "fit_start", "fit", 0, 0, 0, 0.0, None, 0)
        assert e.metrics == {}

    def test_unknown_kind(self):
        with pytest.raises(InvalidEvent) as info:
            Event("validaton_end")
        assert str(info.value) == (
            f"Event: unknown kind 'validaton_end'; did you mean 'validation_end'? (valid kinds: {VALID})"
        )

    def test_error_is_a_value_error(self):
        with pytest.raises(ValueError):
            Event("nope")
        assert issubclass(InvalidEvent, FhooksError)

    @pytest.mark.parametrize(
        ("stage", "message"),
        [
            ("train", "Event: unknown stage 'train' (valid stages: fit, validate, test, predict, sanity_check)"),
            ("tests", "Event: unknown stage 'tests'; did you mean 'test'? (valid stages: fit, validate, test, "
                      "predict, sanity_check)"),
        ],
    )
    def test_unknown_stage(self, stage, message):
        with pytest.raises(InvalidEvent) as info:
            Event("fit_end", stage=stage)
        assert str(info.value) == message

    def test_metrics_must_be_a_mapping(self):
        with pytest.raises(InvalidEvent) as info:
            Event("fit_end", metrics=[("loss", 1.0)])
        assert str(info.value) == "Event: metrics must be a mapping of names to numbers, got list"

    def test_metrics_are_frozen(self):
        source = {"loss": 1.0}
        e = Event("train_batch_end", metrics=source)
        source["loss"] = 2.0
        assert e.metrics["loss"] == 1.0
        with pytest.raises(TypeError):
            e.metrics["loss"] = 3.0  # type: ignore[index]

    def test_other_mappings_are_kept_as_given(self):
        lazy = frozendict(loss=1.0)
        assert Event("train_batch_end", metrics=lazy).metrics is lazy

    def test_immutable(self):
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            Event("fit_end").epoch = 3  # type: ignore[misc]

    @pytest.mark.parametrize(
        ("a", "b", "equal"),
        [
            (Event("fit_end", epoch=1), Event("fit_end", epoch=1), True),
            (Event("fit_end", epoch=1), Event("fit_end", epoch=2), False),
            (Event("fit_end", metrics={"x": math.nan}), Event("fit_end", metrics={"x": math.nan}), True),
            (Event("fit_end", metrics={"x": 1.0}), Event("fit_end", metrics={"x": 1.0, "y": 2.0}), False),
            (Event("fit_end", metrics={"x": 1.0}), Event("fit_end", metrics={"x": 1}), True),
            (Event("fit_end", rank=1), Event("fit_end"), False),
            (Event("fit_end", stage="validate"), Event("fit_end"), False),
        ],
    )
    def test_equality_is_by_value_with_nan_equal_to_nan(self, a, b, equal):
        assert (a == b) is equal

    def test_data_compares_by_identity(self):
        payload = [1]
        assert Event("exception", data=payload) == Event("exception", data=payload)
        assert Event("exception", data=[1]) != Event("exception", data=[1])

    def test_not_hashable(self):
        with pytest.raises(TypeError):
            hash(Event("fit_end"))

    def test_not_equal_to_other_types(self):
        assert Event("fit_end") != "fit_end"

    @pytest.mark.parametrize(
        ("event", "text"),
        [
            (Event("fit_start"), "Event('fit_start')"),
            (Event("train_batch_end", epoch=1, step=7, batch_idx=2, time=1.5, metrics={"loss": 0.25}),
             "Event('train_batch_end', epoch=1, step=7, batch_idx=2, time=1.5, metrics={'loss': 0.25})"),
            (Event("validation_end", stage="sanity_check"), "Event('validation_end', stage='sanity_check')"),
            (Event("exception", data=ValueError("x"), rank=2), "Event('exception', rank=2, data=ValueError('x'))"),
        ],
    )
    def test_repr_reads_like_the_call(self, event, text):
        assert repr(event) == text

    def test_pickles(self):
        e = Event("validation_end", epoch=2, metrics={"val_loss": 0.5})
        assert pickle.loads(pickle.dumps(e)) == e


class TestPayloads:
    def test_batch_data(self):
        d = BatchData(batch=[1, 2], outputs={"loss": 0.3})
        assert (d.batch, d.outputs, d.dataloader_idx) == ([1, 2], {"loss": 0.3}, 0)

    def test_run_info_defaults_mean_unknown_or_unlimited(self):
        info = RunInfo()
        assert (info.max_epochs, info.max_steps, info.num_training_batches) == (None, None, None)
        assert (info.val_check_interval, info.check_val_every_n_epoch, info.accumulate_grad_batches) == (1.0, 1, 1)
        assert (info.world_size, info.checkpoint_dir, info.optimizers) == (1, "checkpoints", ())

    def test_optimizer_info(self):
        info = OptimizerInfo("SGD", ({"lr": 0.1},))
        assert info.name == "SGD" and info.param_groups[0]["lr"] == 0.1

    def test_payloads_are_frozen(self):
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            RunInfo().max_epochs = 3  # type: ignore[misc]
