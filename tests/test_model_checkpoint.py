"""model_checkpoint / ModelCheckpoint: Lightning's decisions on scripted runs (LIGHTNING_SPEC §3)."""

from __future__ import annotations

import datetime
import os

import attrs
import pytest

from fhooks.callbacks import ModelCheckpoint
from fhooks.core import Event, fold, scan, sequence
from fhooks.core.effects import RemoveCheckpoint, SaveCheckpoint
from fhooks.core.events import RunInfo
from fhooks.errors import InvalidArgument, MissingMetric
from fhooks.hooks import LinkCheckpoint, model_checkpoint
from fhooks.testing import roundtrip


def fit_events(values, *, batches=2, val_batches=1, every_val=1, ckdir="/c", metric="val_loss", times=None,
               info_kwargs=None, exception_at=None):
    """The events fhooks' trainer emits for a run logging ``values[epoch]`` as ``metric`` in validation.

    ``callback_metrics`` persist, as in Lightning: batch events carry the previous validation's value.
    """
    info = RunInfo(max_epochs=len(values), num_training_batches=batches, num_val_batches=val_batches,
                   check_val_every_n_epoch=every_val, checkpoint_dir=ckdir, **(info_kwargs or {}))
    clock = iter(times or range(10_000))
    out = [Event("setup", data=info), Event("fit_start", data=info), Event("train_start", time=next(clock))]
    step, known = 0, {}
    for epoch, value in enumerate(values):
        out.append(Event("train_epoch_start", epoch=epoch, step=step))
        for b in range(batches):
            step += 1
            out.append(Event("train_batch_end", epoch=epoch, step=step, batch_idx=b, time=next(clock),
                             metrics=dict(known)))
            if exception_at == step:
                return out + [Event("exception", epoch=epoch, step=step, batch_idx=b, data=RuntimeError("x"))]
        if val_batches and (epoch + 1) % every_val == 0:
            known[metric] = value
            out.append(Event("validation_end", epoch=epoch, step=step, metrics=dict(known)))
        out.append(Event("train_epoch_end", epoch=epoch, step=step, metrics=dict(known)))
    return out + [Event(k, epoch=len(values), step=step) for k in ("train_end", "fit_end", "teardown")]


def kept(effects):
    """Files on disk after the effects: saves and links minus removals (basenames, sorted)."""
    files: dict[str, None] = {}
    for effect in effects:
        if isinstance(effect, RemoveCheckpoint):
            del files[effect.path]
        else:
            files[effect.path] = None
    return sorted(os.path.basename(f) for f in files)


def run(hook, events):
    state, effects = fold(hook, events)
    return state, kept(effects)


