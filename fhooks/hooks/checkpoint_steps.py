"""The decisions of ``model_checkpoint``, one function per event kind (Lightning's hook methods).

Each function takes the hook's configuration, its state and the event, and
returns the new state and the effects. Inside, a mutable :class:`_Work` copy
of the state collects changes in Lightning's order; it is frozen again at the end.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import attrs

from fhooks.core.effects import NO_EFFECTS, Effect, Effects, RemoveCheckpoint, SaveCheckpoint
from fhooks.core.events import Event, RunInfo
from fhooks.core.serialize import state_class
from fhooks.errors import MissingMetric
from fhooks.hooks import topk
from fhooks.hooks.checkpoint_names import candidates, checkpoint_path


@attrs.frozen
class LinkCheckpoint(Effect):
    """Make ``path`` a relative symlink to ``target`` (a copy where links fail), replacing what is there."""

    path: str
    target: str


@state_class
class ModelCheckpointState:
    """What ``model_checkpoint`` remembers: Lightning's attributes plus the files it wrote.

    ``best_k`` holds ordered ``(path, score)`` pairs (insertion order breaks ties);
    ``written`` the files it wrote and has not removed; ``taken`` files that were
    there before it (never overwritten nor removed); the last five fields come
    from the ``RunInfo`` of ``setup``/``fit_start``.
    """

    kth_value: float
    dirpath: str = ""
    best_k: tuple[tuple[str, float], ...] = ()
    kth_best_model_path: str = ""
    best_model_path: str = ""
    best_model_score: float | None = None
    current_score: float | None = None
    last_model_path: str = ""
    last_step_saved: int = 0
    last_saved: str = ""
    last_time_checked: float | None = None
    deferred: bool = False
    val_has_run: bool = False
    written: tuple[str, ...] = ()
    taken: tuple[str, ...] = ()
    at_train_epoch_end: bool = True
    fast_dev_run: bool = False
    num_training_batches: int | None = None
    num_val_batches: int = 0
    check_val_every_n_epoch: int | None = 1

    @property
    def best_k_models(self) -> dict[str, float]:
        """``best_k`` as Lightning's ``{path: score}`` dict, in insertion order."""
        return dict(self.best_k)


_FIELDS = tuple(f.name for f in attrs.fields(ModelCheckpointState))


