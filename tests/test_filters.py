"""Tests of fhooks.core.filters: every_n, after, once, until."""

from __future__ import annotations

import pytest

from fhooks.core import Event, Log, after, every_n, fold, on, once, scan, shape, stateful, until
from fhooks.core.filters import CountState
from fhooks.errors import InvalidArgument


def log_epoch(event):
    return Log({"epoch": event.epoch})


def epoch_ge_2(event):
    return event.epoch >= 2


def count(n, event):
    return n + 1, None


log = on("train_epoch_end", log_epoch)
counter = stateful(0, count, kinds="train_epoch_end", name="counter")
two_kinds = on(["train_epoch_end", "fit_end"], log_epoch)
epochs = [Event("train_epoch_end", epoch=i) for i in range(7)]


def logged(hook, events=epochs):
    return [effect.metrics["epoch"] for effect in fold(hook, events)[1]]


class TestEveryN:
    @pytest.mark.parametrize(("n", "seen"), [(1, [0, 1, 2, 3, 4, 5, 6]), (2, [1, 3, 5]), (3, [2, 5]), (8, [])])
    def test_nth_heard_events_one_based(self, n, seen):
        assert logged(every_n(n, log)) == seen

    def test_counts_only_heard_events(self):
        mixed = [e for i in range(4) for e in (Event("fit_start"), Event("train_epoch_end", epoch=i))]
        assert logged(every_n(2, log), mixed) == [1, 3]

    def test_kind_counts_that_kind_only_and_lets_other_kinds_through(self):
        hook = every_n(2, on(["train_epoch_end", "fit_end"], log_epoch), kind="train_epoch_end")
        assert hook.kinds == {"train_epoch_end", "fit_end"}
        assert logged(hook, [Event("fit_end", epoch=8), *epochs[:4], Event("fit_end", epoch=9)]) == [8, 1, 3, 9]

    def test_state(self):
        assert every_n(2, counter).init == CountState(0, 0)
        assert fold(every_n(2, counter), epochs)[0] == CountState(7, 3)

    @pytest.mark.parametrize("n", [0, -1, 1.5, True, "2", None])
    def test_rejects_bad_n(self, n):
        with pytest.raises(InvalidArgument) as info:
            every_n(n, log)
        assert str(info.value) == f"every_n: n={n!r} must be a positive int"

    def test_zero_message_exactly(self):
        with pytest.raises(InvalidArgument, match=r"^every_n: n=0 must be a positive int$"):
            every_n(0, log)

    def test_rejects_kind_the_hook_never_hears(self):
        with pytest.raises(InvalidArgument) as info:
            every_n(2, log, kind="fit_end")
        assert str(info.value) == (
            "every_n: on('train_epoch_end', log_epoch) never hears kind 'fit_end' (it hears train_epoch_end)"
        )

    def test_rejects_unknown_kind(self):
        with pytest.raises(ValueError, match=r"^every_n: unknown kind 'epoch_end'"):
            every_n(2, log, kind="epoch_end")

    def test_rejects_non_hook(self):
        with pytest.raises(InvalidArgument, match=r"^every_n: expected a hook"):
            every_n(2, print)

    @pytest.mark.parametrize(
        ("hook", "text"),
        [
            (every_n(2, counter), "every_n(2, counter)"),
            (every_n(3, counter, kind="train_epoch_end"), "every_n(3, counter)"),
            (every_n(3, two_kinds, kind="fit_end"), "every_n(3, on('fit_end', 'train_epoch_end', log_epoch), kind='fit_end')"),
        ],
    )
    def test_repr(self, hook, text):
        assert repr(hook) == text

    def test_shape(self):
        assert shape(every_n(2, counter)) == "every_n(counter)"


