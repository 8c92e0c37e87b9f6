"""Loggers: where the trainer's ``Log`` effects (and the module's ``self.log``) end up.

Each logger has ``log_metrics(metrics, step)``, ``log_hyperparams(params)``,
``save()``, ``finalize(status)``, and ``save_dir``, ``name``, ``version``,
``log_dir``; the trainer puts checkpoints in ``<log_dir>/checkpoints``.

>>> import tempfile
>>> CSVLogger(tempfile.mkdtemp(), name="exp").name
'exp'
"""

from fhooks.loggers.csv_logger import CSVLogger
from fhooks.loggers.tensorboard import TensorBoardLogger

__all__ = ["CSVLogger", "TensorBoardLogger"]
