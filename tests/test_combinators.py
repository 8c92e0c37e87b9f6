"""Tests of fhooks.core.combinators: sequence, when, on, stateful, map_effects, map_event, rank_zero."""

from __future__ import annotations

import attrs
import pytest

from fhooks.core import (
    Event,
    Hook,
    Log,
    Stop,
    fold,
    map_effects,
    map_event,
    on,
    rank_zero,
    scan,
    sequence,
    shape,
    stateful,
    when,
)
from fhooks.errors import InvalidArgument

NOT_A_HOOK = "expected a hook (an object with init, step and kinds, e.g. from lambda_hook or a Callback), got 3"


def log_epoch(event):
    return Log({"epoch": event.epoch})


def stop_at_2(event):
    return Stop("epoch 2") if event.epoch == 2 else None


def is_odd(event):
    return event.epoch % 2 == 1


def count(n, event):
    return n + 1, None


ALWAYS = lambda e: True  # noqa: E731 - a module-level lambda, for its repr
RETURNS_3 = lambda e: 3  # noqa: E731
epochs = [Event("train_epoch_end", epoch=i) for i in range(4)]
log = on("train_epoch_end", log_epoch)
stop = on("train_epoch_end", stop_at_2)
counter = stateful(0, count, kinds="train_epoch_end", name="counter")


class TestSequence:
    def test_children_run_in_order(self):
        assert fold(sequence(log, stop), epochs[2:3])[1] == (Log({"epoch": 2}), Stop("epoch 2"))
        assert fold(sequence(stop, log), epochs[2:3])[1] == (Stop("epoch 2"), Log({"epoch": 2}))

    def test_state_is_a_tuple(self):
        assert sequence(counter, log, counter).init == (0, None, 0)
        assert fold(sequence(counter, log, counter), epochs)[0] == (4, None, 4)

    @pytest.mark.parametrize(
        ("built", "expected"),
        [
            (sequence(log, sequence(stop, counter)), sequence(log, stop, counter)),
            (sequence(sequence(log, stop), counter), sequence(log, stop, counter)),
            (sequence(sequence(), log), log),
            (sequence(log), log),
            (sequence(sequence(sequence(log))), log),
        ],
    )
    def test_flattens_when_built(self, built, expected):
        assert built == expected

    def test_empty_is_identity_and_hears_nothing(self):
        assert sequence().kinds == frozenset()
        assert fold(sequence(), epochs) == ((), ())

    def test_kinds_are_the_union(self):
        assert sequence(log, on("fit_end", log_epoch)).kinds == {"train_epoch_end", "fit_end"}
        assert sequence(log, Hook(0, count)).kinds is None

    def test_child_skipped_for_kinds_it_does_not_hear(self):
        hook = sequence(counter, on("fit_end", log_epoch))
        assert fold(hook, [*epochs, Event("fit_end", epoch=9)]) == ((4, None), (Log({"epoch": 9}),))

    def test_two_stops_merge(self):
        hook = sequence(stop, on("train_epoch_end", lambda e: Stop("other")), log)
        assert fold(hook, epochs[2:3])[1] == (Stop(("epoch 2", "other")), Log({"epoch": 2}))

    def test_instances_keep_separate_state(self):
        hook = sequence(counter, when(is_odd, counter))
        assert fold(hook, epochs)[0] == (4, 2)

    def test_rejects_non_hook(self):
        with pytest.raises(InvalidArgument) as info:
            sequence(log, 3)
        assert str(info.value) == f"sequence: argument 1: {NOT_A_HOOK}"

    def test_repr_and_shape(self):
        assert repr(sequence(log, counter)) == "sequence(on('train_epoch_end', log_epoch), counter)"
        assert repr(sequence()) == "sequence()"
        assert shape(sequence(counter, when(is_odd, counter))) == "sequence(counter, when(counter))"

    def test_frozen(self):
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            sequence(log, stop).children = ()  # type: ignore[misc]


class TestWhen:
    def test_filters_events(self):
        assert fold(when(is_odd, log), epochs)[1] == (Log({"epoch": 1}), Log({"epoch": 3}))

    def test_state_unchanged_when_pred_false(self):
        assert [s for s, _ in scan(when(is_odd, counter), epochs)] == [0, 1, 1, 2]

    def test_kinds_and_init_are_the_hooks(self):
        hook = when(is_odd, counter)
        assert (hook.kinds, hook.init) == (counter.kinds, 0)

    def test_pred_not_called_for_unheard_kinds(self):
        seen = []
        fold(when(lambda e: seen.append(e.kind) or True, counter), [Event("fit_end"), *epochs[:1]])
        assert seen == ["train_epoch_end"]

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            ((3, log), "when: pred must be callable, got 3"),
            ((is_odd, 3), f"when: {NOT_A_HOOK}"),
        ],
    )
    def test_rejects(self, args, message):
        with pytest.raises(InvalidArgument) as info:
            when(*args)
        assert str(info.value) == message

    def test_repr(self):
        assert repr(when(is_odd, counter)) == "when(is_odd, counter)"
        assert repr(when(ALWAYS, counter)) == "when(<lambda>, counter)"

    def test_repr_of_a_local_function_is_its_name(self):
        def is_even(event):
            return event.epoch % 2 == 0

        assert repr(when(is_even, counter)) == "when(is_even, counter)"


