"""Checkpoint files: nothing outside the checkpoint folder, nothing this run did not write, no torn state after a kill.

Each test here failed on the code before the file-safety work (issue 9, items 3, 5, 6, 10 and the
ModelCheckpoint argument checks of item 12); they run in a real working directory with relative paths.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import signal
import subprocess
import sys
import textwrap

import pytest
import torch

from fhooks import Do, RemoveCheckpoint, Trainer, fold, lambda_hook, on
from fhooks.callbacks import ModelCheckpoint
from fhooks.core.effects import SaveCheckpoint
from fhooks.core.events import Event, RunInfo
from fhooks.errors import CheckpointClash, CheckpointFolderBusy, InvalidArgument
from fhooks.hooks import model_checkpoint
from fhooks.hooks.checkpoint_steps import LinkCheckpoint
from fhooks.loggers import CSVLogger
from fhooks.trainer.checkpoint_files import LEDGER
from fhooks.trainer.checkpoint_links import link_checkpoint
from tests.models import Regressor, loader

QUIET = dict(logger=False, enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0)


def fit(callbacks, max_epochs=1, ckpt_path=None, module=None, val=False, **kwargs):
    trainer = Trainer(callbacks=callbacks, max_epochs=max_epochs, **{**QUIET, **kwargs})
    trainer.fit(module or Regressor(), loader(16), loader(8) if val else None, ckpt_path=ckpt_path)
    return trainer


def files(folder) -> list[str]:
    """Every file below ``folder``, relative, fhooks' ledger left out."""
    folder = pathlib.Path(folder)
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p.name != LEDGER)


@pytest.fixture
def cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


class TestRelativeRootDir:
    def test_checkpoint_lands_once_under_a_relative_default_root_dir(self, cwd):
        trainer = Trainer(default_root_dir="runs", max_epochs=2, enable_progress_bar=False,
                          enable_model_summary=False)
        trainer.fit(Regressor(), loader(16))
        mc = next(c for c in trainer.callbacks if isinstance(c, ModelCheckpoint))
        assert files(cwd / "runs") == ["lightning_logs/version_0/checkpoints/epoch=1-step=4.ckpt"]  # no hparams: no yaml
        assert os.path.isfile(mc.best_model_path)
        assert os.path.samefile(mc.best_model_path, "runs/lightning_logs/version_0/checkpoints/epoch=1-step=4.ckpt")

    def test_relative_dirpath_is_the_working_directory_s(self, cwd):
        mc = ModelCheckpoint(dirpath="ckpts")
        fit([mc], default_root_dir="elsewhere")
        assert files(cwd / "ckpts") == ["epoch=0-step=2.ckpt"] and not (cwd / "elsewhere").exists()
        assert os.path.isfile(mc.best_model_path)


