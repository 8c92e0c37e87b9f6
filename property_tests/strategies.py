"""A small named pool of hooks and random expressions over it, for the law tests.

Every hook and predicate here is built from module-level functions, so
expressions pickle and their reprs read like code in a hypothesis failure:
``sequence(every_n(2, stop_after_3_epochs), when(is_fit, log_loss))``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from fhooks.core import (
    Effect,
    Event,
    Hook,
    Log,
    RemoveCheckpoint,
    SaveCheckpoint,
    Stop,
    after,
    all_of,
    any_of,
    every_n,
    frozendict,
    map_effects,
    on,
    once,
    sequence,
    state_class,
    until,
    when,
)
from fhooks.testing import fit_streams

# --- leaf hooks --------------------------------------------------------------------------------


def _count_epochs(n: int, event: Event) -> tuple[int, tuple[Effect, ...]]:
    n += 1
    return n, (Stop("3 epochs"),) if n == 3 else ()


def _count(n: int, event: Event) -> tuple[int, tuple[Effect, ...]]:
    return n + 1, ()


def log_loss(event: Event) -> Log:
    return Log({"loss": event.metrics["loss"]}, step=event.step)


def save_epoch(event: Event) -> SaveCheckpoint:
    return SaveCheckpoint(f"epoch={event.epoch}.ckpt")


def stop_on_nan(event: Event) -> Stop | None:
    value = event.metrics.get("val_loss", 0.0)
    return Stop("val_loss is nan") if math.isnan(value) else None


@state_class
class StreakState:
    """Best ``val_loss`` so far and checks without improvement."""

    best: float = math.inf
    wait: int = 0


def _patience_2(state: StreakState, event: Event) -> tuple[StreakState, tuple[Effect, ...]]:
    if event.stage != "fit":
        return state, ()
    value = event.metrics["val_loss"]
    state = StreakState(value, 0) if value < state.best else StreakState(state.best, state.wait + 1)
    return state, (Stop("val_loss stalled"),) if state.wait >= 2 else ()


def _max_seen(seen: frozendict, event: Event) -> tuple[frozendict, tuple[Effect, ...]]:
    new = {k: v for k, v in event.metrics.items() if k not in seen or v > seen[k]}
    if not new:
        return seen, ()
    return frozendict(seen, **new), (Log({f"max_{k}": v for k, v in new.items()}),)


def _keep_last(previous: str | None, event: Event) -> tuple[str, tuple[Effect, ...]]:
    path = f"last-{event.step}.ckpt"
    return path, (SaveCheckpoint(path),) + ((RemoveCheckpoint(previous),) if previous else ())


stop_after_3_epochs = Hook(0, _count_epochs, kinds="train_epoch_end", name="stop_after_3_epochs")
count_batches = Hook(0, _count, kinds="train_batch_end", name="count_batches")
count_events = Hook(0, _count, name="count_events")
patience_2 = Hook(StreakState(), _patience_2, kinds="validation_end", name="patience_2")
max_seen = Hook(frozendict(), _max_seen, kinds="train_epoch_end", name="max_seen")
keep_last = Hook(None, _keep_last, kinds="train_epoch_end", name="keep_last")
log_losses = on("train_batch_end", log_loss)
save_epochs = on("train_epoch_end", save_epoch)
nan_stop = on(("validation_end", "train_epoch_end"), stop_on_nan)

#: Leaf hooks: stop rules, counters, loggers, checkpointers; stateless and stateful.
POOL: tuple[Any, ...] = (
    stop_after_3_epochs, count_batches, count_events, patience_2, max_seen, keep_last, log_losses, save_epochs,
    nan_stop,
)
#: Leaves that can emit a Stop.
STOPPERS: tuple[Any, ...] = (stop_after_3_epochs, patience_2, nan_stop)

# --- predicates and effect maps ----------------------------------------------------------------


def always(event: Event) -> bool:
    return True


def never(event: Event) -> bool:
    return False


def is_fit(event: Event) -> bool:
    return event.stage == "fit"


def even_epoch(event: Event) -> bool:
    return event.epoch % 2 == 0


def epoch_ge_2(event: Event) -> bool:
    return event.epoch >= 2


def loss_below_1(event: Event) -> bool:
    return event.metrics.get("loss", math.inf) < 1.0


PREDICATES: tuple[Callable[[Event], bool], ...] = (always, never, is_fit, even_epoch, epoch_ge_2, loss_below_1)


def both(p: Callable[[Event], bool], q: Callable[[Event], bool]) -> Callable[[Event], bool]:
    """``p and q`` as one predicate, named ``p_and_q``."""

    def p_and_q(event: Event) -> bool:
        return p(event) and q(event)

    p_and_q.__qualname__ = f"{p.__qualname__}_and_{q.__qualname__}"
    return p_and_q


def keep(effect: Effect) -> Effect:
    return effect


def drop_logs(effect: Effect) -> Effect | None:
    return None if isinstance(effect, Log) else effect


def tag_stops(effect: Effect) -> Effect:
    return Stop(tuple(f"{r} (tagged)" for r in effect.reasons)) if isinstance(effect, Stop) else effect


EFFECT_MAPS: tuple[Callable[[Effect], Any], ...] = (keep, drop_logs, tag_stops)

# --- strategies ---------------------------------------------------------------------------------

leaves = st.sampled_from(POOL) | st.sampled_from(STOPPERS)  # stop rules twice as often
predicates = st.sampled_from(PREDICATES)


#: Kinds a filter over a hook that hears every kind may count (those the streams carry).
COUNTABLE_KINDS = ("train_batch_end", "train_epoch_end", "validation_end", "fit_start")


def kinds_for(hook: Any) -> st.SearchStrategy[str | None]:
    """The ``kind=`` a filter over ``hook`` may take: None when it hears one kind (or none), else one it hears."""
    if hook.kinds is not None and len(hook.kinds) <= 1:
        return st.none() | st.sampled_from(sorted(hook.kinds)) if hook.kinds else st.none()
    return st.sampled_from(sorted(hook.kinds) if hook.kinds is not None else COUNTABLE_KINDS)


def filtered(factory: Callable[..., Any], *args: st.SearchStrategy[Any]) -> Callable[[Any], st.SearchStrategy[Any]]:
    """``hook -> factory(*drawn args, hook, kind=a kind it may count)``, for ``flatmap``."""
    return lambda hook: st.builds(factory, *args, st.just(hook), kind=kinds_for(hook))


def _extend(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    some = st.lists(inner, min_size=1, max_size=3)
    return st.one_of(
        st.lists(inner, max_size=3).map(lambda hs: sequence(*hs)),
        st.builds(when, predicates, inner),
        inner.flatmap(filtered(every_n, st.integers(1, 3))),
        inner.flatmap(filtered(once)),
        inner.flatmap(filtered(after, st.integers(0, 3))),
        inner.flatmap(filtered(until, predicates)),
        st.builds(map_effects, st.sampled_from(EFFECT_MAPS), inner),
        some.map(lambda hs: any_of(*hs)),
        some.map(lambda hs: all_of(*hs)),
    )


#: Random hook expressions: trees of combinators over :data:`POOL`.
expressions = st.recursive(leaves, _extend, max_leaves=6)

#: Fit streams with two epoch metrics, ties/NaN/inf, maybe validation and sanity check, maybe a crash.
streams = fit_streams(("val_loss", "val_acc"), max_epochs=6, max_batches=3, validation=None, sanity_check=None,
                      exception=True)