class TestKindRule:
    """A filter counts one kind: the one its hook hears, or ``kind=``, required when it hears several."""

    stream = [Event("fit_start", epoch=7), *epochs[:4], Event("fit_end", epoch=9)]
    three_kinds = on(["fit_start", "train_epoch_end", "fit_end"], log_epoch)

    @pytest.mark.parametrize(
        ("build", "call"),
        [
            (lambda h: every_n(2, h), "every_n(2, hook, kind='train_epoch_end')"),
            (lambda h: after(1, h), "after(1, hook, kind='train_epoch_end')"),
            (lambda h: once(h), "once(hook, kind='train_epoch_end')"),
            (lambda h: until(epoch_ge_2, h), "until(pred, hook, kind='train_epoch_end')"),
        ],
    )
    def test_kind_required_when_the_hook_hears_several(self, build, call):
        name = call.partition("(")[0]
        with pytest.raises(InvalidArgument) as info:
            build(self.three_kinds)
        assert str(info.value) == (
            f"{name}: on('fit_end', 'fit_start', 'train_epoch_end', log_epoch) hears several event kinds "
            f"(fit_end, fit_start, train_epoch_end); say which one to count: {call}"
        )

    def test_kind_required_when_the_hook_hears_every_kind(self):
        anything = stateful(0, count, name="anything")
        with pytest.raises(InvalidArgument) as info:
            once(anything)
        assert str(info.value) == (
            "once: anything hears every event kind; say which one to count: once(hook, kind='train_epoch_end')"
        )

    def test_suggests_a_kind_the_hook_hears(self):
        with pytest.raises(InvalidArgument, match=r"say which one to count: every_n\(3, hook, kind='fit_end'\)$"):
            every_n(3, on(["fit_start", "fit_end"], log_epoch))

    @pytest.mark.parametrize(
        ("build", "seen"),
        [
            (lambda h: every_n(2, h, kind="train_epoch_end"), [7, 1, 3, 9]),
            (lambda h: after(1, h, kind="train_epoch_end"), [7, 1, 2, 3, 9]),
            (lambda h: once(h, kind="train_epoch_end"), [7, 0, 9]),
            (lambda h: until(epoch_ge_2, h, kind="train_epoch_end"), [7, 0, 1, 9]),
            (lambda h: once(h, kind="fit_end"), [7, 0, 1, 2, 3, 9]),
        ],
    )
    def test_other_kinds_pass_unfiltered(self, build, seen):
        assert logged(build(self.three_kinds), self.stream) == seen

    def test_until_asks_pred_only_about_the_counted_kind(self):
        asked = []

        def pred(event):
            asked.append(event.kind)
            return False

        fold(until(pred, self.three_kinds, kind="train_epoch_end"), self.stream)
        assert asked == ["train_epoch_end"] * 4

    @pytest.mark.parametrize("build", [once, lambda h, kind: after(1, h, kind=kind),
                                       lambda h, kind: until(epoch_ge_2, h, kind=kind)])
    def test_rejects_kind_the_hook_never_hears(self, build):
        with pytest.raises(InvalidArgument, match=r"never hears kind 'fit_end' \(it hears train_epoch_end\)$"):
            build(log, kind="fit_end")


class TestAfter:
    @pytest.mark.parametrize(("k", "seen"), [(0, [0, 1, 2, 3, 4, 5, 6]), (2, [2, 3, 4, 5, 6]), (7, []), (9, [])])
    def test_skips_first_k(self, k, seen):
        assert logged(after(k, log)) == seen

    def test_count_stops_at_k(self):
        assert fold(after(2, counter), epochs)[0] == CountState(2, 5)

    @pytest.mark.parametrize("k", [-1, 1.0, True, None])
    def test_rejects_bad_k(self, k):
        with pytest.raises(InvalidArgument) as info:
            after(k, log)
        assert str(info.value) == f"after: k={k!r} must be an int >= 0"

    def test_repr(self):
        assert repr(after(3, counter)) == "after(3, counter)"


class TestOnce:
    def test_first_heard_event_only(self):
        mixed = [Event("fit_start"), *epochs[3:]]
        assert logged(once(log), mixed) == [3]

    def test_state(self):
        assert [s for s, _ in scan(once(counter), epochs[:3])] == [CountState(1, 1)] * 3

    def test_repr_and_shape(self):
        assert repr(once(counter)) == "once(counter)"
        assert shape(once(counter)) == "once(counter)"

    def test_rejects_non_hook(self):
        with pytest.raises(InvalidArgument, match=r"^once: expected a hook"):
            once(None)


class TestUntil:
    def test_until_pred_first_holds(self):
        assert logged(until(epoch_ge_2, log)) == [0, 1]

    def test_stays_off_after_pred_held(self):
        events = [Event("train_epoch_end", epoch=e) for e in (0, 3, 0, 1)]
        assert logged(until(epoch_ge_2, log), events) == [0]

    def test_pred_not_called_after_it_held(self):
        calls = []

        def pred(event):
            calls.append(event.epoch)
            return event.epoch == 1

        fold(until(pred, log), epochs)
        assert calls == [0, 1]

    def test_state(self):
        assert [s.count for s, _ in scan(until(epoch_ge_2, counter), epochs[:4])] == [0, 0, 1, 1]
        assert fold(until(epoch_ge_2, counter), epochs)[0] == CountState(1, 2)

    def test_rejects_non_callable(self):
        with pytest.raises(InvalidArgument) as info:
            until(None, log)
        assert str(info.value) == "until: pred must be callable, got None"

    def test_repr(self):
        assert repr(until(epoch_ge_2, counter)) == "until(epoch_ge_2, counter)"
