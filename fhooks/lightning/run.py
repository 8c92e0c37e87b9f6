"""What a Lightning module or data module needs around a run: attach, hooks before the loops, teardown after.

The trainer calls these for any module; for a plain ``torch.nn.Module`` they do only what
the module defines (a method it has), so plain modules train as before.
"""

from __future__ import annotations

import contextlib
import sys
import types
from collections.abc import Iterator
from typing import Any

from fhooks.lightning.hooks import move_to_device, overridden

_LIGHTNING_BASES = (("lightning.pytorch", "LightningModule"), ("pytorch_lightning", "LightningModule"))


def is_lightning_module(module: Any) -> bool:
    """Whether ``module`` is an ``fhooks.LightningModule`` or (when imported) Lightning's own."""
    from fhooks.lightning.module import LightningModule

    if isinstance(module, LightningModule):
        return True
    return any(isinstance(module, getattr(sys.modules[name], cls)) for name, cls in _LIGHTNING_BASES
               if name in sys.modules)


def is_datamodule(value: Any) -> bool:
    """Whether ``value`` is a data module (fhooks' or Lightning's), rather than loaders."""
    from fhooks.lightning.datamodule import LightningDataModule

    if isinstance(value, LightningDataModule):
        return True
    return any(isinstance(value, getattr(sys.modules[name], "LightningDataModule")) for name, _ in _LIGHTNING_BASES
               if name in sys.modules)


def call(obj: Any, name: str, *args: Any) -> Any:
    """``obj.name(*args)`` when ``obj`` defines it itself (not a Lightning default); else None."""
    if obj is not None and overridden(obj, name):
        return getattr(obj, name)(*args)
    return None


@contextlib.contextmanager
def attached(trainer: Any, module: Any, datamodule: Any) -> Iterator[None]:
    """Point a Lightning module's ``trainer`` at ``trainer`` and route its ``log``/``log_dict`` through it.

    Lightning's own module keeps its class but gets instance-level ``log``/``log_dict`` (and the
    optimizer helpers) for the run; the ``trainer`` reference stays after the run, as in Lightning.
    """
    module.trainer = trainer
    if datamodule is not None:
        datamodule.trainer = trainer
    added = _borrowed(trainer, module) if not _is_fhooks_module(module) else {}
    module.__dict__.update(added)
    try:
        yield
    finally:
        for name in added:
            module.__dict__.pop(name, None)


#: What Lightning's own module does through Lightning's trainer internals; fhooks' versions stand in for a run.
_BORROWED = ("optimizers", "lr_schedulers", "manual_backward", "toggle_optimizer", "untoggle_optimizer",
             "clip_gradients", "print")


def _borrowed(trainer: Any, module: Any) -> dict[str, Any]:
    from fhooks.lightning.module import LightningModule

    methods = {name: types.MethodType(getattr(LightningModule, name), module) for name in _BORROWED}
    return {"log": trainer.module_log, "log_dict": trainer.module_log_dict, **methods}


def _is_fhooks_module(module: Any) -> bool:
    from fhooks.lightning.module import LightningModule

    return isinstance(module, LightningModule)


def merge_callbacks(trainer_callbacks: list[Any], module: Any) -> list[Any]:
    """The trainer's callbacks with the module's ``configure_callbacks()`` merged in, as Lightning merges them.

    A module callback replaces every trainer callback of its type or a parent type (generic hook values
    such as ``when(...)`` are never replaced); module callbacks go after the others, and checkpoint
    callbacks last.
    """
    given = call(module, "configure_callbacks")
    if not given:
        return trainer_callbacks
    added = list(given) if isinstance(given, (list, tuple)) else [given]
    replaced = {type(cb) for cb in trainer_callbacks
                if not _combinator(cb) and any(isinstance(new, type(cb)) for new in added)}
    kept = [cb for cb in trainer_callbacks if type(cb) not in replaced]
    merged = kept + added
    from fhooks.hooks.model_checkpoint import ModelCheckpoint as HookCheckpoint

    def is_checkpoint(cb: Any) -> bool:
        return isinstance(cb, HookCheckpoint) or type(cb).__name__ == "ModelCheckpoint"

    return [cb for cb in merged if not is_checkpoint(cb)] + [cb for cb in merged if is_checkpoint(cb)]


_TRANSFER_HOOKS = ("on_before_batch_transfer", "transfer_batch_to_device", "on_after_batch_transfer")


def transfer(module: Any, batch: Any, device: Any, dataloader_idx: int) -> Any:
    """``batch`` through the module's ``on_before_batch_transfer``, ``transfer_batch_to_device`` and
    ``on_after_batch_transfer`` (each one the module does not define does Lightning's default)."""
    if overridden(module, "on_before_batch_transfer"):
        batch = module.on_before_batch_transfer(batch, dataloader_idx)
    if overridden(module, "transfer_batch_to_device"):
        batch = module.transfer_batch_to_device(batch, device, dataloader_idx)
    else:
        batch = move_to_device(batch, device)
    if overridden(module, "on_after_batch_transfer"):
        batch = module.on_after_batch_transfer(batch, dataloader_idx)
    return batch


def model_eval(module: Any, prefix: str) -> dict[str, bool]:
    """``on_{prefix}_model_eval`` when the module overrides it, else ``module.eval()``; returns the mode each
    submodule had before, for :func:`model_train`."""
    modes = {name: sub.training for name, sub in module.named_modules()}
    name = f"on_{prefix}_model_eval"
    getattr(module, name if overridden(module, name) else "eval")()
    return modes


def model_train(module: Any, prefix: str, modes: dict[str, bool]) -> None:
    """``on_{prefix}_model_train`` when the module overrides it, else each submodule's mode back as ``modes`` has
    it (Lightning's: a submodule frozen in eval mode stays so, not ``module.train()``)."""
    name = f"on_{prefix}_model_train"
    if overridden(module, name):
        getattr(module, name)()
    else:
        restore_modes(module, modes)


def restore_modes(module: Any, modes: dict[str, bool]) -> None:
    """Each submodule's ``training`` flag back as :func:`model_eval` found it."""
    for name, sub in module.named_modules():
        if name in modes:
            sub.training = modes[name]


def _combinator(hook: Any) -> bool:
    """Whether ``hook`` is one of the core's generic hook values (a ``when``, ``sequence``...): never replaced."""
    return type(hook).__module__.startswith("fhooks.core.")


def before_run(trainer: Any, module: Any, datamodule: Any, stage: str) -> None:
    """Lightning's hooks before the loops: ``prepare_data``, ``setup(stage)``, ``configure_model``."""
    trainer.batch_hooks = any(overridden(module, name) for name in _TRANSFER_HOOKS)
    for obj in (datamodule, module):
        call(obj, "prepare_data")
    for obj in (datamodule, module):
        call(obj, "setup", stage)
    call(module, "configure_model")


def after_run(module: Any, datamodule: Any, stage: str) -> None:
    """Lightning's ``teardown(stage)``, data module first."""
    for obj in (datamodule, module):
        call(obj, "teardown", stage)


def checkpoint_entries(module: Any, datamodule: Any) -> dict[str, Any]:
    """The saved hyperparameters a checkpoint carries (what ``load_from_checkpoint`` rebuilds a module from)."""
    entries = {}
    for obj, key in ((module, "hyper_parameters"), (datamodule, "datamodule_hyper_parameters")):
        hparams = getattr(obj, "__dict__", {}).get("_hparams")
        if hparams:
            entries[key] = dict(hparams)
    return entries
