"""Lightning's ``self.log``: which hooks may log, the keys a value gets, and how its epoch value reduces.

A :class:`Results` collects what one loop (training, or one evaluation run) logged;
``metrics(on_step)`` splits it into what ``callback_metrics``, the loggers and the
progress bar get, under Lightning's keys (``name``, ``name_step``/``name_epoch``,
``name/dataloader_idx_N``). Epoch means are weighted by batch size.

>>> import torch
>>> results = Results(training=False)
>>> for size, loss in ((64, 1.0), (6, 4.0)):
...     results.start_batch((torch.zeros(size, 3),))
...     results.log("validation_step", "val_loss", torch.tensor(loss))
>>> round(float(results.metrics(on_step=False).callback["val_loss"]), 4)
1.2571
"""

from __future__ import annotations

import numbers
import sys
from typing import Any, NamedTuple

import torch

from fhooks.errors import MisconfigurationError
from fhooks.trainer.outputs import batch_size as infer_batch_size
from fhooks.trainer.strategies import sync_value

# (on_step values allowed, on_epoch values allowed, default on_step, default on_epoch); None: logging refused
_STEP = ((False, True), (False, True), True, False)
_EVAL_STEP = ((False, True), (False, True), False, True)
_EPOCH = ((False,), (True,), False, True)
LEVELS: dict[str, Any] = {
    **dict.fromkeys(("training_step", "on_train_batch_start", "on_train_batch_end", "on_before_backward", "backward",
                     "on_after_backward", "on_before_optimizer_step", "optimizer_step", "configure_gradient_clipping",
                     "clip_gradients", "on_before_zero_grad", "optimizer_zero_grad"), _STEP),
    **dict.fromkeys(("validation_step", "test_step", "on_validation_batch_start", "on_validation_batch_end",
                     "on_test_batch_start", "on_test_batch_end"), _EVAL_STEP),
    **dict.fromkeys(("on_train_start", "on_validation_start", "on_test_start", "on_train_epoch_start",
                     "on_train_epoch_end", "on_validation_epoch_start", "on_validation_epoch_end",
                     "on_test_epoch_start", "on_test_epoch_end"), _EPOCH),
    **dict.fromkeys(("lr_scheduler_step", "on_fit_start", "on_fit_end", "on_sanity_check_start", "on_sanity_check_end",
                     "on_train_end", "on_validation_end", "on_test_end", "on_predict_start", "on_predict_end",
                     "on_predict_epoch_start", "on_predict_epoch_end", "on_predict_batch_start",
                     "on_predict_batch_end", "predict_step", "on_before_batch_transfer", "transfer_batch_to_device",
                     "on_after_batch_transfer", "on_exception", "state_dict", "load_state_dict",
                     "on_save_checkpoint", "on_load_checkpoint", "setup", "teardown", "configure_model",
                     "configure_sharded_model", "configure_optimizers", "configure_callbacks", "prepare_data",
                     "train_dataloader", "val_dataloader", "test_dataloader", "predict_dataloader",
                     "on_validation_model_eval", "on_validation_model_train", "on_test_model_eval",
                     "on_test_model_train", "on_validation_model_zero_grad"), None),
}
_REDUCTIONS = {"mean": "mean", "avg": "mean", "sum": "sum", "max": "max", "min": "min"}
_BY_FUNCTION = {torch.mean: "mean", torch.sum: "sum", sum: "sum", torch.max: "max", max: "max",
                torch.min: "min", min: "min"}


def levels(fx: str | None, on_step: bool | None, on_epoch: bool | None) -> tuple[bool, bool]:
    """``(on_step, on_epoch)`` for a value logged in hook ``fx``, Lightning's defaults filled in.

    >>> levels("training_step", None, None), levels("validation_step", None, None)
    ((True, False), (False, True))
    >>> levels("on_train_epoch_end", True, None)
    Traceback (most recent call last):
    ...
    fhooks.errors.MisconfigurationError: self.log(on_step=True) inside on_train_epoch_end; accepted there: (False,)
    """
    if fx is None:
        raise MisconfigurationError("self.log() was called outside the hooks the Trainer runs; log from a step "
                                    "method or a hook")
    if fx not in LEVELS:
        raise MisconfigurationError(f"self.log() inside {fx}: logging there is not supported")
    config = LEVELS[fx]
    if config is None:
        raise MisconfigurationError(f"self.log() inside {fx} is not allowed (as in Lightning); "
                                    "log to the logger directly with self.logger.log_metrics(...)")
    allowed_step, allowed_epoch, default_step, default_epoch = config
    on_step = default_step if on_step is None else bool(on_step)
    on_epoch = default_epoch if on_epoch is None else bool(on_epoch)
    for flag, value, allowed in (("on_step", on_step, allowed_step), ("on_epoch", on_epoch, allowed_epoch)):
        if value not in allowed:
            raise MisconfigurationError(f"self.log({flag}={value}) inside {fx}; accepted there: {allowed}")
    return on_step, on_epoch


