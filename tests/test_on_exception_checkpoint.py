"""on_exception_checkpoint / OnExceptionCheckpoint (LIGHTNING_SPEC §4)."""

from __future__ import annotations

import pytest

from fhooks.callbacks import OnExceptionCheckpoint
from fhooks.core import Event, fold
from fhooks.core.effects import RemoveCheckpoint, SaveCheckpoint
from fhooks.errors import InvalidArgument
from fhooks.hooks import on_exception_checkpoint
from fhooks.testing import roundtrip


class TestHook:
    @pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
    def test_saves_full_checkpoint_on_exception(self, error):
        _, effects = fold(on_exception_checkpoint("/r"), [Event("exception", step=3, data=error)])
        assert effects == (SaveCheckpoint("/r/on_exception.ckpt", weights_only=False),)

    @pytest.mark.parametrize("stage", ["fit", "validate", "test", "predict", "sanity_check"])
    def test_saves_in_every_stage(self, stage):
        assert fold(on_exception_checkpoint("/r", "crash"), [Event("exception", stage=stage)])[1] == (
            SaveCheckpoint("/r/crash.ckpt"),)

    def test_clean_teardown_without_a_crash_removes_nothing(self):
        events = [Event("fit_start"), Event("train_end"), Event("teardown")]
        assert fold(on_exception_checkpoint("/r"), events)[1] == ()

    def test_resumed_run_that_ends_cleanly_removes_the_file(self):
        hook = on_exception_checkpoint("/r")
        crashed, _ = fold(hook, [Event("exception", data=RuntimeError())])
        state, effects = fold(hook, [Event("fit_start"), Event("teardown")], roundtrip(crashed))
        assert effects == (RemoveCheckpoint("/r/on_exception.ckpt", even_if_resumed=True),) and not state.written

    def test_only_hears_exception_and_teardown(self):
        assert on_exception_checkpoint("/r").kinds == {"exception", "teardown"}

    @pytest.mark.parametrize("args, message", [
        (("/r", ""), "on_exception_checkpoint: filename='' must be a non-empty string"),
        (("",), "on_exception_checkpoint: dirpath='' must be a non-empty path"),
        ((None,), "on_exception_checkpoint: dirpath=None must be a non-empty path"),
    ])
    def test_rejects(self, args, message):
        with pytest.raises(InvalidArgument) as info:
            on_exception_checkpoint(*args)
        assert str(info.value) == message


class TestClass:
    def test_lightning_attributes(self, tmp_path):
        cb = OnExceptionCheckpoint(tmp_path)
        assert cb.ckpt_path == str(tmp_path / "on_exception.ckpt")
        assert (cb.dirpath, cb.filename, cb.FILE_EXTENSION) == (str(tmp_path), "on_exception", ".ckpt")
        assert cb.state_key == "OnExceptionCheckpoint"

    def test_empty_filename_is_a_value_error(self):
        with pytest.raises(ValueError, match="filename='' must be a non-empty string"):
            OnExceptionCheckpoint("/r", filename="")

    def test_state_dict_only_after_a_crash(self):
        cb = OnExceptionCheckpoint("/r")
        assert cb.state_dict() == {}
        fold(cb, [Event("exception", data=RuntimeError())])
        data = cb.state_dict()
        fresh = OnExceptionCheckpoint("/r")
        fresh.load_state_dict(data)
        assert fold(fresh, [Event("teardown")])[1] == (RemoveCheckpoint("/r/on_exception.ckpt", even_if_resumed=True),)


class TestWithTrainer:
    def test_crash_leaves_a_resumable_file(self, tmp_path):
        torch = pytest.importorskip("torch")
        import fhooks
        from tests.models import Regressor, loader

        if not hasattr(fhooks, "Trainer"):
            pytest.skip("fhooks.Trainer not available yet")

        class Crashing(Regressor):
            def training_step(self, batch, batch_idx):
                if batch_idx == 2:
                    raise RuntimeError("boom at batch 2")
                return super().training_step(batch, batch_idx)

        trainer = fhooks.Trainer(callbacks=[OnExceptionCheckpoint(tmp_path)], max_epochs=1,
                                 enable_progress_bar=False, logger=False, default_root_dir=tmp_path)
        with pytest.raises(RuntimeError, match="boom at batch 2"):
            trainer.fit(Crashing(), loader())
        assert (tmp_path / "on_exception.ckpt").is_file()
        assert torch.load(tmp_path / "on_exception.ckpt", weights_only=True)["global_step"] == 2

    def test_clean_run_leaves_no_file(self, tmp_path):
        pytest.importorskip("torch")
        import fhooks
        from tests.models import Regressor, loader

        if not hasattr(fhooks, "Trainer"):
            pytest.skip("fhooks.Trainer not available yet")
        trainer = fhooks.Trainer(callbacks=[OnExceptionCheckpoint(tmp_path)], max_epochs=1,
                                 enable_progress_bar=False, logger=False, default_root_dir=tmp_path)
        trainer.fit(Regressor(), loader(n=16))
        assert not (tmp_path / "on_exception.ckpt").exists()
