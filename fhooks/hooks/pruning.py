"""``model_pruning``: prune weights on a schedule with ``torch.nn.utils.prune`` (Lightning's ``ModelPruning``).

The schedule is pure: at each ``train_epoch_end`` (or ``validation_epoch_end``) the
hook decides from the epoch whether to prune and by how much:

>>> from fhooks.core import Event, fold
>>> h = model_pruning("l1_unstructured", amount=lambda epoch: 0.5 if epoch % 2 else 0.0,
...                   parameters_to_prune=[("net.0", "weight")], use_lottery_ticket_hypothesis=False)
>>> h
model_pruning('l1_unstructured', parameters_to_prune=[('net.0', 'weight')], amount=<lambda>, use_lottery_ticket_hypothesis=False)
>>> h.amount_at(0), h.amount_at(1)
(0.0, 0.5)
>>> _, effects = fold(h, [Event("setup")] + [Event("train_epoch_end", epoch=e) for e in range(2)])
>>> [type(e).__name__ for e in effects]
['SelectPruned', 'Prune']
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from fhooks.core.effects import NO_EFFECTS, Effects
from fhooks.core.events import Event
from fhooks.core.serialize import state_class
from fhooks.errors import InvalidArgument
from fhooks.hooks.model_effects import (
    FoldPrunedCheckpoint,
    MakePruningPermanent,
    Prune,
    ReportSparsity,
    ResetToOriginals,
    RestorePruning,
    SelectPruned,
)

_WHERE = "model_pruning"
#: The pruning functions of ``torch.nn.utils.prune`` accepted by name.
PRUNING_FUNCTIONS = ("ln_structured", "l1_unstructured", "random_structured", "random_unstructured")
PARAMETER_NAMES = ("weight", "bias")


@state_class
class PruningState:
    """How many pruning steps were carried out."""

    steps: int = 0


@attrs.frozen(repr=False)
class PruningHook:
    """The hook :func:`model_pruning` builds; its fields are the validated arguments."""

    pruning_fn: str | Callable[..., Any]
    parameters_to_prune: tuple[tuple[str, str], ...] = ()
    parameter_names: tuple[str, ...] = PARAMETER_NAMES
    use_global_unstructured: bool = True
    amount: int | float | Callable[[int], int | float] = 0.5
    apply_pruning: bool | Callable[[int], bool] = True
    make_pruning_permanent: bool = True
    use_lottery_ticket_hypothesis: bool | Callable[[int], bool] = True
    resample_parameters: bool = False
    pruning_dim: int | None = None
    pruning_norm: Any = None
    verbose: int = 0
    prune_on_train_epoch_end: bool = True
    kinds: frozenset[str] = attrs.field(init=False, eq=False)
    init: PruningState = attrs.field(init=False, eq=False, factory=PruningState)
    shape_name = _WHERE

    def __attrs_post_init__(self) -> None:
        when = "train_epoch_end" if self.prune_on_train_epoch_end else "validation_epoch_end"
        kinds = {"setup", when, "save_checkpoint", "load_checkpoint", "train_end"}
        object.__setattr__(self, "kinds", frozenset(kinds))

    @property
    def method_name(self) -> str:
        """The pruning method's name, as the verbose report shows it."""
        fn = self.pruning_fn
        return fn if isinstance(fn, str) else getattr(fn, "__name__", repr(fn))

    def amount_at(self, epoch: int) -> int | float:
        """The amount to prune at ``epoch`` (``amount(epoch)`` when callable), checked.

        Raises:
            InvalidArgument: a callable ``amount`` returned something that is not an amount.
        """
        amount = self.amount(epoch) if callable(self.amount) else self.amount
        return _check_amount(amount, f"amount({epoch})" if callable(self.amount) else "amount")

    def prunes_at(self, epoch: int) -> bool:
        """Whether ``apply_pruning`` says to prune at ``epoch`` (the amount may still be 0)."""
        return bool(self.apply_pruning(epoch) if callable(self.apply_pruning) else self.apply_pruning)

    def step(self, state: PruningState, event: Event) -> tuple[PruningState, Effects]:
        kind = event.kind
        pairs = self.parameters_to_prune
        if kind == "setup":
            keep = bool(self.use_lottery_ticket_hypothesis)
            return state, (SelectPruned(pairs, self.parameter_names, keep),)
        if kind == "save_checkpoint":
            return state, (FoldPrunedCheckpoint(),)
        if kind == "load_checkpoint":
            return state, (RestorePruning(),)
        if event.stage != "fit":
            return state, NO_EFFECTS
        if kind == "train_end":
            return state, (MakePruningPermanent(pairs),) if self.make_pruning_permanent else NO_EFFECTS
        epoch = event.epoch
        amount = self.amount_at(epoch)
        if not self.prunes_at(epoch) or not amount:
            return state, NO_EFFECTS
        effects: Effects = (Prune(pairs, self.pruning_fn, amount, self.use_global_unstructured,
                                  self.pruning_dim, self.pruning_norm),)
        lth = self.use_lottery_ticket_hypothesis
        if lth(epoch) if callable(lth) else lth:
            effects += (ResetToOriginals(pairs, self.resample_parameters),)
        if self.verbose:
            effects += (ReportSparsity(pairs, self.method_name, self.verbose),)
        return PruningState(state.steps + 1), effects

    def __repr__(self) -> str:
        args = [repr(self.method_name if isinstance(self.pruning_fn, str) else self.pruning_fn.__name__)]
        defaults = {"parameters_to_prune": (), "parameter_names": PARAMETER_NAMES, "use_global_unstructured": True,
                    "amount": 0.5, "apply_pruning": True, "make_pruning_permanent": True,
                    "use_lottery_ticket_hypothesis": True, "resample_parameters": False, "pruning_dim": None,
                    "pruning_norm": None, "verbose": 0, "prune_on_train_epoch_end": True}
        for name, default in defaults.items():
            value = getattr(self, name)
            if value != default:
                shown = getattr(value, "__name__", None) if callable(value) else None
                shown = shown or (repr(list(value)) if name == "parameters_to_prune" else repr(value))
                args.append(f"{name}={shown}")
        return f"{_WHERE}({', '.join(args)})"


