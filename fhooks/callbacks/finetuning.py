"""``BaseFinetuning`` and ``BackboneFinetuning``: Lightning's finetuning classes.

``BaseFinetuning`` is the base for your own schedule: write ``freeze_before_training``
and ``finetune_function`` with Lightning's static helpers. ``BackboneFinetuning`` wraps
the pure :func:`~fhooks.hooks.finetuning.backbone_finetuning` hook:

>>> from fhooks.core import Event, fold
>>> cb = BackboneFinetuning(unfreeze_backbone_at_epoch=2)
>>> cb
BackboneFinetuning(unfreeze_backbone_at_epoch=2)
>>> fold(cb, [Event("setup")])[1]
(Freeze(modules=('backbone',), train_bn=True),)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fhooks.callbacks.base import Callback, HookCallback
from fhooks.core.effects import Do, Effects
from fhooks.core.events import Event
from fhooks.hooks.finetuning import EXTRA_KEY, BackboneFinetuningHook, backbone_finetuning, multiplicative
from fhooks.hooks.model_effects import BackboneLearningRate


def _torch_side() -> Any:
    from fhooks.interpret.model import finetuning

    return finetuning


class BaseFinetuning(Callback):
    """Base class for finetuning schedules: override :meth:`freeze_before_training` and :meth:`finetune_function`.

    ``freeze_before_training(pl_module)`` runs at every ``setup``;
    ``finetune_function(pl_module, current_epoch, optimizer)`` at each ``train_epoch_start``,
    once per optimizer (once per epoch, even when a resumed run starts that epoch again).
    After each call the param-group layout (parameter *names* and hyperparameters) and
    the trainable flags are kept as plain data in :meth:`state_dict`, so a resumed run
    rebuilds the same groups at ``fit_start`` before the optimizer state is loaded.

    >>> class Unfreeze(BaseFinetuning):
    ...     def freeze_before_training(self, pl_module):
    ...         self.freeze(pl_module.encoder)
    ...     def finetune_function(self, pl_module, current_epoch, optimizer):
    ...         if current_epoch == 3:
    ...             self.unfreeze_and_add_param_group(pl_module.encoder, optimizer, lr=1e-4)
    >>> sorted(Unfreeze().kinds)
    ['fit_start', 'setup', 'train_epoch_start']
    """

    def __init__(self) -> None:
        self._internal_optimizer_metadata: dict[int, list[dict[str, Any]]] = {}
        self._trainable: list[str] | None = None
        self._bn_untracked: list[str] = []
        self._last_epoch = -1
        self._restarting = False

    # -- what subclasses write --------------------------------------------------------------------
    def freeze_before_training(self, pl_module: Any) -> None:
        """Freeze what must not train at first; called at every ``setup``."""
        raise NotImplementedError(f"{type(self).__name__}: override freeze_before_training(pl_module)")

    def finetune_function(self, pl_module: Any, epoch: int, optimizer: Any) -> None:
        """Unfreeze (and add param groups) as the epoch requires; called at each ``train_epoch_start``."""
        raise NotImplementedError(f"{type(self).__name__}: override finetune_function(pl_module, epoch, optimizer)")

    # -- the hooks --------------------------------------------------------------------------------
    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        self.freeze_before_training(pl_module)

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        if self._restarting:
            _torch_side().restore_layout(pl_module, trainer.optimizers, self._layout())
            self._restarting = False

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        if trainer.current_epoch <= self._last_epoch:
            return
        for optimizer in trainer.optimizers:
            self.finetune_function(pl_module, trainer.current_epoch, optimizer)
        self._last_epoch = trainer.current_epoch
        layout = _torch_side().param_layout(pl_module, trainer.optimizers)
        self._internal_optimizer_metadata = dict(enumerate(layout["param_groups"]))
        self._trainable, self._bn_untracked = layout["trainable"], layout["bn_untracked"]

    def _layout(self) -> dict[str, Any]:
        groups = [self._internal_optimizer_metadata[i] for i in sorted(self._internal_optimizer_metadata)]
        layout: dict[str, Any] = {"param_groups": groups, "bn_untracked": self._bn_untracked}
        if self._trainable is not None:
            layout["trainable"] = self._trainable
        return layout

    def state_dict(self) -> dict[str, Any]:
        """Plain data: each optimizer's groups with parameter names, trainable parameters, the last epoch."""
        return {"internal_optimizer_metadata": self._internal_optimizer_metadata, "trainable": self._trainable,
                "bn_untracked": self._bn_untracked, "last_epoch": self._last_epoch}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (or Lightning's plain ``{opt_idx: groups}`` mapping); groups are rebuilt at ``fit_start``."""
        metadata = state_dict.get("internal_optimizer_metadata", state_dict)
        self._internal_optimizer_metadata = {int(k): list(v) for k, v in metadata.items() if str(k).isdigit()}
        self._trainable = state_dict.get("trainable")
        self._bn_untracked = list(state_dict.get("bn_untracked", []))
        self._last_epoch = int(state_dict.get("last_epoch", -1))
        self._restarting = bool(self._internal_optimizer_metadata)

    # -- Lightning's static helpers (act on live torch modules and optimizers) ------------------------
    @staticmethod
    def flatten_modules(modules: Any) -> list[Any]:
        """Every leaf module, or module owning parameters directly, under ``modules`` (module, ModuleDict, iterable)."""
        return _torch_side().flatten_modules(modules)

    @staticmethod
    def filter_params(modules: Any, train_bn: bool = True, requires_grad: bool = True) -> Iterator[Any]:
        """The leaf modules' own parameters with this ``requires_grad``; BatchNorm skipped unless ``train_bn``."""
        return _torch_side().filter_params(modules, train_bn, requires_grad)

    @staticmethod
    def make_trainable(modules: Any) -> None:
        """``requires_grad=True`` everywhere under ``modules``; BatchNorm tracks running statistics."""
        _torch_side().make_trainable(modules)

    @staticmethod
    def freeze_module(module: Any) -> None:
        """Freeze one module's own parameters (a BatchNorm also stops tracking running statistics)."""
        _torch_side().freeze_module(module)

    @staticmethod
    def freeze(modules: Any, train_bn: bool = True) -> None:
        """Freeze ``modules``; their BatchNorm layers stay trainable when ``train_bn``."""
        _torch_side().freeze(modules, train_bn)

    @staticmethod
    def filter_on_optimizer(optimizer: Any, params: Iterable[Any]) -> list[Any]:
        """``params`` not already in a group of ``optimizer`` (compared by identity); warns when some were."""
        return _torch_side().filter_on_optimizer(optimizer, params)

    @staticmethod
    def unfreeze_and_add_param_group(modules: Any, optimizer: Any, lr: float | None = None,
                                     initial_denom_lr: float = 10.0, train_bn: bool = True) -> None:
        """Unfreeze ``modules`` and add their new parameters as one group (lr: ``lr`` or group 0's / ``initial_denom_lr``)."""
        _torch_side().unfreeze_and_add_param_group(modules, optimizer, lr, initial_denom_lr, train_bn)


class BackboneFinetuning(HookCallback, BaseFinetuning):
    """Freeze ``pl_module.backbone`` until ``unfreeze_backbone_at_epoch``, then train it at a rising lr.

    Lightning's arguments, over :func:`~fhooks.hooks.finetuning.backbone_finetuning`; the
    static helpers of :class:`BaseFinetuning` are available too.

    Raises:
        InvalidArgument: an argument the pure hook rejects.
        MisconfigurationError: (at ``setup``) the module has no ``backbone`` submodule.
    """

    hook: BackboneFinetuningHook

    def __init__(self, unfreeze_backbone_at_epoch: int = 10, lambda_func: Callable[[int], float] = multiplicative,
                 backbone_initial_ratio_lr: float = 0.1, backbone_initial_lr: float | None = None,
                 should_align: bool = True, initial_denom_lr: float = 10.0, train_bn: bool = True,
                 verbose: bool = False, rounding: int = 12) -> None:
        BaseFinetuning.__init__(self)
        self.previous_backbone_lr: float | None = None
        self._wrap(backbone_finetuning(unfreeze_backbone_at_epoch, lambda_func, backbone_initial_ratio_lr,
                                       backbone_initial_lr, should_align, initial_denom_lr, train_bn, verbose,
                                       rounding))

    unfreeze_backbone_at_epoch = property(lambda self: self.hook.schedule.unfreeze_at, doc="The unfreeze epoch.")
    lambda_func = property(lambda self: self.hook.schedule.lambda_func, doc="epoch -> lr multiplier.")
    backbone_initial_ratio_lr = property(lambda self: self.hook.schedule.initial_ratio_lr, doc="Initial lr ratio.")
    backbone_initial_lr = property(lambda self: self.hook.schedule.initial_lr, doc="Initial lr, or None.")
    should_align = property(lambda self: self.hook.schedule.should_align, doc="Cap at the main lr.")
    initial_denom_lr = property(lambda self: self.hook.schedule.initial_denom_lr, doc="Lightning's denominator.")
    train_bn = property(lambda self: self.hook.schedule.train_bn, doc="Whether BatchNorm layers train.")
    verbose = property(lambda self: self.hook.schedule.verbose, doc="Log the lrs each epoch.")
    rounding = property(lambda self: self.hook.schedule.rounding, doc="Digits in the verbose log.")

    def freeze_before_training(self, pl_module: Any) -> None:
        """Freeze ``pl_module.backbone`` (what the hook's ``Freeze`` effect does)."""
        self.freeze(pl_module.backbone, train_bn=self.train_bn)

    def finetune_function(self, pl_module: Any, epoch: int, optimizer: Any) -> None:
        """Not used: the pure hook's :class:`~fhooks.hooks.model_effects.BackboneLearningRate` effect does this."""
        raise NotImplementedError("BackboneFinetuning: the schedule runs as effects; subclass BaseFinetuning instead")

    state_dict = HookCallback.state_dict
    load_state_dict = HookCallback.load_state_dict

    def step(self, state: Any, event: Event) -> tuple[Any, Effects]:
        """The hook's step; after a ``BackboneLearningRate`` effect, a ``Do`` copies the backbone's new lr into
        Lightning's ``previous_backbone_lr``."""
        state, effects = HookCallback.step(self, state, event)
        if any(isinstance(e, BackboneLearningRate) for e in effects):
            effects = (*effects, Do(self._keep_backbone_lr, "BackboneFinetuning: keep previous_backbone_lr"))
        return state, effects

    def _keep_backbone_lr(self, ctx: Any) -> None:
        self.previous_backbone_lr = ctx.trainer.extra_state.get(EXTRA_KEY, {}).get("previous_backbone_lr")

    def __repr__(self) -> str:
        return "BackboneFinetuning" + repr(self.hook)[len("backbone_finetuning"):]
