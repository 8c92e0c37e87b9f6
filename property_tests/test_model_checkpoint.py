"""Properties of model_checkpoint over generated fit streams (ties, NaN, ±inf, every_n_* settings)."""

from __future__ import annotations

import math
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fhooks.core import fold, scan
from fhooks.core.effects import RemoveCheckpoint, SaveCheckpoint
from fhooks.errors import InvalidArgument, MissingMetric
from fhooks.hooks import LinkCheckpoint, model_checkpoint
from fhooks.testing import assert_resumes, fit_streams, resume_split


def reference_top_k(scores: list[float], k: int, mode: str) -> list[int]:
    """Indices of the kept scores, by Lightning's rules, written naively: NaN is the worst value, an equal score
    never enters a full set, and the first inserted of the worst scores is evicted."""
    kept: list[tuple[int, float]] = []
    for i, score in enumerate(scores):
        key = math.inf if math.isnan(score) else (score if mode == "min" else -score)
        if k == -1 or len(kept) < k:
            kept.append((i, key))
            continue
        if k == 0:
            continue
        worst = max(key for _, key in kept)
        if key < worst:
            victim = min(j for j, key2 in kept if key2 == worst)
            kept = [(j, key2) for j, key2 in kept if j != victim]
            kept.append((i, key))
    return sorted(i for i, _ in kept)


def files_after(effects) -> set[str]:
    files: set[str] = set()
    for effect in effects:
        if isinstance(effect, RemoveCheckpoint):
            assert effect.path in files, f"removed {effect.path!r}, which was never written"
            files.discard(effect.path)
        else:
            files.add(effect.path)
    return files


epoch_configs = st.fixed_dictionaries({
    "monitor": st.sampled_from([None, "val_loss"]),
    "mode": st.sampled_from(["min", "max"]),
    "save_top_k": st.sampled_from([-1, 0, 1, 2, 3]),
    "every_n_epochs": st.sampled_from([None, 1, 2, 3]),
    "save_last": st.sampled_from([None, True, "link"]),
}).filter(lambda c: c["monitor"] is not None or c["save_top_k"] in (-1, 0, 1))


@given(epoch_configs, fit_streams(exception=True))
def test_kept_files_are_the_reference_top_k_plus_last(config, events):
    hook = model_checkpoint(**config)
    _, effects = fold(hook, events)
    epoch_ends = [e for e in events if e.kind == "train_epoch_end"]
    every = config["every_n_epochs"] or 1
    chances = [e for e in epoch_ends if (e.epoch + 1) % every == 0]
    if config["monitor"] is None:
        k = config["save_top_k"]
        chosen = list(range(len(chances))) if k == -1 else (list(range(len(chances)))[-1:] if k == 1 else [])
    else:
        chosen = reference_top_k([e.metrics["val_loss"] for e in chances], config["save_top_k"], config["mode"])
    expected = {os.path.join("checkpoints", f"epoch={chances[i].epoch}-step={chances[i].step}.ckpt") for i in chosen}
    if config["save_last"] and epoch_ends:
        expected.add(os.path.join("checkpoints", "last.ckpt"))
    assert files_after(effects) == expected


step_configs = st.one_of(
    st.fixed_dictionaries({"every_n_train_steps": st.integers(1, 5), "save_top_k": st.sampled_from([-1, 1]),
                           "save_last": st.sampled_from([None, True])}),
    st.fixed_dictionaries({"every_n_epochs": st.integers(1, 3), "save_top_k": st.sampled_from([-1, 1]),
                           "save_last": st.sampled_from([None, True])}),
)


@given(step_configs, fit_streams(max_batches=5))
def test_every_write_is_at_the_configured_interval(config, events):
    hook = model_checkpoint(**config)
    topk_steps = []
    for event, (_, effects) in zip(events, scan(hook, events)):
        for effect in effects:
            if isinstance(effect, SaveCheckpoint) and not effect.path.endswith("last.ckpt"):
                topk_steps.append(event.step)
                if "every_n_train_steps" in config:
                    assert event.kind == "train_batch_end" and event.step % config["every_n_train_steps"] == 0
                else:
                    assert event.kind == "train_epoch_end" and (event.epoch + 1) % config["every_n_epochs"] == 0
            if isinstance(effect, SaveCheckpoint):
                assert event.step > 0, f"saved at step 0: {event!r}"
    assert len(topk_steps) == len(set(topk_steps)), f"two saves at one step: {topk_steps}"


