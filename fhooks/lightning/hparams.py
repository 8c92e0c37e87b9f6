"""``save_hyperparameters``: the ``__init__`` arguments a module (or data module) keeps as ``hparams``.

>>> class Net:
...     def __init__(self, width=8, lr=0.1, data=None):
...         self.hparams = AttributeDict(init_arguments(inspect.currentframe(), (), ignore=("data",)))
>>> Net(width=4).hparams
{'width': 4, 'lr': 0.1}
>>> Net().hparams.lr
0.1
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Mapping, Sequence
from typing import Any

from fhooks.errors import InvalidArgument


class AttributeDict(dict):
    """A dict whose keys read as attributes too (Lightning's ``hparams`` type)."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError as exc:
            raise AttributeError(f"no hyperparameter {key!r}; have {sorted(self)}") from exc

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value


def init_arguments(frame: types.FrameType | None, names: Sequence[Any], ignore: Any = None) -> dict[str, Any]:
    """The arguments of the ``__init__`` running in ``frame`` (``**kwargs`` merged, ``self`` left out).

    ``names``: the arguments ``save_hyperparameters`` was given: names to keep, or one mapping to use as is.
    """
    if len(names) == 1 and isinstance(names[0], Mapping):
        return dict(names[0])
    if frame is None:
        raise InvalidArgument("save_hyperparameters: no calling frame to read the __init__ arguments from")
    info = inspect.getargvalues(frame)
    found = {name: info.locals[name] for name in info.args[1:] if name in info.locals}
    if info.varargs and info.locals.get(info.varargs):
        found[info.varargs] = info.locals[info.varargs]
    if info.keywords:
        found.update(info.locals.get(info.keywords, {}))
    if names:
        unknown = [n for n in names if n not in found]
        if unknown:
            raise InvalidArgument(f"save_hyperparameters{tuple(names)}: {unknown} are not arguments of __init__ "
                                  f"(have: {sorted(found)})")
        found = {n: found[n] for n in names}
    skipped = {ignore} if isinstance(ignore, str) else set(ignore or ())
    return {k: v for k, v in found.items() if k not in skipped}


class HyperparametersMixin:
    """``save_hyperparameters``, ``hparams`` and ``hparams_initial`` for modules and data modules."""

    _fhooks_base = True

    def save_hyperparameters(self, *args: Any, ignore: Any = None, frame: types.FrameType | None = None,
                             logger: bool = True) -> None:
        """Keep the calling ``__init__``'s arguments (or those named in ``args``) as :attr:`hparams`."""
        frame = frame or inspect.currentframe().f_back  # type: ignore[union-attr]
        values = init_arguments(frame, args, ignore)
        self.__dict__["_hparams"] = AttributeDict(values)
        self.__dict__["_hparams_initial"] = AttributeDict(values)
        self.__dict__["_log_hyperparams"] = logger

    @property
    def hparams(self) -> AttributeDict:
        """The saved hyperparameters (an empty dict before ``save_hyperparameters``)."""
        if "_hparams" not in self.__dict__:
            self.__dict__["_hparams"] = AttributeDict()
        return self.__dict__["_hparams"]

    @property
    def hparams_initial(self) -> AttributeDict:
        """A copy of the hyperparameters as first saved (what loggers get)."""
        if not self.__dict__.get("_log_hyperparams", True):
            return AttributeDict()
        return AttributeDict(self.__dict__.get("_hparams_initial", {}))
