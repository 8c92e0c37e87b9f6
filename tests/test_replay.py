"""replay: a hook over a logged metrics table (Lightning's CSVLogger layout or a list of dicts)."""

from __future__ import annotations

import csv

import pytest

from fhooks.core import Event, fold, on, sequence
from fhooks.core.effects import RemoveCheckpoint, SaveCheckpoint, Stop
from fhooks.errors import InvalidArgument
from fhooks.hooks import early_stopping, model_checkpoint
from fhooks.replay import read_metrics, replay, replay_events
from fhooks.trainer.checkpoint_files import LEDGER

# The table Lightning's CSVLogger wrote for 2 batches/epoch, train_loss logged on step and epoch, val_loss per epoch.
LIGHTNING_ROWS = [
    {"epoch": 0, "step": 0, "train_loss_step": 0.9}, {"epoch": 0, "step": 1, "train_loss_step": 0.8},
    {"epoch": 0, "step": 1, "val_loss": 5.0}, {"epoch": 0, "step": 1, "train_loss_epoch": 0.85},
    {"epoch": 1, "step": 2, "train_loss_step": 0.7}, {"epoch": 1, "step": 3, "train_loss_step": 0.6},
    {"epoch": 1, "step": 3, "val_loss": 3.0}, {"epoch": 1, "step": 3, "train_loss_epoch": 0.65},
    {"epoch": 2, "step": 4, "train_loss_step": 0.5}, {"epoch": 2, "step": 5, "train_loss_step": 0.4},
    {"epoch": 2, "step": 5, "val_loss": 4.0}, {"epoch": 2, "step": 5, "train_loss_epoch": 0.45},
]


def write_csv(path, rows):
    keys = sorted({k for row in rows for k in row})
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    return path


class TestEvents:
    def test_lightning_layout(self):
        events = replay_events(LIGHTNING_ROWS)
        kinds = [(e.kind, e.epoch, e.step) for e in events if e.kind in ("train_batch_end", "validation_end",
                                                                          "train_epoch_end")]
        assert kinds[:4] == [("train_batch_end", 0, 1), ("train_batch_end", 0, 2), ("validation_end", 0, 2),
                             ("train_epoch_end", 0, 2)]
        assert len(kinds) == 12
        assert [e.kind for e in events[:3]] == ["setup", "fit_start", "train_start"]
        assert [e.kind for e in events[-3:]] == ["train_end", "fit_end", "teardown"]

    def test_events_carry_latest_values(self):
        events = replay_events(LIGHTNING_ROWS)
        batch = next(e for e in events if e.kind == "train_batch_end" and e.epoch == 1)
        assert dict(batch.metrics) == {"train_loss_step": 0.7, "val_loss": 5.0, "train_loss_epoch": 0.85}

    def test_rows_without_epoch_or_step(self):
        events = replay_events([{"val_loss": 2.0}, {"val_loss": 1.0}])
        ends = [(e.epoch, e.step) for e in events if e.kind == "validation_end"]
        assert ends == [(0, 1), (1, 2)]

    def test_epoch_columns_override(self):
        rows = [{"epoch": 0, "step": 0, "loss": 1.0}, {"epoch": 1, "step": 1, "loss": 0.5}]
        assert not any(e.kind == "train_batch_end" for e in replay_events(rows))
        events = replay_events(rows, epoch_columns=())
        assert [e.kind for e in events].count("train_batch_end") == 2

    def test_step_offset(self):
        events = replay_events([{"epoch": 0, "step": 4, "val_loss": 1.0}], step_offset=0)
        assert {e.step for e in events if e.kind == "validation_end"} == {4}


class TestReplay:
    def test_checkpoints_kept(self):
        report = replay(model_checkpoint(monitor="val_loss", save_top_k=2), LIGHTNING_ROWS)
        assert report.kept_checkpoints == ("epoch=1-step=4.ckpt", "epoch=2-step=6.ckpt")
        assert report.stopped_epoch is None and report.stop_reasons == ()
        assert report.rows[3].effects == (SaveCheckpoint("epoch=0-step=2.ckpt"),)
        assert report.rows[11].effects == (SaveCheckpoint("epoch=2-step=6.ckpt"),
                                           RemoveCheckpoint("epoch=0-step=2.ckpt"))

    def test_checkpoint_dir(self):
        report = replay(model_checkpoint(), LIGHTNING_ROWS, checkpoint_dir="/runs/ck")
        assert report.kept_checkpoints == ("/runs/ck/epoch=2-step=6.ckpt",)

    def test_early_stopping_stops_and_later_rows_are_not_seen(self):
        rows = [{"epoch": e, "step": e, "val_loss": v} for e, v in enumerate([3.0, 2.0, 2.5, 2.7, 1.0, 0.5])]
        report = replay(early_stopping("val_loss", patience=2), rows)
        assert report.stopped_epoch == 3 and len(report.rows) == 4
        assert report.stop_reasons[0].startswith("Monitored metric val_loss did not improve in the last 2 records")

    def test_stop_on_a_batch_skips_the_epochs_remaining_batches(self):
        stop = on("train_batch_end", lambda e: Stop("loss") if e.metrics.get("train_loss_step", 1) < 0.75 else None)
        report = replay(stop, LIGHTNING_ROWS)
        assert report.stopped_epoch == 1 and report.stop_reasons == ("loss",)
        assert [r.index for r in report.rows] == list(range(8))
        assert report.rows[5].events == ()

    def test_str_lists_effects_and_outcome(self):
        text = str(replay(sequence(model_checkpoint(), early_stopping("val_loss", patience=1)), LIGHTNING_ROWS))
        assert text.splitlines()[0] == ("replay of sequence(model_checkpoint(), early_stopping('val_loss', "
                                        "patience=1)) over 12 rows")
        assert "  row 3 (epoch 0, step 2) train_loss_epoch=0.85" in text
        assert "    -> SaveCheckpoint(path='epoch=0-step=2.ckpt', weights_only=False)" in text
        assert "stopped at epoch 2: " in text and text.endswith("kept checkpoints: epoch=2-step=6.ckpt")

    def test_reads_a_csv_file(self, tmp_path):
        path = write_csv(tmp_path / "metrics.csv", LIGHTNING_ROWS)
        from_file = replay(model_checkpoint(monitor="val_loss"), path)
        from_rows = replay(model_checkpoint(monitor="val_loss"), LIGHTNING_ROWS)
        assert from_file.effects == from_rows.effects and from_file.kept_checkpoints == ("epoch=1-step=4.ckpt",)

    def test_equals_fold_of_its_events(self):
        hook = model_checkpoint(monitor="val_loss", save_top_k=2, save_last=True)
        state, effects = fold(hook, replay_events(LIGHTNING_ROWS))
        report = replay(hook, LIGHTNING_ROWS)
        assert report.effects == effects and report.state == state

    @pytest.mark.parametrize("rows, message", [
        ([3], "replay: each row must be a mapping of column to value, got 3"),
        ([{"val_loss": "high"}], "replay: metric value 'high' is not a number"),
    ])
    def test_bad_input(self, rows, message):
        with pytest.raises(InvalidArgument) as info:
            replay(model_checkpoint(), rows)
        assert str(info.value) == message

    def test_read_metrics_drops_blanks(self):
        assert read_metrics([{"epoch": "1", "a": "", "b": None, "c": "nan"}])[0].keys() == {"epoch", "c"}


