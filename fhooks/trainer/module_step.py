"""A training batch that goes through the module's own hooks, as Lightning runs it.

Used when the module overrides ``optimizer_step``, ``optimizer_zero_grad``, ``backward`` or
``configure_gradient_clipping`` (the closure contract: ``optimizer_step(epoch, batch_idx,
optimizer, optimizer_closure)`` where the closure runs ``training_step``, zero_grad and
``backward`` and returns the loss), or sets ``automatic_optimization = False`` (manual
optimization: the module steps its optimizers itself, each step counted in ``global_step``).
Plain modules take the loop's own path.
"""

from __future__ import annotations

from typing import Any

from fhooks.errors import MisconfigurationError
from fhooks.lightning.hooks import overridden
from fhooks.trainer.outputs import check_loss_has_grad, split_output

_MODULE_STEPS = ("optimizer_step", "optimizer_zero_grad", "backward", "configure_gradient_clipping")


def step_mode(module: Any, trainer: Any) -> str | None:
    """``"manual"``, ``"module"`` (the module's optimization hooks run), or None (the loop's own path)."""
    if getattr(module, "automatic_optimization", True) is False:
        if not callable(getattr(module, "clip_gradients", None)):
            raise MisconfigurationError(f"{type(module).__name__}: automatic_optimization=False needs a "
                                        "LightningModule (fhooks' or Lightning's) for optimizers()/manual_backward")
        if trainer.gradient_clip_val:
            raise MisconfigurationError(f"Trainer(gradient_clip_val={trainer.gradient_clip_val!r}) with manual "
                                        "optimization: clip in training_step with self.clip_gradients(...) instead")
        return "manual"
    return "module" if any(overridden(module, name) for name in _MODULE_STEPS) else None


class StepOptimizer:
    """An optimizer as the module sees it (Lightning's ``LightningOptimizer``).

    ``step(closure)`` runs the closure, then ``on_before_optimizer_step``, gradient clipping and the
    optimizer's step; under manual optimization each step counts in ``trainer.global_step`` at once.
    Every other attribute is the wrapped optimizer's.
    """

    def __init__(self, trainer: Any, optimizer: Any) -> None:
        self._trainer = trainer
        self.optimizer = optimizer

    def step(self, closure: Any = None, **kwargs: Any) -> Any:
        trainer = self._trainer
        result = closure() if closure is not None else None
        if trainer.step_mode != "manual" and result is None:
            return None  # training_step returned None: Lightning skips the step
        from fhooks.trainer.loop import _optimizer_step

        _optimizer_step(trainer, self.optimizer, trainer.batch_idx, trainer.dispatcher.heard,
                        automatic=trainer.step_mode != "manual")
        return result

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def __getattr__(self, name: str) -> Any:
        if name in ("optimizer", "_trainer"):  # not set yet (copying, unpickling)
            raise AttributeError(name)
        return getattr(self.optimizer, name)

    def __repr__(self) -> str:
        return f"StepOptimizer({self.optimizer!r})"


def run(trainer: Any, module: Any, batch: Any, batch_idx: int, last: bool, heard: frozenset[str]) -> Any:
    """One training batch through the module's hooks; returns ``(loss, values)`` as the loop's path does."""
    if trainer.step_mode == "manual":
        return _training_step(trainer, module, batch, batch_idx)
    optimizer = trainer.step_optimizers[0]
    accumulate = trainer.accumulate_grad_batches
    done: list[tuple[Any, dict[str, Any]]] = []

    def closure() -> Any:
        loss, values = _training_step(trainer, module, batch, batch_idx)
        done.append((loss, values))
        if loss is None:
            return None
        check_loss_has_grad(loss, trainer.step_where)
        d = trainer.dispatcher
        if batch_idx % accumulate == 0:
            if "before_zero_grad" in heard:
                d.emit("before_zero_grad", data=optimizer.optimizer, batch_idx=batch_idx)
            _call(trainer, module, "optimizer_zero_grad", trainer.current_epoch, batch_idx, optimizer)
        scaled = loss / accumulate if accumulate > 1 else loss
        if "before_backward" in heard:
            d.emit("before_backward", data=scaled, batch_idx=batch_idx)
        _call(trainer, module, "backward", trainer.scaler.scale(scaled) if trainer.scaler else scaled)
        if "after_backward" in heard:
            d.emit("after_backward", batch_idx=batch_idx)
        return loss

    if last or (batch_idx + 1) % accumulate == 0:
        _call(trainer, module, "optimizer_step", trainer.current_epoch, batch_idx, optimizer, closure)
        if not done:
            raise MisconfigurationError(f"{type(module).__name__}.optimizer_step did not run optimizer_closure; "
                                        "call optimizer.step(closure=optimizer_closure) (or optimizer_closure())")
        trainer.global_step += 1  # as Lightning: counted once optimizer_step has returned
        if trainer.lr_scheduler_configs:
            from fhooks.trainer.optim import step_schedulers

            step_schedulers(trainer.lr_scheduler_configs, "step", batch_idx + 1, trainer.callback_metrics,
                            scheduler_step(trainer), plateau=False)
    else:
        closure()
    return done[0]


def _training_step(trainer: Any, module: Any, batch: Any, batch_idx: int) -> Any:
    from fhooks.trainer.loop import _autocast

    book = trainer.book
    outer, book.fx = book.fx, "training_step"
    try:
        with _autocast(trainer):
            output = trainer.strategy.training_step(module, batch, batch_idx)
    finally:
        book.fx = outer
    if trainer.step_mode == "manual" and output is not None and not _has_loss(output):
        return None, {}
    return split_output(output, trainer.step_where)


def _has_loss(output: Any) -> bool:
    return not isinstance(output, dict) or "loss" in output


def _call(trainer: Any, module: Any, name: str, *args: Any) -> None:
    """The module's hook ``name`` when it overrides it, else Lightning's default behaviour; logs as ``name``."""
    book = trainer.book
    outer, book.fx = book.fx, name
    try:
        if overridden(module, name):
            getattr(module, name)(*args)
        else:
            _DEFAULTS[name](*args)
    finally:
        book.fx = outer


_DEFAULTS = {
    "optimizer_step": lambda epoch, batch_idx, optimizer, closure: optimizer.step(closure=closure),
    "optimizer_zero_grad": lambda epoch, batch_idx, optimizer: optimizer.zero_grad(set_to_none=True),
    "backward": lambda loss: loss.backward(),
}


def finish(trainer: Any, optimizer: Any, automatic: bool) -> None:
    """Clip (automatic optimization: the module's ``configure_gradient_clipping``) and step; count manual steps."""
    module = trainer.module
    if automatic:
        wrapped = next((o for o in trainer.step_optimizers if o.optimizer is optimizer), optimizer)
        if overridden(module, "configure_gradient_clipping"):
            _call(trainer, module, "configure_gradient_clipping", wrapped, trainer.gradient_clip_val,
                  trainer.gradient_clip_algorithm)
        elif trainer.gradient_clip_val:
            module.clip_gradients(wrapped, trainer.gradient_clip_val, trainer.gradient_clip_algorithm)
    scaler = trainer.scaler
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    if not automatic:
        trainer.global_step += 1  # manual optimization: every step counts at once


def scheduler_step(trainer: Any) -> Any:
    """The module's ``lr_scheduler_step(scheduler, metric)`` when it overrides it, else None."""
    module = trainer.module
    if module is None or not overridden(module, "lr_scheduler_step"):
        return None
    return module.lr_scheduler_step
