"""The hooks a Lightning module may override, with Lightning's default behaviour.

The trainer treats an ``on_*`` hook, ``setup``/``teardown`` or a ``*_dataloader`` method that a
module inherits from here (or from Lightning's own base classes) as absent, so the defaults cost
nothing and ``super().on_train_epoch_end()`` still works.

>>> import torch
>>> class Net(ModelHooks, torch.nn.Module):
...     def on_train_epoch_end(self):
...         pass
>>> overridden(Net(), "on_train_epoch_end"), overridden(Net(), "on_train_start"), overridden(Net(), "forward")
(True, False, True)
"""

from __future__ import annotations

from typing import Any

import torch

#: Lightning's own base classes live in these packages: what they define counts as not overridden.
_LIGHTNING_CORE = ("lightning.pytorch.core.", "pytorch_lightning.core.")


def overridden(module: Any, name: str) -> bool:
    """Whether ``module`` has its own ``name`` (not a default of fhooks' or Lightning's base classes)."""
    if callable(getattr(module, "__dict__", {}).get(name)):
        return True
    for klass in type(module).__mro__:
        if name in klass.__dict__:
            return not (getattr(klass, "_fhooks_base", False) and "_fhooks_base" in klass.__dict__
                        or klass.__module__.startswith(_LIGHTNING_CORE))
    return False


def move_to_device(batch: Any, device: torch.device) -> Any:
    """Every tensor (and object with ``.to``) in a nested batch moved to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: move_to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(move_to_device(v, device) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(move_to_device(v, device) for v in batch)
    return batch


def _noop(self: Any, *args: Any, **kwargs: Any) -> None:
    """A hook that does nothing unless overridden."""


class ModelHooks:
    """Lightning's module hooks: the ``on_*`` notifications do nothing; the others do what Lightning does."""

    _fhooks_base = True

    for _name in ("on_fit_start", "on_fit_end", "on_train_start", "on_train_end", "on_validation_start",
                  "on_validation_end", "on_test_start", "on_test_end", "on_predict_start", "on_predict_end",
                  "on_train_batch_start", "on_train_batch_end", "on_validation_batch_start",
                  "on_validation_batch_end", "on_test_batch_start", "on_test_batch_end", "on_predict_batch_start",
                  "on_predict_batch_end", "on_train_epoch_start", "on_train_epoch_end", "on_validation_epoch_start",
                  "on_validation_epoch_end", "on_test_epoch_start", "on_test_epoch_end", "on_predict_epoch_start",
                  "on_predict_epoch_end", "on_before_zero_grad", "on_before_backward", "on_after_backward",
                  "on_before_optimizer_step", "on_sanity_check_start", "on_sanity_check_end",
                  "on_save_checkpoint", "on_load_checkpoint", "on_exception", "prepare_data", "setup", "teardown",
                  "configure_model"):
        locals()[_name] = _noop
    del _name

    def configure_callbacks(self) -> Any:
        """Callbacks this module adds to the trainer's (none by default)."""
        return []

    def on_validation_model_eval(self) -> None:
        self.eval()  # type: ignore[attr-defined]

    def on_validation_model_train(self) -> None:
        self.train()  # type: ignore[attr-defined]

    def on_test_model_eval(self) -> None:
        self.eval()  # type: ignore[attr-defined]

    def on_test_model_train(self) -> None:
        self.train()  # type: ignore[attr-defined]

    def on_predict_model_eval(self) -> None:
        self.eval()  # type: ignore[attr-defined]

    def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        return batch

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        return move_to_device(batch, device)

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        return batch

    def backward(self, loss: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        loss.backward(*args, **kwargs)

    def optimizer_step(self, epoch: int, batch_idx: int, optimizer: Any, optimizer_closure: Any = None) -> None:
        """Step ``optimizer``; ``optimizer_closure`` runs ``training_step`` and ``backward`` and returns the loss."""
        optimizer.step(closure=optimizer_closure)

    def optimizer_zero_grad(self, epoch: int, batch_idx: int, optimizer: Any) -> None:
        optimizer.zero_grad()

    def lr_scheduler_step(self, scheduler: Any, metric: Any) -> None:
        if metric is None:
            scheduler.step()
        else:
            scheduler.step(metric)

    def configure_gradient_clipping(self, optimizer: Any, gradient_clip_val: float | None = None,
                                    gradient_clip_algorithm: str | None = None) -> None:
        self.clip_gradients(optimizer, gradient_clip_val, gradient_clip_algorithm)  # type: ignore[attr-defined]


class DataHooks:
    """Lightning's data hooks; the ``*_dataloader`` methods are absent until a subclass defines them."""

    _fhooks_base = True

    prepare_data = _noop
    setup = _noop
    teardown = _noop
    on_before_batch_transfer = ModelHooks.on_before_batch_transfer
    transfer_batch_to_device = ModelHooks.transfer_batch_to_device
    on_after_batch_transfer = ModelHooks.on_after_batch_transfer

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (nothing by default)."""
