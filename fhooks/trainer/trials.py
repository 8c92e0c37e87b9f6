"""Trial runs for the finders: snapshot everything, take training steps without events, restore exactly.

A trial changes weights, optimizer and scheduler state, loop counters, logged
values and RNG states; :func:`isolated` puts every one of them back:

>>> import torch
>>> from types import SimpleNamespace
>>> net = torch.nn.Linear(2, 1)
>>> net.training_step = lambda batch, i: net(batch).pow(2).mean()
>>> opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
>>> trainer = SimpleNamespace(module=net, optimizers=[opt], device=torch.device("cpu"), precision="32")
>>> before = net.weight.detach().clone()
>>> with isolated(trainer):
...     losses = run_steps(trainer, 3, [torch.ones(4, 2)] * 5)
>>> len(losses), torch.equal(net.weight, before), opt.state_dict()["state"]
(3, True, {})
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs
import torch

from fhooks.errors import FhooksError, MisconfigurationError
from fhooks.trainer.checkpoint import rng_states, set_rng_states
from fhooks.trainer.config import limited
from fhooks.trainer.loop import _autocast, _length, _lookahead
from fhooks.trainer.logbook import LogBook
from fhooks.trainer.outputs import EpochMeans, split_output, to_device

#: Trainer attributes a trial may change, restored by value (missing ones are skipped).
_LOOP_FIELDS = ("global_step", "current_epoch", "batches_done", "position", "boundary", "should_stop",
                "training", "sanity_checking", "accumulate_grad_batches", "epoch_start_rng",
                "train_loader", "num_training_batches", "reload_train_dataloader")
#: Trainer attributes a trial replaces with fresh objects, put back afterwards.
_FRESH = {"train_means": lambda trainer: EpochMeans(), "pbar_metrics": lambda trainer: {}, "book": LogBook}
#: Trainer containers restored in place, so references held elsewhere stay valid.
_IN_PLACE = ("callback_metrics", "logged_metrics", "extra_state")
_NO_DISPATCHER = object()


class MissingAttribute(FhooksError, AttributeError):
    """A finder's attribute (the learning rate, the batch size) is nowhere to be found."""


@attrs.define
class Snapshot:
    """Everything a trial may change, copied."""

    module_state: dict[str, Any]
    grads: list[torch.Tensor | None]
    modes: dict[str, bool]
    optimizers: list[dict[str, Any]]
    schedulers: list[dict[str, Any]]
    scaler: Any
    loops: dict[str, Any]
    fresh: dict[str, Any]
    in_place: dict[str, dict[str, Any]]
    stop_reasons: list[str] | None
    rng: dict[str, Any]
    generators: list[tuple[torch.Generator, torch.Tensor]]
    hook_state: Any



def require_trial_host(host: Any, where: str) -> None:
    """Fail clearly unless ``host`` can run trial steps (``fhooks.Trainer`` can; Lightning, Ignite and hand loops not).

    >>> require_trial_host(object(), "lr_finder")
    Traceback (most recent call last):
    ...
    fhooks.errors.MisconfigurationError: lr_finder: needs trial training steps, which only fhooks.Trainer runs; \
object cannot run them (under Lightning use its Tuner or LearningRateFinder/BatchSizeFinder callbacks)
    """
    if not all(hasattr(host, name) for name in ("train_loader", "precision", "limits")):
        raise MisconfigurationError(
            f"{where}: needs trial training steps, which only fhooks.Trainer runs; {type(host).__name__} cannot run "
            "them (under Lightning use its Tuner or LearningRateFinder/BatchSizeFinder callbacks)")

def _generators(loaders: Iterable[Any]) -> list[torch.Generator]:
    found: list[torch.Generator] = []
    for loader in loaders:
        for owner in (loader, getattr(loader, "sampler", None), getattr(loader, "batch_sampler", None),
                      getattr(getattr(loader, "batch_sampler", None), "sampler", None)):
            g = getattr(owner, "generator", None)
            if isinstance(g, torch.Generator) and all(g is not h for h in found):
                found.append(g)
    return found


