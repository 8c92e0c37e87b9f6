"""The library's pure hooks: one constructor per Lightning callback, each returning a hook value.

Imports no torch (checked in a fresh interpreter, since a test run may have loaded it):

>>> import subprocess, sys
>>> subprocess.run([sys.executable, "-c", "import fhooks.hooks, sys; assert 'torch' not in sys.modules"]).returncode
0
"""

from fhooks.hooks.accumulation import AccumulationState, gradient_accumulation_scheduler
from fhooks.hooks.batch_size_finder import BatchSizeFinderState, BatchSizeSearch, ScaleBatchSize, batch_size_finder
from fhooks.hooks.device_stats import CheckDeviceStats, DeviceStatsState, LogDeviceStats, device_stats_monitor
from fhooks.hooks.early_stopping import EarlyStoppingState, early_stopping
from fhooks.hooks.finetuning import BackboneFinetuningState, backbone_finetuning
from fhooks.hooks.lr_finder import FindLearningRate, LRFinderResult, LRFinderState, RangeTest, lr_finder
from fhooks.hooks.lr_monitor import LearningRateMonitorState, LogOptimizerValues, SchedulerInfo, learning_rate_monitor
from fhooks.hooks.model_checkpoint import LinkCheckpoint, ModelCheckpointState, model_checkpoint
from fhooks.hooks.model_summary import RenderSummary, model_summary
from fhooks.hooks.on_exception_checkpoint import OnExceptionState, on_exception_checkpoint
from fhooks.hooks.progress import ProgressState, Render, RichStyle, TqdmStyle, progress_bar
from fhooks.hooks.pruning import PruningState, model_pruning
from fhooks.hooks.spike import SpikeState, TrainingSpikeException, WriteJson, spike_detection
from fhooks.hooks.swa import SwaState, stochastic_weight_averaging
from fhooks.hooks.throughput import Throughput, ThroughputMonitorState, ThroughputState, throughput_monitor
from fhooks.hooks.timer import TimerState, timer

__all__ = [
    "AccumulationState",
    "BackboneFinetuningState",
    "BatchSizeFinderState",
    "BatchSizeSearch",
    "CheckDeviceStats",
    "DeviceStatsState",
    "EarlyStoppingState",
    "FindLearningRate",
    "LRFinderResult",
    "LRFinderState",
    "LearningRateMonitorState",
    "LinkCheckpoint",
    "LogDeviceStats",
    "LogOptimizerValues",
    "ModelCheckpointState",
    "OnExceptionState",
    "ProgressState",
    "PruningState",
    "RangeTest",
    "Render",
    "RenderSummary",
    "RichStyle",
    "ScaleBatchSize",
    "SchedulerInfo",
    "SpikeState",
    "SwaState",
    "Throughput",
    "ThroughputMonitorState",
    "ThroughputState",
    "TimerState",
    "TqdmStyle",
    "TrainingSpikeException",
    "WriteJson",
    "backbone_finetuning",
    "batch_size_finder",
    "device_stats_monitor",
    "early_stopping",
    "gradient_accumulation_scheduler",
    "learning_rate_monitor",
    "lr_finder",
    "model_checkpoint",
    "model_pruning",
    "model_summary",
    "on_exception_checkpoint",
    "progress_bar",
    "spike_detection",
    "stochastic_weight_averaging",
    "throughput_monitor",
    "timer",
]
