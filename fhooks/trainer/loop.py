"""The loops: fit (training epochs with validation), evaluate, predict; checkpoints in and out.

Events are emitted in Lightning's order (see ``docs/events.md``).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

import torch

import fhooks
from fhooks.core.events import batch_data
from fhooks.core.frozendict import frozendict
from fhooks.errors import MisconfigurationError
from fhooks.lightning import run as lightning
from fhooks.lightning.hooks import overridden
from fhooks.trainer import checkpoint as ckpt
from fhooks.trainer import checkpoint_files, lightning_layout, module_step, moments, restore, strategies
from fhooks.trainer.config import check_batches, limited
from fhooks.trainer.logbook import float_metrics
from fhooks.trainer.optim import parse_optimizers, step_schedulers
from fhooks.trainer.outputs import (
    EpochMeans,
    LazyMetrics,
    as_float,
    batch_size,
    check_loss_has_grad,
    eval_values,
    split_output,
    to_device,
)
from fhooks.trainer.position import (
    BATCH_END_DONE,
    EPOCH_END_DONE,
    EPOCH_STARTED,
    SCHEDULERS_STEPPED,
    VALIDATION_DONE,
    Position,
)


def _lookahead(iterable: Any) -> Iterator[tuple[Any, bool]]:
    """Yield ``(item, is_last)`` by fetching one item ahead."""
    iterator = iter(iterable)
    try:
        current = next(iterator)
    except StopIteration:
        return
    for item in iterator:
        yield current, False
        current = item
    yield current, True


def _length(loader: Any) -> int | None:
    try:
        return len(loader)
    except TypeError:
        return None


def _loaders(module: Any, given: Any, method: str) -> list[Any]:
    if given is None:
        given = lightning.call(module, method)
    if given is None:
        return []
    return list(given) if isinstance(given, (list, tuple)) and given and _is_loader(given[0]) else [given]


def _data_source(trainer: Any, module: Any) -> Any:
    """Where loaders come from: the data module when one was given, else the module."""
    return module if trainer.datamodule is None else trainer.datamodule


def _is_loader(value: Any) -> bool:
    return isinstance(value, torch.utils.data.DataLoader) or (hasattr(value, "__iter__") and not isinstance(value, torch.Tensor)
                                                             and not isinstance(value, (tuple, list)))


def _autocast(trainer: Any) -> Any:
    if trainer.precision == "32-true":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if trainer.precision == "bf16-mixed" else torch.float16
    return torch.autocast(trainer.device.type, dtype=dtype)


# -- fit ------------------------------------------------------------------------------------------
def fit(trainer: Any, module: Any, train_loaders: Any, val_loaders: Any, ckpt_path: Any) -> None:
    """Run a whole fit; on any exception the ``exception`` event fires, then the exception propagates."""
    d = trainer.dispatcher
    moments.boundary(trainer, keep_rng=True)  # an exception before training resumes from the very start
    try:
        lightning.before_run(trainer, module, trainer.datamodule, "fit")
        trainer.step_mode = module_step.step_mode(module, trainer)
        module.to(trainer.device)
        trainer.strategy.setup_module(trainer, module)
        if callable(getattr(module, "configure_optimizers", None)) and lightning.is_lightning_module(module):
            _configure_optimizers(trainer, module)  # as Lightning: after setup, before the dataloaders
        source = _data_source(trainer, module)
        # as Lightning: a sanity check asks for the validation loaders first, its RNG isolated (a loader that
        # draws random data when made gets the same draws), then the training loader
        with _rng_kept(_sanity_checks(trainer, module)):
            val = _loaders(source, val_loaders, "val_dataloader")
        train = _loaders(source, train_loaders, "train_dataloader")
        if not train:
            raise MisconfigurationError("Trainer.fit: no training data; pass train_dataloaders or define train_dataloader()")
        if len(train) > 1:
            raise MisconfigurationError(f"Trainer.fit: got {len(train)} training loaders; pass one")
        trainer.train_loader = trainer.strategy.prepare_loader(train[0], training=True)
        trainer.val_loaders = [trainer.strategy.prepare_loader(loader, training=False) for loader in val]
        if not overridden(module, "validation_step"):
            trainer.val_loaders = []
        if not callable(getattr(module, "configure_optimizers", None)):
            raise MisconfigurationError(f"Trainer.fit: {type(module).__name__} has no configure_optimizers method")
        trainer.step_where = f"{type(module).__name__}.training_step"
        check_batches(_length(trainer.train_loader), trainer.limits["fit"], "limit_train_batches")
        for val_loader in trainer.val_loaders:
            check_batches(_length(val_loader), trainer.limits["validate"], "limit_val_batches")
        total = limited(_length(trainer.train_loader), trainer.limits["fit"])
        trainer.num_training_batches = total
        trainer.num_val_total = _eval_total(trainer.val_loaders, trainer.limits["validate"]) or 0
        plan = restore.prepare(trainer, module, ckpt_path) if ckpt_path is not None else None
        trainer.resuming = plan  # until training starts, an exception checkpoint is the one resumed from
        counts = {"num_sanity_val_batches": _sanity_total(trainer),
                  "existing_checkpoints": _existing_files(trainer, None if plan is None else plan.checkpoint)}
        d.emit("setup", data=trainer.run_info(total, trainer.num_val_total, **counts))
        if plan is not None:
            restore.model_and_hooks(trainer, module, plan)
        trainer.log_hyperparams(module)
        if not trainer.optimizers:
            _configure_optimizers(trainer, module)
        d.emit("fit_start", data=trainer.run_info(total, trainer.num_val_total, **counts))
        if trainer.reload_train_dataloader:
            _reload_train_loader(trainer, module)
        if plan is not None:
            restore.loops(trainer, module, plan)
        _sanity_check(trainer, module)
        if plan is not None:
            ckpt.set_rng_states(plan.rng)
        trainer.resuming = None
        trainer.training = True  # the module's modes stay as they are (Lightning sets none): frozen parts stay eval
        d.emit("train_start")
        _epochs(trainer, module, plan)
        trainer.log_step = None
        d.emit("train_end")
        trainer.training = False
        d.emit("fit_end")
        d.emit("teardown")
        lightning.after_run(module, trainer.datamodule, "fit")
        trainer.finalize_loggers("success")
    except BaseException as exc:
        trainer.training = False
        trainer.log_step = None
        trainer.handling_exception = True
        trainer.interrupts.drop()  # a step under way is abandoned: a signal it held is not raised any more
        moments.roll_back(trainer)
        try:
            d.emit("exception", data=exc, batch_idx=trainer.batches_done)
        finally:
            trainer.handling_exception = False
            trainer.finalize_loggers("failed")
        raise


def _configure_optimizers(trainer: Any, module: Any) -> None:
    """Call ``configure_optimizers`` (after ``setup`` and the restore of weights and hooks, as Lightning)."""
    trainer.optimizers, trainer.lr_scheduler_configs = parse_optimizers(module.configure_optimizers())
    trainer.step_optimizers = [module_step.StepOptimizer(trainer, o) for o in trainer.optimizers]
    if len(trainer.optimizers) != 1 and trainer.step_mode != "manual":
        raise MisconfigurationError(f"Trainer.fit: configure_optimizers returned {len(trainer.optimizers)} "
                                    "optimizers; automatic optimization steps exactly one")
    trainer.scaler = torch.amp.GradScaler("cuda") if trainer.precision == "16-mixed" else None


def _existing_files(trainer: Any, checkpoint: Any) -> tuple[str, ...]:
    """The files already in the checkpoint folders that this run does not own (named as the hook names its own)."""
    return checkpoint_files.files_to_step_around(trainer, checkpoint)


def _eval_batches(loader: Any, limit: int | float, at_most: int | None = None) -> int | None:
    """Batches an evaluation runs of ``loader`` under ``limit`` and ``at_most``; None when not known."""
    count = limited(_length(loader), limit)
    if at_most is None:
        return count
    return at_most if count is None else min(count, at_most)


def _eval_total(loaders: list[Any], limit: int | float, at_most: int | None = None) -> int | None:
    """Batches of one evaluation epoch over ``loaders``; None when a length is not known."""
    counts = [_eval_batches(loader, limit, at_most) for loader in loaders]
    return None if None in counts else sum(counts)


def _sanity_checks(trainer: Any, module: Any) -> bool:
    """Whether the fit will run a sanity check, known before the loaders are (Lightning's condition)."""
    return bool(trainer.num_sanity_val_steps) and not trainer.fast_dev_run and overridden(module, "validation_step") \
        and trainer.limits["validate"] != 0


@contextlib.contextmanager
def _rng_kept(keep: bool) -> Iterator[None]:
    """Every global RNG left after the block as it was before, when ``keep`` (Lightning's ``isolate_rng``)."""
    states = ckpt.rng_states() if keep else None
    yield
    if states is not None:
        ckpt.set_rng_states(states)


def _sanity_total(trainer: Any) -> int:
    """Batches the sanity check runs: at most ``num_sanity_val_steps`` of each validation loader."""
    steps = trainer.num_sanity_val_steps
    if not steps or trainer.fast_dev_run:
        return 0
    return _eval_total(trainer.val_loaders, trainer.limits["validate"], None if steps == -1 else steps) or 0


def _reload_train_loader(trainer: Any, module: Any) -> None:
    """Fetch the training loader again (after a hook changed the batch size) and recount its batches."""
    trainer.reload_train_dataloader = False
    trainer.train_loader = trainer.strategy.prepare_loader(
        _loaders(_data_source(trainer, module), None, "train_dataloader")[0], training=True)
    trainer.num_training_batches = limited(_length(trainer.train_loader), trainer.limits["fit"])


def _sanity_check(trainer: Any, module: Any) -> None:
    steps = trainer.num_sanity_val_steps
    if not steps or not trainer.val_loaders or trainer.fast_dev_run:
        return
    trainer.sanity_checking = True
    with _rng_kept(True):  # the sanity check leaves every generator as it found it
        metrics = trainer.book.snapshot()
        trainer.dispatcher.emit("sanity_check_start", "sanity_check")
        _run_eval(trainer, module, "sanity_check", trainer.val_loaders, None if steps == -1 else steps)
        trainer.dispatcher.emit("sanity_check_end", "sanity_check")
        trainer.book.restore(metrics)
    trainer.sanity_checking = False


def _done(trainer: Any) -> bool:
    """Whether fitting is over: max_steps reached, or a stop request that may be honoured now."""
    if trainer.max_steps != -1 and trainer.global_step >= trainer.max_steps:
        return True
    strategies.agree_on_stop(trainer)
    return trainer.should_stop and trainer.can_stop


def _max_epochs(trainer: Any) -> int | None:
    if trainer.max_epochs is None:
        return 1 if trainer.fast_dev_run else (1000 if trainer.max_steps == -1 and trainer.max_time is None else None)
    return None if trainer.max_epochs == -1 else trainer.max_epochs


def _epochs(trainer: Any, module: Any, plan: Any) -> None:
    resume = plan.position if plan is not None else None
    if resume is not None and resume.epoch_end_done:
        if not resume.schedulers_stepped:  # saved at train_epoch_end, before the epoch's scheduler step
            _step_epoch_schedulers(trainer)
        trainer.current_epoch += 1
        plan = None
    max_epochs = _max_epochs(trainer)
    while plan is not None or ((max_epochs is None or trainer.current_epoch < max_epochs) and not _done(trainer)):
        _train_epoch(trainer, module, plan)
        plan = None
        trainer.current_epoch += 1


def _train_epoch(trainer: Any, module: Any, plan: Any) -> None:
    """One training epoch; from ``plan`` (a resume), only the moments its position has not seen."""
    d = trainer.dispatcher
    heard = d.heard
    resume = plan.position if plan is not None and plan.position.epoch_started else None
    if resume is None:
        trainer.train_means = EpochMeans()
        trainer.book.active = trainer.book.train
        trainer.batches_before_epoch += trainer.live.batches_done
        trainer.live.set(Position(epoch=trainer.current_epoch))
        moments.boundary(trainer)
        moments.advance(trainer, EPOCH_STARTED)
        d.emit("train_epoch_start")
        trainer.epoch_start_rng = torch.get_rng_state()
    else:
        trainer.book.active = trainer.book.train
        trainer.live.set(resume)
        trainer.epoch_start_rng = plan.epoch_start_rng
        torch.set_rng_state(plan.epoch_start_rng)
    total = trainer.num_training_batches
    moves_batches = trainer.batch_hooks or trainer.device.type != "cpu"
    schedule = _val_schedule(trainer)
    trainer.strategy.set_epoch(trainer.train_loader, trainer.current_epoch)
    batches = _lookahead(trainer.train_loader)
    limit = sys.maxsize if total is None else total
    for batch_idx, (batch, last) in enumerate(batches):
        if batch_idx >= limit:
            break
        last = last or batch_idx == limit - 1
        if resume is not None:  # replay the loader up to the position, then the RNG states saved there
            if batch_idx < resume.batches_done - 1:
                continue
            ckpt.set_rng_states(plan.rng)
            finishing, resume = batch_idx == resume.batches_done - 1, None
            if finishing:
                batch = _transfer(trainer, module, batch, 0) if moves_batches else batch
                if _finish_batch(trainer, module, batch, batch_idx, last, plan, schedule):
                    break
                continue
        if moves_batches:
            batch = _transfer(trainer, module, batch, 0)
        moments.batch_starts(trainer, batch_idx)
        if not _train_batch(trainer, module, batch, batch_idx, last, heard):
            break  # on_train_batch_start returned -1: the rest of the epoch (and its validation) is skipped
        if _after_batch(trainer, module, batch_idx, last, False, schedule):
            break
    trainer.book.train.start_batch(None)
    moments.boundary(trainer)
    moments.advance(trainer, EPOCH_END_DONE)
    d.emit("train_epoch_end", metrics=epoch_end_metrics(trainer, "train_epoch_end"))
    _flush_epoch_logs(trainer)
    moments.boundary(trainer)
    _step_epoch_schedulers(trainer)


def _finish_batch(trainer: Any, module: Any, batch: Any, batch_idx: int, last: bool, plan: Any,
                  schedule: tuple[int | None, bool]) -> bool:
    """The moments of a resumed batch its checkpoint had not seen; True when the epoch ends here."""
    position = plan.position
    if not position.batch_end_done:
        _emit_batch_end(trainer, batch, batch_idx, plan.batch_end or {})
    return _after_batch(trainer, module, batch_idx, last, position.validation_done, schedule)


def _emit_batch_end(trainer: Any, batch: Any, batch_idx: int, payload: dict[str, Any]) -> None:
    """``train_batch_end`` of a batch whose step is done, as a boundary of its own (re-run after an exception)."""
    values, outputs = dict(payload.get("values", {})), dict(payload.get("outputs", {}))
    keep = "exception" in trainer.dispatcher.heard
    moments.batch_stepped(trainer, batch_idx, payload if keep else None)
    moments.advance(trainer, BATCH_END_DONE)
    trainer.log_step = payload.get("log_step", trainer.global_step)
    if "train_batch_end" in trainer.dispatcher.heard:
        trainer.dispatcher.emit("train_batch_end", metrics=LazyMetrics(values, trainer.callback_metrics),
                                data=batch_data(batch, outputs), batch_idx=batch_idx)


def _after_batch(trainer: Any, module: Any, batch_idx: int, last: bool, validation_done: bool,
                 schedule: tuple[int | None, bool]) -> bool:
    """The validation due after a batch (``schedule``: :func:`_val_schedule`), then whether the epoch ends here
    (a stop, max_steps)."""
    every, at_last = schedule
    due = (at_last and last) or (every is not None and _batches_counted(trainer, batch_idx) % every == 0)
    if due and not validation_done:
        _validate_in_fit(trainer, module)
    strategies.agree_on_stop(trainer)
    stops = trainer.should_stop and trainer.can_stop
    if stops and not due and not validation_done and _val_at_epoch_end(trainer):
        _validate_in_fit(trainer, module)
    if not validation_done:
        _step_plateau_schedulers(trainer, batch_idx, last)
    moments.advance(trainer, VALIDATION_DONE)
    return stops or (trainer.max_steps != -1 and trainer.global_step >= trainer.max_steps)


def _step_plateau_schedulers(trainer: Any, batch_idx: int, last: bool) -> None:
    """``ReduceLROnPlateau`` schedulers of interval "step": after the batch's validation, so they see its metrics
    (Lightning's order); only after a batch that stepped the optimizer."""
    if not trainer.lr_scheduler_configs or trainer.step_mode == "manual":
        return
    if last or (batch_idx + 1) % trainer.accumulate_grad_batches == 0:
        step_schedulers(trainer.lr_scheduler_configs, "step", batch_idx + 1, trainer.callback_metrics,
                        module_step.scheduler_step(trainer), plateau=True)


def _step_epoch_schedulers(trainer: Any) -> None:
    if trainer.step_mode != "manual":  # under manual optimization the module steps its schedulers, as Lightning
        step_schedulers(trainer.lr_scheduler_configs, "epoch", trainer.current_epoch + 1, trainer.callback_metrics,
                        module_step.scheduler_step(trainer), plateau=True)
    moments.advance(trainer, SCHEDULERS_STEPPED)


def _train_batch(trainer: Any, module: Any, batch: Any, batch_idx: int, last: bool, heard: frozenset[str]) -> bool:
    """One training batch; False when the module's ``on_train_batch_start`` returned -1 (the epoch ends there)."""
    d = trainer.dispatcher
    book = trainer.book
    manual = trainer.step_mode == "manual"
    # Lightning's step of the rows logged in this batch and what follows it: batches that stepped before it
    trainer.log_step = book.batches_stepped if manual else trainer.global_step
    trainer.batch_idx = batch_idx
    book.train.start_batch(batch)
    if "train_batch_start" in heard:
        if d.emit("train_batch_start", data=batch_data(batch), batch_idx=batch_idx) == -1:
            return False
    if trainer.step_mode is None:
        book.fx = "training_step"
        if trainer.precision == "32-true":
            output = trainer.strategy.training_step(module, batch, batch_idx)
        else:
            with _autocast(trainer):
                output = trainer.strategy.training_step(module, batch, batch_idx)
        book.fx = None
        loss, values = split_output(output, trainer.step_where)
    else:
        loss, values = module_step.run(trainer, module, batch, batch_idx, last, heard)
    outputs: dict[str, Any] = {}
    accumulate = trainer.accumulate_grad_batches
    if loss is not None and trainer.step_mode is None:
        check_loss_has_grad(loss, trainer.step_where)
        optimizer = trainer.optimizers[0]
        if batch_idx % accumulate == 0:
            if "before_zero_grad" in heard:
                d.emit("before_zero_grad", data=optimizer, batch_idx=batch_idx)
            optimizer.zero_grad(set_to_none=True)
        scaled = loss / accumulate if accumulate > 1 else loss
        if "before_backward" in heard:
            d.emit("before_backward", data=scaled, batch_idx=batch_idx)
        (trainer.scaler.scale(scaled) if trainer.scaler else scaled).backward()
        if "after_backward" in heard:
            d.emit("after_backward", batch_idx=batch_idx)
        if last or (batch_idx + 1) % accumulate == 0:
            _optimizer_step(trainer, optimizer, batch_idx, heard)
    if loss is not None:
        values["loss"] = value = loss.detach()  # one graph-free copy for the means, the metrics and the outputs
        if trainer.returned_metrics:
            trainer.train_means.add(values, batch_size(batch))
        if "train_batch_end" in heard:
            outputs = {**values, "loss": value / accumulate if accumulate > 1 else value}
    if last and not manual and trainer.lr_scheduler_configs:
        # as Lightning: the epoch's other schedulers step with its last batch, before its validation
        step_schedulers(trainer.lr_scheduler_configs, "epoch", trainer.current_epoch + 1, trainer.callback_metrics,
                        module_step.scheduler_step(trainer), plateau=False)
    if book.train and "train_batch_end" in heard:
        book.collect(on_step=True)  # what training_step logged, seen by the train_batch_end hooks
    moments.batch_stepped(trainer, batch_idx, moments.batch_end_payload(values, outputs, trainer.log_step)
                          if "exception" in heard else None)
    trainer.interrupts.release()  # a signal held during the step is raised now, the step recorded
    moments.advance(trainer, BATCH_END_DONE)
    if "train_batch_end" in heard:
        d.emit("train_batch_end", metrics=LazyMetrics(values, trainer.callback_metrics), data=batch_data(batch, outputs),
               batch_idx=batch_idx)
    if book.train:
        _log_step(trainer, book.collect(on_step=True).log)
    if manual:
        book.batches_stepped += 1
    return True


def _log_step(trainer: Any, rows: dict[str, Any]) -> None:
    """Send what was logged this step to the loggers every n steps (and at a stop).

    As Lightning, a batch that only accumulates gradients logs nothing (under automatic optimization).
    """
    every = trainer.log_every_n_steps
    stepped = trainer.step_mode == "manual" or trainer.global_step != trainer.log_step
    if rows and every and stepped and ((trainer.log_step + 1) % every == 0 or trainer.should_stop):
        trainer.log_metrics(rows)


def _optimizer_step(trainer: Any, optimizer: Any, batch_idx: int, heard: frozenset[str],
                    automatic: bool = True) -> None:
    scaler = trainer.scaler
    if scaler is not None:
        scaler.unscale_(optimizer)
    if "before_optimizer_step" in heard:
        trainer.dispatcher.emit("before_optimizer_step", data=optimizer, batch_idx=batch_idx)
    if trainer.step_mode is not None:
        module_step.finish(trainer, optimizer, automatic)
        return
    if trainer.gradient_clip_val:
        params = [p for g in optimizer.param_groups for p in g["params"]]
        if trainer.gradient_clip_algorithm in (None, "norm"):
            torch.nn.utils.clip_grad_norm_(params, trainer.gradient_clip_val)
        else:
            torch.nn.utils.clip_grad_value_(params, trainer.gradient_clip_val)
    trainer.interrupts.holding = True  # until the step is recorded (moments.batch_stepped): see interrupts.py
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    trainer.global_step += 1
    if trainer.lr_scheduler_configs:
        step_schedulers(trainer.lr_scheduler_configs, "step", batch_idx + 1, trainer.callback_metrics,
                        module_step.scheduler_step(trainer), plateau=False)


def _transfer(trainer: Any, module: Any, batch: Any, dataloader_idx: int) -> Any:
    """A batch on the trainer's device, through the module's batch-transfer hooks when it has any."""
    if trainer.batch_hooks:
        return lightning.transfer(module, batch, trainer.device, dataloader_idx)
    return to_device(batch, trainer.device)


def _val_at_epoch_end(trainer: Any) -> bool:
    every = trainer.check_val_every_n_epoch
    return bool(trainer.val_loaders) and (every is None or (trainer.current_epoch + 1) % every == 0)


def _val_schedule(trainer: Any) -> tuple[int | None, bool]:
    """When validation is due in this epoch: after every ``n``-th batch (None: never by count) and whether after
    the last one; ``(None, False)`` when the epoch validates not at all.

    As Lightning, a fraction of an epoch validates on multiples of its batch count only: 0.25 of 9 batches
    validates after batches 2, 4, 6 and 8, not after the 9th."""
    if not _val_at_epoch_end(trainer):
        return None, False
    interval = trainer.val_check_interval
    if isinstance(interval, float):
        total = trainer.num_training_batches
        if total and interval < 1.0:
            return max(1, int(total * interval)), False
        return None, True
    return interval, False


def _batches_counted(trainer: Any, batch_idx: int) -> int:
    """Batches run up to and including ``batch_idx``: in this epoch, or in the whole fit when
    ``check_val_every_n_epoch=None`` (Lightning's ``total_batch_idx + 1``: an int interval spans epochs)."""
    if trainer.check_val_every_n_epoch is None:
        return trainer.batches_before_epoch + batch_idx + 1
    return batch_idx + 1


def _validate_in_fit(trainer: Any, module: Any) -> None:
    moments.boundary(trainer, keep_rng=True)
    trainer.mid_moment = True  # a checkpoint written before validation_end goes back to the boundary
    trainer.training = False
    trainer.validating_in_fit = True
    try:
        _run_eval(trainer, module, "fit", trainer.val_loaders, None)
    finally:
        trainer.validating_in_fit = False
    trainer.training = True


def _flush_epoch_logs(trainer: Any) -> None:
    """Send the training epoch's values to the loggers (after every ``on_train_epoch_end``), then forget them."""
    book = trainer.book
    rows = book.collect(on_step=False).log
    if rows:
        trainer.log_metrics(rows)
    book.train.reset()


# -- evaluation -----------------------------------------------------------------------------------
_EVAL_KIND = {"fit": "validation", "sanity_check": "validation", "validate": "validation", "test": "test"}


def _run_eval(trainer: Any, module: Any, stage: str, loaders: list[Any], limit_override: int | None) -> dict[str, float]:
    d = trainer.dispatcher
    prefix = _EVAL_KIND[stage]
    step_name = "test_step" if prefix == "test" else "validation_step"
    step_fn = getattr(module, step_name)
    limit = trainer.limits["test" if prefix == "test" else "validate"]
    means = EpochMeans()
    book = trainer.book
    previous = book.start_eval()
    modes = lightning.model_eval(module, prefix)
    d.emit(f"{prefix}_start", stage)
    d.emit(f"{prefix}_epoch_start", stage)
    with trainer.settings.no_grad(in_fit=stage in ("fit", "sanity_check")):
        for idx, loader in enumerate(loaders):
            count = _eval_batches(loader, limit, limit_override)
            for batch_idx, batch in enumerate(loader):
                if count is not None and batch_idx >= count:
                    break
                batch = _transfer(trainer, module, batch, idx)
                book.eval.start_batch(batch, idx if len(loaders) > 1 else None)
                data = batch_data(batch, None, idx)
                d.emit(f"{prefix}_batch_start", stage, data=data, batch_idx=batch_idx)
                book.fx = step_name
                with _autocast(trainer):
                    args = (batch, batch_idx, idx) if len(loaders) > 1 else (batch, batch_idx)
                    out = step_fn(*args)
                book.fx = None
                if trainer.returned_metrics:
                    values = eval_values(out, f"{type(module).__name__}.{step_name}")
                    suffix = f"/dataloader_idx_{idx}" if len(loaders) > 1 else ""
                    means.add({f"{k}{suffix}": v for k, v in values.items()}, batch_size(batch))
                d.emit(f"{prefix}_batch_end", stage, data=batch_data(batch, out, idx), batch_idx=batch_idx)
                if book.eval:
                    _log_eval_step(trainer, book.collect(on_step=True).log, idx, stage)
    book.eval.start_batch(None)
    trainer.eval_means, trainer.eval_stage = means, stage
    d.emit(f"{prefix}_epoch_end", stage, metrics=epoch_end_metrics(trainer, f"{prefix}_epoch_end"))
    metrics = {**means.means(), **book.collect(on_step=False).log}
    book.end_eval(previous)
    if stage == "fit":
        trainer.mid_moment = False
        moments.advance(trainer, VALIDATION_DONE)
    d.emit(f"{prefix}_end", stage, metrics=frozendict(float_metrics(metrics)) if stage == "sanity_check"
           else float_metrics(trainer.callback_metrics))
    lightning.model_train(module, prefix, modes)
    if stage != "sanity_check" and metrics:
        trainer.log_metrics(metrics)
    return {k: as_float(v) for k, v in metrics.items()}


def _log_eval_step(trainer: Any, rows: dict[str, Any], idx: int, stage: str) -> None:
    """Rows of values logged with ``on_step=True`` in evaluation, stepped by the batches each loader ran."""
    if stage == "sanity_check":
        return
    seen = trainer.book.eval_rows
    if rows:
        trainer.log_metrics(rows, step=seen.get(idx, 0))
    seen[idx] = seen.get(idx, 0) + 1


def epoch_end_metrics(trainer: Any, kind: str) -> Any:
    """The metrics of an epoch-end event (floats), folding in what was returned and logged so far this epoch."""
    if kind == "train_epoch_end":
        if trainer.returned_metrics:
            trainer.callback_metrics.update(trainer.train_means.means())
        trainer.book.collect(on_step=False)
        return float_metrics(trainer.callback_metrics)
    metrics = trainer.eval_means.means()
    logged = trainer.book.collect(on_step=False).callback
    if trainer.eval_stage == "sanity_check":
        return float_metrics({**metrics, **logged})
    trainer.callback_metrics.update(metrics)
    return float_metrics(trainer.callback_metrics)


def evaluate(trainer: Any, stage: str, module: Any, loaders: Any, ckpt_path: Any) -> list[dict[str, float]]:
    """``Trainer.validate``/``Trainer.test``: setup, one evaluation epoch, teardown."""
    d = trainer.dispatcher
    trainer.stage = stage
    try:
        lightning.before_run(trainer, module, trainer.datamodule, stage)
        module.to(trainer.device)
        method = "test_dataloader" if stage == "test" else "val_dataloader"
        found = [trainer.strategy.prepare_loader(loader, training=False)
                 for loader in _loaders(_data_source(trainer, module), loaders, method)]
        if not found:
            raise MisconfigurationError(f"Trainer.{stage}: no data; pass dataloaders or define {method}()")
        if ckpt_path is not None:
            module.load_state_dict(ckpt.read(ckpt_path)["state_dict"])
        setattr(trainer, "test_loaders" if stage == "test" else "val_loaders", found)
        total = _eval_total(found, trainer.limits[stage])
        counts = {"num_val_batches": total or 0} if stage == "validate" else {"num_test_batches": total}
        d.emit("setup", stage, data=trainer.run_info(**counts))
        metrics = _run_eval(trainer, module, stage, found, None)
        d.emit("teardown", stage)
        lightning.after_run(module, trainer.datamodule, stage)
        trainer.finalize_loggers("success")
        return [metrics]
    except BaseException as exc:
        try:
            d.emit("exception", stage, data=exc)
        finally:
            trainer.finalize_loggers("failed")
        raise


def predict(trainer: Any, module: Any, loaders: Any, ckpt_path: Any) -> list[Any]:
    """``Trainer.predict``: ``predict_step`` (or ``forward``) over every batch, predictions returned in order."""
    d = trainer.dispatcher
    try:
        lightning.before_run(trainer, module, trainer.datamodule, "predict")
        module.to(trainer.device)
        found = _loaders(_data_source(trainer, module), loaders, "predict_dataloader")
        if not found:
            raise MisconfigurationError("Trainer.predict: no data; pass dataloaders or define predict_dataloader()")
        if ckpt_path is not None:
            module.load_state_dict(ckpt.read(ckpt_path)["state_dict"])
        step_fn = getattr(module, "predict_step", None)
        trainer.predict_dataloaders = found
        total = _eval_total(found, trainer.limits["predict"])
        d.emit("setup", "predict", data=trainer.run_info(num_predict_batches=total))
        modes = lightning.model_eval(module, "predict")
        d.emit("predict_start", "predict")
        d.emit("predict_epoch_start", "predict")
        predictions: list[Any] = []
        with trainer.settings.no_grad():
            for idx, loader in enumerate(found):
                count = limited(_length(loader), trainer.limits["predict"])
                for batch_idx, batch in enumerate(loader):
                    if count is not None and batch_idx >= count:
                        break
                    batch = _transfer(trainer, module, batch, idx)
                    d.emit("predict_batch_start", "predict", data=batch_data(batch, None, idx), batch_idx=batch_idx)
                    with _autocast(trainer):
                        out = step_fn(batch, batch_idx) if step_fn else module(batch)
                    predictions.append(out)
                    d.emit("predict_batch_end", "predict", data=batch_data(batch, out, idx), batch_idx=batch_idx)
        d.emit("predict_epoch_end", "predict")
        d.emit("predict_end", "predict")
        lightning.restore_modes(module, modes)  # Lightning has no on_predict_model_train
        d.emit("teardown", "predict")
        lightning.after_run(module, trainer.datamodule, "predict")
        trainer.finalize_loggers("success")
        return predictions
    except BaseException as exc:
        try:
            d.emit("exception", "predict", data=exc)
        finally:
            trainer.finalize_loggers("failed")
        raise


# -- checkpoints ------------------------------------------------------------------------------------
def build_checkpoint(trainer: Any, weights_only: bool) -> dict[str, Any]:
    """Everything an exact resume needs, as data ``torch.load(weights_only=True)`` accepts."""
    module = trainer.module
    checkpoint: dict[str, Any] = {
        "fhooks_version": fhooks.__version__,
        "format": ckpt.FORMAT,
        "epoch": trainer.current_epoch,
        "global_step": trainer.global_step,
        "state_dict": module.state_dict(),
        **lightning.checkpoint_entries(module, trainer.datamodule),
    }
    if weights_only:
        return {**checkpoint, "pytorch-lightning_version": lightning_layout.LIGHTNING_VERSION}
    d = trainer.dispatcher
    if trainer.handling_exception and trainer.resuming is not None:
        return _in_lightning_layout(trainer, dict(trainer.resuming.checkpoint))
    where = moments.checkpoint_entries(trainer)
    should_stop, stop_reasons = where.pop("stop", (trainer.should_stop, tuple(trainer.stop_reasons)))
    hook_state = where.pop("hook_state", d.state)
    checkpoint.update({
        "optimizer_states": [o.state_dict() for o in trainer.optimizers],
        "lr_schedulers": [c.scheduler.state_dict() for c in trainer.lr_scheduler_configs],
        "loops": {
            "epoch": trainer.current_epoch, "global_step": trainer.global_step,
            "accumulate_grad_batches": trainer.accumulate_grad_batches,
            "batches_before_epoch": trainer.batches_before_epoch,
            "train_means": trainer.train_means.to_plain(),
            "should_stop": should_stop, "stop_reasons": list(stop_reasons),
        },
        **where,
        "callback_metrics": dict(trainer.callback_metrics),
        "hooks": restore.hook_state_entry(trainer, hook_state),
        "callbacks": _callback_states(trainer),
        "extra_state": dict(trainer.extra_state),
    })
    if trainer.scaler is not None:
        checkpoint["scaler"] = trainer.scaler.state_dict()
    d.emit("save_checkpoint", data=checkpoint)
    return _in_lightning_layout(trainer, checkpoint)


def _in_lightning_layout(trainer: Any, checkpoint: dict[str, Any]) -> dict[str, Any]:
    return lightning_layout.to_lightning(checkpoint, batches=getattr(trainer, "num_training_batches", None),
                                         position=checkpoint.get("position"),
                                         accumulate=trainer.accumulate_grad_batches)


def _callback_states(trainer: Any) -> dict[str, Any]:
    from fhooks.callbacks.base import Callback

    return {f"{i}:{cb.state_key}": cb.state_dict() for i, cb in enumerate(trainer.callbacks) if isinstance(cb, Callback)}
