"""``ModelPruning``: Lightning's class, over :func:`~fhooks.hooks.pruning.model_pruning`.

>>> cb = ModelPruning("l1_unstructured", amount=0.3, parameters_to_prune=[("net.0", "weight")])
>>> cb
ModelPruning('l1_unstructured', parameters_to_prune=[('net.0', 'weight')], amount=0.3)
>>> sorted(cb.kinds)
['load_checkpoint', 'save_checkpoint', 'setup', 'train_end', 'train_epoch_end']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import attrs

from fhooks.callbacks.base import HookCallback
from fhooks.core.effects import Do, Effects
from fhooks.core.events import Event
from fhooks.errors import InvalidArgument, MisconfigurationError
from fhooks.hooks.pruning import PruningHook, PruningState, model_pruning


class ModelPruning(HookCallback):
    """Prune the model's weights on a schedule with ``torch.nn.utils.prune`` (Lightning's arguments).

    ``parameters_to_prune`` takes ``(module, name)`` pairs as Lightning does, where the
    module is a submodule object or its dotted path (``"net.0"``); objects are turned into
    paths at ``setup``, so every effect names modules by path.

    Raises:
        InvalidArgument: an argument :func:`~fhooks.hooks.pruning.model_pruning` rejects.
        MisconfigurationError: (at ``setup``) a pair naming no parameter of the model.
    """

    PARAMETER_NAMES: ClassVar[tuple[str, ...]] = ("weight", "bias")


    hook: PruningHook
    _state: PruningState

    def __init__(self, pruning_fn: str | Callable[..., Any], parameters_to_prune: Sequence[tuple[Any, str]] = (),
                 parameter_names: Sequence[str] | None = None, use_global_unstructured: bool = True,
                 amount: int | float | Callable[[int], int | float] = 0.5,
                 apply_pruning: bool | Callable[[int], bool] = True, make_pruning_permanent: bool = True,
                 use_lottery_ticket_hypothesis: bool | Callable[[int], bool] = True,
                 resample_parameters: bool = False, pruning_dim: int | None = None, pruning_norm: Any = None,
                 verbose: int = 0, prune_on_train_epoch_end: bool = True) -> None:
        pairs = list(parameters_to_prune)
        self._objects = None
        if any(isinstance(p, (tuple, list)) and len(p) == 2 and not isinstance(p[0], str) for p in pairs):
            self._objects = [(m, n) for m, n in pairs]
            pairs = []
        self._wrap(model_pruning(
            pruning_fn, parameters_to_prune=pairs, parameter_names=parameter_names,
            use_global_unstructured=use_global_unstructured, amount=amount, apply_pruning=apply_pruning,
            make_pruning_permanent=make_pruning_permanent, use_lottery_ticket_hypothesis=use_lottery_ticket_hypothesis,
            resample_parameters=resample_parameters, pruning_dim=pruning_dim, pruning_norm=pruning_norm,
            verbose=verbose, prune_on_train_epoch_end=prune_on_train_epoch_end))
        if self._objects is not None and not all(isinstance(n, str) for _, n in self._objects):
            raise InvalidArgument("ModelPruning: parameters_to_prune must be (module, parameter name) pairs")

    def step(self, state: PruningState, event: Event) -> tuple[PruningState, Effects]:
        if event.kind == "setup" and self._objects is not None:
            return state, (Do(lambda ctx: self._resolve(ctx, state, event), "ModelPruning: resolve parameters_to_prune"),)
        return super().step(state, event)

    def _resolve(self, ctx: Any, state: PruningState, event: Event) -> None:
        from fhooks.interpret import interpret

        paths = {id(m): p for p, m in ctx.module.named_modules()}
        for module, name in self._objects or ():
            if id(module) not in paths:
                raise MisconfigurationError(f"ModelPruning: parameters_to_prune has ({type(module).__name__}, {name!r}) "
                                            f"whose module is not part of {type(ctx.module).__name__}")
        pairs = tuple((paths[id(m)], n) for m, n in self._objects or ())
        self.hook = attrs.evolve(self.hook, parameters_to_prune=pairs)
        self._objects = None
        for effect in super().step(state, event)[1]:
            interpret(effect, ctx)

    pruning_fn = property(lambda self: self.hook.pruning_fn, doc="The pruning method (name or class).")
    amount = property(lambda self: self.hook.amount, doc="The amount, or the callable of the epoch.")
    parameters_to_prune = property(lambda self: list(self.hook.parameters_to_prune), doc="(path, name) pairs.")

    def __repr__(self) -> str:
        return "ModelPruning" + repr(self.hook)[len("model_pruning"):]
