"""Class adapters: Lightning-style callback objects that are hooks.

A :class:`Callback` subclass writes Lightning's ``on_*`` methods; each call
becomes a :class:`~fhooks.core.effects.Do` effect that the trainer runs with
the live trainer and module. A :class:`HookCallback` wraps a pure library hook
and shows its latest state as Lightning's attributes.

>>> from fhooks.core import Event, fold
>>> class Printer(Callback):
...     def on_train_epoch_end(self, trainer, pl_module):
...         print("epoch done")
>>> Printer().kinds
frozenset({'train_epoch_end'})
>>> fold(Printer(), [Event("train_epoch_end")])[1]
(Do(fn=<...>, label='Printer.on_train_epoch_end'),)
"""

from __future__ import annotations

from typing import Any, ClassVar

from fhooks.core.effects import Do, Effects
from fhooks.core.events import EVENT_KINDS, BatchData, Event
from fhooks.core.hook import HookLike
from fhooks.core.lambda_hook import keyword_for
from fhooks.core.serialize import from_data, to_data


def hook_args(event: Event) -> tuple[Any, ...]:
    """The positional arguments Lightning passes after ``(trainer, pl_module)`` for this event."""
    kind, data = event.kind, event.data
    if kind in ("setup", "teardown"):
        return (event.stage,)
    if kind.endswith("_batch_start") or kind.endswith("_batch_end"):
        data = data if isinstance(data, BatchData) else BatchData()
        head = (data.outputs,) if kind.endswith("_batch_end") else ()
        tail = () if kind.startswith("train") else (data.dataloader_idx,)
        return (*head, data.batch, event.batch_idx, *tail)
    if kind in ("exception", "save_checkpoint", "load_checkpoint", "before_backward",
                "before_optimizer_step", "before_zero_grad"):
        return (data,)
    return ()


