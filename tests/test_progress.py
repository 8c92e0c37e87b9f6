"""Progress bars: the pure hook's renders, and what a person sees from a real Trainer run (tqdm and plain lines)."""

from __future__ import annotations

import io
import math
import re
import sys

import pytest
import torch

import fhooks.display  # noqa: F401  (registers the Render handler)
from fhooks import Trainer
from fhooks.callbacks.progress import ProgressBar, TQDMProgressBar, standard_metrics
from fhooks.core import Event, fold, from_data, to_data
from fhooks.core.events import BatchData, RunInfo
from fhooks.display.tqdm_renderer import Bar
from fhooks.errors import InvalidArgument
from fhooks.hooks.progress import Render, RichStyle, TqdmStyle, progress_bar
from tests.models import Regressor, loader


class FakeTerminal(io.StringIO):
    """Captured stdout that says it is a terminal, so the tqdm renderer draws real bars."""

    def isatty(self) -> bool:
        return True


class Logger:
    version = 7

    def log_metrics(self, metrics, step):
        pass


@pytest.fixture
def every_draw(monkeypatch):
    monkeypatch.setenv("FHOOKS_PROGRESS_MININTERVAL", "0")
    monkeypatch.setenv("FHOOKS_PROGRESS_INTERVAL", "0")


def run_fit(callbacks, *, n=56, val=16, epochs=2, sanity=0, logger=False, tty=True):
    out = FakeTerminal() if tty else io.StringIO()
    saved, sys.stdout = sys.stdout, out
    try:
        trainer = Trainer(callbacks=callbacks, max_epochs=epochs, enable_checkpointing=False,
                          enable_model_summary=False, num_sanity_val_steps=sanity, logger=logger)
        trainer.fit(Regressor(), loader(n), loader(val) if val else None)
    finally:
        sys.stdout = saved
    return out.getvalue(), trainer


def frames(text: str, prefix: str) -> list[str]:
    return [f for f in re.split(r"[\r\n]", text) if f.startswith(prefix)]


def counts(text: str, prefix: str) -> list[str]:
    return [re.search(r"\| (\S+/\S+) \[", f).group(1) for f in frames(text, prefix)]


