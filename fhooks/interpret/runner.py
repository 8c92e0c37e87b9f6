"""A runner: one hook expression stepped through a host's events, its effects carried out on the host.

Every host but ``fhooks.Trainer`` (whose dispatcher also calls the module's own hooks)
drives its hooks with a :class:`Runner`.

>>> from types import SimpleNamespace
>>> from fhooks.core import Event, Stop, lambda_hook
>>> host = SimpleNamespace(module=None, request_stop=lambda reason: print("stopping:", reason))
>>> runner = Runner(lambda_hook(on_validation_end=lambda e: Stop("enough")), host)
>>> runner.step(Event("validation_end", epoch=1))
stopping: enough
>>> [str(d) for d in runner.decisions]
["validation_end (epoch 1, step 0): Stop('enough')"]
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from typing import Any

from fhooks.core.combinators import sequence
from fhooks.core.events import EVENT_KINDS, Event
from fhooks.core.hook import HookLike, check_hook
from fhooks.interpret.decisions import Decision
from fhooks.interpret.registry import Context, interpret

#: The modules whose import registers the handlers of the library's own effects.
HANDLER_MODULES = ("fhooks.interpret.model", "fhooks.display", "fhooks.trainer.files",
                   "fhooks.trainer.lr_finder", "fhooks.trainer.batch_size_finder")


def load_handlers() -> None:
    """Register the handlers of every effect the library's hooks return (imports torch)."""
    for name in HANDLER_MODULES:
        importlib.import_module(name)


def as_expression(hooks: HookLike | Iterable[HookLike], where: str) -> HookLike:
    """One hook from a hook or a list of hooks (composed in order with ``sequence``), each checked.

    >>> from fhooks.core import lambda_hook
    >>> as_expression([lambda_hook(), lambda_hook()], "attach")
    sequence(lambda_hook(), lambda_hook())
    """
    if hasattr(hooks, "step") or isinstance(hooks, (str, bytes, Mapping)) or not isinstance(hooks, Iterable):
        return check_hook(hooks, where)  # a hook, or an InvalidArgument naming what was given
    items = [check_hook(h, f"{where}: hooks[{i}]") for i, h in enumerate(hooks)]
    return items[0] if len(items) == 1 else sequence(*items)


class Runner:
    """Holds an expression's state and decision log; :meth:`step` feeds it one event and acts on the host."""

    def __init__(self, hook: HookLike, host: Any) -> None:
        self.hook = hook
        self.host = host
        self.state = hook.init
        self.kinds = frozenset(EVENT_KINDS) if hook.kinds is None else frozenset(hook.kinds)
        self.decisions: list[Decision] = []

    def step(self, event: Event) -> None:
        """Step the expression on ``event`` (if it listens to its kind) and carry out the effects in order."""
        if event.kind not in self.kinds:
            return
        self.state, effects = self.hook.step(self.state, event)
        if not effects:
            return
        ctx = Context(self.host, self.host.module, event)
        for effect in effects:
            if effect.recorded:
                self.decisions.append(Decision.of(event, effect))
            interpret(effect, ctx)

    def state_dict(self) -> dict[str, Any]:
        """The expression's state as plain data: its shape, and each hook's identity and state (for checkpoints)."""
        from fhooks.trainer.restore import hook_entry

        return hook_entry(self.hook, self.state)

    def load_state_dict(self, entry: Mapping[str, Any]) -> None:
        """Continue from a state :meth:`state_dict` returned; another expression's state is refused.

        Raises:
            CheckpointMismatch: the entry was saved by an expression of another shape or configuration.
        """
        from fhooks.core.hook import shape
        from fhooks.errors import CheckpointMismatch
        from fhooks.trainer.restore import matched_hook_state

        if isinstance(entry, Mapping) and "shape" in entry and entry["shape"] != shape(self.hook):
            raise CheckpointMismatch(f"load_state_dict: the state was saved by the expression {entry['shape']}, "
                                     f"this one is {shape(self.hook)}; pass the hooks it was saved with")
        self.state, _ = matched_hook_state(self.hook, entry, strict=True, where="load_state_dict")
