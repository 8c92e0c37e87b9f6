"""SIGINT and SIGTERM while fitting: raised in the loop, but never in the middle of an optimizer step.

An interrupt raised between two bytecodes of ``optimizer.step()`` leaves some parameters updated and
others not; one raised after the step but before the loop records it leaves a checkpoint whose
position says the step is still to come. Either way the run resumes from the wrong weights. So while
the loop takes a step and records it, :class:`Interrupts` holds a signal back and raises it right
after; a second signal in that window is raised at once (a second Ctrl-C always stops).

>>> held = Interrupts()
>>> held.holding = True
>>> held.deliver(lambda: print("raised now"))  # held: the step is not recorded yet
>>> held.release()
raised now
>>> held.deliver(lambda: print("raised now"))  # not in a step: at once
raised now
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any


class SIGTERMException(SystemExit):
    """Raised in ``fit`` when the process receives SIGTERM, so ``exception`` hooks run (Lightning's name)."""


class Interrupts:
    """What the signal handlers of a fit share with its loop: whether a step is under way, and what it held."""

    __slots__ = ("held", "holding")

    def __init__(self) -> None:
        self.holding = False
        self.held: Callable[[], None] | None = None

    def deliver(self, act: Callable[[], None]) -> None:
        """Carry out a signal's action (it raises) now, or after the step under way when it is the first."""
        if self.holding and self.held is None:
            self.held = act
            return
        act()

    def release(self) -> None:
        """The step is taken and recorded: carry out what was held, if anything."""
        self.holding = False
        held, self.held = self.held, None
        if held is not None:
            held()

    def drop(self) -> None:
        """The step was abandoned (an exception is propagating): nothing is held any more."""
        self.holding, self.held = False, None


def _raise_sigterm(signum: int) -> None:
    raise SIGTERMException(128 + signum)


@contextlib.contextmanager
def handled(interrupts: Interrupts) -> Iterator[None]:
    """While fitting (main thread only): SIGTERM raises :class:`SIGTERMException`, so the run can checkpoint, and
    SIGINT goes to its handler (Python's raises ``KeyboardInterrupt``), each through ``interrupts``."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigterm(signum: int, frame: Any) -> None:
        interrupts.deliver(lambda: _raise_sigterm(signum))

    previous_term = signal.signal(signal.SIGTERM, on_sigterm)
    if previous_term is None:  # installed outside Python
        previous_term = signal.SIG_DFL
    previous_int = signal.getsignal(signal.SIGINT)
    if callable(previous_int):  # SIG_IGN, SIG_DFL or a handler outside Python: left alone

        def on_sigint(signum: int, frame: Any) -> None:
            interrupts.deliver(lambda: previous_int(signum, frame))

        signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        if callable(previous_int):
            signal.signal(signal.SIGINT, previous_int)
        interrupts.drop()


__all__ = ["Interrupts", "SIGTERMException", "handled"]