class TestTqdmOutput:
    def test_refresh_cadence_and_counts(self, every_draw):
        text, _ = run_fit([TQDMProgressBar(refresh_rate=3)])
        # start, 3, 6, 7 (the last batch), then the epoch's close
        assert counts(text, "Epoch 0:") == ["0/7", "3/7", "6/7", "7/7", "7/7"]
        assert counts(text, "Epoch 1:")[-1] == "7/7"
        assert counts(text, "Validation:") == ["0/2", "2/2", "2/2"] * 2

    def test_refresh_rate_one_shows_every_batch(self, every_draw):
        text, _ = run_fit([TQDMProgressBar()], epochs=1, val=0)
        assert counts(text, "Epoch 0:") == ["0/7", *(f"{i}/7" for i in range(1, 8)), "7/7", "7/7"]

    def test_postfix_shows_v_num_loss_and_validation_metrics(self, every_draw):
        text, trainer = run_fit([TQDMProgressBar(refresh_rate=7)], logger=Logger())
        last = frames(text, "Epoch 1:")[-1]
        assert re.search(r"v_num=7, val_loss=\d+\.\d+, loss=\d+\.\d+\]$", last), last
        val_loss = trainer.callback_metrics["val_loss"]
        assert f"val_loss={Bar.format_num(val_loss)}" in last

    def test_first_epoch_shows_only_the_step_loss(self, every_draw):
        text, _ = run_fit([TQDMProgressBar(refresh_rate=7)])
        assert re.search(r"7/7 \[.*, loss=\d+\.\d+\]$", frames(text, "Epoch 0:")[1])

    def test_sanity_bar_counts_the_sanity_batches(self, every_draw):
        text, _ = run_fit([TQDMProgressBar()], sanity=1, epochs=1)
        assert counts(text, "Sanity Checking:") == ["0/1", "1/1", "1/1"]

    def test_refresh_rate_zero_and_disable_show_nothing(self, every_draw):
        assert run_fit([TQDMProgressBar(refresh_rate=0)])[0] == ""
        bar = TQDMProgressBar()
        bar.disable()
        assert run_fit([bar])[0] == ""
        assert not bar.is_enabled and bar.total_train_batches == 7 and bar.total_val_batches == 2

    def test_leave_keeps_one_line_per_epoch(self, every_draw):
        text, _ = run_fit([TQDMProgressBar(refresh_rate=7, leave=True)], val=0, epochs=3)
        finished = [line for line in text.split("\n") if "7/7" in line]
        assert [re.findall(r"Epoch \d", line)[-1] for line in finished] == ["Epoch 0", "Epoch 1", "Epoch 2"]

    def test_get_metrics_override(self, every_draw):
        class NoLoss(TQDMProgressBar):
            def get_metrics(self, trainer, pl_module):
                return {"lr": trainer.optimizers[0].param_groups[0]["lr"]}

        text, _ = run_fit([NoLoss(refresh_rate=7)], val=0, epochs=1)
        assert re.search(r"lr=0\.010, loss=", frames(text, "Epoch 0:")[1])

    def test_a_subclass_on_methods_run_as_lightning_calls_them(self, every_draw):
        seen = []

        class Announcing(TQDMProgressBar):
            def on_train_epoch_end(self, trainer, pl_module):
                seen.append(("epoch_end", trainer.current_epoch, self.total_train_batches))

            def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
                seen.append(("batch_end", batch_idx))

        text, _ = run_fit([Announcing(refresh_rate=7)], val=0, epochs=2)
        assert seen == [*(("batch_end", i) for i in range(7)), ("epoch_end", 0, 7),
                        *(("batch_end", i) for i in range(7)), ("epoch_end", 1, 7)]
        assert counts(text, "Epoch 1:")[-1] == "7/7"  # the bar still draws

    def test_test_and_predict_bars(self, every_draw):
        trainer = Trainer(callbacks=[TQDMProgressBar()], enable_checkpointing=False, logger=False)
        out = FakeTerminal()
        saved, sys.stdout = sys.stdout, out
        try:
            trainer.test(Regressor(), loader(24))
            trainer.test(Regressor(), iter(list(loader(24))))  # no len(): the total is not known
            trainer.predict(Regressor(), loader(16))
        finally:
            sys.stdout = saved
        text = out.getvalue()
        finished = [c for c in counts(text, "Testing:") if c.startswith("3/")]
        assert (finished[0], finished[-1]) == ("3/3", "3/?")
        assert counts(text, "Predicting:")[-1] == "2/2"


class TestPlainLines:
    def test_lines_when_stdout_is_not_a_terminal(self, every_draw):
        text, _ = run_fit([TQDMProgressBar(refresh_rate=4)], epochs=1, tty=False)
        assert "\r" not in text
        lines = text.splitlines()
        assert [re.sub(r" \[.*", "", line) for line in lines] == [
            "Epoch 0: 4/7", "Epoch 0: 7/7", "Validation: 2/2", "Epoch 0: 7/7"]
        assert re.fullmatch(r"Epoch 0: 4/7 \[00:00\] loss=\d+\.\d{3}", lines[0])

    def test_lines_are_periodic(self, monkeypatch):
        monkeypatch.setenv("FHOOKS_PROGRESS_INTERVAL", "3600")
        monkeypatch.setenv("FHOOKS_PROGRESS_MININTERVAL", "0")
        text, _ = run_fit([TQDMProgressBar()], epochs=2, val=0, tty=False)
        # the first update prints, later ones wait for the interval; each epoch's end always prints
        assert [re.sub(r" \[.*", "", line) for line in text.splitlines()] == [
            "Epoch 0: 1/7", "Epoch 0: 7/7", "Epoch 1: 7/7"]


