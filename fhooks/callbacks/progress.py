"""Progress bars with Lightning's names: ``ProgressBar``, ``TQDMProgressBar``, ``RichProgressBar``.

Each is a hook over :func:`~fhooks.hooks.progress.progress_bar`; the renderers in
:mod:`fhooks.display` draw what it asks for.

>>> bar = TQDMProgressBar(refresh_rate=10)
>>> bar
TQDMProgressBar(refresh_rate=10)
>>> bar.is_enabled, bar.total_train_batches
(True, None)
>>> RichProgressBarTheme(metrics_format=".2e").metrics_format
'.2e'
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs

from fhooks.callbacks.base import HookCallback, user_kinds
from fhooks.core.effects import Do, Effects
from fhooks.core.events import Event
from fhooks.core.hook import step_for
from fhooks.errors import InvalidArgument
from fhooks.hooks.progress import ProgressHook, ProgressState, RichStyle, TqdmStyle, progress_bar

RICH_MISSING = "{where} needs the rich package, which is not installed: pip install 'fhooks[rich]'"


def require_rich(where: str) -> None:
    """Raise ``ModuleNotFoundError`` with the install command when rich cannot be imported."""
    try:
        import rich  # noqa: F401
    except ImportError as exc:
        raise ModuleNotFoundError(RICH_MISSING.format(where=where)) from exc


def standard_metrics(trainer: Any) -> dict[str, Any]:
    """What every bar shows first: ``v_num``, the loggers' version (strings cut to their last 4 characters).

    >>> class Logger: version = 3
    >>> class Trainer: loggers = [Logger()]
    >>> standard_metrics(Trainer())
    {'v_num': 3}
    """
    loggers = getattr(trainer, "loggers", None) or []
    if not loggers:
        return {}
    versions = [getattr(logger, "version", None) for logger in loggers]
    version = versions[0] if len(versions) == 1 else "_".join(dict.fromkeys(map(str, versions)))
    if version in ("", None):
        return {}
    return {"v_num": version[-4:] if isinstance(version, str) else version}


class ProgressBar(HookCallback):
    """Base of the progress bars: counts and totals from a pure hook, ``get_metrics`` for the postfix.

    Override :meth:`get_metrics` to change what the train bar shows after its counts.
    ``disable()`` hides the bar (counting goes on), ``enable()`` shows it again.
    Totals are None when a loader's length is not known (Lightning: ``inf``).
    """

    hook: ProgressHook
    sanity_check_description = "Sanity Checking"
    train_description = "Training"
    validation_description = "Validation"
    test_description = "Testing"
    predict_description = "Predicting"

    def __init__(self, refresh_rate: int = 1, style: TqdmStyle | RichStyle | None = None) -> None:
        self._enabled = True
        self._trainer: Any = None
        hook = progress_bar(refresh_rate, style=style)  # min_interval: FHOOKS_PROGRESS_MININTERVAL, else 0.1 s
        self._wrap(ProgressHook(hook.refresh_rate, hook.style, hook.min_interval, source=self))

    @property
    def refresh_rate(self) -> int:
        """Batches between two updates of a bar (0: no bar)."""
        return self.hook.refresh_rate

    @property
    def trainer(self) -> Any:
        """The trainer this bar draws for (set at ``setup``)."""
        if self._trainer is None:
            raise TypeError(f"The `{type(self).__name__}._trainer` reference has not been set yet.")
        return self._trainer

    @property
    def is_enabled(self) -> bool:
        """Whether bars are drawn: enabled and ``refresh_rate > 0``."""
        return self._enabled and self.refresh_rate > 0

    @property
    def is_disabled(self) -> bool:
        return not self.is_enabled

    def enable(self) -> None:
        """Draw bars again (counts kept meanwhile)."""
        self._enabled = True

    def disable(self) -> None:
        """Stop drawing bars; the hook keeps counting."""
        self._enabled = False

    def _plan(self, key: str) -> int | None:
        plan = self.state.plan
        return plan.get("now", plan.get("train")) if key == "train" else plan.get(key)

    total_train_batches = property(lambda self: self._plan("train"), doc="Batches in this training epoch.")
    total_val_batches = property(lambda self: self._plan("validation"), doc="Validation batches, all loaders.")
    total_sanity_batches = property(lambda self: self._plan("sanity"), doc="Sanity-check batches.")
    total_test_batches = property(lambda self: self._plan("test"), doc="Test batches, all loaders.")
    total_predict_batches = property(lambda self: self._plan("predict"), doc="Predict batches, all loaders.")

    def get_metrics(self, trainer: Any, pl_module: Any) -> dict[str, Any]:
        """What the train bar shows: ``v_num`` (with a logger), then the latest epoch and validation metrics.

        The step's own values (``loss``...) are added after these when the bar is drawn.
        """
        state: ProgressState = self.state
        return {**standard_metrics(trainer), **state.metrics}

    def step(self, state: ProgressState, event: Event) -> tuple[ProgressState, Effects]:
        kind = event.kind
        if kind in self.hook.kinds:
            self._state, effects = self.hook.step(state, event)
        else:  # only a user's subclass hears it
            self._state, effects = state, ()
        if kind == "setup":
            effects = (Do(self._attach, f"{type(self).__name__}.setup"),)
        elif not self._enabled:
            effects = ()
        if kind in user_kinds(type(self)):  # a subclass's own on_* method, after the bar has counted the event
            effects = (*effects, self._call(event))
        return self._state, effects

    def step_for(self, kind: str) -> Any:
        """The step for events of ``kind``: the hook's own per-kind step, keeping its state (None: not heard)."""
        if kind not in self.kinds:
            return None
        if kind == "setup" or kind not in self.hook.kinds or kind in user_kinds(type(self)):
            return self.step
        hook_step = step_for(self.hook, kind)

        def step(state: ProgressState, event: Event) -> tuple[ProgressState, Effects]:
            self._state, effects = hook_step(state, event)
            return self._state, effects if self._enabled else ()

        return step

    def _attach(self, ctx: Any) -> None:
        self._trainer = ctx.trainer

    def print(self, *args: Any, sep: str = " ", **kwargs: Any) -> None:
        """Print without breaking the bars."""
        print(*args, sep=sep, **kwargs)

    def _args(self) -> list[str]:
        return [f"refresh_rate={self.refresh_rate}"] if self.refresh_rate != 1 else []

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(self._args())})"


