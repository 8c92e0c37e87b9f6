"""Transactional resume: read and check the whole checkpoint first, then change the run; a failure changes nothing.

:func:`prepare` reads the file and checks its structure, the model's keys and
shapes and the hook states (matched to the current hooks by identity) before
anything is touched. :func:`model_and_hooks` and :func:`loops` then apply it;
the optimizers (built in between, by ``configure_optimizers``) are checked
before their state is loaded, and a mismatch there puts weights and hook state
back as they were.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import torch

from fhooks.core import identity as ident
from fhooks.core.combinators import Sequence
from fhooks.core.hook import HookLike, instances, shape
from fhooks.core.serialize import from_data, to_data
from fhooks.errors import CheckpointMismatch, CorruptCheckpoint, HookStateWarning, InvalidArgument
from fhooks.trainer import checkpoint as ckpt
from fhooks.trainer import lightning_layout
from fhooks.trainer.outputs import EpochMeans
from fhooks.trainer.position import Position

_LOOP_KEYS = {"epoch": int, "global_step": int, "accumulate_grad_batches": int, "train_means": dict,
              "should_stop": bool, "stop_reasons": list}


@attrs.define
class Plan:
    """A checked checkpoint, ready to apply; ``undo`` holds what to put back if applying fails."""

    path: str
    checkpoint: dict[str, Any]
    position: Position
    rng: dict[str, Any]
    epoch_start_rng: torch.Tensor | None
    batch_end: dict[str, Any] | None
    hook_state: Any
    notes: list[str]
    callback_states: list[tuple[int, Any]] = attrs.Factory(list)
    undo: Any = None


# -- the hook entry -------------------------------------------------------------------------------
def _parts(hook: HookLike, state: Any) -> list[tuple[HookLike, Any]]:
    """The top-level hooks of an expression (the trainer's callbacks) with their states."""
    if isinstance(hook, Sequence):
        return list(zip(hook.children, state))
    return [(hook, state)]


def hook_entry(hook: HookLike, state: Any) -> dict[str, Any]:
    """The checkpoint entry for an expression: per top-level hook, its identity, kind and state as plain data.

    >>> from fhooks.core import stateful, sequence
    >>> seen = stateful(0, lambda n, e: (n + 1, None), kinds="fit_end", name="seen")
    >>> entry = hook_entry(sequence(seen, seen), (3, 4))
    >>> [part["state"] for part in entry["parts"]], entry["parts"][0]["kind"]
    ([3, 4], 'seen')
    """
    return {"shape": shape(hook), "parts": [{"identity": ident.identity(h), "kind": ident.kind_of(h),
                                             "state": to_data(s)} for h, s in _parts(hook, state)]}


def hook_state_entry(trainer: Any, state: Any) -> dict[str, Any]:
    """:func:`hook_entry` of the trainer's expression."""
    return hook_entry(trainer.dispatcher.hook, state)


def _fits(state: Any, init: Any, depth: int = 0) -> bool:
    """Whether ``state`` has the structure of ``init`` (None in ``init`` accepts anything)."""
    if init is None or depth > 50:
        return True
    if isinstance(init, bool) or isinstance(state, bool):
        return isinstance(state, bool) and isinstance(init, bool)
    if isinstance(init, (int, float)):
        return isinstance(state, (int, float))
    if isinstance(init, str):
        return isinstance(state, str)
    if isinstance(init, tuple):  # an empty one is a collection that grows; others are records
        return isinstance(state, tuple) and (not init or len(state) == len(init) and all(
            _fits(s, i, depth + 1) for s, i in zip(state, init)))
    if isinstance(init, Mapping):
        return isinstance(state, Mapping)
    if attrs.has(type(init)):
        return type(state) is type(init) and all(
            _fits(getattr(state, a.name), getattr(init, a.name), depth + 1) for a in attrs.fields(type(init)))
    return True


def _same_as_fresh(data: Any, init: Any) -> bool:
    """Whether a saved state is the hook's initial state (restoring it or starting fresh is the same)."""
    try:
        return from_data(data) == init
    except (InvalidArgument, TypeError, ValueError):
        return False


def matched_hook_state(hook: HookLike, entry: Any, strict: bool, where: str) -> tuple[Any, list[str]]:
    """The expression's state from a saved entry: matched hooks restored, others fresh; and what to warn about.

    Raises CorruptCheckpoint for an entry that is not one, CheckpointMismatch in ``strict`` mode when a
    saved hook is not matched exactly.
    """
    if isinstance(entry, Mapping) and "parts" not in entry and "state" in entry:  # format 1: the whole expression
        if entry.get("shape") != shape(hook):
            raise CheckpointMismatch(f"{where} was written by an older fhooks for the expression {entry.get('shape')}, "
                                     f"but the current one is {shape(hook)}; its hook states can only be restored into "
                                     "the same callbacks in the same order")
        return from_data(entry["state"]), []
    if not isinstance(entry, Mapping) or not isinstance(entry.get("parts"), list):
        raise CorruptCheckpoint(f"{where}: its 'hooks' entry is missing or not a list of hook states; "
                                "it was not written by this version of fhooks. Nothing was loaded.")
    saved = entry["parts"]
    for i, part in enumerate(saved):
        if not (isinstance(part, Mapping) and isinstance(part.get("identity"), str)
                and isinstance(part.get("kind"), str) and "state" in part):
            raise CorruptCheckpoint(f"{where}: hook state {i} is not an entry with identity, kind and state. "
                                    "Nothing was loaded.")
    current = [h for h, _ in _parts(hook, hook.init)]
    taken = ident.match([p["identity"] for p in saved], [ident.identity(h) for h in current])
    used = {i for i in taken if i is not None}
    states, changed, notes = [], set(), []
    for h, index in zip(current, taken):
        if index is None:
            kind = ident.kind_of(h)
            other = next((i for i, p in enumerate(saved) if i not in used | changed and p["kind"] == kind), None)
            if other is not None:
                changed.add(other)
            if other is not None and not _same_as_fresh(saved[other]["state"], h.init):  # else nothing is lost
                notes.append(f"{saved[other]['identity']} was saved, but the current hook is {ident.identity(h)}: "
                             "its configuration changed, so it starts fresh")
            states.append(h.init)
            continue
        try:
            state = from_data(saved[index]["state"])
        except (InvalidArgument, TypeError, ValueError) as exc:
            raise CorruptCheckpoint(f"{where}: the state of {saved[index]['identity']} cannot be read ({exc}). "
                                    "Nothing was loaded.") from exc
        if not _fits(state, h.init):
            raise CorruptCheckpoint(f"{where}: the state of {saved[index]['identity']} does not have the shape of "
                                    f"its hook's state ({state!r}, expected like {h.init!r}); the file was altered. "
                                    "Nothing was loaded.")
        states.append(state)
    unmatched = [p["identity"] for i, p in enumerate(saved) if i not in used | changed and p["state"] is not None]
    if unmatched:
        notes.append(f"no current hook matches the saved state of {', '.join(unmatched)}; it was not restored "
                     "(pass the same callbacks to restore it)")
    if notes and strict:
        raise CheckpointMismatch(f"{where}: {'; '.join(notes)}. Nothing was loaded; resume with the callbacks "
                                 "the checkpoint was written with, or without resume_strict=True")
    state = tuple(states) if isinstance(hook, Sequence) else states[0]
    return state, notes


# -- reading and checking -------------------------------------------------------------------------
def read(path: Any) -> dict[str, Any]:
    """Read ``path`` for a resume, with precise messages for a folder, a weights-only or a Lightning file."""
    where = f"checkpoint {str(path)!r}"
    if Path(path).is_dir():
        raise CorruptCheckpoint(f"{where} is a folder, not a checkpoint file; pass the path of a .ckpt file in it "
                                f"(for instance {str(Path(path) / 'last.ckpt')!r})")
    checkpoint = lightning_layout.flat(ckpt.read(path))
    if "fhooks_version" not in checkpoint and "pytorch-lightning_version" in checkpoint:
        if "optimizer_states" in checkpoint:  # Lightning's own full checkpoint: its counters and callback states
            return lightning_layout.from_lightning(checkpoint, where)
        raise CheckpointMismatch(f"{where} was written by Lightning {checkpoint['pytorch-lightning_version']} "
                                 "with its weights only. Load them with "
                                 "module.load_state_dict(checkpoint['state_dict']) and call fit without ckpt_path")
    if "optimizer_states" not in checkpoint and "loops" not in checkpoint:
        raise CheckpointMismatch(f"{where} holds the model's weights only (saved with weights_only=True or "
                                 "save_weights_only=True): no optimizer, loop or hook state to resume from. Load them "
                                 "with module.load_state_dict(torch.load(path, weights_only=True)['state_dict']) "
                                 "and call fit without ckpt_path")
    return checkpoint


def _need(checkpoint: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = checkpoint.get(key)
    if not isinstance(value, kind):
        got = "missing" if key not in checkpoint else f"a {type(value).__name__}"
        raise CorruptCheckpoint(f"{where}: entry {key!r} is {got}, expected a {kind.__name__}; the file is damaged "
                                "or altered. Nothing was loaded; resume from another checkpoint")
    return value


def _check_structure(checkpoint: dict[str, Any], where: str) -> None:
    state_dict = _need(checkpoint, "state_dict", dict, where)
    if not all(isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise CorruptCheckpoint(f"{where}: 'state_dict' holds values that are not tensors. Nothing was loaded.")
    optimizers = _need(checkpoint, "optimizer_states", list, where)
    for i, state in enumerate(optimizers):
        if not (isinstance(state, dict) and isinstance(state.get("state"), dict)
                and isinstance(state.get("param_groups"), list)):
            raise CorruptCheckpoint(f"{where}: optimizer state {i} has no 'state'/'param_groups'. Nothing was loaded.")
    _need(checkpoint, "lr_schedulers", list, where)
    loops = _need(checkpoint, "loops", dict, where)
    for key, kind in _LOOP_KEYS.items():
        _need(loops, key, kind, f"{where} (loops)")
    rng = _need(checkpoint, "rng", dict, where)
    if not isinstance(rng.get("torch"), torch.Tensor) or not isinstance(rng.get("python"), (list, tuple)):
        raise CorruptCheckpoint(f"{where}: 'rng' lacks the torch or Python RNG state. Nothing was loaded.")


def _check_model(module: Any, state_dict: dict[str, torch.Tensor], where: str) -> None:
    own = module.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    shapes = [f"{k}: {tuple(state_dict[k].shape)} in the checkpoint, {tuple(own[k].shape)} in the model"
              for k in own if k in state_dict and state_dict[k].shape != own[k].shape]
    problems = ([f"missing keys {missing}"] if missing else []) + (
        [f"unexpected keys {unexpected}"] if unexpected else []) + shapes
    if problems:
        raise CheckpointMismatch(f"{where} does not fit {type(module).__name__}: {'; '.join(problems)}. Nothing was "
                                 "loaded; resume with the model the checkpoint was written from")


def prepare(trainer: Any, module: Any, path: Any) -> Plan:
    """Read and check everything in ``path`` against the module and hooks; changes nothing."""
    where = f"checkpoint {str(path)!r}"
    checkpoint = read(path)
    _check_structure(checkpoint, where)
    _check_model(module, checkpoint["state_dict"], where)
    if "position" in checkpoint:
        position = Position.from_plain(checkpoint["position"])
    else:
        try:
            position = Position.from_loops(checkpoint["loops"], trainer.num_training_batches)
        except (KeyError, TypeError) as exc:
            raise CorruptCheckpoint(f"{where}: no 'position' entry and no loop counters. Nothing was loaded.") from exc
    if not checkpoint["optimizer_states"] and (position.epoch_started or checkpoint["loops"]["global_step"]):
        raise CorruptCheckpoint(f"{where}: 'optimizer_states' is empty, so the optimizer would start fresh and the "
                                "resume would not be exact. Nothing was loaded; resume from another checkpoint")
    d = trainer.dispatcher
    strict = bool(getattr(trainer, "resume_strict", False))
    state, notes = matched_hook_state(d.hook, checkpoint.get("hooks"), strict, where)
    rng = checkpoint["rng"]
    epoch_start = rng.get("epoch_start_torch")
    if position.epoch_started and not position.epoch_end_done and not isinstance(epoch_start, torch.Tensor):
        raise CorruptCheckpoint(f"{where}: taken inside epoch {position.epoch} but without the epoch's start RNG "
                                "state, so its shuffle cannot be replayed. Nothing was loaded.")
    batch_end = checkpoint.get("batch_end")
    if position.step_done and not position.batch_end_done and not isinstance(batch_end, dict):
        raise CorruptCheckpoint(f"{where}: taken before a batch's train_batch_end but without its values. "
                                "Nothing was loaded.")
    callback_states, unmatched = _callback_states(trainer.callbacks, checkpoint.get("callbacks", {}), where)
    if unmatched:
        notes.append(f"no current callback has the state_key of the saved state of {', '.join(unmatched)}")
    if unmatched and strict:
        raise CheckpointMismatch(f"{where}: {notes[-1]}. Nothing was loaded")
    return Plan(str(path), checkpoint, position, rng, epoch_start, batch_end, state, notes, callback_states)


def _callback_states(callbacks: list[Any], saved: Any, where: str) -> tuple[list[tuple[int, Any]], list[str]]:
    """Saved ``Callback`` states (keyed ``"<index>:<state_key>"``) matched to the current callbacks by state_key,
    in order; and the saved keys nothing matched."""
    from fhooks.callbacks.base import Callback

    if not isinstance(saved, Mapping):
        raise CorruptCheckpoint(f"{where}: entry 'callbacks' is a {type(saved).__name__}, not a dict. "
                                "Nothing was loaded.")
    entries = []
    for name, state in saved.items():
        index, _, key = str(name).partition(":")
        if not index.isdigit() or not key:
            raise CorruptCheckpoint(f"{where}: callback state {name!r} is not keyed '<index>:<state_key>'.")
        entries.append((int(index), key, state))
    entries.sort(key=lambda e: e[0])
    taken = ident.match([key for _, key, _ in entries],
                        [cb.state_key if isinstance(cb, Callback) else "" for cb in callbacks])
    found = [(i, entries[t][2]) for i, t in enumerate(taken) if t is not None]
    used = {t for t in taken if t is not None}
    return found, [key for n, (_, key, state) in enumerate(entries) if n not in used and state]


# -- applying ----------------------------------------------------------------------------------------
def model_and_hooks(trainer: Any, module: Any, plan: Plan) -> None:
    """Load the weights, the hook states and the callbacks' own state; emit ``load_checkpoint``."""
    checkpoint = plan.checkpoint
    d = trainer.dispatcher
    from fhooks.callbacks.base import HookCallback

    shown = [(cb, cb._state) for cb in instances(trainer.callbacks, HookCallback)]  # what their attributes show
    callbacks = [(trainer.callbacks[index], trainer.callbacks[index].state_dict()) for index, _ in plan.callback_states]
    plan.undo = ({k: v.detach().clone() for k, v in module.state_dict().items()}, d.state, dict(trainer.extra_state),
                 shown, callbacks)
    module.load_state_dict(checkpoint["state_dict"])
    trainer.extra_state.update(checkpoint.get("extra_state", {}))
    d.state = plan.hook_state
    for index, state in plan.callback_states:  # before fit_start, where a finetuning callback rebuilds its groups
        trainer.callbacks[index].load_state_dict(state)
    if checkpoint.get("hooks") == {"parts": []}:  # Lightning's file: the callbacks' loaded states start the hooks
        d.state = d.hook.init
    if plan.notes:
        warnings.warn(f"resuming from {plan.path}: {'; '.join(plan.notes)}", HookStateWarning, stacklevel=2)
    d.emit("load_checkpoint", data=checkpoint)


def _undo(trainer: Any, module: Any, plan: Plan) -> None:
    weights, state, extra, shown, callbacks = plan.undo
    module.load_state_dict(weights)
    for cb, cb_state in callbacks:
        cb.load_state_dict(cb_state)
    for cb, cb_state in shown:
        cb._state = cb_state
    trainer.dispatcher.state = state
    trainer.extra_state.clear()
    trainer.extra_state.update(extra)


def _check_optimizers(trainer: Any, plan: Plan) -> None:
    where = f"checkpoint {plan.path!r}"
    saved = plan.checkpoint["optimizer_states"]
    if not saved:  # written before training began (checked in prepare): the optimizer starts fresh, as it did
        return
    if len(saved) != len(trainer.optimizers):
        raise CheckpointMismatch(f"{where} holds {len(saved)} optimizer states, configure_optimizers returned "
                                 f"{len(trainer.optimizers)} optimizers. Nothing was loaded")
    for n, (optimizer, state) in enumerate(zip(trainer.optimizers, saved)):
        groups = state["param_groups"]
        sizes = [len(g.get("params", ())) if isinstance(g, dict) else -1 for g in groups]
        own = [len(g["params"]) for g in optimizer.param_groups]
        if sizes != own:
            raise CheckpointMismatch(f"{where}: optimizer {n} ({type(optimizer).__name__}) had parameter groups of "
                                     f"sizes {sizes}, the current one has {own}. Nothing was loaded; resume with the "
                                     "configure_optimizers the checkpoint was written with")
        params = [p for g in optimizer.param_groups for p in g["params"]]
        ids = [i for g in groups for i in g["params"]]
        by_id = dict(zip(ids, params))
        for key, values in state["state"].items():
            param = by_id.get(key)
            if param is None or not isinstance(values, dict):
                raise CheckpointMismatch(f"{where}: optimizer {n} has state for parameter {key!r}, which is in none "
                                         "of its groups. Nothing was loaded")
            for name, value in values.items():
                if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape != param.shape:
                    raise CheckpointMismatch(
                        f"{where}: optimizer {n}'s {name!r} for a parameter of shape {tuple(param.shape)} has shape "
                        f"{tuple(value.shape)}. Nothing was loaded")
    schedulers = plan.checkpoint["lr_schedulers"]
    if len(schedulers) != len(trainer.lr_scheduler_configs):
        raise CheckpointMismatch(f"{where} holds {len(schedulers)} scheduler states, configure_optimizers returned "
                                 f"{len(trainer.lr_scheduler_configs)} schedulers. Nothing was loaded")


def loops(trainer: Any, module: Any, plan: Plan) -> None:
    """Check the optimizers against the checkpoint (undoing :func:`model_and_hooks` if they do not fit), then load
    optimizer, scheduler and loop state."""
    checkpoint = plan.checkpoint
    try:
        _check_optimizers(trainer, plan)
    except BaseException:
        _undo(trainer, module, plan)
        raise
    plan.undo = None
    stepped = checkpoint["loops"]["global_step"] > 0
    for opt, state in zip(trainer.optimizers, checkpoint["optimizer_states"]):
        opt.load_state_dict(state)
        if stepped:  # it stepped before the checkpoint: a scheduler step due now follows an optimizer step
            opt._opt_called = True  # what torch's scheduler checks before warning about the order
    for config, state in zip(trainer.lr_scheduler_configs, checkpoint["lr_schedulers"]):
        config.scheduler.load_state_dict(state)
    if trainer.scaler is not None and "scaler" in checkpoint:
        trainer.scaler.load_state_dict(checkpoint["scaler"])
    saved = checkpoint["loops"]
    position = plan.position
    trainer.current_epoch = position.epoch
    trainer.global_step = saved["global_step"]
    trainer.batches_before_epoch = saved.get("batches_before_epoch", 0)
    trainer.position = position
    if "fhooks_version" in checkpoint:  # Lightning keeps no such counter: the trainer's own value stays
        trainer.accumulate_grad_batches = saved["accumulate_grad_batches"]
    trainer.train_means = EpochMeans.from_plain(saved["train_means"])
    trainer.should_stop = saved["should_stop"]
    trainer.stop_reasons = list(saved["stop_reasons"])
    trainer.callback_metrics.update(checkpoint.get("callback_metrics", {}))