def _check_amount(amount: Any, name: str) -> int | float:
    if isinstance(amount, bool) or not isinstance(amount, (int, float)):
        raise InvalidArgument(f"{_WHERE}: {name}={amount!r} must be an int >= 0 (a count) or a float in [0, 1] (a fraction)")
    if isinstance(amount, float) and not (math.isfinite(amount) and 0 <= amount <= 1) or amount < 0:
        raise InvalidArgument(f"{_WHERE}: {name}={amount!r} must be an int >= 0 (a count) or a float in [0, 1] (a fraction)")
    return amount


def _check_method(fn: Any, use_global: bool, dim: Any, norm: Any) -> str | type:
    if isinstance(fn, str):
        name = fn.lower()
        if name not in PRUNING_FUNCTIONS:
            raise InvalidArgument(f"{_WHERE}: pruning_fn={fn!r} is not one of {', '.join(PRUNING_FUNCTIONS)} "
                                  "(or pass a torch BasePruningMethod subclass)")
        if name.endswith("_structured"):
            if use_global:
                raise InvalidArgument(f"{_WHERE}: pruning_fn={fn!r} is structured; use_global_unstructured=True "
                                      "supports only unstructured methods (pass use_global_unstructured=False)")
            if dim is None:
                raise InvalidArgument(f"{_WHERE}: pruning_fn={fn!r} needs pruning_dim")
            if name == "ln_structured" and norm is None:
                raise InvalidArgument(f"{_WHERE}: pruning_fn={fn!r} needs pruning_norm")
        return name
    if not isinstance(fn, type) or not hasattr(fn, "compute_mask"):
        raise InvalidArgument(f"{_WHERE}: pruning_fn={fn!r} must be a name ({', '.join(PRUNING_FUNCTIONS)}) or a "
                              "torch BasePruningMethod subclass (the class, not an instance)")
    if not use_global:
        raise InvalidArgument(f"{_WHERE}: pruning_fn={fn.__name__} (a BasePruningMethod class) needs "
                              "use_global_unstructured=True")
    if getattr(fn, "PRUNING_TYPE", None) != "unstructured":
        raise InvalidArgument(f"{_WHERE}: pruning_fn={fn.__name__} has PRUNING_TYPE={getattr(fn, 'PRUNING_TYPE', None)!r}; "
                              "use_global_unstructured=True supports only 'unstructured'")
    return fn


