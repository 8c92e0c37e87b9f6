"""The trainer's own event streams keep the contract that ``fhooks.testing`` generates and checks."""

from __future__ import annotations

import pytest

from fhooks import Raise, Stop, Trainer, on, sequence, stateful
from fhooks.testing import check_fit_stream
from tests.models import Regressor, loader


def recorder():
    return stateful((), lambda seen, e: (seen + (e,), None), name="recorder")


CONFIGS = [
    dict(max_epochs=2, num_sanity_val_steps=2),
    dict(max_epochs=2, val_check_interval=0.5, num_sanity_val_steps=0),
    dict(max_epochs=2, accumulate_grad_batches=3),
    dict(max_epochs=3, limit_train_batches=3, check_val_every_n_epoch=2),
    dict(max_steps=5),
]


def recorded(extra=None, **config):
    hook = sequence(recorder(), extra) if extra else recorder()
    trainer = Trainer(callbacks=[hook], enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False, **config)
    try:
        trainer.fit(Regressor(), loader(), loader(n=16))
    finally:
        state = trainer.dispatcher.state
    return state[0] if extra else state


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_recorded_streams_keep_the_contract(config):
    events = recorded(**config)
    check_fit_stream(events)
    assert events[-1].kind == "teardown"


def test_a_mid_epoch_stop_keeps_the_contract():
    events = recorded(on("train_batch_end", lambda e: Stop("now") if e.step == 3 else None), max_epochs=4)
    check_fit_stream(events)
    assert [e.kind for e in events if e.kind == "train_epoch_end"] == ["train_epoch_end"]


def test_a_crash_keeps_the_contract_and_ends_with_the_exception():
    boom = on("train_batch_end", lambda e: Raise(RuntimeError("boom")) if e.step == 3 else None)
    hook = sequence(recorder(), boom)
    trainer = Trainer(callbacks=[hook], max_epochs=2, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False)
    with pytest.raises(RuntimeError, match="boom"):
        trainer.fit(Regressor(), loader(), loader(n=16))
    events = trainer.dispatcher.state[0]
    check_fit_stream(events)
    assert events[-1].kind == "exception" and str(events[-1].data) == "boom"


def test_time_and_step_fields_are_real():
    events = recorded(max_epochs=1)
    ends = [e for e in events if e.kind == "train_batch_end"]
    assert [e.step for e in ends] == list(range(1, 9))
    assert [e.batch_idx for e in ends] == list(range(8))
    assert all(0 < a.time <= b.time for a, b in zip(ends, ends[1:]))
    fit_start = next(e for e in events if e.kind == "fit_start")
    assert fit_start.data.num_training_batches == 8 and fit_start.data.optimizers[0].name == "SGD"
