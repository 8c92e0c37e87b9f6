"""The trainer's side of ``self.log``: the active collection, the hook logging now, where values go and when.

Values the module (or a callback's ``pl_module.log``) logs land in the active loop's
:class:`~fhooks.trainer.results.Results`; at the end of each batch and epoch the book copies
them into ``trainer.callback_metrics``, ``logged_metrics`` and ``progress_bar_metrics`` (tensors,
as in Lightning) and hands the logger rows to :meth:`Trainer.log_metrics`.
"""

from __future__ import annotations

from typing import Any

from fhooks.core.frozendict import frozendict
from fhooks.errors import MisconfigurationError
from fhooks.trainer.outputs import as_float
from fhooks.trainer.results import Results, Split, as_tensor, is_metric, levels


class LogBook:
    """What the run logged through ``self.log``: one collection for training, one for the evaluation running."""

    def __init__(self, trainer: Any) -> None:
        self.trainer = trainer
        self.train = Results(training=True)
        self.eval = Results(training=False)
        self.active: Results | None = None
        self.fx: str | None = None
        self.changed = False
        self.eval_rows: dict[int | None, int] = {}
        self.batches_stepped = 0  # Lightning's logging step under manual optimization

    def log(self, name: str, value: Any, prog_bar: bool = False, logger: bool | None = None,
            on_step: bool | None = None, on_epoch: bool | None = None, reduce_fx: Any = "mean",
            enable_graph: bool = False, sync_dist: bool = False, sync_dist_group: Any = None,
            add_dataloader_idx: bool = True, batch_size: int | None = None, metric_attribute: str | None = None,
            rank_zero_only: bool = False) -> None:
        """``LightningModule.log`` (``sync_dist`` reduces across the ranks of a distributed run, nothing on one
        process; ``enable_graph`` keeps no graph)."""
        if not isinstance(name, str):
            raise MisconfigurationError(f"self.log(name={name!r}): the name must be a string")
        if self.active is None:
            raise MisconfigurationError(f"self.log({name!r}, ...) outside fit, validate and test (predict and "
                                        "the hooks around it do not log, as in Lightning)")
        on_step, on_epoch = levels(self.fx, on_step, on_epoch)
        value = as_tensor(name, value)
        if is_metric(value) and metric_attribute is None:
            metric_attribute = self._metric_attribute(name, value)
        self.active.log(self.fx, name, value, prog_bar=prog_bar, logger=True if logger is None else logger,
                        on_step=on_step, on_epoch=on_epoch, reduce_fx=reduce_fx,
                        add_dataloader_idx=add_dataloader_idx, batch_size=batch_size,
                        metric_attribute=metric_attribute, sync=sync_dist)
        self.changed = True

    def log_dict(self, dictionary: Any, **kwargs: Any) -> None:
        """``LightningModule.log_dict``: :meth:`log` for each item, with the same arguments."""
        for name, value in dictionary.items():
            self.log(name, value, **kwargs)

    def _metric_attribute(self, name: str, metric: Any) -> str:
        found = {id(m): n for n, m in self.trainer.module.named_modules() if is_metric(m)}
        if id(metric) not in found:
            raise MisconfigurationError(f"self.log({name!r}, metric): the torchmetrics.Metric is not an attribute of "
                                        f"the module; set it as one, or pass metric_attribute= (metrics found: "
                                        f"{sorted(found.values()) or 'none'})")
        return found[id(metric)]

    def collect(self, on_step: bool) -> Split:
        """The active collection's step or epoch values, copied into the trainer's three metric dicts."""
        self.changed = False
        if self.active is None or not self.active:
            return Split({}, {}, {})
        split = self.active.metrics(on_step)
        trainer = self.trainer
        trainer.callback_metrics.update(split.callback)
        trainer.logged_metrics.update(split.log)
        trainer.pbar_metrics.update(split.pbar)
        return split

    def snapshot(self) -> tuple[dict[str, Any], ...]:
        """Copies of the three metric dicts (the sanity check's values are dropped after it, as in Lightning)."""
        trainer = self.trainer
        return dict(trainer.callback_metrics), dict(trainer.logged_metrics), dict(trainer.pbar_metrics)

    def restore(self, saved: tuple[dict[str, Any], ...]) -> None:
        trainer = self.trainer
        for target, values in zip((trainer.callback_metrics, trainer.logged_metrics, trainer.pbar_metrics), saved):
            target.clear()
            target.update(values)

    def start_eval(self) -> Results | None:
        """Make the evaluation collection the active one; returns the collection to go back to."""
        previous, self.active = self.active, self.eval
        self.eval.start_batch(None)
        return previous

    def end_eval(self, previous: Results | None) -> None:
        """Forget the evaluation's values (torchmetrics Metrics reset) and go back to ``previous``."""
        self.eval.reset()
        self.eval.clear()
        self.active = previous


def float_metrics(metrics: Any) -> frozendict:
    """``metrics`` with Python floats for values, as events carry them (the pure core sees no tensors)."""
    return frozendict({k: as_float(v) for k, v in metrics.items()})