class Callback:
    """Base class for Lightning-style callbacks; override any ``on_*`` method (or ``setup``/``teardown``).

    Methods take Lightning's arguments ``(self, trainer, pl_module, ...)``. An
    instance is a hook, so it mixes with functional hooks in one expression.

    >>> from fhooks.core import Event, fold, on, sequence, Stop
    >>> class CountEpochs(Callback):
    ...     def on_train_epoch_end(self, trainer, pl_module):
    ...         trainer.epochs_seen = getattr(trainer, "epochs_seen", 0) + 1
    >>> expression = sequence(CountEpochs(), on("train_epoch_end", lambda e: Stop("one is enough")))
    >>> [type(effect).__name__ for effect in fold(expression, [Event("train_epoch_end")])[1]]
    ['Do', 'Stop']
    """

    init: ClassVar[None] = None
    _kinds_cache: ClassVar[dict[type, frozenset[str]]] = {}

    @property
    def kinds(self) -> frozenset[str]:
        cls = type(self)
        if cls not in Callback._kinds_cache:
            Callback._kinds_cache[cls] = frozenset(
                kind for kind in EVENT_KINDS if getattr(cls, keyword_for(kind)) is not getattr(Callback, keyword_for(kind))
            )
        return Callback._kinds_cache[cls]

    @property
    def shape_name(self) -> str:
        return type(self).__qualname__

    @property
    def state_key(self) -> str:
        """The key of this callback's ``state_dict`` in a checkpoint (Lightning's default)."""
        return type(self).__qualname__

    def step(self, state: None, event: Event) -> tuple[None, Effects]:
        return state, (self._call(event),)

    def _call(self, event: Event) -> Do:
        """The ``Do`` effect that calls this instance's ``on_*`` method with Lightning's arguments."""
        method = getattr(self, keyword_for(event.kind))
        args = hook_args(event)
        label = f"{type(self).__qualname__}.{keyword_for(event.kind)}"
        return Do(lambda ctx: method(ctx.trainer, ctx.module, *args), label)

    def state_dict(self) -> dict[str, Any]:
        """What to save in checkpoints; override together with :meth:`load_state_dict`."""
        return {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""

    def __repr__(self) -> str:
        return f"{type(self).__qualname__}()"


def _noop(self: Callback, trainer: Any, pl_module: Any, *args: Any) -> None:
    """Does nothing; override it."""


for _kind in EVENT_KINDS:
    setattr(Callback, keyword_for(_kind), _noop)


class HookCallback(Callback):
    """Base of the library's Lightning-named classes: a wrapper around a pure hook.

    ``step`` delegates to the wrapped hook and remembers the state it returns,
    so OO users can read Lightning's attributes (``best_score``...) after a run.
    ``state_dict``/``load_state_dict`` speak plain data. A user's subclass may
    override ``on_*`` methods: each is called (with Lightning's arguments) after
    the wrapped hook has decided on that event, so ``super()`` is optional and the
    attributes it reads are already up to date (see :func:`user_kinds`).
    """

    hook: HookLike
    _state: Any
    _loaded: Any

    def _wrap(self, hook: HookLike) -> None:
        """Set the wrapped hook; subclasses call it at the end of ``__init__``."""
        self.hook = hook
        self._state = hook.init
        self._loaded = None

    @property
    def children(self) -> tuple[HookLike]:
        return (self.hook,)

    @property
    def shape_name(self) -> str:
        return type(self).__qualname__

    @property
    def init(self) -> Any:
        return self.hook.init if self._loaded is None else self._loaded

    @property
    def kinds(self) -> frozenset[str] | None:
        extra = user_kinds(type(self))
        own = self.hook.kinds
        return own if not extra or own is None else own | extra

    @property
    def state(self) -> Any:
        """The wrapped hook's state after the last event this instance stepped on."""
        return self._state

    @property
    def state_key(self) -> str:
        return type(self).__qualname__

    def step(self, state: Any, event: Event) -> tuple[Any, Effects]:
        extra = user_kinds(type(self))
        if extra and event.kind in extra:
            heard = self.hook.kinds
            if heard is None or event.kind in heard:
                self._state, effects = self.hook.step(state, event)
            else:
                self._state, effects = state, ()
            return self._state, (*effects, self._call(event))
        self._state, effects = self.hook.step(state, event)
        return self._state, effects

    def state_dict(self) -> dict[str, Any]:
        """The current state as plain data."""
        return {"state": to_data(self._state)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Start the next run from a state :meth:`state_dict` returned."""
        self._state = self._loaded = from_data(state_dict["state"])

    def __repr__(self) -> str:
        return f"{type(self).__qualname__}({self.hook!r})"


_USER_KINDS: dict[type, frozenset[str]] = {}


def user_kinds(cls: type) -> frozenset[str]:
    """The event kinds whose ``on_*`` method a user's subclass of a library class overrides.

    A method counts when the class defining it lives outside the ``fhooks`` package,
    so the library's own Lightning-named classes add nothing to their hook.

    >>> from fhooks.callbacks import EarlyStopping
    >>> user_kinds(EarlyStopping)
    frozenset()
    >>> class Noisy(EarlyStopping):
    ...     def on_train_epoch_end(self, trainer, pl_module):
    ...         super().on_train_epoch_end(trainer, pl_module)
    >>> Noisy.__module__ = "my_project"
    >>> sorted(user_kinds(Noisy))
    ['train_epoch_end']
    """
    if cls not in _USER_KINDS:
        _USER_KINDS[cls] = frozenset(kind for kind in EVENT_KINDS if _defined_by_user(cls, keyword_for(kind)))
    return _USER_KINDS[cls]


def _defined_by_user(cls: type, name: str) -> bool:
    owner = next((c for c in cls.__mro__ if name in vars(c)), None)
    return owner is not None and not (owner.__module__ == "fhooks" or owner.__module__.startswith("fhooks."))