class TestPureHook:
    def stream(self):
        info = RunInfo(max_epochs=1, num_training_batches=5, num_val_batches=2)
        events = [Event("setup", data=info), Event("fit_start", data=info), Event("train_start"),
                  Event("train_epoch_start")]
        events += [Event("train_batch_end", batch_idx=i, step=i + 1, metrics={"loss": float(i)}) for i in range(5)]
        events += [Event("validation_start"), *(Event("validation_batch_end", batch_idx=i, data=BatchData(i))
                                                for i in range(2)), Event("validation_end", metrics={"val_loss": 0.5})]
        return events + [Event("train_epoch_end", metrics={"val_loss": 0.5, "loss": 2.0}), Event("train_end")]

    def test_renders(self):
        effects = fold(progress_bar(refresh_rate=2, min_interval=0), self.stream())[1]
        assert [(r.bar, r.action, r.count, r.total) for r in effects] == [
            ("train", "start", 0, 5), ("train", "update", 2, 5), ("train", "update", 4, 5),
            ("train", "update", 5, 5), ("validation", "start", 0, 2), ("validation", "update", 2, 2),
            ("validation", "close", 2, 2), ("train", "close", 5, 5), ("all", "close", 0, None)]
        assert effects[3].step_metrics == {"loss": 4.0} and effects[3].metrics == {}
        assert effects[-2].metrics == {"val_loss": 0.5, "loss": 2.0}

    def test_other_ranks_and_rate_zero_render_nothing(self):
        assert fold(progress_bar(0), self.stream())[1] == ()
        ranked = [Event(e.kind, e.stage, e.epoch, e.step, e.batch_idx, e.time, e.metrics, e.data, 1)
                  for e in self.stream()]
        state, effects = fold(progress_bar(), ranked)
        assert effects == () and state.train == 5

    def test_rich_description_pads_epoch(self):
        effects = fold(progress_bar(style=RichStyle()), self.stream()[:4])[1]
        assert effects[0].description == "Epoch 0/0 "

    def test_max_steps_caps_the_total_when_epochs_are_unlimited(self):
        info = RunInfo(max_epochs=-1, max_steps=3, num_training_batches=5)
        effects = fold(progress_bar(), [Event("fit_start", data=info), Event("train_epoch_start")])[1]
        assert effects[0].total == 3

    @pytest.mark.parametrize("rate, message", [
        (-1, "progress_bar: refresh_rate=-1 must be an int >= 0 (0 turns the bar off)"),
        (1.5, "progress_bar: refresh_rate=1.5 must be an int >= 0 (0 turns the bar off)"),
    ])
    def test_bad_refresh_rate(self, rate, message):
        with pytest.raises(InvalidArgument) as info:
            TQDMProgressBar(refresh_rate=rate)
        assert str(info.value) == message

    def test_bad_style_and_position(self):
        with pytest.raises(InvalidArgument, match=r"^progress_bar: style='fancy' must be a TqdmStyle or a RichStyle$"):
            progress_bar(style="fancy")
        with pytest.raises(InvalidArgument, match=r"^TQDMProgressBar: process_position=-1 must be an int >= 0$"):
            TQDMProgressBar(process_position=-1)

    def test_repr_and_equality(self):
        assert repr(progress_bar(3)) == "progress_bar(refresh_rate=3)"
        assert repr(TQDMProgressBar(2, 1, True)) == "TQDMProgressBar(refresh_rate=2, process_position=1, leave=True)"
        assert Render("train", "update", source=object()) == Render("train", "update")
        assert progress_bar(style=TqdmStyle(1)) != progress_bar()


class TestLightningFacts:
    @pytest.mark.parametrize("value, shown", [
        (0.5, "0.500"), (1.23456789, "1.230"), (10.0, "10.00"), (1e-5, "1e-5"), (123456.0, "1.23e+5"),
        ("1", "1.000"), ("abc", "abc"), (3, "3"), (float("nan"), "nan")])
    def test_format_num(self, value, shown):
        assert Bar.format_num(value) == shown

    def test_miniters_env_raises_the_rate(self, monkeypatch):
        monkeypatch.setenv("TQDM_MINITERS", "5")
        assert TQDMProgressBar(refresh_rate=2).refresh_rate == 5

    def test_v_num(self):
        class Named:
            loggers = [type("L", (), {"version": "version_12345"})()]

        assert standard_metrics(Named()) == {"v_num": "2345"}
        assert standard_metrics(type("T", (), {"loggers": []})()) == {}

    def test_trainer_reference(self, every_draw):
        bar = ProgressBar()
        with pytest.raises(TypeError, match="has not been set yet"):
            bar.trainer
        _, trainer = run_fit([bar], epochs=1, val=0)
        assert bar.trainer is trainer and isinstance(torch.tensor(0), torch.Tensor)