triggers = st.one_of(
    st.just({}),
    st.fixed_dictionaries({"every_n_train_steps": st.integers(1, 3)}),
    st.fixed_dictionaries({"every_n_epochs": st.integers(1, 2)}),
    st.fixed_dictionaries({"train_time_interval": st.sampled_from([0.0, 0.5, 30.0])}),
)
any_configs = st.builds(lambda trigger, rest: {**trigger, **rest}, triggers, st.fixed_dictionaries({
    "monitor": st.sampled_from([None, None, "val_loss", "val_loss", "loss"]),
    "mode": st.sampled_from(["min", "max"]),
    "save_top_k": st.sampled_from([-1, 0, 1, 1, 2]),
    "save_last": st.sampled_from([None, True, "link"]),
    "save_on_train_epoch_end": st.sampled_from([None, False, True]),
    "save_on_exception": st.booleans(),
    "filename": st.sampled_from([None, "const", "{epoch}-{val_loss:.1f}"]),
    "enable_version_counter": st.booleans(),
})).filter(lambda c: c["monitor"] is not None or c["save_top_k"] in (-1, 0, 1))


def build(config, events):
    """The hook, or None where the config is invalid or the stream lacks the monitor after validation
    (then resuming at any split must fail the same way)."""
    try:
        hook = model_checkpoint(**config)
    except InvalidArgument:
        return None
    try:
        fold(hook, events)
    except MissingMetric:
        for at in (0, len(events) // 2):
            with pytest.raises(MissingMetric):
                resume_split(hook, events, at)
        return None
    return hook


@given(any_configs, fit_streams(("val_loss",), step_metrics=("loss",), sanity_check=None, validation=None,
                                exception=True))
def test_never_removes_unwritten_files_and_never_saves_at_step_zero(config, events):
    hook = build(config, events)
    if hook is None:
        return
    written: set[str] = set()
    for event, (_, effects) in zip(events, scan(hook, events)):
        for effect in effects:
            if isinstance(effect, RemoveCheckpoint):
                assert effect.path in written, f"{event!r}: removed {effect.path!r}, never written"
                written.discard(effect.path)
            elif isinstance(effect, (SaveCheckpoint, LinkCheckpoint)):
                written.add(effect.path)
                if event.kind != "train_end":
                    assert event.step > 0 and event.stage == "fit"


@settings(max_examples=40)
@given(any_configs, fit_streams(("val_loss",), max_epochs=5, max_batches=3, sanity_check=None, validation=None,
                                exception=True))
def test_resume_law_at_every_split(config, events):
    hook = build(config, events)
    if hook is None:
        return
    for at in range(len(events) + 1):
        assert_resumes(hook, events, at)


@given(any_configs, fit_streams(("val_loss",), step_metrics=("loss",), sanity_check=None, validation=None,
                                exception=True))
def test_a_kill_between_any_two_effects_leaves_every_link_pointing_at_a_file(config, events):
    """On a model of the folder (file or link per name), stopping after any effect never leaves a link to a removed
    file, and an event's removals come after its writes."""
    hook = build(config, events)
    if hook is None:
        return
    folder: dict[str, str | None] = {}  # path -> link target, or None for a file
    for event, (_, effects) in zip(events, scan(hook, events)):
        removing = False
        for effect in effects:
            if isinstance(effect, RemoveCheckpoint):
                removing = True
                folder.pop(effect.path, None)
            else:
                assert not removing, f"{event!r}: a write after a removal in {effects}"
                folder[effect.path] = effect.target if isinstance(effect, LinkCheckpoint) else None
            dangling = {path: target for path, target in folder.items() if target is not None and target not in folder}
            assert not dangling, f"{event!r}: after {effect!r}, links to removed files {dangling}"
