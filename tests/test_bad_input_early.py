"""Bad input fails clearly at construction or before the first step (issue 9, item 12)."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, IterableDataset

from fhooks import Trainer, every_n, on, when
from fhooks.core import Event, Hook, fold, sequence
from fhooks.errors import InvalidArgument, InvalidStepOutput
from tests.models import Regressor, loader

QUIET = dict(enable_progress_bar=False, enable_model_summary=False, logger=False, enable_checkpointing=False)


class Stream(IterableDataset):
    def __iter__(self):
        x = torch.randn(8, 4)
        for _ in range(4):
            yield x, x.sum(1, keepdim=True)


class Counted(Regressor):
    steps = 0

    def training_step(self, batch, batch_idx):
        Counted.steps += 1
        return super().training_step(batch, batch_idx)


@pytest.mark.parametrize("argument, value, message", [
    ("gradient_clip_val", float("nan"), "gradient_clip_val=nan must be a finite number >= 0 or None"),
    ("gradient_clip_val", -1, "gradient_clip_val=-1 must be a finite number >= 0 or None"),
    ("gradient_clip_val", "x", "gradient_clip_val='x' must be a finite number >= 0 or None"),
    ("seed", "abc", "seed='abc' must be an int"),
    ("max_time", {"hours": 1e20}, r"max_time=\{'hours': 1e\+20\} is longer than a timedelta can hold"),
])
def test_refused_at_construction(argument, value, message):
    with pytest.raises(InvalidArgument, match=message):
        Trainer(**{argument: value})


class TestBatchLimits:
    def test_a_fraction_that_leaves_no_batch_is_refused_before_the_first_step(self):
        Counted.steps = 0
        trainer = Trainer(max_epochs=1, limit_train_batches=0.01, **QUIET)
        with pytest.raises(InvalidArgument, match=r"limit_train_batches=0\.01 of 8 batches is less than one batch; "
                                                  r"pass at least limit_train_batches=0\.125"):
            trainer.fit(Counted(), loader())
        assert Counted.steps == 0

    def test_a_fraction_of_an_iterable_dataset_is_refused(self):
        trainer = Trainer(max_epochs=1, limit_train_batches=0.5, **QUIET)
        with pytest.raises(InvalidArgument, match=r"limit_train_batches=0\.5 is a fraction, but the loader has no "
                                                  r"length \(an IterableDataset\); pass limit_train_batches=1\.0"):
            trainer.fit(Counted(), DataLoader(Stream(), batch_size=None))

    def test_an_int_limit_on_an_iterable_dataset_still_runs(self):
        trainer = Trainer(max_epochs=1, limit_train_batches=2, **QUIET)
        trainer.fit(Regressor(), DataLoader(Stream(), batch_size=None))
        assert trainer.global_step == 2


class TestHooks:
    def test_fold_names_an_item_that_is_not_an_event(self):
        with pytest.raises(InvalidArgument, match=r"fold: events\[1\] is 'fit_end' \(str\), not an Event"):
            fold(on("fit_end", print), [Event("fit_start"), "fit_end"])

    def test_a_raw_hook_step_returning_a_malformed_pair_is_named(self):
        broken = Hook(0, lambda s, e: (s + 1,), name="broken")
        with pytest.raises(InvalidStepOutput, match=r"hook broken: step returned \(1,\) \(tuple\); a hook's step must "
                                                    r"return a pair \(state, effects\)"):
            fold(broken, [Event("fit_start")])

    def test_a_raw_hook_in_the_trainer_is_named_at_its_first_event(self):
        broken = Hook(0, lambda s, e: (s, None), kinds="fit_start", name="broken")
        trainer = Trainer(callbacks=[broken, on("fit_end", print)], max_epochs=1, **QUIET)
        with pytest.raises(InvalidStepOutput, match=r"hook broken: step returned \(0, None\)"):
            trainer.fit(Regressor(), loader())

    def test_500_deep_nesting_is_refused_at_construction(self):
        hook = on("train_batch_end", lambda e: None)
        for i in range(250):
            hook = every_n(2, when(lambda e: True, hook))
        with pytest.raises(InvalidArgument, match=r"callbacks\[0\] nests hooks more than 100 deep"):
            Trainer(callbacks=[hook], **QUIET)

    def test_100_deep_nesting_trains_and_checkpoints(self, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        hook = on("train_batch_end", lambda e: None)
        for i in range(49):
            hook = every_n(1, when(lambda e: True, hook))
        trainer = Trainer(callbacks=[sequence(hook)], max_epochs=1, **{**QUIET, "enable_checkpointing": True})
        trainer.fit(Regressor(), loader())
        assert list((tmp_path / "checkpoints").glob("*.ckpt"))
