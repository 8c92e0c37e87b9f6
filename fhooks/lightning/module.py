"""``fhooks.LightningModule``: Lightning's module API on plain torch, so ``import fhooks as L`` runs Lightning code."""

from __future__ import annotations

import builtins
import os
import warnings
from collections.abc import Mapping
from typing import Any

import torch

from fhooks.errors import InvalidArgument
from fhooks.lightning.hooks import ModelHooks
from fhooks.lightning.hparams import HyperparametersMixin


class LightningModule(HyperparametersMixin, ModelHooks, torch.nn.Module):
    """A ``torch.nn.Module`` with Lightning's ``LightningModule`` methods and properties (torch only).

    >>> import torch
    >>> class Net(LightningModule):
    ...     def __init__(self, width: int = 4, lr: float = 0.1):
    ...         super().__init__()
    ...         self.save_hyperparameters()
    ...         self.layer = torch.nn.Linear(width, 1)
    ...     def training_step(self, batch, batch_idx):
    ...         loss = self.layer(batch).pow(2).mean()
    ...         self.log("train_loss", loss)
    ...         return loss
    ...     def configure_optimizers(self):
    ...         return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)
    >>> net = Net(width=2)
    >>> net.hparams, net.current_epoch, net.device
    ({'width': 2, 'lr': 0.1}, 0, device(type='cpu'))
    """

    _fhooks_base = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._trainer: Any = None
        self.automatic_optimization = True
        self._example_input_array: Any = None
        self._toggled: dict[torch.nn.Parameter, bool] | None = None

    # -- the trainer and what it knows ------------------------------------------------------------
    @property
    def trainer(self) -> Any:
        """The trainer running this module (a RuntimeError when none is attached, as in Lightning)."""
        if self._trainer is None:
            raise RuntimeError(f"{type(self).__qualname__} is not attached to a Trainer")
        return self._trainer

    @trainer.setter
    def trainer(self, trainer: Any) -> None:
        for child in self.children():
            if isinstance(child, LightningModule):
                child.trainer = trainer
        self._trainer = trainer

    @property
    def current_epoch(self) -> int:
        return self._trainer.current_epoch if self._trainer is not None else 0

    @property
    def global_step(self) -> int:
        return self._trainer.global_step if self._trainer is not None else 0

    @property
    def logger(self) -> Any:
        return self._trainer.logger if self._trainer is not None else None

    @property
    def loggers(self) -> list[Any]:
        return list(self._trainer.loggers) if self._trainer is not None else []

    @property
    def device(self) -> torch.device:
        """Where the parameters (or buffers) are; the CPU for a module without any."""
        for tensor in (*self.parameters(), *self.buffers()):
            return tensor.device
        return torch.device("cpu")

    @property
    def dtype(self) -> torch.dtype:
        for tensor in self.parameters():
            if tensor.is_floating_point():
                return tensor.dtype
        return torch.get_default_dtype()

    @property
    def example_input_array(self) -> Any:
        return self._example_input_array

    @example_input_array.setter
    def example_input_array(self, example: Any) -> None:
        self._example_input_array = example

    # -- logging ------------------------------------------------------------------------------------
    def log(self, name: str, value: Any, *args: Any, **kwargs: Any) -> None:
        """Lightning's ``self.log`` (every argument); a warning and nothing more outside a trainer."""
        if self._trainer is None:
            warnings.warn(f"self.log({name!r}, ...) before the module is attached to a Trainer; nothing is logged",
                          UserWarning, stacklevel=2)
            return
        self._trainer.module_log(name, value, *args, **kwargs)

    def log_dict(self, dictionary: Mapping[str, Any], *args: Any, **kwargs: Any) -> None:
        """``self.log`` for every item of ``dictionary``, with the same arguments."""
        for name, value in dictionary.items():
            self.log(name, value, *args, **kwargs)

    def print(self, *args: Any, **kwargs: Any) -> None:
        """``print`` on the main process only."""
        if self._trainer is None or getattr(self._trainer, "global_rank", 0) == 0:
            builtins.print(*args, **kwargs)

    # -- optimization ---------------------------------------------------------------------------------
    def optimizers(self, use_pl_optimizer: bool = True) -> Any:
        """The optimizers of the run: one, or a list when ``configure_optimizers`` gave several.

        Each one's ``step()`` counts in ``global_step`` (manual optimization).
        """
        found = list(self.trainer.step_optimizers if use_pl_optimizer else self.trainer.optimizers)
        return found[0] if len(found) == 1 else found

    def lr_schedulers(self) -> Any:
        """The schedulers of the run: None, one, or a list."""
        found = [c.scheduler for c in self.trainer.lr_scheduler_configs]
        return None if not found else found[0] if len(found) == 1 else found

    def manual_backward(self, loss: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        """``backward`` for manual optimization (the gradient scaler applied under 16-bit precision)."""
        scaler = getattr(self.trainer, "scaler", None)
        self.backward(scaler.scale(loss) if scaler is not None else loss, *args, **kwargs)

    def toggle_optimizer(self, optimizer: Any) -> None:
        """Let only ``optimizer``'s parameters take gradients (the others' ``requires_grad`` saved, then off)."""
        optimizer = getattr(optimizer, "optimizer", optimizer)
        own = {id(p) for group in optimizer.param_groups for p in group["params"]}
        saved: dict[torch.nn.Parameter, bool] = {}
        for other in self.trainer.optimizers:
            for group in other.param_groups:
                for param in group["params"]:
                    if id(param) not in own and param not in saved:
                        saved[param] = param.requires_grad
                        param.requires_grad = False
        self._toggled = saved

    def untoggle_optimizer(self, optimizer: Any) -> None:
        """Undo :meth:`toggle_optimizer`."""
        for param, requires_grad in (self._toggled or {}).items():
            param.requires_grad = requires_grad
        self._toggled = None

    def clip_gradients(self, optimizer: Any, gradient_clip_val: float | None = None,
                       gradient_clip_algorithm: str | None = None) -> None:
        """Clip ``optimizer``'s gradients by norm (the default) or by value."""
        if not gradient_clip_val:
            return
        algorithm = gradient_clip_algorithm or "norm"
        if algorithm not in ("norm", "value"):
            raise InvalidArgument(f"clip_gradients: gradient_clip_algorithm={algorithm!r}; accepted: 'norm', 'value'")
        optimizer = getattr(optimizer, "optimizer", optimizer)
        params = [p for group in optimizer.param_groups for p in group["params"]]
        if algorithm == "norm":
            torch.nn.utils.clip_grad_norm_(params, gradient_clip_val)
        else:
            torch.nn.utils.clip_grad_value_(params, gradient_clip_val)

    # -- weights ----------------------------------------------------------------------------------------
    def freeze(self) -> None:
        """No gradients for any parameter, and eval mode."""
        for param in self.parameters():
            param.requires_grad = False
        self.eval()

    def unfreeze(self) -> None:
        """Gradients for every parameter again, and train mode."""
        for param in self.parameters():
            param.requires_grad = True
        self.train()

    @classmethod
    def load_from_checkpoint(cls, checkpoint_path: str | os.PathLike[str], map_location: Any = None,
                             hparams_file: Any = None, strict: bool = True, **kwargs: Any) -> Any:
        """A new module built from the checkpoint's saved hyperparameters (``kwargs`` override them), weights loaded."""
        if hparams_file is not None:
            raise InvalidArgument("load_from_checkpoint: hparams_file is not supported; the checkpoint's "
                                  "hyper_parameters are used (pass overrides as keyword arguments)")
        checkpoint = torch.load(checkpoint_path, map_location=map_location or "cpu", weights_only=True)
        module = cls(**{**checkpoint.get("hyper_parameters", {}), **kwargs})
        module.on_load_checkpoint(checkpoint)
        module.load_state_dict(checkpoint["state_dict"], strict=strict)
        return module