def _check_pairs(pairs: Sequence[Any]) -> tuple[tuple[str, str], ...]:
    if isinstance(pairs, str) or not isinstance(pairs, Sequence):
        raise InvalidArgument(f"{_WHERE}: parameters_to_prune={pairs!r} must be a list of (module path, parameter name)")
    for pair in pairs:
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and all(isinstance(x, str) for x in pair)):
            raise InvalidArgument(f"{_WHERE}: parameters_to_prune entry {pair!r} must be a (module path, parameter name) "
                                  "pair of strings, e.g. ('net.0', 'weight')")
    return tuple((m, n) for m, n in pairs)


def model_pruning(pruning_fn: str | Callable[..., Any], *, parameters_to_prune: Sequence[tuple[str, str]] = (),
                  parameter_names: Sequence[str] | None = None, use_global_unstructured: bool = True,
                  amount: int | float | Callable[[int], int | float] = 0.5,
                  apply_pruning: bool | Callable[[int], bool] = True, make_pruning_permanent: bool = True,
                  use_lottery_ticket_hypothesis: bool | Callable[[int], bool] = True,
                  resample_parameters: bool = False, pruning_dim: int | None = None, pruning_norm: Any = None,
                  verbose: int = 0, prune_on_train_epoch_end: bool = True) -> PruningHook:
    """Prune ``amount`` of the weights at the end of every epoch where ``apply_pruning`` holds.

    ``pruning_fn``: a name from :data:`PRUNING_FUNCTIONS` or a ``BasePruningMethod``
    subclass. ``parameters_to_prune``: ``(module path, name)`` pairs; empty means every
    ``parameter_names`` parameter of every non-container module. ``amount`` (or
    ``amount(epoch)``): a fraction of the still-unpruned entries, or a count; 0 skips.
    Amounts compound, as in torch. ``use_lottery_ticket_hypothesis`` (or a callable of the
    epoch) resets the surviving weights to their values at ``setup`` after each pruning
    (``resample_parameters``: to fresh random values). ``make_pruning_permanent`` folds the
    masks in at ``train_end``. ``verbose`` 1/2 logs the sparsity after each pruning.

    Raises:
        InvalidArgument: an unknown or unfit ``pruning_fn``, a bad ``amount``, ``parameter_names``,
            ``parameters_to_prune`` or ``verbose``. (Pairs naming no parameter fail at ``setup``.)
    """
    names = PARAMETER_NAMES if parameter_names is None else tuple(parameter_names)
    for name in names:
        if name not in PARAMETER_NAMES:
            raise InvalidArgument(f"{_WHERE}: parameter_names has {name!r}; accepted: 'weight', 'bias'")
    method = _check_method(pruning_fn, use_global_unstructured, pruning_dim, pruning_norm)
    if not callable(amount):
        _check_amount(amount, "amount")
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise InvalidArgument(f"{_WHERE}: verbose={verbose!r} must be 0, 1 or 2")
    for flag, value in (("use_global_unstructured", use_global_unstructured), ("resample_parameters", resample_parameters),
                        ("make_pruning_permanent", make_pruning_permanent),
                        ("prune_on_train_epoch_end", prune_on_train_epoch_end)):
        if not isinstance(value, bool):
            raise InvalidArgument(f"{_WHERE}: {flag}={value!r} must be True or False")
    for flag, value in (("apply_pruning", apply_pruning), ("use_lottery_ticket_hypothesis", use_lottery_ticket_hypothesis)):
        if not isinstance(value, bool) and not callable(value):
            raise InvalidArgument(f"{_WHERE}: {flag}={value!r} must be True, False or callable epoch -> bool")
    return PruningHook(method, _check_pairs(parameters_to_prune), names, use_global_unstructured, amount, apply_pruning,
                       make_pruning_permanent, use_lottery_ticket_hypothesis, resample_parameters, pruning_dim,
                       pruning_norm, verbose, prune_on_train_epoch_end)
