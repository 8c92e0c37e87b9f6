"""Effects that change the model or the optimizer: freezing, param groups, pruning, weight averaging.

Modules are named by their dotted attribute path from the trained module
(``"backbone"``, ``"net.0"``; ``""`` is the module itself), never by object, so
effects are plain values a test can compare:

>>> Freeze(["backbone"], train_bn=False)
Freeze(modules=('backbone',), train_bn=False)
>>> Prune((("net.0", "weight"),), "l1_unstructured", 0.5)
Prune(parameters=(('net.0', 'weight'),), method='l1_unstructured', amount=0.5, use_global=True, dim=None, norm=None)

The trainer carries them out in ``fhooks.interpret.model.finetuning``, ``fhooks.interpret.model.pruning``
and ``fhooks.interpret.model.swa``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from fhooks.core.effects import Effect


def _paths(value: Any) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _pairs(value: Any) -> tuple[tuple[str, str], ...]:
    return tuple((str(m), str(n)) for m, n in value)


# -- finetuning -------------------------------------------------------------------------------------
@attrs.frozen
class Freeze(Effect):
    """Stop training ``modules``: ``requires_grad=False``; BatchNorm layers stay trainable when ``train_bn``."""

    modules: tuple[str, ...] = attrs.field(converter=_paths)
    train_bn: bool = True


@attrs.frozen
class Unfreeze(Effect):
    """Make ``modules`` trainable again (``requires_grad=True``; BatchNorm tracks running stats); BN skipped unless ``train_bn``."""

    modules: tuple[str, ...] = attrs.field(converter=_paths)
    train_bn: bool = True


@attrs.frozen
class AddParamGroup(Effect):
    """Unfreeze ``modules`` and add their parameters (those not yet in the optimizer) as one new param group.

    The group's lr is ``lr``, or the first group's lr divided by ``initial_denom_lr``
    when ``lr`` is None (Lightning's ``unfreeze_and_add_param_group``).
    """

    modules: tuple[str, ...] = attrs.field(converter=_paths)
    lr: float | None = None
    initial_denom_lr: float = 10.0
    train_bn: bool = True
    optimizer_idx: int = 0


@attrs.frozen
class BackboneLearningRate(Effect):
    """Set the backbone's lr for ``epoch`` from ``schedule`` and the live lr of the first param group.

    At ``schedule.unfreeze_at`` this unfreezes the backbone and adds its param group;
    afterwards it sets the last group's lr. The lr follows ``schedule.lr(...)``, a pure
    function of the epoch, the first group's lr and the previous backbone lr.
    """

    epoch: int
    schedule: Any


@attrs.frozen
class RestoreFinetuning(Effect):
    """After a resume: rebuild the param groups and trainable flags saved under ``key`` in ``trainer.extra_state``."""

    key: str


# -- pruning ---------------------------------------------------------------------------------------
@attrs.frozen
class Prune(Effect):
    """Prune ``parameters`` (``(module path, parameter name)`` pairs) with ``torch.nn.utils.prune``.

    ``method`` is a torch pruning function name (``"l1_unstructured"``...) or a
    ``BasePruningMethod`` subclass; ``use_global`` prunes all pairs together
    (``global_unstructured``); ``dim`` and ``norm`` go to structured methods.
    """

    parameters: tuple[tuple[str, str], ...] = attrs.field(converter=_pairs)
    method: str | Callable[..., Any]
    amount: float | int
    use_global: bool = True
    dim: int | None = None
    norm: Any = None


@attrs.frozen
class SelectPruned(Effect):
    """Check and remember the ``(module path, parameter name)`` pairs to prune; keep their values if ``keep_originals``.

    Empty ``parameters``: every ``parameter_names`` parameter of every non-container module.
    Later pruning effects with empty ``parameters`` act on this selection.
    """

    parameters: tuple[tuple[str, str], ...] = attrs.field(converter=_pairs)
    parameter_names: tuple[str, ...] = ("weight", "bias")
    keep_originals: bool = False


@attrs.frozen
class RestorePruning(Effect):
    """After a resume: put back the pruning masks and unpruned originals a checkpoint kept."""


@attrs.frozen
class FoldPrunedCheckpoint(Effect):
    """In the checkpoint being written: plain ``X = X_orig * X_mask`` weights; masks and originals in ``extra_state``."""


@attrs.frozen
class ResetToOriginals(Effect):
    """Reset the surviving (unpruned) weights of ``parameters`` to the kept originals (lottery ticket).

    ``resample``: draw fresh values with each module's ``reset_parameters()`` instead.
    """

    parameters: tuple[tuple[str, str], ...] = attrs.field(converter=_pairs)
    resample: bool = False


@attrs.frozen
class MakePruningPermanent(Effect):
    """Fold each pruned ``weight_orig * weight_mask`` back into a plain parameter (``prune.remove``)."""

    parameters: tuple[tuple[str, str], ...] = attrs.field(converter=_pairs)


@attrs.frozen
class ReportSparsity(Effect):
    """Log the sparsity of ``parameters`` (``verbose`` 1: totals; 2: also one line per parameter)."""

    parameters: tuple[tuple[str, str], ...] = attrs.field(converter=_pairs)
    method: str
    verbose: int = 1


# -- stochastic weight averaging -----------------------------------------------------------------------
@attrs.frozen
class UpdateAverage(Effect):
    """Fold the module's parameters into the average of ``n_averaged`` snapshots kept on ``device``.

    ``avg_fn(averaged, current, n_averaged)`` as torch's ``AveragedModel``; None: the running mean.
    """

    avg_fn: Callable[..., Any] | None = None
    device: str | None = None
    n_averaged: int = 0


@attrs.frozen
class SwapAveraged(Effect):
    """Copy the averaged parameters into the module."""


@attrs.frozen
class UpdateBatchNorm(Effect):
    """Recompute BatchNorm running statistics with one pass over the training data (``update_bn``)."""


@attrs.frozen
class AnnealLearningRates(Effect):
    """Set each param group's lr to ``swa_lr * alpha + start_lr * (1 - alpha)`` (SWALR's interpolation).

    ``start_lr`` is the group's lr when SWA began, kept by the trainer.
    """

    swa_lrs: tuple[float, ...] = attrs.field(converter=tuple)
    alpha: float
    optimizer_idx: int = 0


@attrs.frozen
class SuspendSchedulers(Effect):
    """Stop stepping the user's lr schedulers (SWA drives the lr from now on)."""
