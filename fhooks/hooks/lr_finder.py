"""``lr_finder``: the learning-rate range test before fit (Lightning's ``LearningRateFinder``), as a pure policy.

The hook asks for the test once, at ``fit_start``; the trainer runs the trial steps
and the policy below decides every learning rate, smooths every loss and stops
on divergence, so the whole search is plain data:

>>> finder = lr_finder(min_lr=1e-4, max_lr=1.0, num_training_steps=4)
>>> finder
lr_finder(min_lr=0.0001, num_training_steps=4)
>>> [round(finder.lr_at(i), 6) for i in range(4)]
[0.0001, 0.01, 0.1, 1.0]
>>> test = finder.start()
>>> for loss in (2.0, 1.0, 0.5, 50.0):
...     test = finder.observe(test, loss)
>>> test.stopped, len(test.losses)
(True, 4)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Callable

import attrs

from fhooks.core.effects import NO_EFFECTS, Effect, Effects
from fhooks.core.events import Event, RunInfo
from fhooks.core.serialize import state_class
from fhooks.errors import InvalidArgument
from fhooks.hooks.early_stopping import say

_WHERE = "lr_finder"
MODES = ("exponential", "linear")
#: The smoothing factor of the loss average (Lightning's).
BETA = 0.98


def range_test_lr(i: int, min_lr: float, max_lr: float, n: int, mode: str = "exponential") -> float:
    """The learning rate of step ``i`` (0-based) of an ``n``-step range test, in Lightning's sequence.

    Step 0 uses ``min_lr``; step ``i >= 1`` uses the fraction ``(i + 1) / n`` of the range
    (so ``1 / n`` is never used) and the last step ``max_lr`` exactly.

    >>> [range_test_lr(i, 0.0, 1.0, 4, "linear") for i in range(4)]
    [0.0, 0.5, 0.75, 1.0]
    """
    if i <= 0:
        return min_lr
    if i >= n - 1:
        return max_lr
    r = (i + 1) / n
    value = min_lr * (max_lr / min_lr) ** r if mode == "exponential" else min_lr + r * (max_lr - min_lr)
    return min(max_lr, max(min_lr, value))


def smooth(avg: float, loss: float, step: int, beta: float = BETA) -> tuple[float, float]:
    """``(new average, smoothed loss)`` after the loss of optimizer step ``step`` (1-based).

    As Lightning: the bias correction divides by ``1 - beta ** (step + 1)``.

    >>> [round(x, 4) for x in smooth(0.0, 1.0, 1)]
    [0.02, 0.5051]
    """
    avg = beta * avg + (1 - beta) * loss
    return avg, avg / (1 - beta ** (step + 1))


def diverged(smoothed: float, best: float, step: int, threshold: float | None) -> bool:
    """Whether the range test stops at ``step``: from step 2, a smoothed loss above ``threshold`` times the best.

    >>> diverged(5.0, 1.0, 2, 4.0), diverged(5.0, 1.0, 1, 4.0), diverged(5.0, 1.0, 2, None)
    (True, False, False)
    """
    return threshold is not None and step > 1 and smoothed > threshold * best


def gradient(ys: Sequence[float], xs: Sequence[float]) -> list[float]:
    """The numerical derivative of ``ys`` w.r.t. the points ``xs`` (``torch.gradient``/``numpy.gradient``'s rule).

    Second-order central differences inside, one-sided at the ends; a zero spacing gives NaN.

    >>> gradient([1.0, 4.0, 9.0], [1.0, 2.0, 3.0])
    [3.0, 4.0, 5.0]
    """
    n = len(ys)
    if n < 2:
        return []

    def one_sided(a: int, b: int) -> float:
        dx = xs[b] - xs[a]
        return (ys[b] - ys[a]) / dx if dx else math.nan

    out = [one_sided(0, 1)]
    for i in range(1, n - 1):
        h1, h2 = xs[i] - xs[i - 1], xs[i + 1] - xs[i]
        if not h1 or not h2 or not h1 + h2:
            out.append(math.nan)
            continue
        a = -h2 / (h1 * (h1 + h2))
        b = (h2 - h1) / (h1 * h2)
        c = h1 / (h2 * (h1 + h2))
        out.append(a * ys[i - 1] + b * ys[i] + c * ys[i + 1])
    out.append(one_sided(n - 2, n - 1))
    return out


def suggestion(lrs: Sequence[float], losses: Sequence[float], skip_begin: int = 10, skip_end: int = 1) -> int | None:
    """The index of the steepest descent of ``losses`` w.r.t. the raw ``lrs``, or None.

    Drops ``skip_begin`` points at the start and ``skip_end`` at the end (``0``: none),
    keeps the finite losses, needs at least two of them, and returns the index (into
    the full lists) of the smallest derivative, the first one on ties; NaN derivatives
    (equal learning rates) are ignored.

    >>> suggestion([1.0, 2.0, 3.0, 4.0, 5.0], [5.0, 4.0, 1.0, 0.9, 0.8], skip_begin=0, skip_end=0)
    1
    >>> suggestion([1.0, 2.0], [1.0, 0.5]) is None
    True
    """
    if skip_begin < 0 or skip_end < 0:
        raise InvalidArgument(f"suggestion: skip_begin={skip_begin!r} and skip_end={skip_end!r} must be >= 0")
    stop = len(losses) - skip_end
    kept = [i for i in range(skip_begin, stop) if math.isfinite(losses[i])]
    if len(kept) < 2:
        return None
    slopes = gradient([losses[i] for i in kept], [lrs[i] for i in kept])
    best = None
    for j, slope in enumerate(slopes):
        if not math.isnan(slope) and (best is None or slope < slopes[best]):
            best = j
    return None if best is None else kept[best]


@state_class
class RangeTest:
    """The state of one range test: optimizer steps taken, the loss average, the best smoothed loss, the points."""

    step: int = 0
    avg_loss: float = 0.0
    best_loss: float = math.inf
    lrs: tuple[float, ...] = ()
    losses: tuple[float, ...] = ()
    stopped: bool = False


@state_class
class LRFinderState:
    """Whether the hook already asked for its range test (True in a resumed run: it is not repeated)."""

    ran: bool = False


@attrs.frozen
class FindLearningRate(Effect):
    """Run ``finder``'s range test now, restore everything, then apply the suggested learning rate.

    The trainer stores the result in ``trainer.extra_state[key]`` and passes it to
    ``report`` (set by :class:`~fhooks.callbacks.LearningRateFinder`) when given.
    """

    finder: LRFinderHook
    key: str = "lr_finder"
    report: Callable[[Any], None] | None = attrs.field(default=None, eq=False, repr=False)


_DEFAULTS: dict[str, Any] = {"min_lr": 1e-8, "max_lr": 1.0, "num_training_steps": 100, "mode": "exponential",
                             "early_stop_threshold": 4.0, "update_attr": True, "attr_name": ""}


@attrs.frozen(repr=False)
class LRFinderHook:
    """The hook :func:`lr_finder` builds; it is also the range test's policy."""

    min_lr: float = 1e-8
    max_lr: float = 1.0
    num_training_steps: int = 100
    mode: str = "exponential"
    early_stop_threshold: float | None = 4.0
    update_attr: bool = True
    attr_name: str = ""
    kinds = frozenset({"fit_start"})
    shape_name = "lr_finder"

    @property
    def init(self) -> LRFinderState:
        return LRFinderState(False)

    def step(self, state: LRFinderState, event: Event) -> tuple[LRFinderState, Effects]:
        if event.kind != "fit_start" or state.ran:
            return state, NO_EFFECTS
        if isinstance(event.data, RunInfo) and event.data.fast_dev_run:
            return state, (say("Skipping learning rate finder since fast_dev_run is enabled.", "warning"),)
        return LRFinderState(True), (FindLearningRate(self),)

    def lr_at(self, i: int) -> float:
        """The learning rate of step ``i`` of the test."""
        return range_test_lr(i, self.min_lr, self.max_lr, self.num_training_steps, self.mode)

    def start(self) -> RangeTest:
        """A range test before its first step."""
        return RangeTest()

    def done(self, test: RangeTest) -> bool:
        """Whether the test is over: diverged, or ``num_training_steps`` steps taken."""
        return test.stopped or test.step >= self.num_training_steps

    def observe(self, test: RangeTest, loss: float | None) -> RangeTest:
        """The test after the step at :meth:`lr_at` ``(test.step)`` gave ``loss`` (None: the step returned none)."""
        lr, step = self.lr_at(test.step), test.step + 1
        if loss is None:
            return RangeTest(step, test.avg_loss, test.best_loss, (*test.lrs, lr), (*test.losses, math.nan), False)
        avg, smoothed = smooth(test.avg_loss, loss, step)
        stop = diverged(smoothed, test.best_loss, step, self.early_stop_threshold)
        best = smoothed if smoothed < test.best_loss else test.best_loss
        return RangeTest(step, avg, best, (*test.lrs, lr), (*test.losses, smoothed), stop)

    def __repr__(self) -> str:
        args = [f"{k}={getattr(self, k)!r}" for k, default in _DEFAULTS.items() if getattr(self, k) != default]
        return f"lr_finder({', '.join(args)})"


@attrs.frozen
class LRFinderResult:
    """A finished range test (Lightning's ``_LRFinder``): ``lrs``, smoothed ``losses``, ``suggestion()``, ``plot()``.

    >>> result = LRFinderResult("linear", 0.1, 1.0, 3, (0.1, 0.7, 1.0), (3.0, 1.0, 2.0))
    >>> result.suggestion(skip_begin=0, skip_end=0), result.results["lr"]
    (0.1, [0.1, 0.7, 1.0])
    """

    mode: str
    lr_min: float
    lr_max: float
    num_training: int
    lrs: tuple[float, ...]
    losses: tuple[float, ...]
    diverged: bool = False

    @property
    def results(self) -> dict[str, list[float]]:
        """Lightning's ``{"lr": [...], "loss": [...]}``."""
        return {"lr": list(self.lrs), "loss": list(self.losses)}

    def suggestion_index(self, skip_begin: int = 10, skip_end: int = 1) -> int | None:
        """The index of the suggested learning rate (see :func:`suggestion`)."""
        return suggestion(self.lrs, self.losses, skip_begin, skip_end)

    def suggestion(self, skip_begin: int = 10, skip_end: int = 1) -> float | None:
        """The learning rate at the steepest descent of the smoothed loss, or None (fewer than 2 finite points)."""
        idx = self.suggestion_index(skip_begin, skip_end)
        return None if idx is None else self.lrs[idx]

    def plot(self, suggest: bool = False, show: bool = False, ax: Any = None, path: Any = None) -> Any:
        """Plot loss against learning rate (log axis in exponential mode); save a PNG to ``path`` when given.

        Raises:
            ImportError: matplotlib is not installed.
        """
        try:
            import matplotlib.pyplot as plt
        except ImportError as exc:
            raise ImportError("LRFinderResult.plot: needs matplotlib, which is not installed; "
                              "install it with `pip install 'fhooks[plot]'` (or `pip install matplotlib`)") from exc
        fig, ax = plt.subplots() if ax is None else (ax.figure, ax)
        ax.plot(self.lrs, self.losses)
        if self.mode == "exponential":
            ax.set_xscale("log")
        ax.set_xlabel("Learning rate")
        ax.set_ylabel("Loss")
        idx = self.suggestion_index() if suggest else None
        if idx is not None:
            ax.plot(self.lrs[idx], self.losses[idx], markersize=10, marker="o", color="red")
        if path is not None:
            fig.savefig(path, format="png")
        if show:
            plt.show()
        return fig


def _number(name: str, value: Any, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidArgument(f"{_WHERE}: {name}={value!r} must be {'None or ' if optional else ''}a finite number")
    return float(value)


def lr_finder(min_lr: float = 1e-8, max_lr: float = 1.0, num_training_steps: int = 100, mode: str = "exponential",
              early_stop_threshold: float | None = 4.0, update_attr: bool = True, attr_name: str = "") -> LRFinderHook:
    """Run the learning-rate range test at ``fit_start``, then start training at the suggested rate.

    The test takes ``num_training_steps`` optimizer steps with every param group at
    :func:`range_test_lr` (``mode`` ``"exponential"`` or ``"linear"``), smooths the losses
    (:func:`smooth`), stops when the smoothed loss passes ``early_stop_threshold`` times
    the best (:func:`diverged`; None: never) or the batches run out, then restores the
    module, optimizer, schedulers, loop counters and RNG states exactly. With
    ``update_attr`` the :func:`suggestion` goes to the module's ``attr_name`` (default:
    ``lr`` or ``learning_rate``) and to every param group. Skipped under ``fast_dev_run``
    and in a resumed run (the checkpoint holds the optimizer's learning rate).

    Raises:
        InvalidArgument: ``min_lr >= max_lr``, a negative ``min_lr`` (zero in exponential
            mode), a bad ``mode``, ``num_training_steps`` or ``early_stop_threshold``.
    """
    low, high = _number("min_lr", min_lr), _number("max_lr", max_lr)
    if low >= high:
        raise InvalidArgument(f"{_WHERE}: min_lr={min_lr!r} must be less than max_lr={max_lr!r}")
    mode_name = mode.lower() if isinstance(mode, str) else mode
    if mode_name not in MODES:
        raise InvalidArgument(f"{_WHERE}: mode={mode!r} must be 'exponential' or 'linear'")
    if low < 0 or (low == 0 and mode_name == "exponential"):
        accepted = "> 0 in exponential mode" if low == 0 else ">= 0"
        raise InvalidArgument(f"{_WHERE}: min_lr={min_lr!r} must be {accepted}")
    if isinstance(num_training_steps, bool) or not isinstance(num_training_steps, int) or num_training_steps < 1:
        raise InvalidArgument(f"{_WHERE}: num_training_steps={num_training_steps!r} must be an int >= 1")
    threshold = _number("early_stop_threshold", early_stop_threshold, optional=True)
    if threshold is not None and threshold <= 0:
        raise InvalidArgument(f"{_WHERE}: early_stop_threshold={early_stop_threshold!r} must be None or a number > 0")
    if not isinstance(update_attr, bool):
        raise InvalidArgument(f"{_WHERE}: update_attr={update_attr!r} must be True or False")
    if not isinstance(attr_name, str):
        raise InvalidArgument(f"{_WHERE}: attr_name={attr_name!r} must be a string ('' looks for lr, learning_rate)")
    return LRFinderHook(low, high, num_training_steps, mode_name, threshold, update_attr, attr_name)