class TestOn:
    @pytest.mark.parametrize(
        ("returned", "effects"),
        [
            (None, ()),
            (Stop("x"), (Stop("x"),)),
            ([Stop("x"), Log({"a": 1.0})], (Stop("x"), Log({"a": 1.0}))),
            ((), ()),
        ],
    )
    def test_returns_none_an_effect_or_effects(self, returned, effects):
        assert fold(on("fit_end", lambda e: returned), [Event("fit_end")]) == (None, effects)

    def test_one_or_several_kinds(self):
        assert on("fit_end", log_epoch).kinds == {"fit_end"}
        assert on(["fit_end", "fit_start"], log_epoch).kinds == {"fit_end", "fit_start"}

    def test_bad_return_value(self):
        with pytest.raises(InvalidArgument) as info:
            fold(on("fit_end", RETURNS_3), [Event("fit_end")])
        assert str(info.value) == "on(<lambda>): expected None, an Effect or an iterable of effects, got 3"

    def test_rejects_unknown_kind(self):
        with pytest.raises(ValueError, match=r"^on: unknown kind 'fitend'; did you mean 'fit_end'\?"):
            on("fitend", log_epoch)

    def test_rejects_non_callable(self):
        with pytest.raises(InvalidArgument) as info:
            on("fit_end", 3)
        assert str(info.value) == "on: fn must be callable, got 3"

    def test_shape(self):
        assert shape(on("fit_end", log_epoch)) == "on"

    def test_repr_lists_kinds_sorted(self):
        assert repr(on(["fit_start", "fit_end"], log_epoch)) == "on('fit_end', 'fit_start', log_epoch)"

    def test_equal_by_value(self):
        assert on("fit_end", log_epoch) == on("fit_end", log_epoch)
        assert on("fit_end", log_epoch) != on("fit_start", log_epoch)


class TestStateful:
    def test_counts(self):
        assert fold(counter, epochs) == (4, ())

    def test_effects_normalised(self):
        hook = stateful(0, lambda n, e: (n + 1, Stop("x") if n == 1 else None))
        assert [out for _, out in scan(hook, epochs[:3])] == [(), (Stop("x"),), ()]

    def test_hears_all_by_default(self):
        assert stateful(0, count).kinds is None

    def test_bad_effects(self):
        with pytest.raises(InvalidArgument) as info:
            fold(stateful(0, lambda n, e: (n, "x"), name="bad"), epochs)
        assert str(info.value) == "bad: expected None, an Effect or an iterable of effects, got 'x'"

    def test_rejects_non_callable(self):
        with pytest.raises(InvalidArgument) as info:
            stateful(0, None)
        assert str(info.value) == "stateful: fn must be callable, got None"

    @pytest.mark.parametrize(
        ("hook", "text"),
        [
            (stateful(0, count), "stateful(0, count)"),
            (stateful((), count, name="my_counter"), "my_counter"),
        ],
    )
    def test_repr(self, hook, text):
        assert repr(hook) == text


class TestMapEffects:
    def test_rewrites_and_drops(self):
        def no_logs(effect):
            return None if isinstance(effect, Log) else effect

        assert fold(map_effects(no_logs, sequence(log, stop)), epochs)[1] == (Stop("epoch 2"),)

    def test_one_effect_to_several(self):
        hook = map_effects(lambda e: [e, Log({"stopped": 1.0})], stop)
        assert fold(hook, epochs)[1] == (Stop("epoch 2"), Log({"stopped": 1.0}))

    def test_fn_not_called_without_effects(self):
        calls = []
        fold(map_effects(lambda e: calls.append(e), counter), epochs)
        assert calls == []

    def test_rejects_non_callable(self):
        with pytest.raises(InvalidArgument) as info:
            map_effects("x", log)
        assert str(info.value) == "map_effects: fn must be callable, got 'x'"

    def test_repr_and_shape(self):
        hook = map_effects(log_epoch, counter)
        assert repr(hook) == "map_effects(log_epoch, counter)"
        assert shape(hook) == "map_effects(counter)"
        assert hook.kinds == counter.kinds and hook.init == 0


class TestMapEvent:
    def test_hook_sees_rewritten_event(self):
        def shift(event):
            return Event(event.kind, epoch=event.epoch + 10)

        assert fold(map_event(shift, log), epochs[:1])[1] == (Log({"epoch": 10}),)

    def test_rejects_non_callable(self):
        with pytest.raises(InvalidArgument) as info:
            map_event(None, log)
        assert str(info.value) == "map_event: fn must be callable, got None"

    def test_repr(self):
        assert repr(map_event(log_epoch, counter)) == "map_event(log_epoch, counter)"


class TestRankZero:
    @pytest.mark.parametrize(("rank", "effects"), [(0, (Stop("epoch 2"),)), (1, ()), (3, ())])
    def test_effects_only_on_rank_zero(self, rank, effects):
        events = [Event("train_epoch_end", epoch=i, rank=rank) for i in range(3)]
        assert fold(rank_zero(stop), events)[1] == effects

    def test_state_advances_on_every_rank(self):
        events = [Event("train_epoch_end", rank=1)] * 3
        assert fold(rank_zero(counter), events)[0] == 3

    def test_repr(self):
        assert repr(rank_zero(counter)) == "rank_zero(counter)"

    def test_rejects_non_hook(self):
        with pytest.raises(InvalidArgument) as info:
            rank_zero(3)
        assert str(info.value) == f"rank_zero: {NOT_A_HOOK}"