def _resolve_rate(refresh_rate: int) -> int:
    if isinstance(refresh_rate, bool) or not isinstance(refresh_rate, int) or refresh_rate < 0:
        return refresh_rate  # progress_bar rejects it with the message
    if os.getenv("COLAB_GPU") and refresh_rate == 1:
        return 20
    if "TQDM_MINITERS" in os.environ:
        return max(int(os.environ["TQDM_MINITERS"]), refresh_rate)
    return refresh_rate


class TQDMProgressBar(ProgressBar):
    """Lightning's default bar, drawn with tqdm on stdout; plain lines when stdout is not a terminal.

    ``refresh_rate``: batches between updates (``TQDM_MINITERS`` raises it, Colab uses 20);
    ``process_position``: offset the bars by ``2 * process_position`` lines;
    ``leave``: keep each epoch's bar on screen.
    """

    BAR_FORMAT: ClassVar[str] = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_noinv_fmt}{postfix}]"


    def __init__(self, refresh_rate: int = 1, process_position: int = 0, leave: bool = False) -> None:
        if isinstance(process_position, bool) or not isinstance(process_position, int) or process_position < 0:
            raise InvalidArgument(f"TQDMProgressBar: process_position={process_position!r} must be an int >= 0")
        super().__init__(_resolve_rate(refresh_rate), TqdmStyle(process_position, bool(leave)))

    process_position = property(lambda self: self.hook.style.process_position, doc="Line offset / 2.")
    leave = property(lambda self: self.hook.style.leave, doc="Whether each epoch's bar stays.")

    def print(self, *args: Any, sep: str = " ", **kwargs: Any) -> None:
        """Print above the bars (``tqdm.write``)."""
        from tqdm import tqdm

        tqdm.write(sep.join(map(str, args)), **kwargs)

    def _args(self) -> list[str]:
        style = self.hook.style
        extra = [f"process_position={style.process_position}"] if style.process_position else []
        return super()._args() + extra + (["leave=True"] if style.leave else [])


