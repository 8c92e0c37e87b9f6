"""Lightning-named callback classes; every instance is a hook.

>>> from fhooks.callbacks import LambdaCallback
>>> LambdaCallback(on_fit_start=print).kinds
frozenset({'fit_start'})
"""

from fhooks.callbacks.base import Callback, HookCallback
from fhooks.callbacks.early_stopping import EarlyStopping
from fhooks.callbacks.gradient_accumulation_scheduler import GradientAccumulationScheduler
from fhooks.callbacks.lambda_callback import LambdaCallback
from fhooks.callbacks.learning_rate_monitor import LearningRateMonitor
from fhooks.callbacks.model_checkpoint import ModelCheckpoint
from fhooks.callbacks.on_exception_checkpoint import OnExceptionCheckpoint
from fhooks.callbacks.spike_detection import SpikeDetection
from fhooks.callbacks.timer import Timer
from fhooks.hooks.spike import TrainingSpikeException

__all__ = [
    "Callback",
    "EarlyStopping",
    "GradientAccumulationScheduler",
    "HookCallback",
    "LambdaCallback",
    "LearningRateMonitor",
    "ModelCheckpoint",
    "OnExceptionCheckpoint",
    "SpikeDetection",
    "Timer",
    "TrainingSpikeException",
]
