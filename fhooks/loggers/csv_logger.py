"""``CSVLogger``: ``metrics.csv`` in Lightning's layout, ``hparams.yaml``, versioned run folders. No torch.

>>> import tempfile
>>> from pathlib import Path
>>> logger = CSVLogger(tempfile.mkdtemp())
>>> logger.log_metrics({"loss": 0.5}, step=0)
>>> logger.log_metrics({"val_loss": 0.25, "epoch": 0}, step=1)
>>> logger.save()
>>> print(Path(logger.metrics_file_path).read_text().strip())
epoch,loss,step,val_loss
,0.5,0,
0,,1,0.25
>>> logger.version, logger.log_dir.endswith("lightning_logs/version_0")
(0, True)
"""

from __future__ import annotations

import csv
import json
import os
import re
import tempfile
import warnings
from argparse import Namespace
from collections.abc import Mapping
from typing import Any

from fhooks.errors import InvalidArgument
from fhooks.loggers.base import Logger

_VERSION = re.compile(r"version_(\d+)$")


def next_version(root: str) -> int:
    """One more than the highest ``version_N`` folder in ``root`` (0 when there is none)."""
    try:
        names = os.listdir(root)
    except OSError:
        return 0
    found = [int(m.group(1)) for n in names if (m := _VERSION.match(n)) and os.path.isdir(os.path.join(root, n))]
    return max(found) + 1 if found else 0


def claim_version(root: str) -> int:
    """Take the next free ``version_N`` in ``root`` by creating its folder (exclusive ``mkdir``; on a clash with
    another run starting at the same time, the next number is tried), so two runs never share one.

    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> claim_version(root), claim_version(root)
    (0, 1)
    """
    os.makedirs(root, exist_ok=True)
    version = next_version(root)
    while True:
        try:
            os.mkdir(os.path.join(root, f"version_{version}"))
        except FileExistsError:
            version = max(version + 1, next_version(root))
            continue
        return version


def scalar(value: Any) -> Any:
    """A logged value as a plain Python value: tensors and numpy scalars through ``.item()``."""
    item = getattr(value, "item", None)
    return item() if callable(item) else value


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_RESERVED = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


def _yaml_scalar(value: Any, key: bool = False) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:
            return ".nan"
        if value in (float("inf"), float("-inf")):
            return ".inf" if value > 0 else "-.inf"
        return repr(value)
    text = str(value)
    if key and _PLAIN_KEY.fullmatch(text) and text.lower() not in _RESERVED:
        return text
    return json.dumps(text)  # a JSON string is a YAML double-quoted scalar


def _yaml_lines(value: Any, indent: str) -> list[str]:
    if isinstance(value, Mapping) and value:
        out = []
        for key in sorted(value, key=str):
            item = value[key]
            head = f"{indent}{_yaml_scalar(str(key), key=True)}:"
            nested = isinstance(item, (Mapping, list, tuple)) and item
            out += [head, *_yaml_lines(item, indent + "  ")] if nested else [f"{head} {_flow(item)}"]
        return out
    if isinstance(value, (list, tuple)) and value:
        out = []
        for item in value:
            nested = isinstance(item, (Mapping, list, tuple)) and item
            out += [f"{indent}-", *_yaml_lines(item, indent + "  ")] if nested else [f"{indent}- {_flow(item)}"]
        return out
    return [f"{indent}{_flow(value)}"]