class TestScenarioFacts:
    """The [run] facts of LIGHTNING_SPEC §3.11."""

    def test_top2_per_epoch(self):
        hook = model_checkpoint(filename="{epoch}-{val_loss:.1f}", monitor="val_loss", save_top_k=2)
        events = fit_events([5, 3, 4, 1, 2])
        per_epoch = []
        files: list[str] = []
        for event, (_, effects) in zip(events, scan(hook, events)):
            for e in effects:
                files.remove(e.path) if isinstance(e, RemoveCheckpoint) else files.append(e.path)
            if event.kind == "train_epoch_end":
                per_epoch.append(sorted(int(os.path.basename(f)[6]) for f in files))
        assert per_epoch == [[0], [0, 1], [1, 2], [1, 3], [3, 4]]
        state, _ = fold(hook, events)
        assert state.best_model_path == "/c/epoch=3-val_loss=1.0.ckpt" and state.best_model_score == 1.0
        assert state.kth_best_model_path == "/c/epoch=4-val_loss=2.0.ckpt" and state.kth_value == 2.0
        assert state.current_score == 2.0

    def test_saves_happen_at_train_epoch_end(self):
        hook = model_checkpoint(monitor="val_loss")
        kinds = [ev.kind for ev, (_, eff) in zip(fit_events([5, 3]), scan(hook, fit_events([5, 3]))) if eff]
        assert kinds == ["train_epoch_end", "train_epoch_end"]

    def test_top2_max_mode(self):
        hook = model_checkpoint(filename="{epoch}-{val_loss:.1f}", monitor="val_loss", save_top_k=2, mode="max")
        state, files = run(hook, fit_events([5, 3, 4, 1, 2]))
        assert files == ["epoch=0-val_loss=5.0.ckpt", "epoch=2-val_loss=4.0.ckpt"]
        assert state.best_model_path.endswith("epoch=0-val_loss=5.0.ckpt")
        assert state.kth_best_model_path.endswith("epoch=2-val_loss=4.0.ckpt")

    def test_default_keeps_only_latest(self):
        state, files = run(model_checkpoint(), fit_events([5, 3, 4]))
        assert files == ["epoch=2-step=6.ckpt"]
        assert state.best_model_path == "/c/epoch=2-step=6.ckpt" and state.best_model_score is None
        assert state.best_k == ()

    def test_every_n_epochs_2(self):
        assert run(model_checkpoint(every_n_epochs=2, save_top_k=-1), fit_events([5, 3, 4, 1, 2]))[1] == [
            "epoch=1-step=4.ckpt", "epoch=3-step=8.ckpt"]

    def test_every_n_train_steps_3(self):
        assert run(model_checkpoint(every_n_train_steps=3, save_top_k=-1), fit_events([5, 3, 4, 1]))[1] == [
            "epoch=1-step=3.ckpt", "epoch=2-step=6.ckpt"]

    def test_every_n_train_steps_uses_previous_validation(self):
        hook = model_checkpoint(every_n_train_steps=3, save_top_k=-1, monitor="val_loss",
                                filename="{epoch}-{step}-{val_loss:.1f}")
        state, files = run(hook, fit_events([5, 3, 4, 1]))
        assert files == ["epoch=1-step=3-val_loss=5.0.ckpt", "epoch=2-step=6-val_loss=3.0.ckpt"]

    def test_check_val_every_2_epochs_saves_at_validation_end(self):
        hook = model_checkpoint(save_top_k=-1)
        events = fit_events([5, 3, 4, 1], every_val=2)
        saved_at = [(ev.kind, ev.epoch) for ev, (_, eff) in zip(events, scan(hook, events)) if eff]
        assert saved_at == [("validation_end", 1), ("validation_end", 3)]

    def test_train_time_interval(self):
        # batches end at t = 0.3, 0.6, ... ; interval 0.5 s -> saves at steps 2, 4, 6
        times = [0.0] + [0.3 * i for i in range(1, 7)]
        hook = model_checkpoint(train_time_interval=datetime.timedelta(seconds=0.5), save_top_k=-1)
        _, effects = fold(hook, fit_events([1, 1, 1], val_batches=0, times=times))
        assert [e.path for e in effects] == ["/c/epoch=0-step=2.ckpt", "/c/epoch=1-step=4.ckpt",
                                             "/c/epoch=2-step=6.ckpt"]

    def test_save_on_exception_with_last(self):
        hook = model_checkpoint(save_on_exception=True, save_last=True, monitor="val_loss")
        _, files = run(hook, fit_events([5, 3], exception_at=3))
        assert files == ["epoch=0-step=2.ckpt", "epoch=1-step=3.ckpt", "last.ckpt"]

    def test_ties_keep_first_inserted(self):
        state, files = run(model_checkpoint(monitor="val_loss", save_top_k=2), fit_events([3, 3, 3, 3]))
        assert files == ["epoch=0-step=2.ckpt", "epoch=1-step=4.ckpt"]
        assert state.best_model_path.endswith("epoch=0-step=2.ckpt")
        assert state.kth_best_model_path.endswith("epoch=0-step=2.ckpt")

    def test_nan_takes_a_free_slot_and_leaves_first(self):
        nan = float("nan")
        state, files = run(model_checkpoint(monitor="val_loss", save_top_k=2), fit_events([nan, 2, 1]))
        assert files == ["epoch=1-step=4.ckpt", "epoch=2-step=6.ckpt"]
        state, _ = run(model_checkpoint(monitor="val_loss", save_top_k=2), fit_events([nan, 2]))
        assert state.best_k == (("/c/epoch=0-step=2.ckpt", float("inf")), ("/c/epoch=1-step=4.ckpt", 2.0))

    def test_top_k_zero_with_save_last_keeps_only_last(self):
        assert run(model_checkpoint(monitor="val_loss", save_top_k=0, save_last=True), fit_events([3, 2]))[1] == [
            "last.ckpt"]

    def test_constant_filename_gets_versions(self):
        hook = model_checkpoint(filename="const", save_top_k=-1, monitor="val_loss")
        assert run(hook, fit_events([3, 3, 3]))[1] == ["const-v1.ckpt", "const-v2.ckpt", "const.ckpt"]

    def test_no_version_counter_collapses_best_k(self):
        hook = model_checkpoint(filename="const", save_top_k=-1, monitor="val_loss", enable_version_counter=False)
        state, files = run(hook, fit_events([3, 2, 4]))
        assert files == ["const.ckpt"] and state.best_k == (("/c/const.ckpt", 4.0),)

    def test_templated_last_keeps_only_newest(self):
        mc = ModelCheckpoint(save_last=True)
        mc.CHECKPOINT_NAME_LAST = "{epoch}-last"
        assert run(mc, fit_events([1, 1, 1]))[1] == ["epoch=2-last.ckpt", "epoch=2-step=6.ckpt"]


