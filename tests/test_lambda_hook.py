"""Tests of fhooks.core.lambda_hook: Lightning's LambdaCallback as a native hook."""

from __future__ import annotations

import pytest

from fhooks.core import EVENT_KINDS, HOOK_NAMES, Event, Log, Stop, fold, lambda_hook, shape
from fhooks.core.lambda_hook import keyword_for
from fhooks.errors import InvalidArgument

ACCEPTED = ", ".join(HOOK_NAMES)


def stop_at_3(event):
    return Stop("epoch 3") if event.epoch == 3 else None


def log_epoch(event):
    return Log({"epoch": event.epoch})


class TestKeywordFor:
    @pytest.mark.parametrize(
        ("kind", "keyword"),
        [("setup", "setup"), ("teardown", "teardown"), ("fit_start", "on_fit_start"),
         ("train_batch_end", "on_train_batch_end"), ("exception", "on_exception")],
    )
    def test_lightning_names(self, kind, keyword):
        assert keyword_for(kind) == keyword

    def test_hook_names_cover_every_kind(self):
        assert sorted(HOOK_NAMES.values()) == sorted(EVENT_KINDS)
        assert HOOK_NAMES["on_validation_end"] == "validation_end"


class TestLambdaHook:
    def test_calls_the_function_for_its_kind(self):
        hook = lambda_hook(on_train_epoch_end=stop_at_3, on_fit_end=log_epoch)
        events = [Event("train_epoch_end", epoch=i) for i in range(5)] + [Event("fit_end", epoch=5)]
        assert fold(hook, events) == (None, (Stop("epoch 3"), Log({"epoch": 5})))

    def test_kinds_from_keywords(self):
        assert lambda_hook(setup=log_epoch, on_exception=log_epoch).kinds == {"setup", "exception"}
        assert lambda_hook().kinds == frozenset()

    @pytest.mark.parametrize(
        ("returned", "effects"),
        [(None, ()), (Stop("x"), (Stop("x"),)), ([Stop("x"), Log({"a": 1.0})], (Stop("x"), Log({"a": 1.0})))],
    )
    def test_return_values(self, returned, effects):
        assert fold(lambda_hook(on_fit_end=lambda e: returned), [Event("fit_end")])[1] == effects

    def test_bad_return_value(self):
        with pytest.raises(InvalidArgument) as info:
            fold(lambda_hook(on_fit_end=lambda e: "done"), [Event("fit_end")])
        assert str(info.value) == "lambda_hook: expected None, an Effect or an iterable of effects, got 'done'"

    @pytest.mark.parametrize(
        ("keyword", "hint"),
        [
            ("on_train_epoch_ends", "; did you mean 'on_train_epoch_end'?"),
            ("train_epoch_end", "; did you mean 'on_train_epoch_end'?"),
            ("zzz", ""),
        ],
    )
    def test_unknown_keyword_is_a_type_error(self, keyword, hint):
        with pytest.raises(TypeError) as info:
            lambda_hook(**{keyword: log_epoch})
        assert str(info.value) == f"lambda_hook: unknown keyword {keyword!r}{hint} (accepted: {ACCEPTED})"

    def test_non_callable(self):
        with pytest.raises(InvalidArgument) as info:
            lambda_hook(on_fit_end=3)
        assert str(info.value) == "lambda_hook: on_fit_end must be callable, got 3"

    def test_repr_reads_like_the_call(self):
        hook = lambda_hook(on_train_epoch_end=stop_at_3, setup=log_epoch)
        assert repr(hook) == "lambda_hook(on_train_epoch_end=stop_at_3, setup=log_epoch)"
        assert shape(hook) == "lambda_hook"

    def test_equal_by_value(self):
        assert lambda_hook(on_fit_end=log_epoch) == lambda_hook(on_fit_end=log_epoch)
        assert lambda_hook(on_fit_end=log_epoch) != lambda_hook(on_fit_start=log_epoch)
