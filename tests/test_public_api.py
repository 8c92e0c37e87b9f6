"""The public API of fhooks and fhooks.core: frozen lists of names, each documented with a runnable example."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys

import pytest

import fhooks
import fhooks.core

CORE_API = [
    "BatchData", "Do", "EVENT_KINDS", "Effect", "Effects", "Event", "HOOK_NAMES", "Hook", "HookLike", "Log",
    "Print", "Raise", "RemoveCheckpoint", "STAGES", "SaveCheckpoint", "SetAccumulation", "SetLearningRates", "Stop",
    "after", "all_of", "any_of", "as_effects", "every_n", "fold", "from_data", "frozendict", "lambda_hook",
    "map_effects", "map_event", "merge_stops", "on", "once", "rank_zero", "scan", "sequence", "shape",
    "state_class", "stateful", "to_data", "until", "when",
]

TOP_LEVEL_API = [
    "BatchData", "Callback", "DDPStrategy", "Do", "EVENT_KINDS", "Effect", "Event", "Hook", "HookLike", "LightningDataModule",
    "LightningModule", "Log", "OptimizerInfo",
    "Print", "Raise", "RemoveCheckpoint", "RunInfo", "SaveCheckpoint", "SetAccumulation", "SetLearningRates", "Stop",
    "Trainer", "__version__", "after", "all_of", "any_of", "attach", "every_n", "fold", "from_data", "frozendict",
    "lambda_hook", "map_effects", "map_event", "on", "once", "rank_zero", "replay", "scan", "seed_everything",
    "sequence", "shape", "state_class", "stateful", "sweep", "to_data", "until", "when",
]


def isort_key(name):
    """Ruff's RUF022 ("isort-style") order: CONSTANTS, then Classes, then functions."""
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


def public_callables(module):
    """Functions and classes exported by ``module`` (type aliases such as ``Effects`` are not documented apart)."""
    return [name for name in module.__all__
            if inspect.isfunction(getattr(module, name)) or inspect.isclass(getattr(module, name))]


def without_example(module):
    return [name for name in public_callables(module) if ">>>" not in (inspect.getdoc(getattr(module, name)) or "")]


class TestCoreApi:
    def test_all_is_frozen_and_sorted(self):
        assert fhooks.core.__all__ == sorted(CORE_API, key=isort_key)

    def test_every_name_exists(self):
        assert [name for name in fhooks.core.__all__ if not hasattr(fhooks.core, name)] == []

    def test_every_public_callable_has_a_docstring(self):
        assert [name for name in public_callables(fhooks.core) if not inspect.getdoc(getattr(fhooks.core, name))] == []

    def test_every_public_callable_has_an_example(self):
        assert without_example(fhooks.core) == []

    def test_core_imports_no_torch(self):
        code = "import fhooks.core, fhooks.testing, sys; assert 'torch' not in sys.modules"
        subprocess.run([sys.executable, "-c", code], check=True)

    def test_core_loads_no_callbacks_hosts_or_trainer(self):
        code = ("import fhooks.core, sys; loaded = sorted(m for m in sys.modules if m.startswith(('fhooks.callbacks', "
                "'fhooks.hosts', 'fhooks.trainer', 'fhooks.hooks'))); print(','.join(loaded))")
        root = os.path.dirname(os.path.dirname(fhooks.__file__))  # this checkout's fhooks, not an installed one
        result = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=root)
        assert result.stdout.strip() == ""

    def test_lazy_names_resolve_to_their_objects(self):
        from fhooks.callbacks.base import Callback
        from fhooks.hosts import attach

        assert (fhooks.Callback, fhooks.attach, fhooks.replay.__name__) == (Callback, attach, "replay")


class TestTopLevelApi:
    def test_all_is_frozen_and_sorted(self):
        assert fhooks.__all__ == sorted(TOP_LEVEL_API, key=isort_key)

    def test_every_name_exists(self):
        assert [name for name in fhooks.__all__ if not hasattr(fhooks, name)] == []

    def test_core_names_are_the_same_objects(self):
        shared = [name for name in fhooks.__all__ if name in fhooks.core.__all__]
        assert [name for name in shared if getattr(fhooks, name) is not getattr(fhooks.core, name)] == []

    def test_every_public_callable_has_an_example(self):
        assert without_example(fhooks) == []
