"""``ModelCheckpoint``: Lightning's class, over the pure :func:`~fhooks.hooks.model_checkpoint` hook.

>>> from fhooks.core import Event, fold
>>> mc = ModelCheckpoint(dirpath="/ckpts", monitor="val_loss", save_top_k=2)
>>> mc.state_key
"ModelCheckpoint{'monitor': 'val_loss', 'mode': 'min', 'every_n_train_steps': 0, 'every_n_epochs': 1, \
'train_time_interval': None}"
>>> _ = fold(mc, [Event("train_epoch_end", epoch=e, step=e + 1, metrics={"val_loss": v})
...               for e, v in enumerate([3.0, 1.0, 2.0])])
>>> mc.best_model_path, mc.best_model_score, mc.kth_value
('/ckpts/epoch=1-step=2.ckpt', 1.0, 2.0)
>>> mc.format_checkpoint_name({"epoch": 4, "step": 9}, ver=1)
'/ckpts/epoch=4-step=9-v1.ckpt'
"""

from __future__ import annotations

import datetime
import os
from typing import Any, ClassVar

import attrs

from fhooks.callbacks.base import HookCallback
from fhooks.callbacks.checkpoint import Checkpoint
from fhooks.core.serialize import from_data, to_data
from fhooks.errors import InvalidArgument
from fhooks.hooks.checkpoint_names import Naming, checkpoint_path
from fhooks.hooks.model_checkpoint import ModelCheckpoint as ModelCheckpointHook
from fhooks.hooks.model_checkpoint import model_checkpoint

_NAMING_ATTRS = ("CHECKPOINT_NAME_LAST", "FILE_EXTENSION", "CHECKPOINT_JOIN_CHAR", "CHECKPOINT_EQUALS_CHAR",
                 "STARTING_VERSION")