class TestSaveLastLink:
    def test_link_points_to_last_written_file(self):
        hook = model_checkpoint(monitor="val_loss", save_last="link")
        _, effects = fold(hook, fit_events([5, 3, 4]))
        links = [e for e in effects if isinstance(e, LinkCheckpoint)]
        assert [os.path.basename(link.target) for link in links] == ["epoch=0-step=2.ckpt", "epoch=1-step=4.ckpt",
                                                                    "epoch=1-step=4.ckpt"]
        assert {link.path for link in links} == {"/c/last.ckpt"}
        assert kept(effects) == ["epoch=1-step=4.ckpt", "last.ckpt"]

    def test_link_with_nothing_saved_yet_writes_a_real_file(self):
        hook = model_checkpoint(monitor="val_loss", save_top_k=0, save_last="link")
        _, effects = fold(hook, fit_events([5]))
        assert effects == (SaveCheckpoint("/c/last.ckpt"),)

    def test_never_links_last_to_itself(self):
        # the monitor appears only from epoch 1: epoch 0 writes a real last.ckpt, epoch 1 links to the top-k file
        events = fit_events([5, 3], val_batches=0, metric="val_loss")
        events = [e if e.epoch == 0 else Event(e.kind, epoch=e.epoch, step=e.step, metrics={"val_loss": 3.0},
                                                data=e.data) for e in events]
        _, effects = fold(model_checkpoint(monitor="val_loss", save_last="link"), events)
        assert effects[0] == SaveCheckpoint("/c/last.ckpt")
        assert all(not (isinstance(e, LinkCheckpoint) and e.path == e.target) for e in effects)