def snapshot(trainer: Any, loaders: Iterable[Any] = ()) -> Snapshot:
    """Copy the module, optimizers, schedulers, loop counters, RNG states (and ``loaders``' generators)."""
    module = trainer.module
    configs = getattr(trainer, "lr_scheduler_configs", [])
    dispatcher = getattr(trainer, "dispatcher", None)
    reasons = getattr(trainer, "stop_reasons", None)
    return Snapshot(
        module_state={k: copy.deepcopy(v.detach() if isinstance(v, torch.Tensor) else v)
                      for k, v in module.state_dict().items()},
        grads=[None if p.grad is None else p.grad.detach().clone() for p in module.parameters()],
        modes={name: m.training for name, m in module.named_modules()},
        optimizers=[copy.deepcopy(o.state_dict()) for o in trainer.optimizers],
        schedulers=[copy.deepcopy(c.scheduler.state_dict()) for c in configs],
        scaler=copy.deepcopy(getattr(trainer, "scaler", None)),
        loops={k: getattr(trainer, k) for k in _LOOP_FIELDS if hasattr(trainer, k)},
        fresh={k: getattr(trainer, k) for k in _FRESH if hasattr(trainer, k)},
        in_place={k: dict(getattr(trainer, k)) for k in _IN_PLACE if isinstance(getattr(trainer, k, None), dict)},
        stop_reasons=None if reasons is None else list(reasons),
        rng=rng_states(),
        generators=[(g, g.get_state()) for g in _generators(loaders)],
        hook_state=_NO_DISPATCHER if dispatcher is None else dispatcher.state,
    )


def restore(trainer: Any, snap: Snapshot) -> None:
    """Put back what :func:`snapshot` copied; the snapshot stays usable for another restore."""
    module = trainer.module
    module.load_state_dict(snap.module_state)
    with torch.no_grad():
        for p, g in zip(module.parameters(), snap.grads):
            p.grad = None if g is None else g.clone()
    for name, m in module.named_modules():
        if name in snap.modes:
            m.training = snap.modes[name]
    for opt, state in zip(trainer.optimizers, snap.optimizers):
        opt.load_state_dict(copy.deepcopy(state))  # loading may alias the given tensors: give it a copy
    for config, state in zip(getattr(trainer, "lr_scheduler_configs", []), snap.schedulers):
        config.scheduler.load_state_dict(copy.deepcopy(state))
    if hasattr(trainer, "scaler"):
        trainer.scaler = copy.deepcopy(snap.scaler)
    for k, v in {**snap.loops, **snap.fresh}.items():
        setattr(trainer, k, v)
    for k, saved in snap.in_place.items():
        live = getattr(trainer, k)
        live.clear()
        live.update(saved)
    if snap.stop_reasons is not None:
        trainer.stop_reasons[:] = snap.stop_reasons
    set_rng_states(snap.rng)
    for g, state in snap.generators:
        g.set_state(state)
    if snap.hook_state is not _NO_DISPATCHER:
        trainer.dispatcher.state = snap.hook_state


def fresh_holders(trainer: Any, snap: Snapshot) -> None:
    """Give the trainer empty holders for what a trial logs (after a :func:`restore` put the real ones back)."""
    for k, make in _FRESH.items():
        if k in snap.fresh:
            setattr(trainer, k, make(trainer))


@contextlib.contextmanager
def isolated(trainer: Any, loaders: Iterable[Any] = ()) -> Iterator[Snapshot]:
    """Run the body as a trial: logged values go to fresh holders; on exit (even by an error) restore everything."""
    snap = snapshot(trainer, loaders)
    fresh_holders(trainer, snap)
    try:
        yield snap
    finally:
        restore(trainer, snap)


def _optimizer_step(trainer: Any, optimizer: torch.optim.Optimizer) -> None:
    scaler = getattr(trainer, "scaler", None)
    if scaler is not None:
        scaler.unscale_(optimizer)
    clip = getattr(trainer, "gradient_clip_val", None)
    if clip:
        params = [p for g in optimizer.param_groups for p in g["params"]]
        if getattr(trainer, "gradient_clip_algorithm", None) in (None, "norm"):
            torch.nn.utils.clip_grad_norm_(params, clip)
        else:
            torch.nn.utils.clip_grad_value_(params, clip)
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()


