"""Lightning's Trainer arguments beyond the loop's own: checked, honoured, or refused with what is supported.

>>> unknown_arguments({"max_epoch": 3}, ["max_epochs", "max_steps"])
Traceback (most recent call last):
...
fhooks.errors.InvalidArgument: Trainer: unknown argument 'max_epoch' (did you mean 'max_epochs' or 'max_steps'?)
>>> Settings.check(deterministic="warn").deterministic
'warn'
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs
import torch

from fhooks.errors import InvalidArgument


def unknown_arguments(given: Mapping[str, Any], known: Iterable[str]) -> None:
    """Refuse arguments the Trainer does not have, suggesting the nearest names (difflib)."""
    if not given:
        return
    known = sorted(known)
    parts = []
    for name in given:
        close = difflib.get_close_matches(name, known, n=2)
        parts.append(f"{name!r}" + (f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""))
    plural = "s" if len(parts) > 1 else ""
    raise InvalidArgument(f"Trainer: unknown argument{plural} {', '.join(parts)}" + (
        "" if any("did you mean" in p for p in parts) else f"; accepted: {', '.join(known)}"))


def _refuse(name: str, value: Any, supported: str) -> InvalidArgument:
    return InvalidArgument(f"Trainer: {name}={value!r} is not supported by fhooks; supported: {supported}")


@attrs.frozen
class Settings:
    """The arguments of Lightning's Trainer that change torch's behaviour or are accepted only at their defaults."""

    deterministic: bool | str | None = None
    benchmark: bool | None = None
    inference_mode: bool = True
    detect_anomaly: bool = False
    overfit_batches: int | float = 0.0
    reload_dataloaders_every_n_epochs: int = 0
    barebones: bool = False
    profiler: Any = None
    plugins: Any = None
    model_registry: str | None = None

    @classmethod
    def check(cls, **values: Any) -> Settings:
        """Check each value; a value fhooks cannot honour raises InvalidArgument naming what is supported."""
        s = cls(**values)
        if s.deterministic not in (None, True, False, "warn"):
            raise InvalidArgument(f"Trainer: deterministic={s.deterministic!r}; accepted: None, True, False, 'warn'")
        for name in ("benchmark",):
            if getattr(s, name) not in (None, True, False):
                raise InvalidArgument(f"Trainer: {name}={getattr(s, name)!r}; accepted: None, True, False")
        for name in ("inference_mode", "detect_anomaly", "barebones"):
            if not isinstance(getattr(s, name), bool):
                raise InvalidArgument(f"Trainer: {name}={getattr(s, name)!r} must be True or False")
        if s.profiler not in (None, "simple"):
            raise _refuse("profiler", s.profiler, "None or 'simple' (fhooks' own timings: a Timer or ThroughputMonitor "
                          "callback)")
        if s.barebones:
            raise _refuse("barebones", True, "False; turn off what you do not need with enable_progress_bar=False, "
                          "enable_model_summary=False, enable_checkpointing=False, logger=False")
        if s.overfit_batches not in (0, 0.0):
            raise _refuse("overfit_batches", s.overfit_batches, "0; for the same run use limit_train_batches=N and "
                          "limit_val_batches=N with the training loader given unshuffled")
        if s.reload_dataloaders_every_n_epochs != 0:
            raise _refuse("reload_dataloaders_every_n_epochs", s.reload_dataloaders_every_n_epochs,
                          "0 (the loaders are made once per fit)")
        if s.plugins not in (None, []):
            raise _refuse("plugins", s.plugins, "None (precision is chosen with precision=...)")
        if s.model_registry is not None:
            raise _refuse("model_registry", s.model_registry, "None (pass a checkpoint path as ckpt_path)")
        return s

    def apply_globally(self) -> None:
        """Set torch's global flags as Lightning's Trainer does when it is built."""
        if self.deterministic is not None:
            torch.use_deterministic_algorithms(bool(self.deterministic), warn_only=self.deterministic == "warn")
        if self.benchmark is not None:
            torch.backends.cudnn.benchmark = self.benchmark
        elif self.deterministic:
            torch.backends.cudnn.benchmark = False

    @contextlib.contextmanager
    def no_grad(self, in_fit: bool = False) -> Iterator[None]:
        """Gradients off for evaluation and prediction: ``torch.inference_mode`` or ``torch.no_grad`` (always
        ``torch.no_grad`` for the validation inside a fit, as Lightning)."""
        with torch.inference_mode() if self.inference_mode and not in_fit else torch.no_grad():
            yield

    @contextlib.contextmanager
    def anomaly_detection(self) -> Iterator[None]:
        """``torch.autograd.detect_anomaly`` around the fit when asked."""
        if not self.detect_anomaly:
            yield
            return
        with torch.autograd.detect_anomaly():
            yield