class TestStepRules:
    def test_never_saves_at_step_zero(self):
        events = [Event("train_epoch_end", epoch=0, step=0, metrics={"val_loss": 1.0})]
        assert fold(model_checkpoint(monitor="val_loss"), events)[1] == ()

    def test_never_saves_twice_at_one_step(self):
        events = [Event("train_epoch_end", epoch=e, step=5, metrics={"val_loss": 1.0 - e}) for e in range(3)]
        assert len(fold(model_checkpoint(monitor="val_loss", save_top_k=-1), events)[1]) == 1

    def test_sanity_check_and_other_stages_skip(self):
        events = [Event("validation_end", stage="sanity_check", step=3, metrics={"val_loss": 1.0}),
                  Event("validation_end", stage="validate", step=3, metrics={"val_loss": 1.0})]
        hook = model_checkpoint(monitor="val_loss", save_on_train_epoch_end=False)
        state, effects = fold(hook, events)
        assert effects == () and not state.val_has_run

    def test_fast_dev_run_skips(self):
        events = fit_events([1, 2], info_kwargs=dict(fast_dev_run=True))
        assert fold(model_checkpoint(), events)[1] == ()

    def test_step_trigger_defers_to_validation_for_validation_only_monitor(self):
        # every_n_train_steps=2 with batches=2: the last batch of each epoch, validation follows
        hook = model_checkpoint(every_n_train_steps=2, monitor="val_loss", save_on_train_epoch_end=False)
        events = fit_events([5, 3])
        saved_at = [(ev.kind, ev.step) for ev, (_, eff) in zip(events, scan(hook, events)) if eff]
        assert saved_at == [("validation_end", 2), ("validation_end", 4)]

    def test_save_last_at_train_end_when_nothing_saved(self):
        hook = model_checkpoint(save_last=True, save_on_train_epoch_end=False)
        _, effects = fold(hook, fit_events([1, 2], val_batches=0))
        assert effects == (SaveCheckpoint("/c/last.ckpt"),)

    def test_weights_only_flag_travels(self):
        _, effects = fold(model_checkpoint(save_weights_only=True), fit_events([1]))
        assert effects == (SaveCheckpoint("/c/epoch=0-step=2.ckpt", weights_only=True),)

    def test_dirpath_none_bare_names_without_setup(self):
        events = [Event("train_epoch_end", epoch=0, step=2)]
        assert fold(model_checkpoint(), events)[1] == (SaveCheckpoint("epoch=0-step=2.ckpt"),)

    def test_explicit_dirpath_wins_over_run_dir(self, tmp_path):
        _, effects = fold(model_checkpoint(tmp_path), fit_events([1]))
        assert effects == (SaveCheckpoint(str(tmp_path / "epoch=0-step=2.ckpt")),)


class TestFiles:
    def test_never_removes_files_it_did_not_write(self):
        hook = model_checkpoint()
        state = attrs.evolve(hook.init, best_model_path="/c/foreign.ckpt")
        _, effects = fold(hook, fit_events([1]), state)
        assert effects == (SaveCheckpoint("/c/epoch=0-step=2.ckpt"),)

    def test_existing_files_get_versions_and_survive(self):
        # the trainer lists the files already in the directory as RunInfo.existing_checkpoints
        existing = ("/c/last.ckpt", "/c/epoch=0-step=2.ckpt")
        events = [attrs.evolve(e, data=attrs.evolve(e.data, existing_checkpoints=existing))
                  if isinstance(e.data, RunInfo) else e for e in fit_events([1, 2])]
        _, effects = fold(model_checkpoint(save_last=True), events)
        assert effects == (SaveCheckpoint("/c/epoch=0-step=2-v1.ckpt"), SaveCheckpoint("/c/last-v1.ckpt"),
                           SaveCheckpoint("/c/epoch=1-step=4.ckpt"), SaveCheckpoint("/c/last-v1.ckpt"),
                           RemoveCheckpoint("/c/epoch=0-step=2-v1.ckpt"))  # removals come after the event's writes

    def test_dirpath_change_on_resume_keeps_only_best_model_path(self):
        hook = model_checkpoint(monitor="val_loss", save_top_k=2)
        state, _ = fold(hook, fit_events([2, 1], ckdir="/old"))
        state, effects = fold(hook, fit_events([3], ckdir="/new"), roundtrip(state))
        assert state.best_k == (("/new/epoch=0-step=2.ckpt", 3.0),)
        assert not any(isinstance(e, RemoveCheckpoint) for e in effects)


