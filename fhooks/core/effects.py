"""Effects: what a hook asks the trainer to do, as plain values.

A hook never acts; it returns effects and the trainer carries them out.

>>> Stop("val_loss did not improve")
Stop('val_loss did not improve')
>>> merge_stops((Stop("a"), Log({"x": 1.0}), Stop("b")))
(Stop('a', 'b'), Log({'x': 1.0}))
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Union

import attrs

from fhooks.core.frozendict import frozendict
from fhooks.core.values import fields_repr
from fhooks.errors import InvalidArgument


class Effect:
    """Base class of every effect; effects are frozen attrs values.

    ``recorded`` says whether the trainer's decision log keeps the effect; effects
    that only draw (a progress bar's renders, one per batch) set it to False.

    >>> isinstance(Stop("done"), Effect), isinstance("done", Effect)
    (True, False)
    """

    __slots__ = ()
    recorded = True


def _reasons(value: str | Iterable[str]) -> tuple[str, ...]:
    reasons = (value,) if isinstance(value, str) else tuple(value) if isinstance(value, Iterable) else ()
    if not reasons or not all(isinstance(r, str) for r in reasons):
        raise InvalidArgument(f"Stop: reason must be a string or a non-empty tuple of strings, got {value!r}")
    return reasons


@attrs.frozen(repr=False)
class Stop(Effect):
    """Ask the trainer to stop fitting (Lightning's ``trainer.should_stop = True``).

    ``Stop(("a", "b"))`` keeps both reasons of two merged stops; ``reason`` joins them.

    >>> stop = Stop(("patience 3 reached", "time is up"))
    >>> stop, stop.reason
    (Stop('patience 3 reached', 'time is up'), 'patience 3 reached; time is up')
    """

    reasons: tuple[str, ...] = attrs.field(converter=_reasons)

    @property
    def reason(self) -> str:
        """The reasons joined by ``"; "``."""
        return "; ".join(self.reasons)

    def __repr__(self) -> str:
        return f"Stop({', '.join(map(repr, self.reasons))})"


def _frozen_metrics(value: Mapping[str, float]) -> frozendict:
    # A function, not the class itself: attrs reads a converter's signature, and a builtin's would cost a
    # tokenizer regex (about 8 ms) the first time, at import.
    return frozendict(value)


def _floats(value: Iterable[float]) -> tuple[float, ...]:
    return tuple(value)  # a function, not ``tuple``: see _frozen_metrics


@attrs.frozen
class Log(Effect):
    """Log metrics to the trainer's loggers, at ``step`` (the global step when None).

    >>> Log({"val_loss": 0.25}, step=10)
    Log({'val_loss': 0.25}, step=10)
    """

    metrics: Mapping[str, float] = attrs.field(converter=_frozen_metrics)
    step: int | None = None

    def __repr__(self) -> str:
        step = "" if self.step is None else f", step={self.step}"
        return f"Log({dict(self.metrics)!r}{step})"


@attrs.frozen
class SaveCheckpoint(Effect):
    """Write a checkpoint to ``path``, atomically; only the weights if ``weights_only``.

    A relative ``path`` lands in the run's checkpoint directory (``RunInfo.checkpoint_dir``).

    >>> SaveCheckpoint("epoch=3.ckpt")
    SaveCheckpoint(path='epoch=3.ckpt', weights_only=False)
    """

    __repr__ = fields_repr

    path: str
    weights_only: bool = False


@attrs.frozen
class RemoveCheckpoint(Effect):
    """Delete the checkpoint at ``path`` (one the hook asked to write).

    The trainer keeps the file its run resumed from, unless ``even_if_resumed``
    (Lightning's ``OnExceptionCheckpoint`` removes its file after a clean run, resumed or not).

    >>> RemoveCheckpoint("epoch=1.ckpt")
    RemoveCheckpoint(path='epoch=1.ckpt')
    """

    __repr__ = fields_repr

    path: str
    even_if_resumed: bool = attrs.field(default=False, repr=False)


@attrs.frozen
class Raise(Effect):
    """Raise ``error`` from the trainer, after the effects before it ran.

    Two ``Raise`` effects are equal when their errors have the same type and args:

    >>> Raise(ValueError("loss is NaN")) == Raise(ValueError("loss is NaN"))
    True
    """

    __repr__ = fields_repr

    error: BaseException = attrs.field(eq=False)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Raise):
            return NotImplemented
        return type(self.error) is type(other.error) and self.error.args == other.error.args

    __hash__ = None  # type: ignore[assignment]


@attrs.frozen
class Do(Effect):
    """Run ``fn(context)`` with the live trainer: the escape hatch for what no named effect says.

    ``context`` has ``trainer``, ``module`` and ``event``. Prefer a named effect:
    tests can see named effects, not what ``fn`` does.

    >>> from types import SimpleNamespace
    >>> freeze = Do(lambda ctx: ctx.module.requires_grad_(False), label="freeze the model")
    >>> freeze.label
    'freeze the model'
    >>> model = SimpleNamespace(requires_grad_=lambda flag: f"requires_grad={flag}")
    >>> freeze.fn(SimpleNamespace(trainer=None, module=model, event=None))
    'requires_grad=False'
    """

    __repr__ = fields_repr

    fn: Callable[[Any], None]
    label: str = ""


@attrs.frozen
class Print(Effect):
    """Print ``text`` on the console (global rank 0 only): progress lines a test can see.

    >>> Print("epoch 3: val_loss 0.25")
    Print(text='epoch 3: val_loss 0.25')
    """

    __repr__ = fields_repr

    text: str


@attrs.frozen
class SetLearningRates(Effect):
    """Set the learning rate of each param group of optimizer ``optimizer_idx``.

    >>> SetLearningRates([0.1, 0.01])
    SetLearningRates(lrs=(0.1, 0.01), optimizer_idx=0)
    """

    __repr__ = fields_repr

    lrs: tuple[float, ...] = attrs.field(converter=_floats)
    optimizer_idx: int = 0


@attrs.frozen
class SetAccumulation(Effect):
    """Accumulate gradients over ``factor`` batches from now on.

    >>> SetAccumulation(4)
    SetAccumulation(factor=4)
    """

    __repr__ = fields_repr

    factor: int


Effects = tuple[Effect, ...]
EffectLike = Union[None, Effect, Iterable[Effect]]
NO_EFFECTS: Effects = ()


def as_effects(value: EffectLike, where: str = "hook") -> Effects:
    """Normalise what a user function returned (None, one effect, or several) to a tuple.

    >>> as_effects(None), as_effects(Stop("x"))
    ((), (Stop('x'),))
    """
    if value is None:
        return NO_EFFECTS
    if isinstance(value, Effect):
        return (value,)
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise InvalidArgument(f"{where}: expected None, an Effect or an iterable of effects, got {value!r}")
    effects = tuple(value)
    for effect in effects:
        if not isinstance(effect, Effect):
            raise InvalidArgument(f"{where}: expected only Effect values, got {effect!r} among {effects!r}")
    return effects


def merge_stops(effects: Effects) -> Effects:
    """Merge several :class:`Stop` effects into one, at the first one's place, keeping every reason.

    >>> merge_stops((Log({"x": 1.0}), Stop("a"), Stop("b")))
    (Log({'x': 1.0}), Stop('a', 'b'))
    """
    stops = [e for e in effects if type(e) is Stop]
    if len(stops) < 2:
        return effects
    merged = Stop(tuple(r for s in stops for r in s.reasons))
    out: list[Effect] = []
    for effect in effects:
        if type(effect) is Stop:
            if merged is not None:
                out.append(merged)
                merged = None
        else:
            out.append(effect)
    return tuple(out)