_THEME_DEFAULTS: dict[str, str] = {
    "description": "", "progress_bar": "#6206E0", "progress_bar_finished": "#6206E0",
    "progress_bar_pulse": "#6206E0", "batch_progress": "", "time": "dim", "processing_speed": "dim underline",
    "metrics": "italic", "metrics_text_delimiter": " ", "metrics_format": ".3f",
}


@attrs.frozen(init=False)
class RichProgressBarTheme:
    """The styles of a :class:`RichProgressBar` (rich style strings), Lightning's keys and defaults.

    >>> RichProgressBarTheme(colour="red")
    Traceback (most recent call last):
    ...
    fhooks.errors.InvalidArgument: RichProgressBarTheme: unknown key 'colour'; accepted keys: description, \
progress_bar, progress_bar_finished, progress_bar_pulse, batch_progress, time, processing_speed, metrics, \
metrics_text_delimiter, metrics_format
    """

    description: str
    progress_bar: str
    progress_bar_finished: str
    progress_bar_pulse: str
    batch_progress: str
    time: str
    processing_speed: str
    metrics: str
    metrics_text_delimiter: str
    metrics_format: str

    def __init__(self, **styles: str) -> None:
        for key, value in styles.items():
            if key not in _THEME_DEFAULTS:
                close = difflib.get_close_matches(key, _THEME_DEFAULTS, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise InvalidArgument(f"RichProgressBarTheme: unknown key {key!r}{hint}; accepted keys: "
                                      f"{', '.join(_THEME_DEFAULTS)}")
            if not isinstance(value, str):
                raise InvalidArgument(f"RichProgressBarTheme: {key}={value!r} must be a string (a rich style)")
        self.__attrs_init__(**{**_THEME_DEFAULTS, **styles})


class RichProgressBar(ProgressBar):
    """Lightning's rich bar: description, bar, ``done/total``, times, speed and metrics, styled by ``theme``.

    ``console_kwargs`` go to ``rich.console.Console`` (``file``, ``width``, ``record``...).

    Raises:
        ModuleNotFoundError: rich is not installed (``pip install 'fhooks[rich]'``).
        InvalidArgument: a bad ``refresh_rate``, ``theme`` or ``console_kwargs``.
    """

    def __init__(self, refresh_rate: int = 1, leave: bool = False, theme: RichProgressBarTheme | None = None,
                 console_kwargs: Mapping[str, Any] | None = None) -> None:
        require_rich("RichProgressBar")
        theme = RichProgressBarTheme() if theme is None else theme
        if not isinstance(theme, RichProgressBarTheme):
            raise InvalidArgument(f"RichProgressBar: theme={theme!r} must be a RichProgressBarTheme")
        if console_kwargs is not None and not isinstance(console_kwargs, Mapping):
            raise InvalidArgument(f"RichProgressBar: console_kwargs={console_kwargs!r} must be a dict or None")
        super().__init__(refresh_rate, RichStyle(bool(leave), theme, console_kwargs or {}))

    leave = property(lambda self: self.hook.style.leave, doc="Whether each epoch's bar stays.")
    theme = property(lambda self: self.hook.style.theme, doc="The styles.")

    @property
    def console(self) -> Any:
        """The rich console the bars draw on (made at the first draw)."""
        from fhooks.display import renderers

        renderer = renderers(self.trainer).get(self.hook.style)
        return None if renderer is None else renderer.console

    def _args(self) -> list[str]:
        style = self.hook.style
        extra = ["leave=True"] if style.leave else []
        extra += [f"theme={style.theme!r}"] if style.theme != RichProgressBarTheme() else []
        extra += [f"console_kwargs={dict(style.console_kwargs)!r}"] if style.console_kwargs else []
        return super()._args() + extra