class TestMissingMonitor:
    def test_error_after_validation_lists_metrics(self):
        events = fit_events([1.0], metric="val_los")
        with pytest.raises(MissingMetric) as info:
            fold(model_checkpoint(monitor="val_loss"), events)
        assert str(info.value) == ("model_checkpoint: monitor 'val_loss' is not in the metrics (have: epoch, step, "
                                   "val_los); did you mean 'val_los'?")

    def test_before_any_validation_it_saves_nothing(self):
        events = fit_events([1.0, 2.0], val_batches=0)
        assert fold(model_checkpoint(monitor="val_loss"), events)[1] == ()


class TestValidation:
    @pytest.mark.parametrize("kwargs, message", [
        (dict(mode="avg"), "model_checkpoint: mode='avg' must be 'min' or 'max'"),
        (dict(save_top_k=-2), "model_checkpoint: save_top_k=-2 must be >= -1"),
        (dict(save_top_k=1.0), "model_checkpoint: save_top_k=1.0 must be an int >= -1"),
        (dict(save_top_k=2), "model_checkpoint: save_top_k=2 needs a monitor to rank checkpoints by (without one "
                             "only -1, 0 and 1 are valid); pass monitor='val_loss' or similar"),
        (dict(every_n_train_steps=-1), "model_checkpoint: every_n_train_steps=-1 must be >= 0"),
        (dict(every_n_epochs=-1), "model_checkpoint: every_n_epochs=-1 must be >= 0"),
        (dict(every_n_epochs=2, every_n_train_steps=3),
         "model_checkpoint: every_n_train_steps=3, every_n_epochs=2 and train_time_interval=None are mutually "
         "exclusive; set only one of them"),
        (dict(every_n_epochs=1, train_time_interval=datetime.timedelta(seconds=1)),
         "model_checkpoint: every_n_train_steps=0, every_n_epochs=1 and "
         "train_time_interval=datetime.timedelta(seconds=1) are mutually exclusive; set only one of them"),
        (dict(train_time_interval=-1.0), "model_checkpoint: train_time_interval=-1.0 must be a timedelta or a "
                                         "finite number of seconds >= 0"),
        (dict(save_last="yes"), "model_checkpoint: save_last='yes' must be None, False, True or 'link'"),
        (dict(monitor=3), "model_checkpoint: monitor=3 must be a metric name (str) or None"),
    ])
    def test_rejected_at_construction(self, kwargs, message):
        with pytest.raises(InvalidArgument) as info:
            model_checkpoint(**kwargs)
        assert str(info.value) == message

    @pytest.mark.parametrize("kwargs", [dict(every_n_train_steps=2, every_n_epochs=0), dict(save_top_k=-1),
                                        dict(save_top_k=0), dict(train_time_interval=datetime.timedelta(0))])
    def test_accepted(self, kwargs):
        model_checkpoint(**kwargs)

    @pytest.mark.parametrize("kwargs, expected", [
        (dict(), (0, 1, None)), (dict(every_n_train_steps=5), (5, 0, None)),
        (dict(train_time_interval=datetime.timedelta(minutes=1)), (0, 0, 60.0)),
    ])
    def test_trigger_normalisation(self, kwargs, expected):
        hook = model_checkpoint(**kwargs)
        assert (hook.every_n_train_steps, hook.every_n_epochs, hook.train_time_interval) == expected

    def test_only_hears_batches_when_a_batch_trigger_is_set(self):
        assert "train_batch_end" not in model_checkpoint().kinds
        assert "train_batch_end" in model_checkpoint(every_n_train_steps=1).kinds


