"""Freezing, unfreezing and param groups on the live module: the finetuning effects' handlers and helpers.

The helpers keep Lightning's ``BaseFinetuning`` semantics (``BaseFinetuning``'s
static methods call them):

>>> import torch
>>> net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(2, 1)))
>>> [type(m).__name__ for m in flatten_modules(net)]
['Linear', 'ReLU', 'Linear']
>>> freeze(net)
>>> any(p.requires_grad for p in net.parameters())
False
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

import torch

from fhooks.errors import MisconfigurationError
from fhooks.hooks.finetuning import EXTRA_KEY
from fhooks.hooks.model_effects import AddParamGroup, BackboneLearningRate, Freeze, RestoreFinetuning, Unfreeze
from fhooks.interpret.registry import Context, handles

_BN = torch.nn.modules.batchnorm._BatchNorm


def resolve_module(root: torch.nn.Module, path: str, where: str) -> torch.nn.Module:
    """The submodule at dotted ``path`` (``""``: ``root``), or a clear error naming what is there."""
    try:
        module = root.get_submodule(path)
    except AttributeError:
        children = ", ".join(name for name, _ in root.named_children()) or "none"
        raise MisconfigurationError(
            f"{where}: {type(root).__name__} has no submodule {path!r} (its children: {children}); "
            "name modules by their dotted attribute path") from None
    return module


def flatten_modules(modules: Any) -> list[torch.nn.Module]:
    """Every leaf module (or module that owns parameters directly) under ``modules``.

    ``modules``: a module, a ``ModuleDict`` (its values) or a nested iterable of them.
    """
    if isinstance(modules, torch.nn.ModuleDict):
        modules = modules.values()
    if isinstance(modules, Iterable):
        found: list[torch.nn.Module] = []
        for m in modules:
            found.extend(flatten_modules(m))
        return found
    return [m for m in modules.modules() if not list(m.children()) or m._parameters]


def filter_params(modules: Any, train_bn: bool = True, requires_grad: bool = True) -> Iterator[torch.nn.Parameter]:
    """Each leaf module's own parameters whose ``requires_grad`` is ``requires_grad``; BatchNorm skipped unless ``train_bn``."""
    for module in flatten_modules(modules):
        if isinstance(module, _BN) and not train_bn:
            continue
        for param in module.parameters(recurse=False):
            if param.requires_grad == requires_grad:
                yield param


def make_trainable(modules: Any) -> None:
    """``requires_grad=True`` on every parameter; BatchNorm layers track running statistics."""
    for module in flatten_modules(modules):
        if isinstance(module, _BN):
            module.track_running_stats = True
        for param in module.parameters(recurse=False):
            param.requires_grad = True


def freeze_module(module: torch.nn.Module) -> None:
    """``requires_grad=False`` on the module's own parameters; a BatchNorm stops tracking running statistics."""
    if isinstance(module, _BN):
        module.track_running_stats = False
    for param in module.parameters(recurse=False):
        param.requires_grad = False


def freeze(modules: Any, train_bn: bool = True) -> None:
    """Freeze every leaf module; BatchNorm layers are made trainable instead when ``train_bn``."""
    for module in flatten_modules(modules):
        if isinstance(module, _BN) and train_bn:
            make_trainable(module)
        else:
            freeze_module(module)


def filter_on_optimizer(optimizer: torch.optim.Optimizer, params: Iterable[torch.nn.Parameter]) -> list[Any]:
    """``params`` minus those already in one of ``optimizer``'s param groups (by identity), warning if any were."""
    present = {id(p) for group in optimizer.param_groups for p in group["params"]}
    params = list(params)
    kept = [p for p in params if id(p) not in present]
    if len(kept) != len(params):
        warnings.warn("The provided params to be frozen already exist within another group of this optimizer. "
                      "Those parameters will be skipped.", UserWarning, stacklevel=3)
    return kept


def unfreeze_and_add_param_group(modules: Any, optimizer: torch.optim.Optimizer, lr: float | None = None,
                                 initial_denom_lr: float = 10.0, train_bn: bool = True) -> None:
    """Make ``modules`` trainable and add their parameters not yet in ``optimizer`` as one new group."""
    make_trainable(modules)
    group_lr = optimizer.param_groups[0]["lr"] / initial_denom_lr if lr is None else float(lr)
    params = filter_on_optimizer(optimizer, filter_params(modules, train_bn=train_bn, requires_grad=True))
    if params:
        optimizer.add_param_group({"params": params, "lr": group_lr})