def _flow(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{}"
    if isinstance(value, (list, tuple)):
        return "[]"
    return _yaml_scalar(value)


def to_yaml(params: Mapping[str, Any]) -> str:
    """``params`` as YAML: PyYAML's ``yaml.dump`` (Lightning's format) when installed, else a plain writer.

    >>> print(to_yaml({"lr": 0.1, "layers": [4, 8]}), end="")
    layers:
    - 4
    - 8
    lr: 0.1
    """
    plain = {str(k): _plain(v) for k, v in params.items()}
    try:
        import yaml
    except ImportError:
        return "\n".join(_yaml_lines(plain, "")) + "\n" if plain else "{}\n"
    return yaml.safe_dump(plain)


def _plain(value: Any) -> Any:
    value = scalar(value)
    if isinstance(value, (str, int, float, bool, type(None))):
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return getattr(value, "__name__", None) or str(value)


def write_text_atomic(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def hparams_dict(params: Mapping[str, Any] | Namespace | None) -> dict[str, Any]:
    """Hyperparameters as a dict (a ``Namespace``'s attributes; None: empty)."""
    if params is None:
        return {}
    if isinstance(params, Namespace):
        return dict(vars(params))
    if not isinstance(params, Mapping):
        raise InvalidArgument(f"log_hyperparams: params must be a mapping or a Namespace, got {type(params).__name__}")
    return dict(params)


class RunFolder(Logger):
    """What file loggers share: ``save_dir/name/version_N`` (or ``save_dir/name/<version>`` for a string)."""

    def __init__(self, save_dir: str | os.PathLike[str], name: str | None, version: int | str | None,
                 prefix: str, where: str) -> None:
        if version is not None and (isinstance(version, bool) or not isinstance(version, (int, str))):
            raise InvalidArgument(f"{where}: version={version!r} must be None, an int or a string")
        self._save_dir = os.fspath(save_dir)
        self._name = name or ""
        self._version = version
        self._claimed = version is not None  # a version the user gives is theirs to share
        self._prefix = prefix
        self.hparams: dict[str, Any] = {}
        self.group_separator = "/"

    @property
    def save_dir(self) -> str:
        """The folder that holds every run."""
        return self._save_dir

    @property
    def name(self) -> str:
        """The experiment's name ("" puts the versions straight into ``save_dir``)."""
        return self._name

    @property
    def root_dir(self) -> str:
        """``save_dir/name``: where the versions are."""
        return os.path.join(self._save_dir, self._name)

    @property
    def version(self) -> int | str:
        """The given version, or the next free ``version_N`` number (decided on first use, claimed by :meth:`claim`)."""
        if self._version is None:
            self._version = next_version(self.root_dir)
        return self._version

    def claim(self) -> None:
        """Make this run's ``version_N`` folder before anything is written there (exclusive ``mkdir``): if another
        run took that number since it was decided, take the next free one, so two runs never share a folder."""
        if self._claimed:
            return
        self._claimed = True
        if self._version is not None:
            try:
                os.makedirs(self.root_dir, exist_ok=True)
                os.mkdir(self.log_dir)
                return
            except FileExistsError:
                pass
        self._version = claim_version(self.root_dir)

    @property
    def log_dir(self) -> str:
        """This run's folder: ``root_dir/version_N`` (``root_dir/<version>`` for a string version)."""
        version = self.version if isinstance(self.version, str) else f"version_{self.version}"
        return os.path.join(self.root_dir, version)

    def _prefixed(self, metrics: Mapping[str, Any]) -> dict[str, Any]:
        if not self._prefix:
            return dict(metrics)
        return {f"{self._prefix}-{k}": v for k, v in metrics.items()}

    def write_hparams(self) -> None:
        """Write ``hparams.yaml`` in :attr:`log_dir`."""
        write_text_atomic(os.path.join(self.log_dir, "hparams.yaml"), to_yaml(self.hparams))


class CSVLogger(RunFolder):
    """Log metrics to ``<save_dir>/<name>/version_N/metrics.csv`` and hyperparameters to ``hparams.yaml``.

    Each :meth:`log_metrics` call is one row with a ``step`` column; the header is
    every key seen, sorted (the file is rewritten when a new key appears); rows
    are written every ``flush_logs_every_n_steps`` steps, on :meth:`save` and on
    :meth:`finalize`. ``prefix`` makes keys ``<prefix>-<key>``.

    Raises:
        InvalidArgument: ``flush_logs_every_n_steps`` below 1, or a bad ``version``.
    """

    def __init__(self, save_dir: str | os.PathLike[str], name: str | None = "lightning_logs",
                 version: int | str | None = None, prefix: str = "", flush_logs_every_n_steps: int = 100) -> None:
        super().__init__(save_dir, name, version, prefix, "CSVLogger")
        every = flush_logs_every_n_steps
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise InvalidArgument(f"CSVLogger: flush_logs_every_n_steps={every!r} must be a positive int")
        self.flush_logs_every_n_steps = every
        self.keys: list[str] = []
        self._rows: list[dict[str, Any]] = []
        self._logged = 0
        self._opened = False

    @property
    def metrics_file_path(self) -> str:
        """``log_dir/metrics.csv``."""
        return os.path.join(self.log_dir, "metrics.csv")

    def _open(self) -> None:
        if self._opened:
            return
        self._opened = True
        self.claim()
        path = self.metrics_file_path
        if os.path.isfile(path):
            warnings.warn(f"CSVLogger: {path} exists from an earlier run; it will be replaced", UserWarning,
                          stacklevel=3)
            os.remove(path)
        os.makedirs(self.log_dir, exist_ok=True)

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Record one row: ``metrics`` and ``step`` (the number of rows logged so far when None)."""
        self._open()
        if step is None:
            step = self._logged
        row = {k: scalar(v) for k, v in self._prefixed(metrics).items()}
        row["step"] = step
        self._rows.append(row)
        self._logged += 1
        if (step + 1) % self.flush_logs_every_n_steps == 0:
            self.save()

    def log_hyperparams(self, params: Mapping[str, Any] | Namespace | None = None) -> None:
        """Merge ``params`` into the hyperparameters and write ``hparams.yaml``."""
        self._open()
        self.hparams.update(hparams_dict(params))
        self.write_hparams()

    def save(self) -> None:
        """Write the rows recorded since the last save to ``metrics.csv``."""
        if not self._rows:
            return
        self._open()
        rows, self._rows = self._rows, []
        new = {k for row in rows for k in row} - set(self.keys)
        path = self.metrics_file_path
        exists = os.path.isfile(path)
        if new:
            self.keys = sorted([*self.keys, *new])
        if new and exists:
            with open(path, newline="") as f:
                rows = [*csv.DictReader(f), *rows]
            exists = False
        if not exists:
            write_text_atomic(path, _csv_text(self.keys, rows, header=True))
        else:
            with open(path, "a", newline="") as f:
                f.write(_csv_text(self.keys, rows, header=False))

    def finalize(self, status: str = "success") -> None:
        """Write what is left (at the end of a run, whatever ``status``)."""
        if self._opened:
            self.save()

    def __repr__(self) -> str:
        return f"CSVLogger({self.save_dir!r}, name={self.name!r}, version={self._version!r})"


def _csv_text(keys: list[str], rows: list[Mapping[str, Any]], header: bool) -> str:
    class _Buffer(list):
        def write(self, text: str) -> None:
            self.append(text)

    buffer = _Buffer()
    writer = csv.DictWriter(buffer, fieldnames=keys)
    if header:
        writer.writeheader()
    writer.writerows(rows)
    return "".join(buffer)
