"""Lightning-named callback classes; every instance is a hook.

>>> from fhooks.callbacks import LambdaCallback
>>> LambdaCallback(on_fit_start=print).kinds
frozenset({'fit_start'})
"""

from fhooks.callbacks.base import Callback, HookCallback
from fhooks.callbacks.lambda_callback import LambdaCallback

__all__ = [
    "Callback",
    "HookCallback",
    "LambdaCallback",
]
