"""Carry out :class:`~fhooks.hooks.lr_finder.FindLearningRate`: the range test as trial steps, driven by the pure policy.

The module, optimizer, schedulers, loop counters and RNG states are restored
exactly afterwards; then the suggestion goes to the module's attribute and to
every param group, as Lightning does.
"""

from __future__ import annotations

import logging
from typing import Any

from fhooks.hooks.lr_finder import FindLearningRate, LRFinderHook, LRFinderResult
from fhooks.interpret import Context, handles
from fhooks.trainer.trials import (
    MissingAttribute,
    holders,
    isolated,
    looked_in,
    max_epochs,
    only_optimizer,
    require_trial_host,
    set_value,
    train_steps,
)

_WHERE = "lr_finder"
_NAMES = ("lr", "learning_rate")
log = logging.getLogger("fhooks")


def lr_attribute(trainer: Any, module: Any, finder: LRFinderHook) -> tuple[str, list[Any]] | None:
    """The attribute the suggestion goes to and everything holding it (None when ``update_attr`` is off).

    Raises:
        MissingAttribute: ``attr_name`` names nothing, or neither ``lr`` nor ``learning_rate`` exists.
    """
    if not finder.update_attr:
        return None
    where = looked_in(trainer, module)
    if finder.attr_name:
        found = holders(trainer, module, finder.attr_name)
        if not found:
            raise MissingAttribute(f"{_WHERE}: attr_name={finder.attr_name!r} names nothing; looked in {where}; "
                                   "pass the name of the attribute that holds the learning rate")
        return finder.attr_name, found
    for name in _NAMES:
        found = holders(trainer, module, name)
        if found:
            return name, found
    raise MissingAttribute(f"{_WHERE}: update_attr=True but there is no 'lr' or 'learning_rate'; looked in {where}; "
                           "add one of them, pass attr_name=..., or pass update_attr=False")


def _set_lr(optimizer: Any, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def range_test(trainer: Any, finder: LRFinderHook) -> LRFinderResult:
    """Run ``finder``'s range test on the trainer's training data and restore everything afterwards."""
    optimizer = only_optimizer(trainer, _WHERE)
    loader = trainer.train_loader
    test = finder.start()
    with isolated(trainer, [loader]):
        _set_lr(optimizer, finder.lr_at(0))
        steps = train_steps(trainer, loader, limit=getattr(trainer, "limits", {}).get("fit"),
                            max_epochs=max_epochs(trainer))
        try:
            for loss in steps:
                test = finder.observe(test, loss)
                if finder.done(test):
                    break
                _set_lr(optimizer, finder.lr_at(test.step))
        finally:
            steps.close()
    n = finder.num_training_steps
    if test.stopped:
        log.info(f"LR finder stopped early after {test.step} steps due to diverging loss.")
    elif test.step < n:
        log.info(f"LR finder stopped after {test.step} of {n} steps: the training batches ran out.")
    return LRFinderResult(finder.mode, finder.min_lr, finder.max_lr, n, test.lrs, test.losses, test.stopped)


def find_lr(trainer: Any, module: Any, finder: LRFinderHook) -> LRFinderResult:
    """The whole finder: check the attribute, run the test, then apply the suggestion (when ``update_attr``)."""
    target = lr_attribute(trainer, module, finder)
    result = range_test(trainer, finder)
    lr = result.suggestion() if target is not None else None
    if target is not None and lr is None:
        log.error("Failed to compute suggestion for learning rate because there are not enough points. "
                  "Increase the loop iteration limits or the size of your dataset/dataloader.")
    if lr is not None and target is not None:
        set_value(target[1], target[0], lr)
        for opt in trainer.optimizers:
            _set_lr(opt, lr)
        log.info(f"Learning rate set to {lr}")
    return result


@handles(FindLearningRate)
def _find_learning_rate(effect: FindLearningRate, ctx: Context) -> None:
    require_trial_host(ctx.host, _WHERE)
    result = find_lr(ctx.host, ctx.module, effect.finder)
    ctx.host.extra_state[effect.key] = {"lr": list(result.lrs), "loss": list(result.losses),
                                           "suggestion": result.suggestion()}
    if effect.report is not None:
        effect.report(result)
