"""fhooks: PyTorch training-loop callbacks as values.

Every callback is an immutable state plus a pure ``(state, event) -> (state, effects)``
step; combinators compose them into one expression; the :class:`Trainer` folds the
run's events through it and carries out the effects.

>>> from fhooks import Event, Stop, fold, lambda_hook, every_n
>>> stop = every_n(3, lambda_hook(on_validation_end=lambda e: Stop("third check")))
>>> fold(stop, [Event("validation_end", epoch=i) for i in range(4)])[1]
(Stop('third check'),)
"""

from fhooks.core import (
    EVENT_KINDS,
    BatchData,
    Do,
    Effect,
    Event,
    Hook,
    HookLike,
    Log,
    Print,
    Raise,
    RemoveCheckpoint,
    SaveCheckpoint,
    SetAccumulation,
    SetLearningRates,
    Stop,
    after,
    all_of,
    any_of,
    every_n,
    fold,
    from_data,
    frozendict,
    lambda_hook,
    map_effects,
    map_event,
    on,
    once,
    rank_zero,
    scan,
    sequence,
    shape,
    state_class,
    stateful,
    to_data,
    until,
    when,
)
from fhooks.core.events import OptimizerInfo, RunInfo
from fhooks.replay import replay
from fhooks.replay_sweep import sweep

__version__ = "0.1.0"


#: Names whose modules load on first use, so ``import fhooks.core`` stays light (no callbacks, hosts or torch).
_LAZY = {
    "Callback": "fhooks.callbacks.base",
    "Trainer": "fhooks.trainer.trainer",
    "attach": "fhooks.hosts",
    "DDPStrategy": "fhooks.trainer.strategies",
    "LightningModule": "fhooks.lightning",
    "LightningDataModule": "fhooks.lightning",
    "seed_everything": "fhooks.lightning",
}


def __getattr__(name: str) -> object:
    """Import ``Trainer``, ``Callback`` and ``attach`` only when they are asked for."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fhooks' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "EVENT_KINDS",
    "BatchData",
    "Callback",
    "DDPStrategy",
    "Do",
    "Effect",
    "Event",
    "Hook",
    "HookLike",
    "LightningDataModule",
    "LightningModule",
    "Log",
    "OptimizerInfo",
    "Print",
    "Raise",
    "RemoveCheckpoint",
    "RunInfo",
    "SaveCheckpoint",
    "SetAccumulation",
    "SetLearningRates",
    "Stop",
    "Trainer",
    "__version__",
    "after",
    "all_of",
    "any_of",
    "attach",
    "every_n",
    "fold",
    "from_data",
    "frozendict",
    "lambda_hook",
    "map_effects",
    "map_event",
    "on",
    "once",
    "rank_zero",
    "replay",
    "scan",
    "seed_everything",
    "sequence",
    "shape",
    "state_class",
    "stateful",
    "sweep",
    "to_data",
    "until",
    "when",
]