def reduction(reduce_fx: Any) -> str:
    """The name of a ``reduce_fx`` Lightning accepts: mean (or "avg"), sum, max, min, as strings or functions."""
    found = _REDUCTIONS.get(reduce_fx.lower()) if isinstance(reduce_fx, str) else _BY_FUNCTION.get(reduce_fx)
    if found is None:
        raise MisconfigurationError(f"self.log(reduce_fx={reduce_fx!r}); accepted: 'mean', 'sum', 'max', 'min' "
                                    "(or torch.mean, torch.sum, torch.max, torch.min); for another reduction "
                                    "log a torchmetrics.Metric")
    return found


def is_metric(value: Any) -> bool:
    """Whether ``value`` is a ``torchmetrics.Metric`` (without importing torchmetrics)."""
    module = sys.modules.get("torchmetrics")
    return module is not None and isinstance(value, module.Metric)


def as_tensor(name: str, value: Any) -> Any:
    """A logged value as Lightning keeps it: a detached tensor (numbers and numpy scalars too) or a Metric."""
    if is_metric(value):
        return value
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise MisconfigurationError(f"self.log({name!r}, ...): got a tensor of shape {tuple(value.shape)}; "
                                        "log a scalar (a one-element tensor or a number)")
        return value.detach().squeeze()
    if isinstance(value, numbers.Number) and not isinstance(value, bool) or _is_numpy_scalar(value):
        return torch.tensor(float(value), dtype=torch.get_default_dtype())
    raise MisconfigurationError(f"self.log({name!r}, ...): got {type(value).__name__}; accepted: a number, a scalar "
                                "tensor or a torchmetrics.Metric")


def _is_numpy_scalar(value: Any) -> bool:
    numpy = sys.modules.get("numpy")
    return numpy is not None and isinstance(value, numpy.generic) and value.size == 1


class Meta(NamedTuple):
    """How one value was logged."""

    fx: str
    name: str
    prog_bar: bool
    logger: bool
    on_step: bool
    on_epoch: bool
    reduce: str
    add_dataloader_idx: bool
    dataloader_idx: int | None
    metric_attribute: str | None
    sync: bool = False  # sync_dist: reduced across the ranks of a distributed run

    def keys(self, on_step: bool) -> tuple[str, str]:
        """``(name, forked name)`` for a step (``on_step=True``) or epoch value, with the loader suffix."""
        forked = f"{self.name}_{'step' if on_step else 'epoch'}" if self.on_step and self.on_epoch else self.name
        if self.add_dataloader_idx and self.dataloader_idx is not None:
            suffix = f"/dataloader_idx_{self.dataloader_idx}"
            return self.name + suffix, forked + suffix
        return self.name, forked


class Logged:
    """One logged value: its latest step value and its running epoch reduction."""

    __slots__ = ("meta", "step_value", "total", "weight", "metric", "computed", "has_reset")

    def __init__(self, meta: Meta) -> None:
        self.meta = meta
        self.metric: Any = None
        self.reset()
        self.has_reset = False

    def update(self, value: Any, batch_size: int) -> None:
        self.computed, self.has_reset = None, False
        if is_metric(value):
            self.metric, self.step_value = value, getattr(value, "_forward_cache", None)
            return
        if not torch.is_floating_point(value) or value.dtype not in (torch.float32, torch.float64):
            value = value.to(torch.get_default_dtype())
        meta = self.meta
        if meta.on_step:
            self.step_value = sync_value(value, meta.reduce) if meta.sync else value
            if not meta.on_epoch:
                return
        if self.total is None:
            start = {"max": float("-inf"), "min": float("inf")}.get(meta.reduce, 0.0)
            self.total = torch.tensor(start, dtype=torch.get_default_dtype(), device=value.device)
        if meta.reduce == "mean":
            self.total = self.total + value * batch_size
            self.weight += batch_size
        elif meta.reduce == "sum":
            self.total = self.total + value
        else:
            self.total = (torch.maximum if meta.reduce == "max" else torch.minimum)(self.total, value)

    def value(self, on_step: bool) -> torch.Tensor | None:
        """The step value (``on_step=True``) or the epoch value, None when it has none."""
        if on_step:
            return self.step_value if self.meta.on_step else None
        if not self.meta.on_epoch:
            return None
        if self.computed is None:
            if self.metric is not None:
                self.computed = self.metric.compute()
            elif self.total is not None:
                total, weight = self.total, self.weight
                if self.meta.sync:  # Lightning's rule: the ranks' totals and weights, summed, then divided
                    total = sync_value(total, self.meta.reduce, count=True)
                    weight = sync_value(torch.tensor(float(weight)), "sum").item() if self.meta.reduce == "mean" \
                        else weight
                self.computed = total / weight if self.meta.reduce == "mean" else total
        return self.computed

    def reset(self) -> None:
        if self.metric is not None:
            self.metric.reset()
        self.step_value = self.total = self.computed = None
        self.weight = 0
        self.has_reset = True