def replace_strings(value, old, new):
    """``value`` (a checkpoint's nested data) with every string ``old`` replaced by ``new``."""
    if isinstance(value, str):
        return new if value == old else value
    if isinstance(value, dict):
        return {k: replace_strings(v, old, new) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(replace_strings(v, old, new) for v in value)
    return value


class TestNothingOutsideTheFolder:
    def test_a_tampered_checkpoint_cannot_make_it_delete_a_file_outside(self, cwd):
        victim = cwd / "victim.txt"
        victim.write_text("keep me")
        folder = cwd / "a" / "ckpts"
        fit([ModelCheckpoint(dirpath="a/ckpts")])
        real = str(folder / "epoch=0-step=2.ckpt")
        checkpoint = torch.load(real, weights_only=True)
        tampered = replace_strings(checkpoint, real, f"{folder}/../../victim.txt")
        assert tampered != checkpoint  # the hook state did name the file
        torch.save(tampered, "tampered.ckpt")
        fit([ModelCheckpoint(dirpath="a/ckpts")], max_epochs=2, ckpt_path="tampered.ckpt")
        assert victim.read_text() == "keep me"
        assert files(folder) == ["epoch=0-step=2.ckpt", "epoch=1-step=4.ckpt"]

    def test_the_trainer_refuses_a_removal_outside_the_folder_whoever_asks(self, cwd):
        victim = cwd / "victim.txt"
        victim.write_text("keep me")
        rogue = lambda_hook(on_train_end=lambda e: RemoveCheckpoint(str(cwd / "ckpts" / ".." / "victim.txt")))
        with pytest.warns(UserWarning, match="kept"):
            fit([ModelCheckpoint(dirpath="ckpts"), rogue])
        assert victim.read_text() == "keep me"

    def test_the_trainer_keeps_a_file_in_the_folder_it_did_not_write(self, cwd):
        (cwd / "ckpts").mkdir()
        (cwd / "ckpts" / "notes.ckpt").write_text("mine")
        rogue = lambda_hook(on_train_end=lambda e: RemoveCheckpoint(str(cwd / "ckpts" / "notes.ckpt")))
        with pytest.warns(UserWarning, match="not a file this run wrote"):
            fit([ModelCheckpoint(dirpath="ckpts"), rogue])
        assert (cwd / "ckpts" / "notes.ckpt").read_text() == "mine"

    def test_a_write_through_a_symlinked_subfolder_is_refused(self, cwd):
        (cwd / "ckpts").mkdir()
        (cwd / "outside").mkdir()
        (cwd / "ckpts" / "sub").symlink_to(cwd / "outside")
        with pytest.raises(CheckpointClash, match="outside the checkpoint folder"):
            fit([ModelCheckpoint(dirpath="ckpts", filename="sub/{epoch}")])
        assert list((cwd / "outside").iterdir()) == []

    @pytest.mark.parametrize("filename", ["../best", "/tmp/best", "runs/../../best", "..\\best"])
    def test_a_filename_that_leaves_dirpath_is_refused_at_construction(self, filename):
        with pytest.raises(InvalidArgument, match="must name a file inside dirpath"):
            ModelCheckpoint(dirpath="ckpts", filename=filename)

    def test_subfolders_inside_dirpath_stay_allowed(self, cwd):
        fit([ModelCheckpoint(dirpath="ckpts", filename="run/{epoch}")])
        assert files(cwd / "ckpts") == ["run/epoch=0.ckpt"]


class TestConstructionErrors:
    @pytest.mark.parametrize("kwargs, message", [
        (dict(filename=5), "filename=5 must be a name template"),
        (dict(dirpath=5), "dirpath=5 must be a path"),
        (dict(save_weights_only="no"), "save_weights_only='no' must be True or False"),
        (dict(enable_version_counter=1), "enable_version_counter=1 must be True or False"),
    ])
    def test_bad_types_fail_at_construction(self, kwargs, message):
        with pytest.raises(InvalidArgument, match=message):
            ModelCheckpoint(**kwargs)


class TestNeverOverwritesOrDeletesWhatItDidNotWrite:
    def test_version_counter_off_refuses_to_overwrite_a_file_already_there(self, cwd):
        (cwd / "ckpts").mkdir()
        (cwd / "ckpts" / "best.ckpt").write_text("mine")
        with pytest.raises(CheckpointClash, match="enable_version_counter=True"):
            fit([ModelCheckpoint(dirpath="ckpts", filename="best", enable_version_counter=False)])
        assert (cwd / "ckpts" / "best.ckpt").read_text() == "mine"

    def test_version_counter_off_still_replaces_its_own_file(self, cwd):
        mc = ModelCheckpoint(dirpath="ckpts", filename="best", enable_version_counter=False)
        fit([mc], max_epochs=3)
        assert files(cwd / "ckpts") == ["best.ckpt"]
        assert torch.load(mc.best_model_path, weights_only=True)["global_step"] == 6

    def test_a_metric_with_a_slash_sees_the_files_of_its_subfolder(self, cwd):
        class Slashed(Regressor):
            def validation_step(self, batch, batch_idx):
                return {"val/loss": torch.tensor(5.0)}

        mine = cwd / "ckpts" / "epoch=0-val" / "loss=5.0.ckpt"
        mine.parent.mkdir(parents=True)
        mine.write_text("mine")
        mc = ModelCheckpoint(dirpath="ckpts", monitor="val/loss", filename="{epoch}-{val/loss:.1f}")
        fit([mc], module=Slashed(), val=True)
        assert mine.read_text() == "mine"
        assert mc.best_model_path == str(cwd / "ckpts" / "epoch=0-val" / "loss=5.0-v1.ckpt")
        assert files(cwd / "ckpts") == ["epoch=0-val/loss=5.0-v1.ckpt", "epoch=0-val/loss=5.0.ckpt"]

    @pytest.mark.parametrize("counter", [True, False])
    def test_a_folder_named_last_ckpt_is_never_removed(self, cwd, counter):
        inner = cwd / "ckpts" / "last.ckpt" / "keep.txt"
        inner.parent.mkdir(parents=True)
        inner.write_text("mine")
        mc = ModelCheckpoint(dirpath="ckpts", save_last="link", enable_version_counter=counter)
        if counter:
            fit([mc])
            assert os.path.basename(mc.last_model_path) == "last-v1.ckpt"
        else:
            with pytest.raises(CheckpointClash, match="a folder of that name is there"):
                fit([mc])
        assert inner.read_text() == "mine"

    def test_a_resumed_run_keeps_what_the_killed_run_wrote_after_its_checkpoint(self, cwd):
        folder = cwd / "ckpts"

        def snapshot(ctx):  # the checkpoint a killed run would be resumed from: epoch 0's
            if not os.path.exists("snap.ckpt"):
                shutil.copy(folder / "epoch=0-step=2.ckpt", "snap.ckpt")

        def callbacks():
            return [ModelCheckpoint(dirpath="ckpts", save_last=True),
                    lambda_hook(on_train_epoch_start=lambda e: Do(snapshot) if e.epoch == 1 else None)]

        fit(callbacks(), max_epochs=2)  # the "killed" run: it went on past the snapshot
        after_snapshot = {name: (folder / name).read_bytes() for name in files(folder)}
        fit(callbacks(), max_epochs=2, ckpt_path="snap.ckpt")
        # last.ckpt too was first made after the snapshot (in the same event): not ours either, as in Lightning
        assert files(folder) == ["epoch=1-step=4-v1.ckpt", "epoch=1-step=4.ckpt", "last-v1.ckpt", "last.ckpt"]
        assert all((folder / name).read_bytes() == data for name, data in after_snapshot.items())
        assert torch.load(folder / "last-v1.ckpt", weights_only=True)["global_step"] == 4

    def test_a_resumed_run_still_manages_the_files_made_before_its_checkpoint(self, cwd):
        mc = ModelCheckpoint(dirpath="ckpts", save_last=True)
        fit([mc], max_epochs=2)
        fit([ModelCheckpoint(dirpath="ckpts", save_last=True)], max_epochs=3, ckpt_path=mc.best_model_path)
        # last.ckpt (made at epoch 0) is still ours and reused; the file resumed from is never removed (Lightning)
        assert files(cwd / "ckpts") == ["epoch=1-step=4.ckpt", "epoch=2-step=6.ckpt", "last.ckpt"]
        assert torch.load(cwd / "ckpts" / "last.ckpt", weights_only=True)["global_step"] == 6


def apply(effect, folder):
    """Carry out one file effect on disk, as the trainer would."""
    if isinstance(effect, SaveCheckpoint):
        pathlib.Path(effect.path).write_text(effect.path)
    elif isinstance(effect, LinkCheckpoint):
        link_checkpoint(effect.path, effect.target)
    elif isinstance(effect, RemoveCheckpoint):
        os.unlink(effect.path)


class TestLastLink:
    @pytest.mark.parametrize("monitor", [None, "val_loss"])
    def test_a_kill_between_any_two_effects_never_leaves_last_dangling(self, tmp_path, monitor):
        hook = model_checkpoint(tmp_path, monitor=monitor, save_last="link")
        events = [Event("setup", data=RunInfo(max_epochs=4))]
        events += [Event("train_epoch_end", epoch=e, step=2 * e + 2, metrics={"val_loss": 4.0 - e}) for e in range(4)]
        last = tmp_path / "last.ckpt"
        _, effects = fold(hook, events)
        assert any(isinstance(e, RemoveCheckpoint) for e in effects)
        for effect in effects:  # a kill may come after any of them
            apply(effect, tmp_path)
            assert not os.path.lexists(last) or last.exists(), f"last.ckpt dangles after {effect}"
        assert os.readlink(last) == "epoch=3-step=8.ckpt"


CHILD = textwrap.dedent("""
    import sys
    from fhooks import Do, Trainer, lambda_hook
    from fhooks.callbacks import ModelCheckpoint
    from fhooks.trainer.checkpoint import write_atomically
    from tests.models import Regressor, loader

    def stall(ctx):  # a write in progress when the process is killed
        write_atomically("ckpts/partial.ckpt", lambda f: (f.write(b"x" * 10), f.flush(), print("writing", flush=True),
                                                          sys.stdin.readline()))

    hook = lambda_hook(on_train_batch_end=lambda e: Do(stall))
    Trainer(callbacks=[ModelCheckpoint(dirpath="ckpts"), hook], max_epochs=1, logger=False,
            enable_progress_bar=False, enable_model_summary=False).fit(Regressor(), loader(16))
""")


class TestOneRunPerFolder:
    def test_a_second_run_fails_at_once_and_a_killed_run_blocks_nothing(self, cwd):
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(pathlib.Path(__file__).parents[1]),
                                                            os.environ.get("PYTHONPATH", "")])}
        child = subprocess.Popen([sys.executable, "-c", CHILD], cwd=cwd, env=env, stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout.readline().strip() == "writing"
            assert [p.name for p in (cwd / "ckpts").glob(".partial.ckpt.*.tmp")]  # the write in progress
            second = Trainer(callbacks=[ModelCheckpoint(dirpath="ckpts")], max_epochs=1, **QUIET)
            with pytest.raises(CheckpointFolderBusy, match="in use by another running fit"):
                second.fit(Regressor(), loader(16))
            assert second.global_step == 0
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
            child.stdout.close()
            child.stdin.close()
        trainer = fit([ModelCheckpoint(dirpath="ckpts")])  # the killed run's lock died with it
        assert trainer.global_step == 2
        assert files(cwd / "ckpts") == ["epoch=0-step=2.ckpt"]  # its orphan temporary file is gone too
        assert not list((cwd / "ckpts").glob(".*.tmp"))

    def test_only_fhooks_temporary_files_are_cleaned(self, cwd):
        (cwd / "ckpts").mkdir()
        for name in (".epoch=0-step=2.ckpt.fhooks-ab12cd34.tmp", ".notes.tmp", "x.tmp"):
            (cwd / "ckpts" / name).write_text("x")
        fit([ModelCheckpoint(dirpath="ckpts")])
        assert sorted(p.name for p in (cwd / "ckpts").iterdir() if p.name != LEDGER) == [
            ".notes.tmp", "epoch=0-step=2.ckpt", "x.tmp"]


class TestVersionFolders:
    def test_two_trainers_starting_together_take_different_versions(self, cwd):
        first, second = (Trainer(default_root_dir="runs", max_epochs=1, enable_progress_bar=False,
                                 enable_model_summary=False) for _ in range(2))
        assert first.log_dir == second.log_dir  # both decided before either wrote anything (Lightning's race)
        first.fit(Regressor(), loader(16))
        second.fit(Regressor(), loader(16))
        assert (first.logger.version, second.logger.version) == (0, 1)
        assert files(cwd / "runs") == ["lightning_logs/version_0/checkpoints/epoch=0-step=2.ckpt",
                                       "lightning_logs/version_1/checkpoints/epoch=0-step=2.ckpt"]

    def test_loggers_claim_distinct_folders(self, cwd):
        first, second = CSVLogger("logs"), CSVLogger("logs")
        assert first.version == second.version == 0
        first.log_metrics({"a": 1.0}, step=0)
        second.log_metrics({"a": 2.0}, step=0)
        assert (first.version, second.version) == (0, 1)

    def test_a_file_named_like_a_version_is_skipped(self, cwd):
        (cwd / "logs" / "lightning_logs").mkdir(parents=True)
        (cwd / "logs" / "lightning_logs" / "version_0").write_text("not a folder")
        logger = CSVLogger("logs")
        logger.log_metrics({"a": 1.0}, step=0)
        assert logger.version == 1


class TestOnExceptionRelativeDir:
    def test_a_relative_dirpath_is_the_working_directory_s(self, cwd):
        from fhooks.callbacks import OnExceptionCheckpoint

        def boom(event):
            raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            fit([OnExceptionCheckpoint("crash"), lambda_hook(on_train_batch_end=boom)], default_root_dir="runs")
        assert files(cwd / "crash") == ["on_exception.ckpt"]

    def test_a_clash_while_the_run_fails_warns_and_keeps_the_run_s_own_error(self, cwd):
        from fhooks.callbacks import OnExceptionCheckpoint

        (cwd / "crash").mkdir()
        (cwd / "crash" / "on_exception.ckpt").write_text("an earlier run's")

        def boom(event):
            raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"), pytest.warns(UserWarning, match="not written"):
            fit([OnExceptionCheckpoint("crash"), lambda_hook(on_train_batch_end=boom)])
        assert (cwd / "crash" / "on_exception.ckpt").read_text() == "an earlier run's"


class TestLedger:
    def test_a_kill_right_after_a_checkpoint_takes_its_name_leaves_it_the_run_s_own(self, cwd, monkeypatch):
        every = str(cwd / "ckpts" / "every.ckpt")

        class Killed(BaseException):
            """The process dies: nothing after the rename runs."""

        replace, renamed = os.replace, []

        def replace_then_die(src, dst):
            replace(src, dst)
            if os.fspath(dst) == every:
                renamed.append(dst)
                if len(renamed) == 3:
                    raise Killed

        def callbacks():
            return [ModelCheckpoint(dirpath="ckpts"), on("train_batch_end", lambda e: SaveCheckpoint(every))]

        monkeypatch.setattr(os, "replace", replace_then_die)
        with pytest.raises(Killed):
            fit(callbacks(), max_epochs=2)  # two batches an epoch: killed at the third
        monkeypatch.setattr(os, "replace", replace)
        assert torch.load(every, weights_only=True)["global_step"] == 3
        trainer = fit(callbacks(), max_epochs=3, ckpt_path=every)  # resumes, and goes on replacing every.ckpt
        assert torch.load(every, weights_only=True)["global_step"] == trainer.global_step == 6

    def test_a_kill_between_the_record_and_the_rename_leaves_the_old_file_the_run_s_own(self, tmp_path):
        from fhooks.trainer.checkpoint_files import FileGuard

        guard, path = FileGuard([tmp_path]), str(tmp_path / "a.ckpt")
        pathlib.Path(path).write_text("old")
        guard.wrote(path, "run")
        written = tmp_path / ".a.ckpt.fhooks-x.tmp"
        written.write_text("newer")
        guard.wrote(path, "run", written=str(written))  # recorded; the process dies before the rename
        guard.close()
        again = FileGuard([tmp_path])
        assert again.owns(path, "run") and not written.exists()  # the old file is still ours; the orphan is gone
        again.close()

    def test_stays_small_over_a_long_run_and_still_knows_what_is_ours(self, tmp_path):
        from fhooks.trainer.checkpoint_files import FileGuard

        guard = FileGuard([tmp_path])
        for i in range(3000):  # a save every step, the previous one removed
            path = str(tmp_path / f"step={i}.ckpt")
            guard.check_write(path, "run")
            pathlib.Path(path).write_text(str(i))
            guard.wrote(path, "run")
            if i:
                assert guard.remove(str(tmp_path / f"step={i - 1}.ckpt"), "run")
        guard.close()
        assert len((tmp_path / LEDGER).read_text().splitlines()) <= 1001
        again = FileGuard([tmp_path])  # a later run of the same lineage, after the rewrites
        assert again.owns(str(tmp_path / "step=2999.ckpt"), "run")
        assert not again.owns(str(tmp_path / "step=2999.ckpt"), "another run")
        again.close()