class TestClass:
    def test_attributes_after_fold(self):
        mc = ModelCheckpoint(monitor="val_loss", save_top_k=2, save_last=True)
        fold(mc, fit_events([5, 3, 4]))
        assert mc.dirpath == "/c"
        assert mc.best_model_path == "/c/epoch=1-step=4.ckpt" and mc.best_model_score == 3.0
        assert mc.best_k_models == {"/c/epoch=1-step=4.ckpt": 3.0, "/c/epoch=2-step=6.ckpt": 4.0}
        assert mc.kth_best_model_path == "/c/epoch=2-step=6.ckpt" and mc.kth_value == 4.0
        assert mc.last_model_path == "/c/last.ckpt" and mc.current_score == 4.0

    def test_defaults_and_state_key(self):
        mc = ModelCheckpoint()
        assert (mc.monitor, mc.mode, mc.save_top_k, mc.save_last, mc.every_n_epochs) == (None, "min", 1, None, 1)
        assert mc.kth_value == float("inf") and mc.best_model_path == "" and mc.best_k_models == {}
        assert mc.state_key == ("ModelCheckpoint{'monitor': None, 'mode': 'min', 'every_n_train_steps': 0, "
                                "'every_n_epochs': 1, 'train_time_interval': None}")
        assert ModelCheckpoint(mode="max").kth_value == float("-inf")

    def test_subclass_state_key_uses_its_name(self):
        class Mine(ModelCheckpoint):
            pass

        assert Mine(every_n_train_steps=3).state_key.endswith(".Mine{'monitor': None, 'mode': 'min', "
                                                              "'every_n_train_steps': 3, 'every_n_epochs': 0, "
                                                              "'train_time_interval': None}")

    def test_format_checkpoint_name(self, tmp_path):
        mc = ModelCheckpoint(dirpath=tmp_path, filename="{epoch}-{val_loss:.2f}")
        assert mc.format_checkpoint_name({"epoch": 2, "val_loss": 0.123456}) == str(
            tmp_path / "epoch=2-val_loss=0.12.ckpt")
        assert mc.format_checkpoint_name({}, filename="x", ver=1) == str(tmp_path / "x-v1.ckpt")
        assert ModelCheckpoint(filename="{step}").format_checkpoint_name({"step": 0}) == "step=0.ckpt"

    def test_dirpath_is_normalised(self, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        assert ModelCheckpoint(dirpath="sub").dirpath == os.path.realpath(tmp_path / "sub")

    def test_state_dict_round_trip(self):
        mc = ModelCheckpoint(monitor="val_loss", save_top_k=2)
        fold(mc, fit_events([5, 3, 4]))
        data = mc.state_dict()
        assert data["best_k_models"] == {"/c/epoch=1-step=4.ckpt": 3.0, "/c/epoch=2-step=6.ckpt": 4.0}
        other = ModelCheckpoint(monitor="val_loss", save_top_k=2)
        other.load_state_dict(data)
        assert other.state == mc.state and other.init == mc.state

    def test_loads_lightning_shaped_state_dict(self):
        mc = ModelCheckpoint(dirpath="/c", monitor="val_loss")
        mc.load_state_dict({"monitor": "val_loss", "best_model_score": 1.5, "best_model_path": "/c/a.ckpt",
                            "current_score": 1.5, "dirpath": "/c", "best_k_models": {"/c/a.ckpt": 1.5},
                            "kth_best_model_path": "/c/a.ckpt", "kth_value": 1.5, "last_model_path": ""})
        assert mc.best_k_models == {"/c/a.ckpt": 1.5} and mc.best_model_score == 1.5
        moved = ModelCheckpoint(dirpath="/elsewhere", monitor="val_loss")
        moved.load_state_dict({"best_model_path": "/c/a.ckpt", "dirpath": "/c", "best_k_models": {"/c/a.ckpt": 1.5},
                               "best_model_score": 1.5})
        assert moved.best_model_path == "/c/a.ckpt" and moved.best_k_models == {}

    def test_repr_and_errors(self):
        assert repr(ModelCheckpoint(monitor="val_loss", save_top_k=2)) == (
            "ModelCheckpoint(monitor='val_loss', save_top_k=2)")
        with pytest.raises(InvalidArgument, match="^model_checkpoint: mode='avg' must be 'min' or 'max'$"):
            ModelCheckpoint(mode="avg")

    def test_in_a_sequence(self):
        mc = ModelCheckpoint(monitor="val_loss")
        _, effects = fold(sequence(mc, model_checkpoint(save_top_k=0, save_last=True)), fit_events([2, 1]))
        assert kept(effects) == ["epoch=1-step=4.ckpt", "last.ckpt"]
