"""RichProgressBar and RichModelSummary: output recorded with a recording rich console."""

from __future__ import annotations

import io
import re
import sys

import pytest

import fhooks.display  # noqa: F401  (registers the Render handler)
from fhooks import Trainer
from fhooks.callbacks.model_summary import RichModelSummary
from fhooks.callbacks.progress import RichProgressBar, RichProgressBarTheme
from fhooks.errors import InvalidArgument
from tests.models import Regressor, loader


def record(callbacks, bar, **fit):
    summary = any(isinstance(c, RichModelSummary) for c in callbacks)
    trainer = Trainer(callbacks=callbacks, enable_checkpointing=False, num_sanity_val_steps=0, logger=False,
                      enable_model_summary=summary, max_epochs=fit.pop("epochs", 2))
    trainer.fit(Regressor(), loader(56), loader(16) if fit.pop("val", True) else None)
    return bar.console.export_text(), trainer


def recording_bar(**kwargs):
    return RichProgressBar(console_kwargs={"record": True, "file": io.StringIO(), "width": 120}, **kwargs)


class TestRichBar:
    def test_final_train_bar(self):
        bar = recording_bar()
        text, trainer = record([bar], bar)
        lines = text.splitlines()
        assert len(lines) == 1  # the validation task is hidden after use; the train bar is reset each epoch
        line = lines[0]
        assert line.startswith("Epoch 1/1  ")
        assert re.search(r" 7/7 \d:\d\d:\d\d • \d:\d\d:\d\d [\d.]+it/s val_loss: \d+\.\d{3} loss: \d+\.\d{3}$", line)
        assert f"val_loss: {trainer.callback_metrics['val_loss']:.3f}" in line

    def test_leave_keeps_every_epoch(self):
        bar = recording_bar(leave=True)
        text, _ = record([bar], bar, epochs=3, val=False)
        assert [line.split()[:2] for line in text.splitlines()] == [["Epoch", "0/2"], ["Epoch", "1/2"],
                                                                      ["Epoch", "2/2"]]

    def test_theme_metrics_format_and_delimiter(self):
        bar = recording_bar(theme=RichProgressBarTheme(metrics_format=".1e", metrics_text_delimiter=" | "))
        text, _ = record([bar], bar)
        assert re.search(r"val_loss: \d\.\de[+-]\d\d \| loss: \d\.\de[+-]\d\d$", text.splitlines()[0])

    def test_summary_shares_the_console(self):
        bar = recording_bar()
        text, _ = record([bar, RichModelSummary(header_style="bold")], bar, epochs=1)
        assert re.search(r"│ 0 │ net  │ Sequential │ +97 │ train │", text)
        assert re.search(r"Total params:\s+97", text)
        assert text.index("Total params") < text.index("Epoch 0/0")

    def test_refresh_rate_zero_draws_nothing(self):
        bar = RichProgressBar(refresh_rate=0, console_kwargs={"record": True, "file": io.StringIO()})
        Trainer(callbacks=[bar], max_epochs=1, enable_checkpointing=False, enable_model_summary=False).fit(
            Regressor(), loader(16))
        assert bar.console is None


class TestErrors:
    def test_unknown_theme_key(self):
        with pytest.raises(InvalidArgument) as info:
            RichProgressBarTheme(progress_bar_colour="red")
        assert str(info.value) == (
            "RichProgressBarTheme: unknown key 'progress_bar_colour' (did you mean 'progress_bar'?); accepted "
            "keys: description, progress_bar, progress_bar_finished, progress_bar_pulse, batch_progress, time, "
            "processing_speed, metrics, metrics_text_delimiter, metrics_format")

    def test_theme_values_are_styles(self):
        with pytest.raises(InvalidArgument, match=r"^RichProgressBarTheme: time=3 must be a string \(a rich style\)$"):
            RichProgressBarTheme(time=3)

    def test_bad_theme_and_console_kwargs(self):
        with pytest.raises(InvalidArgument, match=r"^RichProgressBar: theme='dark' must be a RichProgressBarTheme$"):
            RichProgressBar(theme="dark")
        with pytest.raises(InvalidArgument, match=r"^RichProgressBar: console_kwargs=\[1\] must be a dict or None$"):
            RichProgressBar(console_kwargs=[1])

    @pytest.mark.parametrize("cls", [RichProgressBar, RichModelSummary])
    def test_rich_missing(self, cls, monkeypatch):
        monkeypatch.setitem(sys.modules, "rich", None)
        with pytest.raises(ModuleNotFoundError) as info:
            cls()
        assert str(info.value) == f"{cls.__name__} needs the rich package, which is not installed: pip install 'fhooks[rich]'"