class Split(NamedTuple):
    """Where logged values go: ``callback_metrics``, the loggers, the progress bar."""

    callback: dict[str, torch.Tensor]
    log: dict[str, torch.Tensor]
    pbar: dict[str, torch.Tensor]


class Results(dict):
    """What one loop logged, by ``fx.name[.dataloader_idx]``; ``training``: the training loop's collection."""

    def __init__(self, training: bool) -> None:
        super().__init__()
        self.training = training
        self.batch: Any = None
        self.batch_size: int | None = None
        self.dataloader_idx: int | None = None

    def start_batch(self, batch: Any, dataloader_idx: int | None = None) -> None:
        self.batch, self.batch_size, self.dataloader_idx = batch, None, dataloader_idx

    def log(self, fx: str, name: str, value: Any, *, prog_bar: bool = False, logger: bool = True,
            on_step: bool = False, on_epoch: bool = True, reduce_fx: Any = "mean", add_dataloader_idx: bool = True,
            batch_size: int | None = None, metric_attribute: str | None = None, sync: bool = False) -> None:
        if not on_step and not on_epoch:
            raise MisconfigurationError(f"self.log({name!r}, on_step=False, on_epoch=False) logs nothing; "
                                        "set one of them")
        if add_dataloader_idx and "/dataloader_idx_" in name:
            raise MisconfigurationError(f"self.log({name!r}, ...): with add_dataloader_idx=True the name may not "
                                        "contain '/dataloader_idx_'; the suffix is added for you")
        loader = self.dataloader_idx
        key = f"{fx}.{name}" if loader is None or not add_dataloader_idx else f"{fx}.{name}.{loader}"
        meta = Meta(fx, name, bool(prog_bar), bool(logger), on_step, on_epoch, reduction(reduce_fx),
                    add_dataloader_idx, loader, metric_attribute, bool(sync))
        entry = self.get(key)
        if entry is None:
            entry = self[key] = Logged(meta)
        elif entry.meta != meta:
            raise MisconfigurationError(f"self.log({name!r}, ...) was called twice in {fx} with different arguments "
                                        f"({entry.meta} then {meta})")
        entry.update(value, self._batch_size(value, batch_size, meta))

    def _batch_size(self, value: Any, given: int | None, meta: Meta) -> int:
        if given is not None:
            return int(given)
        if self.batch_size is not None:
            return self.batch_size
        if self.batch is not None and meta.on_epoch and meta.reduce == "mean" and not is_metric(value):
            self.batch_size = infer_batch_size(self.batch)
            return self.batch_size
        return 1

    def metrics(self, on_step: bool) -> Split:
        """The values of this moment: step values while batches run, epoch values at an epoch's end."""
        split = Split({}, {}, {})
        for entry in self.values():
            if entry.has_reset:
                continue
            value = entry.value(on_step)
            if value is None:
                continue
            if not isinstance(value, torch.Tensor):
                raise MisconfigurationError(f"the compute() of the metric logged as {entry.meta.name!r} returned "
                                            f"{type(value).__name__}; it must return a tensor")
            value = value.detach()
            meta = entry.meta
            name, forked = meta.keys(on_step)
            if meta.logger:
                split.log[forked] = value
            if self.training or (meta.on_epoch and not on_step):
                split.callback[name] = split.callback[forked] = value
            if meta.prog_bar:
                split.pbar[forked] = value  # a number only when read (trainer.progress_bar_metrics): no sync per step
        return split

    def reset(self) -> None:
        """Forget every value (torchmetrics Metrics are reset too), as at the end of an epoch."""
        for entry in self.values():
            entry.reset()

