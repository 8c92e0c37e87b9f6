"""Checkpoints in Lightning's layout: the entries Lightning reads, with fhooks' own loop and callback entries under
the ``"fhooks"`` key.

Lightning reads ``epoch``, ``global_step``, ``pytorch-lightning_version``, ``state_dict``,
``optimizer_states``, ``lr_schedulers``, ``loops`` (its progress counters) and ``callbacks`` (keyed by
``state_key``); it ignores the rest. fhooks keeps its exact-resume entries (``position``, ``rng``,
``hooks``...) beside them and its own ``loops``/``callbacks`` under ``"fhooks"``; :func:`flat` gives
fhooks' reading of a file back.

>>> c = to_lightning({"epoch": 2, "global_step": 6, "state_dict": {}, "loops": {"epoch": 2},
...                   "callbacks": {"0:Timer": {"time_elapsed": {}}}}, batches=3, position=None)
>>> c["pytorch-lightning_version"], sorted(c["loops"]), c["callbacks"]
('2.5.6', ['fit_loop', 'predict_loop', 'test_loop', 'validate_loop'], {'Timer': {'time_elapsed': {}}})
>>> flat(c)["loops"], flat(c)["callbacks"]
({'epoch': 2}, {'0:Timer': {'time_elapsed': {}}})
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

#: The Lightning release whose checkpoint layout fhooks writes.
LIGHTNING_VERSION = "2.5.6"
#: fhooks' entries whose names Lightning uses for something else: kept under ``checkpoint["fhooks"]``.
OWN = ("loops", "callbacks")


def _counts(ready: int, started: int, processed: int, completed: int) -> dict[str, int]:
    return {"ready": ready, "started": started, "processed": processed, "completed": completed}


def _progress(current: dict[str, int], total: dict[str, int], **more: Any) -> dict[str, Any]:
    return {"total": total, "current": current, **more}


def _stepped(n: int) -> dict[str, Any]:
    return {"total": {"ready": n, "completed": n}, "current": {"ready": n, "completed": n}}


def fit_loop(epoch: int, global_step: int, batches: int, position: Mapping[str, Any] | None,
             accumulate: int = 1) -> dict[str, Any]:
    """Lightning's ``fit_loop`` state for a run at ``epoch`` with ``global_step`` optimizer steps.

    ``position`` (fhooks' :class:`~fhooks.trainer.position.Position` as a dict; None: the epoch ``epoch``
    has not started) says how far the current epoch went: finished epochs get equal counters; an epoch
    whose ``train_epoch_end`` ran counts as processed, not completed (as Lightning's own save there);
    a started one as started, with its batches done.
    """
    if position is None or not position.get("epoch_started"):
        epochs = _counts(epoch, epoch, epoch, epoch)
        in_epoch = 0
    elif position.get("epoch_end_done"):
        e = position["epoch"]
        epochs = _counts(e + 1, e + 1, e + 1, e + (1 if position.get("schedulers_stepped") else 0))
        in_epoch = position["batches_done"]
    else:
        e = position["epoch"]
        epochs = _counts(e + 1, e + 1, e, e)
        in_epoch = position["batches_done"]
    total_batches = global_step * accumulate
    batch = _counts(in_epoch, in_epoch, in_epoch, in_epoch)
    return {
        "state_dict": {},
        "epoch_loop.state_dict": {"_batches_that_stepped": total_batches},
        "epoch_loop.batch_progress": _progress(batch, _counts(*[total_batches] * 4),
                                               is_last_batch=bool(batches) and in_epoch >= batches),
        "epoch_loop.scheduler_progress": _stepped(epochs["completed"]),
        "epoch_loop.automatic_optimization.state_dict": {},
        "epoch_loop.automatic_optimization.optim_progress": {"optimizer": {
            "step": _stepped(global_step),
            "zero_grad": {"total": {"ready": global_step, "started": global_step, "completed": global_step},
                          "current": {"ready": global_step, "started": global_step, "completed": global_step}}}},
        "epoch_loop.manual_optimization.state_dict": {},
        "epoch_loop.manual_optimization.optim_step_progress": _stepped(0),
        "epoch_loop.val_loop.state_dict": {},
        "epoch_loop.val_loop.batch_progress": _progress(_counts(0, 0, 0, 0), _counts(0, 0, 0, 0),
                                                        is_last_batch=False),
        "epoch_progress": _progress(dict(epochs), dict(epochs)),
    }


def _eval_loop(last_batch: bool = True) -> dict[str, Any]:
    state: dict[str, Any] = {"state_dict": {}, "batch_progress": _progress(_counts(0, 0, 0, 0), _counts(0, 0, 0, 0))}
    if last_batch:
        state["batch_progress"]["is_last_batch"] = False
    return state


#: Callback state entries Lightning keeps as tensors (fhooks' callbacks give floats).
SCORES = ("best_score", "best_model_score", "current_score", "kth_value")


def _tensor_scores(state: Any) -> Any:
    """A callback's state as Lightning's callback of that name expects it: its scores as tensors."""
    if not isinstance(state, Mapping):
        return state
    out = {k: torch.tensor(v) if k in SCORES and isinstance(v, float) else v for k, v in state.items()}
    if isinstance(out.get("best_k_models"), Mapping):
        out["best_k_models"] = {p: torch.tensor(v) if isinstance(v, float) else v
                                for p, v in out["best_k_models"].items()}
    return out


def to_lightning(checkpoint: dict[str, Any], *, batches: int | None, position: Mapping[str, Any] | None,
                 accumulate: int = 1) -> dict[str, Any]:
    """``checkpoint`` (fhooks' entries) with Lightning's ``loops``/``callbacks`` and version; fhooks' under "fhooks"."""
    out = {k: v for k, v in checkpoint.items() if k not in OWN}
    out["pytorch-lightning_version"] = LIGHTNING_VERSION
    own = {k: checkpoint[k] for k in OWN if k in checkpoint}
    if "loops" in own:
        out["loops"] = {
            "fit_loop": fit_loop(checkpoint["epoch"], checkpoint["global_step"], batches or 0, position, accumulate),
            "validate_loop": _eval_loop(), "test_loop": _eval_loop(), "predict_loop": _eval_loop(False)}
    if "callbacks" in own:
        out["callbacks"] = {str(k).partition(":")[2]: _tensor_scores(v) for k, v in own["callbacks"].items()}
    if "hyper_parameters" in checkpoint:
        out.setdefault("hparams_name", "kwargs")
    if own:
        out["fhooks"] = own
    return out


def flat(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """fhooks' reading of a checkpoint: its own ``loops``/``callbacks`` in place of Lightning's."""
    own = checkpoint.get("fhooks")
    if not isinstance(own, Mapping):
        return checkpoint
    return {**{k: v for k, v in checkpoint.items() if k != "fhooks"}, **own}


def from_lightning(checkpoint: dict[str, Any], where: str) -> dict[str, Any]:
    """A checkpoint Lightning wrote, as fhooks reads its own: loop counters and position from Lightning's
    ``fit_loop``, callback states by ``state_key``, no hook state (the hooks start fresh), the RNG as it is now
    (Lightning saves none).

    Raises:
        CheckpointMismatch: the file was written inside an epoch (Lightning's mid-epoch resume replays no
            data order; fhooks resumes only at an epoch's end) or lacks the fit loop's counters.
    """
    from fhooks.errors import CheckpointMismatch
    from fhooks.trainer.checkpoint import rng_states
    from fhooks.trainer.outputs import EpochMeans
    from fhooks.trainer.position import Position

    try:
        fit = checkpoint["loops"]["fit_loop"]
        epochs = fit["epoch_progress"]["current"]
        batches = fit["epoch_loop.batch_progress"]["current"]["completed"]
    except (KeyError, TypeError) as exc:
        raise CheckpointMismatch(f"{where} was written by Lightning {checkpoint.get('pytorch-lightning_version')} "
                                 "without the fit loop's counters ('loops'/'fit_loop'); load its weights with "
                                 "module.load_state_dict(checkpoint['state_dict']) instead") from exc
    if epochs["processed"] == epochs["completed"] == epochs["started"]:  # between epochs
        position = Position(epoch=epochs["completed"])
    elif epochs["processed"] == epochs["started"] == epochs["completed"] + 1:  # at an epoch's end
        position = Position(epoch=epochs["completed"], batches_done=batches, epoch_started=True, step_done=True,
                            batch_end_done=True, validation_done=True, epoch_end_done=True)
    else:
        raise CheckpointMismatch(f"{where} was written by Lightning inside epoch {epochs['completed']} (after "
                                 f"{batches} batches); fhooks resumes a Lightning checkpoint only from an epoch's "
                                 "end (ModelCheckpoint's default saves). Load its weights with "
                                 "module.load_state_dict(checkpoint['state_dict']) instead")
    callbacks = checkpoint.get("callbacks") or {}
    return {
        **checkpoint,
        "loops": {"epoch": position.epoch, "global_step": int(checkpoint["global_step"]),
                  "accumulate_grad_batches": 1, "train_means": EpochMeans().to_plain(), "should_stop": False,
                  "stop_reasons": []},
        "position": position.to_plain(),
        "rng": rng_states(),
        "hooks": {"parts": []},
        "callbacks": {f"{i}:{key}": _float_scores(state) for i, (key, state) in enumerate(callbacks.items())},
    }


def _float_scores(state: Any) -> Any:
    """Lightning's tensor scores as the floats fhooks' callbacks keep."""
    if not isinstance(state, Mapping):
        return state
    out = {k: v.item() if isinstance(v, torch.Tensor) and v.numel() == 1 else v for k, v in state.items()}
    if isinstance(out.get("best_k_models"), Mapping):
        out["best_k_models"] = {p: v.item() if isinstance(v, torch.Tensor) else v
                                for p, v in out["best_k_models"].items()}
    return out
