"""replay's picture, sweep and command line; and its counters checked when read."""

from __future__ import annotations

import math

import pytest

from fhooks.cli import main, values
from fhooks.core import sequence
from fhooks.errors import InvalidArgument
from fhooks.hooks import early_stopping, model_checkpoint
from fhooks.replay import replay
from fhooks.replay_plot import checkpoint_epochs
from fhooks.replay_sweep import monitored, sweep
from tests.test_replay import write_csv

LOSSES = [1.0, 0.5, 0.6, 0.7, 0.4, 0.8, 0.9, 0.3]
ROWS = [{"epoch": e, "step": 2 * e + 1, "val_loss": v} for e, v in enumerate(LOSSES)]


def policy(patience=2, save_top_k=1):
    return sequence(model_checkpoint(monitor="val_loss", save_top_k=save_top_k),
                    early_stopping("val_loss", patience=patience))


class TestCounters:
    @pytest.mark.parametrize(("name", "value"), [("epoch", math.nan), ("epoch", math.inf), ("epoch", 1.5),
                                                 ("step", -1), ("step", "nan")])
    def test_epoch_and_step_must_be_whole_numbers(self, name, value):
        rows = [{"epoch": 0, "step": 0, "val_loss": 1.0}, {"epoch": 1, "step": 1, "val_loss": 2.0, name: value}]
        with pytest.raises(InvalidArgument) as info:
            replay(early_stopping("val_loss"), rows)
        assert str(info.value) == (f"replay: row 1 has {name}={float(value)!r}; {name} must be a whole number >= 0 "
                                   "(or blank)")

    def test_nan_epoch_in_a_csv(self, tmp_path):
        path = write_csv(tmp_path / "metrics.csv", [{"epoch": "nan", "step": 0, "val_loss": 1.0}])
        with pytest.raises(InvalidArgument, match=r"^replay: row 0 has epoch=nan; epoch must be a whole number"):
            replay(early_stopping("val_loss"), path)


class TestSweep:
    def test_one_row_per_setting_each_equal_to_its_own_replay(self):
        report = sweep(policy, ROWS, patience=range(1, 5))
        for row in report.rows:
            alone = replay(policy(**row.settings), ROWS)
            assert (row.stopped_epoch, row.kept_checkpoints) == (alone.stopped_epoch, alone.kept_checkpoints)
        assert [(r.stopped_epoch, r.best) for r in report.rows] == [(2, 0.5), (3, 0.5), (None, 0.3), (None, 0.3)]

    def test_grid_is_every_combination_in_order(self):
        report = sweep(policy, ROWS, patience=[1, 3], save_top_k=[1, 2])
        assert [tuple(r.settings.values()) for r in report.rows] == [(1, 1), (1, 2), (3, 1), (3, 2)]
        assert report.rows[3].kept_checkpoints == ("epoch=4-step=10.ckpt", "epoch=7-step=16.ckpt")  # the 2 best

    def test_table(self):
        assert str(sweep(policy, ROWS, patience=[1, 4])).splitlines() == [
            "patience  stop epoch  best val_loss  kept checkpoints",
            "1         2           0.5            epoch=1-step=4.ckpt",
            "4         never       0.3            epoch=7-step=16.ckpt",
        ]

    def test_best_follows_the_mode(self):
        rows = [{"epoch": e, "step": e, "acc": v} for e, v in enumerate([0.5, 0.7, 0.6, 0.6])]
        report = sweep(lambda patience: early_stopping("acc", mode="max", patience=patience), rows, patience=[2])
        assert report.rows[0].best == 0.7

    def test_needs_values(self):
        with pytest.raises(InvalidArgument, match=r"^sweep: give each setting at least one value"):
            sweep(policy, ROWS, patience=[])

    def test_needs_a_metric(self):
        with pytest.raises(InvalidArgument, match=r"monitors no metric; pass metric="):
            sweep(lambda n: model_checkpoint(every_n_epochs=n), ROWS, n=[1])

    def test_monitored(self):
        assert monitored(policy()) == ("val_loss", "min")


class TestPlot:
    def test_draws_the_metric_the_stop_and_the_kept_checkpoints(self, tmp_path):
        pytest.importorskip("matplotlib")
        report = replay(policy(save_top_k=2), ROWS)
        figure = report.plot(path=tmp_path / "replay.png")
        ax = figure.axes[0]
        labels = [text.get_text() for text in ax.get_legend().get_texts()]
        assert labels == ["val_loss (replayed)", "after the stop (the logged run went on)", "would stop at epoch 3",
                          "kept checkpoints (2)"]
        assert list(ax.lines[0].get_ydata()) == LOSSES[:4]
        assert checkpoint_epochs(report) == {"epoch=1-step=4.ckpt": 1, "epoch=2-step=6.ckpt": 2}
        assert (tmp_path / "replay.png").stat().st_size > 0
        import matplotlib.pyplot as plt

        plt.close(figure)

    def test_unknown_metric(self):
        pytest.importorskip("matplotlib")
        with pytest.raises(InvalidArgument, match=r"^plot: metric 'val_acc' is not in the table \(have: val_loss\)$"):
            replay(policy(), ROWS).plot("val_acc")


class TestCommandLine:
    def test_one_setting_prints_the_replay(self, tmp_path, capsys):
        path = write_csv(tmp_path / "metrics.csv", ROWS)
        assert main(["replay", str(path), "--early-stopping", "val_loss", "--patience", "2"]) == 0
        out = capsys.readouterr().out
        assert out == str(replay(policy(patience=2), str(path))) + "\n"
        assert "stopped at epoch 3" in out

    def test_a_range_prints_one_row_per_setting(self, tmp_path, capsys):
        path = write_csv(tmp_path / "metrics.csv", ROWS)
        assert main(["replay", str(path), "--early-stopping", "val_loss", "--patience", "1..10"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0] == "patience  stop epoch  best val_loss  kept checkpoints"
        assert len(lines) == 11
        assert lines[1].split() == ["1", "2", "0.5", "epoch=1-step=4.ckpt"]

    def test_plot_option(self, tmp_path, capsys):
        pytest.importorskip("matplotlib")
        path = write_csv(tmp_path / "metrics.csv", ROWS)
        assert main(["replay", str(path), "--early-stopping", "val_loss", "--plot", str(tmp_path / "r.png")]) == 0
        assert (tmp_path / "r.png").is_file()

    def test_missing_file_is_a_clear_error(self, capsys):
        assert main(["replay", "nothere.csv", "--early-stopping", "val_loss"]) == 2
        assert "No such file or directory: 'nothere.csv'" in capsys.readouterr().err

    def test_bad_patience_is_refused_by_the_parser(self, capsys):
        with pytest.raises(SystemExit):
            main(["replay", "m.csv", "--early-stopping", "val_loss", "--patience", "x"])
        assert "'x' is not a int" in capsys.readouterr().err

    def test_values(self):
        assert values("3") == [3] and values("2..4") == [2, 3, 4] and values("1,5") == [1, 5]