# -- param-group layout as plain data (for resume) -----------------------------------------------------
def param_layout(module: torch.nn.Module, optimizers: list[torch.optim.Optimizer]) -> dict[str, Any]:
    """Each optimizer's groups with parameter *names*, and the names of trainable parameters."""
    names = {id(p): n for n, p in module.named_parameters()}
    groups = [[{**{k: v for k, v in g.items() if k != "params" and isinstance(v, (int, float, str, bool))},
                "params": [names[id(p)] for p in g["params"] if id(p) in names]} for g in opt.param_groups]
              for opt in optimizers]
    trainable = [n for n, p in module.named_parameters() if p.requires_grad]
    untracked = [n for n, m in module.named_modules() if isinstance(m, _BN) and not m.track_running_stats]
    return {"param_groups": groups, "trainable": trainable, "bn_untracked": untracked}


def restore_layout(module: torch.nn.Module, optimizers: list[torch.optim.Optimizer], layout: dict[str, Any]) -> None:
    """Rebuild param groups and trainable flags from :func:`param_layout` data."""
    params = dict(module.named_parameters())
    for opt, groups in zip(optimizers, layout.get("param_groups", [])):
        rebuilt = [{**{k: v for k, v in g.items() if k != "params"}, "params": [params[n] for n in g["params"]]}
                   for g in groups]
        opt.param_groups.clear()
        for group in rebuilt:
            opt.add_param_group(group)
    trainable = set(layout.get("trainable", params))
    for name, param in params.items():
        param.requires_grad = name in trainable
    untracked = set(layout.get("bn_untracked", ()))
    for name, m in module.named_modules():
        if isinstance(m, _BN):
            m.track_running_stats = name not in untracked


def _modules(ctx: Context, paths: tuple[str, ...], where: str) -> list[torch.nn.Module]:
    return [resolve_module(ctx.module, p, where) for p in paths]


@handles(Freeze)
def _freeze(effect: Freeze, ctx: Context) -> None:
    freeze(_modules(ctx, effect.modules, "Freeze"), train_bn=effect.train_bn)


@handles(Unfreeze)
def _unfreeze(effect: Unfreeze, ctx: Context) -> None:
    modules = _modules(ctx, effect.modules, "Unfreeze")
    make_trainable([m for m in flatten_modules(modules) if effect.train_bn or not isinstance(m, _BN)])


@handles(AddParamGroup)
def _add_group(effect: AddParamGroup, ctx: Context) -> None:
    unfreeze_and_add_param_group(_modules(ctx, effect.modules, "AddParamGroup"),
                                 ctx.host.optimizers[effect.optimizer_idx], effect.lr,
                                 effect.initial_denom_lr, effect.train_bn)


@handles(BackboneLearningRate)
def _backbone_lr(effect: BackboneLearningRate, ctx: Context) -> None:
    s = effect.schedule
    backbone = resolve_module(ctx.module, "backbone", "BackboneLearningRate")
    optimizer = ctx.host.optimizers[0]
    kept = ctx.host.extra_state.setdefault(EXTRA_KEY, {})
    main_lr = optimizer.param_groups[0]["lr"]
    previous = kept.get("previous_backbone_lr")
    lr = s.lr(effect.epoch, main_lr, previous)
    if previous is None:
        unfreeze_and_add_param_group(backbone, optimizer, lr, s.initial_denom_lr, s.train_bn)
    else:
        optimizer.param_groups[-1]["lr"] = lr
    kept["previous_backbone_lr"] = lr
    if s.verbose:
        logging.getLogger("fhooks").info("Current lr: %s, Backbone lr: %s", round(main_lr, s.rounding),
                                         round(lr, s.rounding))


@handles(RestoreFinetuning)
def _restore(effect: RestoreFinetuning, ctx: Context) -> None:
    layout = ctx.host.extra_state.get(effect.key)
    if layout:
        restore_layout(ctx.module, ctx.host.optimizers, layout)
