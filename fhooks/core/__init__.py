"""The pure core: events, effects, hooks, combinators and the fold.

It imports no torch (checked in a fresh interpreter, since a test run may have loaded it):

>>> import subprocess, sys
>>> subprocess.run([sys.executable, "-c", "import fhooks.core, sys; assert 'torch' not in sys.modules"]).returncode
0
"""

from fhooks.core.combinators import map_effects, map_event, on, rank_zero, sequence, stateful, when
from fhooks.core.effects import (
    Do,
    Effect,
    Effects,
    Log,
    Print,
    Raise,
    RemoveCheckpoint,
    SaveCheckpoint,
    SetAccumulation,
    SetLearningRates,
    Stop,
    as_effects,
    merge_stops,
)
from fhooks.core.events import EVENT_KINDS, STAGES, BatchData, Event
from fhooks.core.filters import after, every_n, once, until
from fhooks.core.fold import fold, scan
from fhooks.core.frozendict import frozendict
from fhooks.core.hook import Hook, HookLike, shape
from fhooks.core.lambda_hook import HOOK_NAMES, lambda_hook
from fhooks.core.serialize import from_data, state_class, to_data
from fhooks.core.votes import all_of, any_of

__all__ = [
    "EVENT_KINDS",
    "HOOK_NAMES",
    "STAGES",
    "BatchData",
    "Do",
    "Effect",
    "Effects",
    "Event",
    "Hook",
    "HookLike",
    "Log",
    "Print",
    "Raise",
    "RemoveCheckpoint",
    "SaveCheckpoint",
    "SetAccumulation",
    "SetLearningRates",
    "Stop",
    "after",
    "all_of",
    "any_of",
    "as_effects",
    "every_n",
    "fold",
    "from_data",
    "frozendict",
    "lambda_hook",
    "map_effects",
    "map_event",
    "merge_stops",
    "on",
    "once",
    "rank_zero",
    "scan",
    "sequence",
    "shape",
    "state_class",
    "stateful",
    "to_data",
    "until",
    "when",
]
