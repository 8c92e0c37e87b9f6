"""Checkpoint file names: Lightning's templating rules (LIGHTNING_SPEC §3.6)."""

import pytest

from fhooks.errors import InvalidArgument
from fhooks.hooks.checkpoint_names import Naming, candidates, checkpoint_path, format_name


class TestFormatName:
    @pytest.mark.parametrize("template, metrics, auto, expected", [
        (None, {"epoch": 3, "step": 40}, True, "epoch=3-step=40"),
        ("", {"epoch": 3, "step": 40}, True, "epoch=3-step=40"),
        ("{epoch:03d}", {"epoch": 5}, True, "epoch=005"),
        ("{epoch}-{val_loss:.2f}", {"epoch": 2, "val_loss": 0.123456}, True, "epoch=2-val_loss=0.12"),
        ("epoch={epoch}-validation_loss={val_loss:.2f}", {"epoch": 2, "val_loss": 0.123456}, False,
         "epoch=2-validation_loss=0.12"),
        ("{epoch}-{epoch_test}", {"epoch": 2, "epoch_test": 7}, True, "epoch=2-epoch_test=7"),
        ("{missing:d}", {}, True, "missing=0"),
        ("{val/loss:.2f}", {"val/loss": 0.5}, True, "val/loss=0.50"),
        ("{acc@1:.1f}", {"acc@1": 0.25}, True, "acc@1=0.2"),
        ("{top.k}", {"top.k": 3}, True, "top.k=3"),
        ("{acc:.2f}", {"acc": 1}, True, "acc=1.00"),
        ("plain", {}, True, "plain"),
    ])
    def test_templates(self, template, metrics, auto, expected):
        assert format_name(template, metrics, auto_insert=auto) == expected

    def test_join_and_equals_chars(self):
        naming = Naming(join="_", equals=":")
        assert format_name(None, {"epoch": 1, "step": 2}, naming=naming) == "epoch:1_step:2"

    def test_unformattable_value_names_the_template(self):
        with pytest.raises(InvalidArgument, match=r"^model_checkpoint: cannot format filename '\{loss:d\}' with "
                                                  r"metrics \{'loss': 0.5\}: "):
            format_name("{loss:d}", {"loss": 0.5})


class TestCheckpointPath:
    @pytest.mark.parametrize("kwargs, expected", [
        (dict(), "epoch=1-step=2.ckpt"),
        (dict(dirpath="/d"), "/d/epoch=1-step=2.ckpt"),
        (dict(ver=1), "epoch=1-step=2-v1.ckpt"),
        (dict(prefix="run", ver=3, dirpath="d"), "d/run-epoch=1-step=2-v3.ckpt"),
        (dict(naming=Naming(extension=".pt")), "epoch=1-step=2.pt"),
    ])
    def test_parts(self, kwargs, expected):
        assert checkpoint_path(None, {"epoch": 1, "step": 2}, **kwargs) == expected

    def test_filename_x_version_1(self):
        assert checkpoint_path("x", {}, ver=1) == "x-v1.ckpt"


class TestCandidates:
    def test_counters_added(self):
        assert candidates({"a": 1.5}, 2, 7) == {"a": 1.5, "epoch": 2, "step": 7}

    def test_logged_epoch_and_step_win_and_become_ints(self):
        assert candidates({"epoch": 123.0, "step": 9.7}, 2, 7) == {"epoch": 123, "step": 9}

    def test_non_finite_logged_counter_falls_back(self):
        assert candidates({"epoch": float("nan")}, 2, 7)["epoch"] == 2