def train_steps(trainer: Any, loader: Any = None, *, limit: int | float | None = None,
                max_epochs: int | None = None) -> Iterator[float | None]:
    """Train on ``loader`` (default: the trainer's), yielding the loss of each optimizer step; emits no events.

    Each step is ``training_step`` -> backward -> ``optimizer.step`` over
    ``accumulate_grad_batches`` batches (the last batch of an epoch steps too), as the
    fit loop does; the value is the step's loss divided by the accumulation factor,
    None where ``training_step`` returned None. Epochs repeat up to ``max_epochs``
    (None: no bound); ``limit`` caps the batches of each epoch as ``limit_train_batches``.
    The trainer's ``global_step`` and ``current_epoch`` advance as in a fit (:func:`isolated`
    puts them back). Set the learning rate for the next step between two items.
    """
    module = trainer.module
    loader = trainer.train_loader if loader is None else loader
    optimizer = trainer.optimizers[0]
    accumulate = getattr(trainer, "accumulate_grad_batches", 1)
    where = f"{type(module).__name__}.training_step"
    on_accelerator = trainer.device.type != "cpu"
    epoch = 0
    if hasattr(trainer, "training"):
        trainer.training = True
    module.train()
    while max_epochs is None or epoch < max_epochs:
        count = _length(loader) if limit is None else limited(_length(loader), limit)
        ran = False
        for batch_idx, (batch, last) in enumerate(_lookahead(loader)):
            if count is not None and batch_idx >= count:
                break
            ran = True
            stepping = last or (count is not None and batch_idx == count - 1) or (batch_idx + 1) % accumulate == 0
            if on_accelerator:
                batch = to_device(batch, trainer.device)
            with torch.enable_grad():
                book = getattr(trainer, "book", None)  # the trial's own: what training_step logs here is dropped
                if book is not None:
                    book.active, book.fx = book.train, "training_step"
                with _autocast(trainer):
                    loss, _ = split_output(module.training_step(batch, batch_idx), where)
                if book is not None:
                    book.fx = None
                if loss is None:
                    if stepping:
                        yield None
                    continue
                if batch_idx % accumulate == 0:
                    optimizer.zero_grad(set_to_none=True)
                scaled = loss / accumulate if accumulate > 1 else loss
                scaler = getattr(trainer, "scaler", None)
                (scaler.scale(scaled) if scaler is not None else scaled).backward()
                if stepping:
                    _optimizer_step(trainer, optimizer)
                    if hasattr(trainer, "global_step"):
                        trainer.global_step += 1
            if stepping:
                yield float(scaled.detach())
        if not ran:
            return
        epoch += 1
        if hasattr(trainer, "current_epoch"):
            trainer.current_epoch += 1


def run_steps(trainer: Any, k: int, loader: Any = None, **kwargs: Any) -> list[float | None]:
    """The losses of up to ``k`` optimizer steps of :func:`train_steps` (fewer if the batches run out)."""
    steps = train_steps(trainer, loader, **kwargs)
    try:
        return [loss for _, loss in zip(range(k), steps)]
    finally:
        steps.close()


def max_epochs(trainer: Any) -> int | None:
    """The trainer's epoch bound for trials (None: unbounded)."""
    value = getattr(trainer, "max_epochs", None)
    return None if value is None or value == -1 else value


def only_optimizer(trainer: Any, where: str) -> torch.optim.Optimizer:
    """The trainer's single optimizer, or a clear error."""
    if len(trainer.optimizers) != 1:
        raise MisconfigurationError(f"{where}: needs exactly one optimizer, the trainer has {len(trainer.optimizers)}")
    return trainer.optimizers[0]


# -- attributes on the module, its hparams or a datamodule ---------------------------------------------
def _places(trainer: Any, module: Any) -> list[tuple[str, Any]]:
    places: list[tuple[str, Any]] = [(f"the module ({type(module).__name__})", module),
                                     ("module.hparams", getattr(module, "hparams", None))]
    datamodule = getattr(trainer, "datamodule", None) or getattr(module, "datamodule", None)
    places += [("the datamodule", datamodule), ("datamodule.hparams", getattr(datamodule, "hparams", None))]
    return places


def _has(holder: Any, name: str) -> bool:
    if holder is None:
        return False
    return name in holder if isinstance(holder, Mapping) else hasattr(holder, name)


def holders(trainer: Any, module: Any, name: str) -> list[Any]:
    """Everything that holds attribute (or hparams key) ``name``: module, module.hparams, datamodule, its hparams."""
    return [holder for _, holder in _places(trainer, module) if _has(holder, name)]


def looked_in(trainer: Any, module: Any) -> str:
    """Where :func:`holders` looks, for error messages: ``the module (Net), module.hparams (none), ...``."""
    return ", ".join(label if holder is not None else f"{label} (none)" for label, holder in _places(trainer, module))


def get_value(holder: Any, name: str) -> Any:
    """Read ``name`` from an object or a mapping."""
    return holder[name] if isinstance(holder, Mapping) else getattr(holder, name)


def set_value(found: list[Any], name: str, value: Any) -> None:
    """Set ``name`` to ``value`` on every holder (objects and mutable mappings)."""
    for holder in found:
        if isinstance(holder, Mapping):
            holder[name] = value  # type: ignore[index]
        else:
            setattr(holder, name, value)
