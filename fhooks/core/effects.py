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
from fhooks.errors import InvalidArgument


class Effect:
    """Base class of every effect; effects are frozen attrs values."""

    __slots__ = ()


def _reasons(value: str | Iterable[str]) -> tuple[str, ...]:
    reasons = (value,) if isinstance(value, str) else tuple(value) if isinstance(value, Iterable) else ()
    if not reasons or not all(isinstance(r, str) for r in reasons):
        raise InvalidArgument(f"Stop: reason must be a string or a non-empty tuple of strings, got {value!r}")
    return reasons


@attrs.frozen(repr=False)
class Stop(Effect):
    """Ask the trainer to stop fitting (Lightning's ``trainer.should_stop = True``).

    ``Stop(("a", "b"))`` keeps both reasons of two merged stops; ``reason`` joins them.
    """

    reasons: tuple[str, ...] = attrs.field(converter=_reasons)

    @property
    def reason(self) -> str:
        """The reasons joined by ``"; "``."""
        return "; ".join(self.reasons)

    def __repr__(self) -> str:
        return f"Stop({', '.join(map(repr, self.reasons))})"


@attrs.frozen
class Log(Effect):
    """Log metrics to the trainer's loggers, at ``step`` (the global step when None)."""

    metrics: Mapping[str, float] = attrs.field(converter=frozendict)
    step: int | None = None

    def __repr__(self) -> str:
        step = "" if self.step is None else f", step={self.step}"
        return f"Log({dict(self.metrics)!r}{step})"


@attrs.frozen
class SaveCheckpoint(Effect):
    """Write a checkpoint to ``path``, atomically; only the weights if ``weights_only``."""

    path: str
    weights_only: bool = False


@attrs.frozen
class RemoveCheckpoint(Effect):
    """Delete the checkpoint at ``path`` (one the hook asked to write)."""

    path: str


@attrs.frozen
class Raise(Effect):
    """Raise ``error`` from the trainer, after the effects before it ran."""

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
    """

    fn: Callable[[Any], None]
    label: str = ""


@attrs.frozen
class Print(Effect):
    """Print ``text`` on the console (global rank 0 only): progress lines a test can see."""

    text: str


@attrs.frozen
class SetLearningRates(Effect):
    """Set the learning rate of each param group of optimizer ``optimizer_idx``."""

    lrs: tuple[float, ...] = attrs.field(converter=tuple)
    optimizer_idx: int = 0


@attrs.frozen
class SetAccumulation(Effect):
    """Accumulate gradients over ``factor`` batches from now on."""

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
    """Merge several :class:`Stop` effects into one, at the first one's place, keeping every reason."""
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