class _Work:
    """A mutable copy of the state and the effects so far, for one event."""

    def __init__(self, cfg: Any, state: ModelCheckpointState, event: Event) -> None:
        self.__dict__.update({name: getattr(state, name) for name in _FIELDS})
        self.cfg, self.event, self.effects, self.removals = cfg, event, [], []

    def freeze(self) -> tuple[ModelCheckpointState, Effects]:
        """The new state, and the effects with every removal last: a kill between two effects never leaves
        ``last.ckpt`` linked to a removed file, nor fewer checkpoints than before."""
        state = ModelCheckpointState(**{name: self.__dict__[name] for name in _FIELDS})
        return state, (*self.effects, *self.removals)

    # -- files -------------------------------------------------------------------------------------
    def exists(self, path: str) -> bool:
        return path in self.written or path in self.taken

    def path(self, metrics: dict[str, Any], template: str | None = None, reuse: str | None = None) -> str:
        """The formatted path, with ``-vN`` while the name is taken by another file than ``reuse``."""
        cfg = self.cfg
        name = (lambda ver=None: checkpoint_path(template or cfg.filename, metrics, dirpath=self.dirpath, ver=ver,
                                                 auto_insert=cfg.auto_insert_metric_name, naming=cfg.naming))
        path, ver = name(), cfg.naming.first_version
        if cfg.enable_version_counter:
            while self.exists(path) and (path != reuse or path in self.taken):
                path, ver = name(ver), ver + 1
        return path

    def save(self, path: str) -> None:
        self.effects.append(SaveCheckpoint(path, self.cfg.save_weights_only))
        self.last_step_saved, self.last_saved = self.event.step, path
        self._wrote(path)

    def link(self, path: str, target: str) -> None:
        self.effects.append(LinkCheckpoint(path, target))
        self._wrote(path)

    def _wrote(self, path: str) -> None:
        if path in self.taken:
            self.taken = tuple(p for p in self.taken if p != path)
        if path not in self.written:
            self.written = (*self.written, path)

    def remove_if_ours(self, previous: str, current: str) -> None:
        """Delete ``previous`` (after this event's writes) unless it is ``current``, was not written by us,
        or is not a name inside ``dirpath`` (the trainer checks the file itself too)."""
        if previous == current or previous not in self.written or not within(previous, self.dirpath):
            return
        self.removals.append(RemoveCheckpoint(previous))
        self.written = tuple(p for p in self.written if p != previous)

    # -- Lightning's saving routines ---------------------------------------------------------------
    def skip(self) -> bool:
        return self.fast_dev_run or self.event.stage != "fit" or self.last_step_saved == self.event.step

    def candidates(self) -> dict[str, Any]:
        return candidates(self.event.metrics, self.event.epoch, self.event.step)

    def save_topk(self, metrics: dict[str, Any]) -> None:
        cfg = self.cfg
        if cfg.save_top_k == 0:
            return
        if cfg.monitor is None:
            self._save_unmonitored(metrics)
            return
        if cfg.monitor not in metrics and self.val_has_run:
            raise missing_monitor(cfg.monitor, metrics)
        current = metrics.get(cfg.monitor)
        if topk.improves(self.best_k, cfg.save_top_k, cfg.mode, current):
            self._update_best_and_save(float(current), metrics)

    def _save_unmonitored(self, metrics: dict[str, Any]) -> None:
        path = self.path(metrics, reuse=self.best_model_path)
        previous, self.best_model_path = self.best_model_path, path
        self.save(path)
        if self.cfg.save_top_k == 1 and previous:
            self.remove_if_ours(previous, path)

    def _update_best_and_save(self, current: float, metrics: dict[str, Any]) -> None:
        cfg = self.cfg
        k = topk.capacity(self.best_k, cfg.save_top_k)
        self.best_k, evicted = topk.make_room(self.best_k, cfg.save_top_k, cfg.mode, self.kth_best_model_path)
        score = topk.score_of(current, cfg.mode)
        path = self.path(metrics, reuse=evicted)
        self.current_score = score
        self.best_k = topk.insert(self.best_k, path, score)
        if len(self.best_k) == k:
            self.kth_best_model_path, self.kth_value = topk.worst(self.best_k, cfg.mode)
        self.best_model_path, self.best_model_score = topk.best(self.best_k, cfg.mode)
        self.save(path)
        if evicted:
            self.remove_if_ours(evicted, path)

    def save_last(self, metrics: dict[str, Any]) -> None:
        cfg = self.cfg
        if not cfg.save_last:
            return
        path = self.path(metrics, cfg.naming.last, reuse=self.last_model_path)
        previous, self.last_model_path = self.last_model_path, path
        target = self.last_saved
        if cfg.save_last == "link" and target and target != path and cfg.save_top_k != 0:
            self.link(path, target)
        else:
            self.save(path)
        if previous:
            self.remove_if_ours(previous, path)


def within(path: str, dirpath: str) -> bool:
    """Whether the name ``path`` lies inside ``dirpath`` as written: no ``..``, no other root (no disk access).

    >>> within("/c/a.ckpt", "/c"), within("/c/../x", "/c"), within("/cx/a.ckpt", "/c"), within("a.ckpt", "")
    (True, False, False, True)
    """
    if ".." in path.replace("\\", "/").split("/"):
        return False
    return not dirpath or path.startswith(os.path.join(dirpath, ""))


