"""The library's pure hooks: one constructor per Lightning callback, each returning a hook value.

Imports no torch (checked in a fresh interpreter, since a test run may have loaded it):

>>> import subprocess, sys
>>> subprocess.run([sys.executable, "-c", "import fhooks.hooks, sys; assert 'torch' not in sys.modules"]).returncode
0
"""

from fhooks.hooks.accumulation import AccumulationState, gradient_accumulation_scheduler
from fhooks.hooks.early_stopping import EarlyStoppingState, early_stopping
from fhooks.hooks.lr_monitor import LearningRateMonitorState, LogOptimizerValues, SchedulerInfo, learning_rate_monitor
from fhooks.hooks.model_checkpoint import LinkCheckpoint, ModelCheckpointState, model_checkpoint
from fhooks.hooks.on_exception_checkpoint import OnExceptionState, on_exception_checkpoint
from fhooks.hooks.spike import SpikeState, TrainingSpikeException, WriteJson, spike_detection
from fhooks.hooks.timer import TimerState, timer

__all__ = [
    "AccumulationState",
    "EarlyStoppingState",
    "LearningRateMonitorState",
    "LinkCheckpoint",
    "LogOptimizerValues",
    "ModelCheckpointState",
    "OnExceptionState",
    "SchedulerInfo",
    "SpikeState",
    "TimerState",
    "TrainingSpikeException",
    "WriteJson",
    "early_stopping",
    "gradient_accumulation_scheduler",
    "learning_rate_monitor",
    "model_checkpoint",
    "on_exception_checkpoint",
    "spike_detection",
    "timer",
]
