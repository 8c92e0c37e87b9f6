"""Checkpoint file names from templates, as Lightning's ``ModelCheckpoint`` makes them.

A template names metrics in braces, with optional format specs; each name is
written ``name=value`` unless ``auto_insert`` is off:

>>> format_name("{epoch}-{val_loss:.2f}", {"epoch": 2, "val_loss": 0.1234})
'epoch=2-val_loss=0.12'
>>> checkpoint_path("", {"epoch": 3, "step": 8}, dirpath="/ckpts")
'/ckpts/epoch=3-step=8.ckpt'
>>> checkpoint_path("best", {}, ver=2)
'best-v2.ckpt'

Rules: names are replaced longest first (``{epoch_test}`` is not clobbered by
``{epoch}``); a name may hold dots or slashes (``val/loss=0.50`` makes a
sub-directory); a metric missing from ``metrics`` formats as ``0``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from typing import Any

import attrs

from fhooks.errors import InvalidArgument

_GROUP = re.compile(r"(\{.*?)[:}]")
DEFAULT_TEMPLATE = "{epoch}-{step}"


@attrs.frozen
class Naming:
    """The fixed parts of checkpoint names: Lightning's class constants.

    >>> Naming().last, Naming().extension
    ('last', '.ckpt')
    """

    last: str = "last"
    extension: str = ".ckpt"
    join: str = "-"
    equals: str = "="
    first_version: int = 1


NAMING = Naming()


def format_name(template: str | None, metrics: Mapping[str, Any], *, auto_insert: bool = True,
                naming: Naming = NAMING) -> str:
    """Fill ``template`` (default ``"{epoch}-{step}"``) from ``metrics``; no extension, no directory.

    >>> format_name("{epoch:03d}", {"epoch": 5})
    'epoch=005'
    >>> format_name("{missing:d}", {}), format_name("{acc}", {"acc": 1.0}, auto_insert=False)
    ('missing=0', '1.0')
    """
    text = template or f"{{epoch}}{naming.join}{{step}}"
    values = dict(metrics)
    for group in sorted(_GROUP.findall(text), key=len, reverse=True):
        name = group[1:]
        if auto_insert:
            text = text.replace(group, f"{name}{naming.equals}{{{name}")
        text = text.replace(group, f"{{0[{name}]")
        values.setdefault(name, 0)
    try:
        return text.format(values)
    except (ValueError, KeyError, IndexError, TypeError) as error:
        raise InvalidArgument(
            f"model_checkpoint: cannot format filename {template!r} with metrics {_show(metrics)}: {error}"
        ) from None


def _show(metrics: Mapping[str, Any]) -> str:
    return "{" + ", ".join(f"{k!r}: {v!r}" for k, v in metrics.items()) + "}"


def checkpoint_path(template: str | None, metrics: Mapping[str, Any], *, dirpath: str = "", ver: int | None = None,
                    prefix: str | None = None, auto_insert: bool = True, naming: Naming = NAMING) -> str:
    """The full path of a checkpoint: ``dirpath/[prefix-]name[-vN]<extension>`` (bare when ``dirpath`` is empty).

    >>> checkpoint_path("{epoch}", {"epoch": 1}, dirpath="d", prefix="run")
    'd/run-epoch=1.ckpt'
    """
    name = format_name(template, metrics, auto_insert=auto_insert, naming=naming)
    if prefix is not None:
        name = f"{prefix}{naming.join}{name}"
    if ver is not None:
        name = f"{name}{naming.join}v{ver}"
    name += naming.extension
    return os.path.join(dirpath, name) if dirpath else name


def candidates(metrics: Mapping[str, float], epoch: int, step: int) -> dict[str, Any]:
    """The values a template may name: the metrics, plus ``epoch`` and ``step``.

    A logged ``epoch``/``step`` metric wins over the loop counter and is cast to int, as in Lightning.

    >>> candidates({"val_loss": 0.5, "epoch": 7.0}, epoch=2, step=10)
    {'val_loss': 0.5, 'epoch': 7, 'step': 10}
    """
    values: dict[str, Any] = dict(metrics)
    for name, counter in (("epoch", epoch), ("step", step)):
        logged = values.get(name)
        values[name] = int(logged) if isinstance(logged, (int, float)) and math.isfinite(logged) else counter
    return values
