"""``TensorBoardLogger``: event files through ``torch.utils.tensorboard`` (the optional ``tensorboard`` extra).

>>> import tempfile
>>> logger = TensorBoardLogger(tempfile.mkdtemp())  # doctest: +SKIP
>>> logger.log_metrics({"loss": 0.5}, step=1)  # doctest: +SKIP
>>> logger.finalize("success")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib.util
import os
from argparse import Namespace
from collections.abc import Mapping
from typing import Any

from fhooks.loggers.csv_logger import RunFolder, hparams_dict, scalar

_INSTALL = "pip install 'fhooks[tensorboard]'"


def tensorboard_available() -> bool:
    """Whether the ``tensorboard`` package, which ``torch.utils.tensorboard`` needs, is installed."""
    return importlib.util.find_spec("tensorboard") is not None


def _flatten(params: Mapping[str, Any], parent: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{parent}/{key}" if parent else str(key)
        if isinstance(value, Mapping):
            out.update(_flatten(value, name))
        else:
            out[name] = value
    return out


def _hparam_value(value: Any) -> Any:
    value = scalar(value)
    return value if isinstance(value, (bool, int, float, str)) else str(value)


class TensorBoardLogger(RunFolder):
    """Log metrics as TensorBoard scalars in ``<save_dir>/<name>/version_N``, hyperparameters to its HParams tab.

    A dict value is logged with ``add_scalars``. :meth:`log_hyperparams` also logs
    ``hp_metric = -1`` at step 0 when ``default_hp_metric`` (Lightning's placeholder)
    and writes ``hparams.yaml`` on :meth:`save`. ``writer_kwargs`` go to ``SummaryWriter``.

    Raises:
        ModuleNotFoundError: tensorboard is not installed (``pip install 'fhooks[tensorboard]'``).
    """

    def __init__(self, save_dir: str | os.PathLike[str], name: str | None = "lightning_logs",
                 version: int | str | None = None, prefix: str = "", default_hp_metric: bool = True,
                 **writer_kwargs: Any) -> None:
        if not tensorboard_available():
            raise ModuleNotFoundError(f"TensorBoardLogger: the tensorboard package is not installed; {_INSTALL} "
                                      "(or pip install tensorboard), or use CSVLogger", name="tensorboard")
        super().__init__(save_dir, name, version, prefix, "TensorBoardLogger")
        self.default_hp_metric = default_hp_metric
        self._writer_kwargs = writer_kwargs
        self._writer: Any = None

    @property
    def experiment(self) -> Any:
        """The ``torch.utils.tensorboard.SummaryWriter``, made on first use."""
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self.claim()
            self._writer = SummaryWriter(log_dir=self.log_dir, **self._writer_kwargs)
        return self._writer

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """One scalar per key at ``step`` (``add_scalars`` for a dict value)."""
        writer = self.experiment
        for key, value in self._prefixed(metrics).items():
            value = scalar(value)
            if isinstance(value, Mapping):
                writer.add_scalars(key, {k: scalar(v) for k, v in value.items()}, step)
            elif isinstance(value, (int, float)):
                writer.add_scalar(key, value, step)
            else:
                raise TypeError(f"TensorBoardLogger: cannot log {key}={value!r}; log a number, a scalar tensor "
                                "or a dict of them")

    def log_hyperparams(self, params: Mapping[str, Any] | Namespace | None = None,
                        metrics: Mapping[str, float] | float | None = None, step: int | None = None) -> None:
        """Record hyperparameters (the HParams tab) with ``metrics`` (``hp_metric=-1`` by default)."""
        params = hparams_dict(params)
        self.hparams.update(params)
        if metrics is None:
            metrics = {"hp_metric": -1} if self.default_hp_metric else None
        elif not isinstance(metrics, Mapping):
            metrics = {"hp_metric": metrics}
        if not metrics:
            return
        from torch.utils.tensorboard.summary import hparams

        self.log_metrics(metrics, 0 if step is None else step)
        flat = {k: _hparam_value(v) for k, v in _flatten(params).items()}
        writer = self.experiment._get_file_writer()
        for summary in hparams(flat, dict(metrics)):
            writer.add_summary(summary, step)

    def save(self) -> None:
        """Flush the event file and write ``hparams.yaml``."""
        if self._writer is not None:
            self._writer.flush()
            self.write_hparams()

    def finalize(self, status: str = "success") -> None:
        """Flush and close the event file."""
        if self._writer is not None:
            self.save()
            self._writer.close()
            self._writer = None

    def __repr__(self) -> str:
        return f"TensorBoardLogger({self.save_dir!r}, name={self.name!r}, version={self._version!r})"
