"""``EarlyStopping``: Lightning's class, over the pure :func:`~fhooks.hooks.early_stopping` hook.

>>> from fhooks.core import Event, fold
>>> es = EarlyStopping("val_loss", patience=1)
>>> es
EarlyStopping('val_loss', patience=1)
>>> _ = fold(es, [Event("train_epoch_end", epoch=i, metrics={"val_loss": 1.0}) for i in range(2)])
>>> es.best_score, es.wait_count, es.stopped_epoch
(1.0, 1, 1)
>>> es.state_key
"EarlyStopping{'monitor': 'val_loss', 'mode': 'min'}"
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import attrs

from fhooks.callbacks.base import HookCallback
from fhooks.core.serialize import from_data, to_data
from fhooks.hooks.early_stopping import EarlyStoppingHook, EarlyStoppingState, early_stopping
from fhooks.errors import InvalidArgument


class EarlyStopping(HookCallback):
    """Stop training when ``monitor`` stops improving, with Lightning's arguments and attributes.

    Beyond Lightning, ``restore_best_weights=True`` (as Keras) loads the weights of
    the best check back into the module when fit ends. ``best_score``, ``wait_count``,
    ``stopped_epoch`` and ``best_epoch`` read the hook's latest state; ``min_delta``
    is signed as Lightning stores it (negative in ``min`` mode).

    Raises:
        InvalidArgument: an argument :func:`~fhooks.hooks.early_stopping` rejects.
    """

    hook: EarlyStoppingHook

    def __init__(self, monitor: str, min_delta: float = 0.0, patience: int = 3, verbose: bool = False,
                 mode: str = "min", strict: bool = True, check_finite: bool = True,
                 stopping_threshold: float | None = None, divergence_threshold: float | None = None,
                 check_on_train_epoch_end: bool | None = None, log_rank_zero_only: bool = False,
                 restore_best_weights: bool = False) -> None:
        try:
            hook = early_stopping(
                monitor, min_delta=min_delta, patience=patience, mode=mode, strict=strict, check_finite=check_finite,
                stopping_threshold=stopping_threshold, divergence_threshold=divergence_threshold,
                check_on_train_epoch_end=check_on_train_epoch_end, verbose=verbose,
                log_rank_zero_only=log_rank_zero_only, restore_best_weights=restore_best_weights)
        except InvalidArgument as error:
            raise InvalidArgument(str(error).replace("early_stopping:", "EarlyStopping:", 1)) from None
        self._wrap(hook)

    monitor = property(lambda self: self.hook.monitor, doc="The monitored metric's name.")
    patience = property(lambda self: self.hook.patience, doc="Checks without improvement before stopping.")
    mode = property(lambda self: self.hook.mode, doc="``'min'`` or ``'max'``.")
    verbose = property(lambda self: self.hook.verbose, doc="Whether each check's reason is logged.")
    strict = property(lambda self: self.hook.strict, doc="Whether a missing monitor raises.")
    check_finite = property(lambda self: self.hook.check_finite, doc="Whether a non-finite value stops.")
    stopping_threshold = property(lambda self: self.hook.stopping_threshold, doc="Stop once past this value.")
    divergence_threshold = property(lambda self: self.hook.divergence_threshold, doc="Stop once worse than this.")
    log_rank_zero_only = property(lambda self: self.hook.log_rank_zero_only, doc="Log on global rank 0 only.")
    restore_best_weights = property(lambda self: self.hook.restore_best_weights, doc="Keras' option.")
    best_score = property(lambda self: self.state.best_score, doc="The best value seen (±inf before any).")
    wait_count = property(lambda self: self.state.wait_count, doc="Checks since the last improvement.")
    stopped_epoch = property(lambda self: self.state.stopped_epoch, doc="Epoch of the latest stop decision (0: none).")
    best_epoch = property(lambda self: self.state.best_epoch, doc="Epoch of the best check, or None.")

    order_dict: ClassVar[dict[str, str]] = {"min": "<", "max": ">"}

    @property
    def mode_dict(self) -> dict[str, Any]:
        """Lightning's ``{"min": torch.lt, "max": torch.gt}``."""
        import torch

        return {"min": torch.lt, "max": torch.gt}

    @property
    def monitor_op(self) -> Any:
        """The comparison that says "better": ``torch.lt`` in ``min`` mode, ``torch.gt`` in ``max``."""
        return self.mode_dict[self.mode]

    @property
    def min_delta(self) -> float:
        """``min_delta`` signed as Lightning stores it: negative in ``min`` mode, positive in ``max``."""
        return self.hook.min_delta if self.hook.mode == "max" else -self.hook.min_delta

    @property
    def state_key(self) -> str:
        """Lightning's key: ``EarlyStopping{'monitor': ..., 'mode': ...}``."""
        return self.hook.weights_key

    def state_dict(self) -> dict[str, Any]:
        """The state as plain data, with Lightning's keys beside it."""
        s = self.state
        return {"state": to_data(s), "wait_count": s.wait_count, "stopped_epoch": s.stopped_epoch,
                "best_score": s.best_score, "patience": self.hook.patience}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a state from :meth:`state_dict` or from Lightning's ``EarlyStopping.state_dict()``.

        As in Lightning, a saved ``patience`` replaces the constructor's.
        """
        if "patience" in state_dict and state_dict["patience"] != self.hook.patience:
            patience = state_dict["patience"]
            if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
                raise InvalidArgument(f"EarlyStopping.load_state_dict: patience={patience!r} must be an int >= 0")
            self.hook = attrs.evolve(self.hook, patience=patience)
        if "state" in state_dict:
            state = from_data(state_dict["state"])
        else:
            best = float(state_dict.get("best_score", math.inf if self.mode == "min" else -math.inf))
            state = attrs.evolve(self.hook.init, best_score=best, wait_count=int(state_dict.get("wait_count", 0)),
                                 stopped_epoch=int(state_dict.get("stopped_epoch", 0)))
        if not isinstance(state, EarlyStoppingState):
            raise InvalidArgument(f"EarlyStopping.load_state_dict: expected an EarlyStoppingState, got {state!r}")
        self._state = self._loaded = state

    def __repr__(self) -> str:
        return "EarlyStopping" + repr(self.hook)[len("early_stopping"):]
