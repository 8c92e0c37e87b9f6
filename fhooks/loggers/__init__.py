"""Loggers: where the trainer's ``Log`` effects (and the module's ``self.log``) end up.

Every logger is a :class:`Logger` (Lightning's interface: ``log_metrics``, ``log_hyperparams``,
``log_graph``, ``save``, ``finalize``, ``after_save_checkpoint``, ``name``, ``version``,
``save_dir``, ``root_dir``, ``log_dir``); Lightning's own loggers work too. The trainer puts
checkpoints in ``save_dir/name/version_N/checkpoints`` of the first logger, as Lightning.

>>> import tempfile
>>> CSVLogger(tempfile.mkdtemp(), name="exp").name
'exp'
"""

from fhooks.loggers.base import Logger
from fhooks.loggers.csv_logger import CSVLogger
from fhooks.loggers.tensorboard import TensorBoardLogger

__all__ = ["CSVLogger", "Logger", "TensorBoardLogger"]
