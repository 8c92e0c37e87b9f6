"""learning_rate_monitor over generated optimizer lists: Lightning's key names, its cadence, the resume law."""

from __future__ import annotations

from collections import Counter

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from fhooks.core import Event, fold
from fhooks.core.events import OptimizerInfo, RunInfo
from fhooks.core.frozendict import frozendict
from fhooks.hooks import LogOptimizerValues, SchedulerInfo, learning_rate_monitor
from fhooks.testing import assert_resumes, fit_streams


@attrs.frozen
class Run(RunInfo):
    """RunInfo with the fields the monitor reads when the trainer provides them."""

    schedulers: tuple = ()
    log_every_n_steps: int = 50


@st.composite
def optimizer(draw):
    n = draw(st.integers(1, 3))
    names = draw(st.lists(st.sampled_from(["enc", "dec", "head"]), min_size=n, max_size=n, unique=True))
    named = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    groups = tuple(frozendict({"lr": 0.1, **({"name": name} if keep else {})}) for name, keep in zip(names, named))
    return OptimizerInfo(draw(st.sampled_from(["SGD", "Adam", "AdamW"])), groups)


@st.composite
def runs(draw):
    optimizers = tuple(draw(st.lists(optimizer(), min_size=1, max_size=4)))
    which = draw(st.lists(st.integers(0, len(optimizers) - 1), max_size=len(optimizers) + 1))
    labels = iter(["sched_a", "sched_b", "sched_c", "sched_d", "sched_e"])
    schedulers = tuple(SchedulerInfo(i, draw(st.sampled_from(["step", "epoch"])),
                                     next(labels) if draw(st.booleans()) else None) for i in which)
    return Run(optimizers=optimizers, schedulers=schedulers, log_every_n_steps=draw(st.sampled_from([0, 1, 2, 3, 50])))


def reference_names(run) -> list[tuple[int, str, str | None]]:
    """(optimizer index, key, scheduler interval or None) for every param group, restated from Lightning's rules."""
    uses = Counter()
    entries = [(s.optimizer_idx, s.name, s.interval) for s in run.schedulers]
    scheduled = {s.optimizer_idx for s in run.schedulers}
    entries += [(i, None, None) for i in range(len(run.optimizers)) if i not in scheduled]
    out = []
    for i, user_name, interval in entries:
        opt = run.optimizers[i]
        if user_name is None:
            uses[opt.name] += 1
        base = user_name or "lr-" + opt.name
        if uses[opt.name] >= 2:
            base += "-" + str(uses[opt.name] - 1)
        groups = opt.param_groups
        for k, group in enumerate(groups):
            if len(groups) == 1:
                key = base + ("/" + group["name"] if group.get("name") else "")
            else:
                key = base + "/" + group.get("name", "pg" + str(k + 1))
            out.append((i, key, interval))
    return out


def stream(run, epochs=2, batches=3):
    events, step = [Event("fit_start", data=run)], 0
    for epoch in range(epochs):
        events.append(Event("train_epoch_start", epoch=epoch, step=step))
        for i in range(batches):
            events.append(Event("train_batch_start", epoch=epoch, step=step, batch_idx=i))
            step += 1
            events.append(Event("train_batch_end", epoch=epoch, step=step, batch_idx=i))
    return events


class TestNames:
    @given(runs())
    def test_names_equal_the_reference_and_are_unique(self, run):
        state, _ = fold(learning_rate_monitor(), [Event("fit_start", data=run)])
        expected = [key for _, key, _ in reference_names(run)]
        assert list(state.names) == expected
        assert len(set(state.names)) == len(state.names)

    @given(runs(), st.booleans(), st.booleans())
    def test_extra_keys_follow_each_lr_key(self, run, momentum, weight_decay):
        hook = learning_rate_monitor("epoch", log_momentum=momentum, log_weight_decay=weight_decay)
        state, _ = fold(hook, [Event("fit_start", data=run)])
        suffixes = [""] + ["-momentum"] * momentum + ["-weight_decay"] * weight_decay
        assert list(state.at_epoch) == [n + s for n in state.names for s in suffixes]


class TestCadence:
    @given(runs(), st.sampled_from([None, "step", "epoch"]))
    def test_logged_keys_and_steps_equal_the_reference(self, run, interval):
        _, effects = fold(learning_rate_monitor(interval), stream(run))
        got = [(e.step, list(e.keys)) for e in effects if isinstance(e, LogOptimizerValues)]
        expected = []
        for event in stream(run):
            if event.kind == "train_epoch_start" and interval != "step":
                wanted = "epoch" if interval is None else None
            elif event.kind == "train_batch_start" and interval != "epoch":
                every = run.log_every_n_steps
                if not every or (event.step + 1) % every:
                    continue
                wanted = "step" if interval is None else None
            else:
                continue
            keys = [key for _, key, when in reference_names(run) if when is None or wanted in (None, when)]
            if keys:
                expected.append((event.step, keys))
        assert got == expected


class TestResume:
    @settings(max_examples=50)
    @given(runs(), st.sampled_from([None, "step", "epoch"]), st.booleans())
    def test_resume_law_at_every_split(self, run, interval, momentum):
        hook = learning_rate_monitor(interval, log_momentum=momentum)
        events = stream(run)
        for at in range(len(events) + 1):
            assert_resumes(hook, events, at)

    @settings(max_examples=30)
    @given(fit_streams(max_epochs=3, max_batches=3, validation=None))
    def test_resume_law_on_generated_fit_streams(self, events):
        hook = learning_rate_monitor()
        for at in range(len(events) + 1):
            assert_resumes(hook, events, at)