class TestRealLightningCSV:
    @pytest.mark.filterwarnings("ignore")
    def test_replay_of_lightning_csv_matches_lightning_checkpoints(self, tmp_path):
        pytest.importorskip("lightning")
        import lightning as L
        import torch
        from lightning.pytorch.callbacks import ModelCheckpoint as LightningModelCheckpoint
        from lightning.pytorch.loggers import CSVLogger
        from torch.utils.data import DataLoader, TensorDataset

        script = [5.0, 3.0, 4.0, 1.0]

        class Module(L.LightningModule):
            def __init__(self):
                super().__init__()
                self.layer = torch.nn.Linear(2, 1)

            def training_step(self, batch, batch_idx):
                loss = self.layer(batch[0]).pow(2).mean()
                self.log("train_loss", loss, on_step=True, on_epoch=True)
                return loss

            def validation_step(self, batch, batch_idx):
                self.log("val_loss", torch.tensor(script[self.current_epoch]))

            def configure_optimizers(self):
                return torch.optim.SGD(self.parameters(), lr=0.01)

        mc = LightningModelCheckpoint(dirpath=tmp_path / "ck", monitor="val_loss", save_top_k=2)
        trainer = L.Trainer(max_epochs=len(script), logger=CSVLogger(tmp_path), callbacks=[mc],
                            enable_progress_bar=False, enable_model_summary=False, log_every_n_steps=1)
        data = DataLoader(TensorDataset(torch.randn(4, 2)), batch_size=2)
        trainer.fit(Module(), data, DataLoader(TensorDataset(torch.randn(2, 2)), batch_size=2))
        report = replay(model_checkpoint(monitor="val_loss", save_top_k=2),
                        tmp_path / "lightning_logs" / "version_0" / "metrics.csv")
        assert sorted(report.kept_checkpoints) == sorted(p.name for p in (tmp_path / "ck").iterdir() if p.name != LEDGER)
        assert report.state.best_model_score == float(mc.best_model_score)


class TestReplayOfAnFhooksRun:
    def test_the_default_logs_of_a_real_run_replay_to_its_decisions(self, tmp_path):
        torch = pytest.importorskip("torch")
        from fhooks import Trainer
        from fhooks.callbacks import EarlyStopping, ModelCheckpoint
        from tests.models import Regressor, loader

        class Scripted(Regressor):
            """Validation losses from a script, so the run stops and keeps known checkpoints."""

            script = [5.0, 3.0, 4.0, 2.0, 2.5, 2.6, 2.7, 1.0]

            def validation_step(self, batch, batch_idx):
                return {"val_loss": torch.tensor(self.script[self.trainer.current_epoch])}

        def expression():
            return [ModelCheckpoint(monitor="val_loss", save_top_k=2), EarlyStopping("val_loss", patience=2)]

        trainer = Trainer(callbacks=expression(), max_epochs=8, default_root_dir=tmp_path, num_sanity_val_steps=0,
                          enable_progress_bar=False, enable_model_summary=False)
        trainer.fit(Scripted(), loader(n=32), loader(n=16))
        kept = sorted(p.name for p in (tmp_path / "lightning_logs" / "version_0" / "checkpoints").iterdir()
                      if p.name != LEDGER)

        report = replay(sequence(*expression()), tmp_path / "lightning_logs" / "version_0" / "metrics.csv")
        assert (report.stopped_epoch, trainer.current_epoch - 1) == (5, 5)  # best 2.0 at epoch 3, patience 2
        assert sorted(report.kept_checkpoints) == kept == ["epoch=3-step=16.ckpt", "epoch=4-step=20.ckpt"]
        assert report.stop_reasons == tuple(trainer.stop_reasons)
