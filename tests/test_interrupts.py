"""Signals while fitting: held through an optimizer step, a second one at once, the handlers put back after."""

from __future__ import annotations

import signal

from fhooks import Trainer
from fhooks.trainer.interrupts import Interrupts
from tests.models import Regressor, loader


def test_a_signal_in_a_step_waits_for_it_and_a_second_one_does_not():
    raised = []
    held = Interrupts()
    held.holding = True
    held.deliver(lambda: raised.append("first"))
    assert raised == []
    held.deliver(lambda: raised.append("second"))  # a second Ctrl-C while the first waits: at once
    assert raised == ["second"]
    held.release()
    assert raised == ["second", "first"] and not held.holding and held.held is None

def test_the_fit_puts_the_signal_handlers_back():
    def mine(signum, frame):
        pass

    before = signal.signal(signal.SIGINT, mine)
    try:
        trainer = Trainer(max_epochs=1, logger=False, enable_progress_bar=False, enable_checkpointing=False,
                          enable_model_summary=False)
        terms = signal.getsignal(signal.SIGTERM)
        trainer.fit(Regressor(), loader(16))
        assert signal.getsignal(signal.SIGINT) is mine and signal.getsignal(signal.SIGTERM) is terms
    finally:
        signal.signal(signal.SIGINT, before)

def test_a_user_sigint_handler_still_runs_during_a_fit():
    calls = []

    def mine(signum, frame):
        calls.append(signum)

    class Signalling(Regressor):
        def training_step(self, batch, batch_idx):
            if batch_idx == 0:
                signal.raise_signal(signal.SIGINT)
            return super().training_step(batch, batch_idx)

    before = signal.signal(signal.SIGINT, mine)
    try:
        Trainer(max_epochs=1, logger=False, enable_progress_bar=False, enable_checkpointing=False,
                enable_model_summary=False).fit(Signalling(), loader(16))
    finally:
        signal.signal(signal.SIGINT, before)
    assert calls == [signal.SIGINT]