class TestHeldBackUpdates:
    def test_the_held_count_is_drawn_before_validation_starts_mid_epoch(self, monkeypatch):
        monkeypatch.setenv("FHOOKS_PROGRESS_MININTERVAL", "3600")  # every update but the first and last is held
        out = FakeTerminal()
        saved, sys.stdout = sys.stdout, out
        try:
            trainer = Trainer(callbacks=[TQDMProgressBar()], max_epochs=1, enable_checkpointing=False, logger=False,
                              enable_model_summary=False, num_sanity_val_steps=0, val_check_interval=3)
            trainer.fit(Regressor(), loader(56), loader(16))
        finally:
            sys.stdout = saved
        text = out.getvalue()
        # the start and the first update, then the held 3/7 drawn as validation starts after batch 3, again the
        # held 6/7 after batch 6, then the last batch (always drawn), the close and tqdm's own final frame
        assert counts(text, "Epoch 0:") == ["0/7", "1/7", "3/7", "6/7", "7/7", "7/7", "7/7"]
        flushed = frames(text, "Epoch 0:")[2]
        assert re.search(r"loss=\d+\.\d+\]\s*$", flushed)  # with the step metrics of the held batch (tqdm may pad)
        assert text.index("| 3/7 [") < text.index("Validation:")

    def test_the_display_of_a_resumed_state_draws_at_once(self):
        info = RunInfo(max_epochs=1, num_training_batches=None)
        hook = progress_bar(min_interval=3600)
        state = fold(hook, [Event("fit_start", data=info), Event("train_epoch_start", time=50.0),
                            Event("train_batch_end", batch_idx=0, time=50.0)])[0]
        assert state.drawn_at == 50.0
        resumed = from_data(to_data(state))
        assert resumed == state and resumed.drawn_at == -math.inf
        # a later run's clock starts at 0 again: its first update is drawn, not held until t=3650
        later = fold(hook, [Event("train_epoch_start", time=0.0), Event("train_batch_end", batch_idx=0, time=0.1)],
                     state)[1]
        assert [(r.action, r.count) for r in later] == [("start", 0), ("update", 1)]

    def test_a_held_update_keeps_no_reference_to_the_batch(self):
        import gc
        import weakref

        hook = progress_bar(min_interval=3600)
        batch = torch.ones(1000)
        seen = weakref.ref(batch)
        state = hook.init
        for i in range(2):
            event = Event("train_batch_end", batch_idx=i, time=float(i), metrics={"loss": 0.5}, data=BatchData(batch))
            state, effects = hook.step(state, event)
        del batch, event
        gc.collect()
        assert seen() is None
        assert effects == () and state.held == (("train", 2, {"loss": 0.5}),)

    def test_min_interval_argument_and_environment(self, monkeypatch):
        assert repr(progress_bar(min_interval=0)) == "progress_bar(min_interval=0.0)"
        monkeypatch.setenv("FHOOKS_PROGRESS_MININTERVAL", "2.5")
        assert progress_bar().min_interval == 2.5 and TQDMProgressBar().hook.min_interval == 2.5
        monkeypatch.delenv("FHOOKS_PROGRESS_MININTERVAL")
        assert progress_bar().min_interval == 0.1 and repr(progress_bar()) == "progress_bar()"

    @pytest.mark.parametrize("value, message", [
        (-1, "progress_bar: min_interval=-1 must be a number of seconds >= 0 (0 draws every update)"),
        ("0.1", "progress_bar: min_interval='0.1' must be a number of seconds >= 0 (0 draws every update)"),
        (float("nan"), "progress_bar: min_interval=nan must be a number of seconds >= 0 (0 draws every update)"),
    ])
    def test_bad_min_interval(self, value, message):
        with pytest.raises(InvalidArgument) as info:
            progress_bar(min_interval=value)
        assert str(info.value) == message

    @pytest.mark.parametrize("text, message", [
        ("fast", "progress_bar: FHOOKS_PROGRESS_MININTERVAL='fast' must be a number of seconds >= 0"),
        ("-2", "progress_bar: FHOOKS_PROGRESS_MININTERVAL='-2' must be a number of seconds >= 0 (0 draws every update)"),
    ])
    def test_bad_min_interval_in_the_environment(self, monkeypatch, text, message):
        monkeypatch.setenv("FHOOKS_PROGRESS_MININTERVAL", text)
        with pytest.raises(InvalidArgument) as info:
            TQDMProgressBar()
        assert str(info.value) == message