def missing_monitor(monitor: str, metrics: dict[str, Any]) -> MissingMetric:
    """The error for a monitor absent after validation ran, listing the metrics that exist."""
    import difflib

    close = difflib.get_close_matches(monitor, list(metrics), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; log it with self.log({monitor!r}, value)"
    return MissingMetric(f"model_checkpoint: monitor {monitor!r} is not in the metrics "
                         f"(have: {', '.join(sorted(metrics))}){hint}")


Result = tuple[ModelCheckpointState, Effects]


def _configure(cfg: Any, state: ModelCheckpointState, event: Event) -> Result:
    info = event.data
    if event.stage != "fit" or not isinstance(info, RunInfo):
        return state, NO_EFFECTS
    dirpath = cfg.dirpath or info.checkpoint_dir or ""
    if cfg.save_on_train_epoch_end is not None:
        at_end = bool(cfg.save_on_train_epoch_end)
    elif info.check_val_every_n_epoch != 1:
        at_end = False
    else:
        at_end = info.num_val_batches == 0 or info.val_check_interval == 1.0
    changes: dict[str, Any] = dict(
        dirpath=dirpath, at_train_epoch_end=at_end, fast_dev_run=bool(info.fast_dev_run),
        num_training_batches=info.num_training_batches, num_val_batches=info.num_val_batches or 0,
        check_val_every_n_epoch=info.check_val_every_n_epoch)
    existing = getattr(info, "existing_checkpoints", None)
    if existing is not None:  # files it does not own; a name it wrote that is listed was remade by someone else
        changes["taken"] = tuple(existing)
        changes["written"] = tuple(p for p in state.written if p not in existing)
    if state.dirpath and state.dirpath != dirpath:  # as Lightning's load_state_dict: only best_model_path survives
        changes.update(best_k=(), kth_best_model_path="", kth_value=cfg.init.kth_value, best_model_score=None,
                       last_model_path="", written=())
    return attrs.evolve(state, **changes), NO_EFFECTS


def _train_start(cfg: Any, state: ModelCheckpointState, event: Event) -> Result:
    return attrs.evolve(state, last_time_checked=event.time), NO_EFFECTS


def _will_validate(w: _Work) -> bool:
    every = w.check_val_every_n_epoch
    return w.num_val_batches > 0 and (every is None or (w.event.epoch + 1) % every == 0)


def _train_batch_end(cfg: Any, state: ModelCheckpointState, event: Event) -> Result:
    by_step = cfg.every_n_train_steps >= 1 and event.step % cfg.every_n_train_steps == 0
    interval, last = cfg.train_time_interval, state.last_time_checked
    by_time = interval is not None and last is not None and event.time - last >= interval
    if not (by_step or by_time):
        return state, NO_EFFECTS
    w = _Work(cfg, state, event)
    skip = w.skip()
    if by_time:
        w.last_time_checked = event.time
    metrics = w.candidates()
    last_batch = w.num_training_batches is not None and event.batch_idx + 1 >= w.num_training_batches
    if cfg.monitor is not None and (cfg.monitor not in metrics
                                    or (not w.at_train_epoch_end and last_batch and _will_validate(w))):
        w.deferred = True
    elif not skip:
        w.save_topk(metrics)
        w.save_last(metrics)
    return w.freeze()


def _train_epoch_end(cfg: Any, state: ModelCheckpointState, event: Event) -> Result:
    if not state.at_train_epoch_end:
        return state, NO_EFFECTS
    w = _Work(cfg, state, event)
    if w.skip():
        return state, NO_EFFECTS
    metrics = w.candidates()
    if cfg.every_n_epochs >= 1 and (event.epoch + 1) % cfg.every_n_epochs == 0:
        w.save_topk(metrics)
    w.save_last(metrics)
    return w.freeze()


def _validation_end(cfg: Any, state: ModelCheckpointState, event: Event) -> Result:
    if event.stage != "fit":
        return state, NO_EFFECTS
    w = _Work(cfg, state, event)
    w.val_has_run = True
    if not w.at_train_epoch_end and not w.skip():
        metrics = w.candidates()
        if w.deferred:
            w.save_topk(metrics)
            w.save_last(metrics)
            w.deferred = False
        else:
            if cfg.every_n_epochs >= 1 and (event.epoch + 1) % cfg.every_n_epochs == 0:
                w.save_topk(metrics)
            w.save_last(metrics)
    return w.freeze()


def _exception(cfg: Any, state: ModelCheckpointState, event: Event) -> Result:
    if (not cfg.save_on_exception or state.fast_dev_run or event.stage == "sanity_check"
            or state.last_step_saved == event.step):
        return state, NO_EFFECTS
    w = _Work(cfg, state, event)
    metrics = w.candidates()
    w.save(checkpoint_path(cfg.filename, metrics, dirpath=w.dirpath, auto_insert=cfg.auto_insert_metric_name,
                           naming=cfg.naming))
    w.save_last(metrics)
    return w.freeze()


def _train_end(cfg: Any, state: ModelCheckpointState, event: Event) -> Result:
    if not cfg.save_last or state.last_saved or event.stage != "fit":
        return state, NO_EFFECTS
    w = _Work(cfg, state, event)
    w.save_last(w.candidates())
    return w.freeze()


#: The decision for each event kind the hook hears.
STEPS: dict[str, Callable[[Any, ModelCheckpointState, Event], Result]] = {
    "setup": _configure,
    "fit_start": _configure,
    "train_start": _train_start,
    "train_batch_end": _train_batch_end,
    "train_epoch_end": _train_epoch_end,
    "validation_end": _validation_end,
    "exception": _exception,
    "train_end": _train_end,
}
