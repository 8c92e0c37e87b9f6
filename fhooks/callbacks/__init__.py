"""Lightning-named callback classes; every instance is a hook.

>>> from fhooks.callbacks import LambdaCallback
>>> LambdaCallback(on_fit_start=print).kinds
frozenset({'fit_start'})
"""

from fhooks.callbacks.base import Callback, HookCallback
from fhooks.callbacks.batch_size_finder import BatchSizeFinder
from fhooks.callbacks.checkpoint import Checkpoint
from fhooks.callbacks.device_stats import DeviceStatsMonitor
from fhooks.callbacks.early_stopping import EarlyStopping
from fhooks.callbacks.finetuning import BackboneFinetuning, BaseFinetuning
from fhooks.callbacks.gradient_accumulation_scheduler import GradientAccumulationScheduler
from fhooks.callbacks.lambda_callback import LambdaCallback
from fhooks.callbacks.learning_rate_monitor import LearningRateMonitor
from fhooks.callbacks.lr_finder import LearningRateFinder
from fhooks.callbacks.model_checkpoint import ModelCheckpoint
from fhooks.callbacks.model_summary import ModelSummary, RichModelSummary
from fhooks.callbacks.on_exception_checkpoint import OnExceptionCheckpoint
from fhooks.callbacks.prediction_writer import BasePredictionWriter, PredictionWriter
from fhooks.callbacks.progress import ProgressBar, RichProgressBar, RichProgressBarTheme, TQDMProgressBar
from fhooks.callbacks.pruning import ModelPruning
from fhooks.callbacks.spike_detection import SpikeDetection
from fhooks.callbacks.swa import StochasticWeightAveraging
from fhooks.callbacks.throughput import ThroughputMonitor
from fhooks.callbacks.timer import Timer
from fhooks.hooks.spike import TrainingSpikeException

__all__ = [
    "BackboneFinetuning",
    "BaseFinetuning",
    "BasePredictionWriter",
    "BatchSizeFinder",
    "Callback",
    "Checkpoint",
    "DeviceStatsMonitor",
    "EarlyStopping",
    "GradientAccumulationScheduler",
    "HookCallback",
    "LambdaCallback",
    "LearningRateFinder",
    "LearningRateMonitor",
    "ModelCheckpoint",
    "ModelPruning",
    "ModelSummary",
    "OnExceptionCheckpoint",
    "PredictionWriter",
    "ProgressBar",
    "RichModelSummary",
    "RichProgressBar",
    "RichProgressBarTheme",
    "SpikeDetection",
    "StochasticWeightAveraging",
    "TQDMProgressBar",
    "ThroughputMonitor",
    "Timer",
    "TrainingSpikeException",
]