class ModelCheckpoint(HookCallback, Checkpoint):
    """Save checkpoints periodically and keep the top k by a metric, with Lightning's arguments and attributes.

    The class constants (``CHECKPOINT_NAME_LAST``, ``FILE_EXTENSION``...) may be
    overridden on a subclass or on an instance, as in Lightning. ``verbose`` is
    accepted and kept; fhooks reports decisions through ``trainer.decisions``.

    Raises:
        InvalidArgument: an argument :func:`~fhooks.hooks.model_checkpoint` rejects.
    """

    CHECKPOINT_JOIN_CHAR: ClassVar[str] = "-"
    CHECKPOINT_EQUALS_CHAR: ClassVar[str] = "="
    CHECKPOINT_NAME_LAST: ClassVar[str] = "last"
    FILE_EXTENSION: ClassVar[str] = ".ckpt"
    STARTING_VERSION: ClassVar[int] = 1
    hook: ModelCheckpointHook

    def __init__(self, dirpath: Any = None, filename: str | None = None, monitor: str | None = None,
                 verbose: bool = False, save_last: bool | str | None = None, save_top_k: int = 1,
                 save_on_exception: bool = False, save_weights_only: bool = False, mode: str = "min",
                 auto_insert_metric_name: bool = True, every_n_train_steps: int | None = None,
                 train_time_interval: datetime.timedelta | None = None, every_n_epochs: int | None = None,
                 save_on_train_epoch_end: bool | None = None, enable_version_counter: bool = True) -> None:
        self.verbose = verbose
        self._train_time_interval = train_time_interval
        self._wrap(model_checkpoint(
            dirpath, filename, monitor=monitor, mode=mode, save_top_k=save_top_k, save_last=save_last,
            save_weights_only=save_weights_only, every_n_train_steps=every_n_train_steps,
            every_n_epochs=every_n_epochs, train_time_interval=train_time_interval,
            save_on_train_epoch_end=save_on_train_epoch_end, save_on_exception=save_on_exception,
            auto_insert_metric_name=auto_insert_metric_name, enable_version_counter=enable_version_counter,
            naming=self._naming()))

    def _naming(self) -> Naming:
        return Naming(self.CHECKPOINT_NAME_LAST, self.FILE_EXTENSION, self.CHECKPOINT_JOIN_CHAR,
                      self.CHECKPOINT_EQUALS_CHAR, self.STARTING_VERSION)

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name in _NAMING_ATTRS and "hook" in self.__dict__:
            hook = attrs.evolve(self.hook, naming=self._naming())
            object.__setattr__(self, "hook", hook)

    # -- configuration, as Lightning's attributes --------------------------------------------------
    monitor = property(lambda self: self.hook.monitor, doc="The metric ranked by top-k, or None.")
    mode = property(lambda self: self.hook.mode, doc="``'min'`` or ``'max'``.")
    save_top_k = property(lambda self: self.hook.save_top_k, doc="How many checkpoints to keep (-1: all).")
    save_last = property(lambda self: self.hook.save_last, doc="None, False, True or ``'link'``.")
    save_weights_only = property(lambda self: self.hook.save_weights_only, doc="Save only the weights.")
    save_on_exception = property(lambda self: self.hook.save_on_exception, doc="Save when fit raises.")
    filename = property(lambda self: self.hook.filename, doc="The file name template, or None.")
    auto_insert_metric_name = property(lambda self: self.hook.auto_insert_metric_name, doc="Write ``name=``.")
    every_n_epochs = property(lambda self: self.hook.every_n_epochs, doc="Epoch trigger (0: off).")
    _every_n_train_steps = property(lambda self: self.hook.every_n_train_steps)
    _every_n_epochs = property(lambda self: self.hook.every_n_epochs)
    _save_on_train_epoch_end = property(lambda self: self.hook.save_on_train_epoch_end)
    _enable_version_counter = property(lambda self: self.hook.enable_version_counter)

    @property
    def dirpath(self) -> str | None:
        """The directory: the one given, else the trainer's checkpoint dir once fit has set up."""
        return self._state.dirpath or self.hook.dirpath

    # -- state, as Lightning's attributes ---------------------------------------------------------
    best_model_path = property(lambda self: self._state.best_model_path, doc="Path of the best checkpoint.")
    best_model_score = property(lambda self: self._state.best_model_score, doc="Its score, or None.")
    kth_best_model_path = property(lambda self: self._state.kth_best_model_path, doc="The worst kept of k.")
    kth_value = property(lambda self: self._state.kth_value, doc="Its score (±inf until k are kept).")
    last_model_path = property(lambda self: self._state.last_model_path, doc="Path of ``last.ckpt``.")
    current_score = property(lambda self: self._state.current_score, doc="Score of the latest top-k save.")
    best_k_models = property(lambda self: self._state.best_k_models, doc="``{path: score}`` of the kept top k.")

    @property
    def state_key(self) -> str:
        """Lightning's key: the class name and the monitor, mode and triggers."""
        key = dict(monitor=self.monitor, mode=self.mode, every_n_train_steps=self.hook.every_n_train_steps,
                   every_n_epochs=self.hook.every_n_epochs, train_time_interval=self._train_time_interval)
        return f"{type(self).__qualname__}{key!r}"

    def format_checkpoint_name(self, metrics: dict[str, Any], filename: str | None = None, ver: int | None = None,
                               prefix: str | None = None) -> str:
        """The path a checkpoint with ``metrics`` gets: ``dirpath/<filled template>[-vN].ckpt``."""
        return checkpoint_path(filename or self.filename, metrics, dirpath=self.dirpath or "", ver=ver,
                               prefix=prefix, auto_insert=self.auto_insert_metric_name, naming=self._naming())

    def check_monitor_top_k(self, trainer: Any, current: Any = None) -> bool:
        """Whether a checkpoint scoring ``current`` would enter the top k now (Lightning's test; None: no)."""
        if current is None:
            return False
        if self.save_top_k == -1 or len(self.best_k_models) < self.save_top_k:
            return True
        kth = float(self.best_k_models[self.kth_best_model_path])
        return float(current) < kth if self.mode == "min" else float(current) > kth

    def file_exists(self, filepath: str | os.PathLike[str], trainer: Any = None) -> bool:
        """Whether ``filepath`` exists (Lightning asks rank zero; fhooks writes from rank zero only)."""
        return os.path.exists(filepath)

    def to_yaml(self, filepath: str | os.PathLike[str] | None = None) -> None:
        """Write ``best_k_models`` (``{path: score}``) as YAML to ``filepath`` or ``dirpath/best_k_models.yaml``.

        Raises:
            InvalidArgument: no ``filepath`` and no ``dirpath`` known yet.
        """
        from fhooks.loggers.csv_logger import to_yaml, write_text_atomic

        if filepath is None:
            if not self.dirpath:
                raise InvalidArgument("ModelCheckpoint.to_yaml: no filepath given and no dirpath yet; pass a filepath")
            filepath = os.path.join(self.dirpath, "best_k_models.yaml")
        write_text_atomic(os.fspath(filepath), to_yaml({k: float(v) for k, v in self.best_k_models.items()}))

    def state_dict(self) -> dict[str, Any]:
        """The full state as plain data under ``"state"``, with Lightning's keys beside it."""
        s = self._state
        return {"state": to_data(s), "monitor": self.monitor, "best_model_score": s.best_model_score,
                "best_model_path": s.best_model_path, "current_score": s.current_score, "dirpath": self.dirpath,
                "best_k_models": dict(s.best_k), "kth_best_model_path": s.kth_best_model_path,
                "kth_value": s.kth_value, "last_model_path": s.last_model_path}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a state; a Lightning-shaped dict (no ``"state"``) restores Lightning's fields by its rules."""
        if "state" in state_dict:
            self._state = self._loaded = from_data(state_dict["state"])
            return
        s = self._state
        changes: dict[str, Any] = {"best_model_path": str(state_dict["best_model_path"])}
        if state_dict.get("dirpath", self.dirpath) == self.dirpath:
            best_k = tuple((str(p), float(v)) for p, v in dict(state_dict.get("best_k_models", {})).items())
            score = state_dict.get("best_model_score")
            changes.update(best_k=best_k, best_model_score=None if score is None else float(score),
                           kth_best_model_path=str(state_dict.get("kth_best_model_path", s.kth_best_model_path)),
                           kth_value=float(state_dict.get("kth_value", s.kth_value)),
                           last_model_path=str(state_dict.get("last_model_path", s.last_model_path)),
                           written=tuple(p for p, _ in best_k))
        self._state = self._loaded = attrs.evolve(s, **changes)

    def __repr__(self) -> str:
        inner = repr(attrs.evolve(self.hook, naming=Naming()))
        return type(self).__qualname__ + inner[len("model_checkpoint"):]
