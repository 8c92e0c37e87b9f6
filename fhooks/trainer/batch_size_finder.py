"""Carry out :class:`~fhooks.hooks.batch_size_finder.ScaleBatchSize`: batch-size trials driven by the pure search.

Each trial sets the batch size, rebuilds ``module.train_dataloader()`` and runs a
few optimizer steps; a real out-of-memory error (:func:`is_oom`)
means "too big", any other error propagates. Everything is restored after each
trial; the found size stays set and the trainer reloads the training data.
"""

from __future__ import annotations

import gc
import logging
from typing import Any

import attrs
import torch

from fhooks.errors import MisconfigurationError
from fhooks.hooks.batch_size_finder import BatchSizeFinderHook, ScaleBatchSize, next_size, search_result
from fhooks.interpret import Context, handles
from fhooks.trainer.trials import (
    MissingAttribute,
    Snapshot,
    fresh_holders,
    get_value,
    holders,
    isolated,
    looked_in,
    max_epochs,
    only_optimizer,
    require_trial_host,
    restore,
    run_steps,
    set_value,
)

_WHERE = "batch_size_finder"
log = logging.getLogger("fhooks")


def free_memory() -> None:
    """Collect garbage and return cached accelerator memory (between batch-size trials)."""
    gc.collect()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()


def is_oom(exc: BaseException) -> bool:
    """Whether ``exc`` is a real out-of-memory error: CUDA's, or the CPU allocator failing.

    >>> is_oom(RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 8 bytes"))
    True
    >>> is_oom(RuntimeError("shape mismatch")), is_oom(MemoryError())
    (False, False)
    """
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    if not isinstance(exc, RuntimeError) or len(exc.args) != 1 or not isinstance(exc.args[0], str):
        return False
    text = exc.args[0]
    if "CUDA" in text and "out of memory" in text:
        return True
    return "DefaultCPUAllocator" in text and ("can't allocate memory" in text or "not enough memory" in text)


def batch_holders(trainer: Any, module: Any, name: str) -> list[Any]:
    """Everything holding the batch size ``name``, or a clear error naming where it looked."""
    found = holders(trainer, module, name)
    if not found:
        raise MissingAttribute(f"{_WHERE}: batch_arg_name={name!r} names nothing; looked in "
                               f"{looked_in(trainer, module)}; set {name!r} where train_dataloader() reads it, "
                               "or pass batch_arg_name= the attribute that holds the batch size")
    return found


def _dataset_length(loader: Any) -> int | None:
    try:
        return len(loader.dataset)
    except (AttributeError, TypeError):
        return None


def _trial(trainer: Any, snap: Snapshot, loader: Any, steps: int) -> bool:
    """Run ``steps`` optimizer steps on ``loader``: True if they fit, False on a real out-of-memory error."""
    try:
        run_steps(trainer, steps, loader, max_epochs=max_epochs(trainer))
        return True
    except RuntimeError as exc:
        if not is_oom(exc):
            raise
        return False
    finally:
        restore(trainer, snap)
        fresh_holders(trainer, snap)
        free_memory()


def scale_batch_size(trainer: Any, module: Any, finder: BatchSizeFinderHook) -> tuple[int, tuple[tuple[int, bool], ...]]:
    """Search the batch size, restore everything, leave the found size set; returns it and the trials.

    Raises:
        MissingAttribute: ``batch_arg_name`` names nothing.
        MisconfigurationError: no ``train_dataloader()`` to rebuild, or no size fit in memory.
    """
    name = finder.batch_arg_name
    found = batch_holders(trainer, module, name)
    if not callable(getattr(module, "train_dataloader", None)) or getattr(trainer, "train_loader_source", "module") != "module":
        raise MisconfigurationError(f"{_WHERE}: needs the training data from {type(module).__name__}.train_dataloader(), "
                                    "to rebuild it with each batch size; define train_dataloader() instead of passing "
                                    "train_dataloaders to fit")
    only_optimizer(trainer, _WHERE)
    original = get_value(found[0], name)
    search = finder.start()
    try:
        with isolated(trainer, [trainer.train_loader]) as snap:
            while not search.done:
                set_value(found, name, search.size)
                loader = module.train_dataloader()
                search = attrs.evolve(search, limit=_dataset_length(loader))
                fits = _trial(trainer, snap, loader, finder.steps_per_trial)
                search = next_size(search, fits)
                if not search.done:
                    log.info(f"Batch size {search.tried[-1][0]} {'succeeded' if fits else 'failed'}, "
                             f"trying batch size {search.size}")
    except BaseException:
        set_value(found, name, original)
        raise
    result = search_result(search)
    if result is None:
        set_value(found, name, original)
        tried = ", ".join(str(size) for size, _ in search.tried)
        raise MisconfigurationError(f"{_WHERE}: no batch size fit in memory (tried {tried}); lower init_val, "
                                    "raise max_trials, or make the model smaller")
    set_value(found, name, result)
    trainer.reload_train_dataloader = True
    log.info(f"Finished batch size finder, will continue with full run using batch size {result}")
    return result, search.tried


@handles(ScaleBatchSize)
def _scale_batch_size(effect: ScaleBatchSize, ctx: Context) -> None:
    require_trial_host(ctx.host, _WHERE)
    trainer, module, finder = ctx.host, ctx.module, effect.finder
    if effect.resumed:
        saved = trainer.extra_state.get(effect.key)
        found = batch_holders(trainer, module, finder.batch_arg_name)
        if saved is None:
            return
        size = int(saved["batch_size"])
        set_value(found, finder.batch_arg_name, size)
        trainer.reload_train_dataloader = True
    else:
        size, tried = scale_batch_size(trainer, module, finder)
        trainer.extra_state[effect.key] = {"batch_size": size, "tried": [[s, ok] for s, ok in tried]}
    if effect.report is not None:
        effect.report(size)
