"""Pruning on the live module with ``torch.nn.utils.prune``: the handlers of the pruning effects.

``host.extra_state["model_pruning"]`` keeps the selected ``[path, name]`` pairs and,
with the lottery ticket, their values at ``setup``. Checkpoints hold plain folded weights
(``X = X_orig * X_mask``) in ``state_dict``, so they load into a fresh module; the masks
and unpruned originals ride in ``extra_state`` and are put back after a resume.
"""

from __future__ import annotations

import copy
import logging
from functools import partial
from typing import Any

import torch
from torch.nn.utils import prune

from fhooks.errors import MisconfigurationError
from fhooks.hooks.model_effects import (
    FoldPrunedCheckpoint,
    MakePruningPermanent,
    Prune,
    ReportSparsity,
    ResetToOriginals,
    RestorePruning,
    SelectPruned,
)
from fhooks.interpret.registry import Context, handles

KEY = "model_pruning"
_CONTAINERS = (torch.nn.Sequential, torch.nn.ModuleList, torch.nn.ModuleDict)
_CLASSES = {"l1_unstructured": prune.L1Unstructured, "random_unstructured": prune.RandomUnstructured}
_FUNCTIONS = {"l1_unstructured": prune.l1_unstructured, "random_unstructured": prune.random_unstructured,
              "ln_structured": prune.ln_structured, "random_structured": prune.random_structured}


def _has(module: torch.nn.Module, name: str) -> bool:
    return isinstance(getattr(module, name, None), torch.nn.Parameter) or hasattr(module, name + "_orig")


def select(root: torch.nn.Module, pairs: tuple[tuple[str, str], ...], names: tuple[str, ...]) -> list[list[str]]:
    """The ``[path, name]`` pairs to prune: ``pairs`` checked against ``root``, or every matching parameter."""
    if not pairs:
        found = [[path, name] for name in names for path, m in root.named_modules()
                 if path and not isinstance(m, _CONTAINERS) and _has(m, name)]
        if not found:
            raise MisconfigurationError(f"model_pruning: {type(root).__name__} has no parameter named "
                                        f"{' or '.join(names)} to prune")
        return found
    for path, name in pairs:
        try:
            module = root.get_submodule(path)
        except AttributeError:
            raise MisconfigurationError(f"model_pruning: parameters_to_prune names ({path!r}, {name!r}) but "
                                        f"{type(root).__name__} has no submodule {path!r}") from None
        if not _has(module, name):
            owned = ", ".join(n for n, _ in module.named_parameters(recurse=False)) or "none"
            raise MisconfigurationError(f"model_pruning: parameters_to_prune names ({path!r}, {name!r}) but "
                                        f"{path!r} ({type(module).__name__}) has no parameter {name!r} "
                                        f"(its parameters: {owned})")
    return [[p, n] for p, n in pairs]


def _pairs(ctx: Context, given: tuple[tuple[str, str], ...]) -> list[tuple[torch.nn.Module, str]]:
    chosen = given or [tuple(p) for p in ctx.host.extra_state.get(KEY, {}).get("parameters", [])]
    return [(ctx.module.get_submodule(path), name) for path, name in chosen]


def _value(module: torch.nn.Module, name: str) -> torch.Tensor:
    return getattr(module, name + "_orig", None) if hasattr(module, name + "_orig") else getattr(module, name)


@handles(SelectPruned)
def _select(effect: SelectPruned, ctx: Context) -> None:
    chosen = select(ctx.module, effect.parameters, effect.parameter_names)
    kept: dict[str, Any] = {"parameters": chosen}
    if effect.keep_originals:
        kept["originals"] = {f"{p}.{n}": _value(ctx.module.get_submodule(p), n).detach().clone() for p, n in chosen}
    ctx.host.extra_state[KEY] = kept


@handles(Prune)
def _prune(effect: Prune, ctx: Context) -> None:
    pairs = _pairs(ctx, effect.parameters)
    if effect.use_global:
        method = _CLASSES[effect.method] if isinstance(effect.method, str) else effect.method
        prune.global_unstructured(pairs, pruning_method=method, amount=effect.amount)
        return
    fn = _FUNCTIONS[effect.method]
    extra = {"dim": effect.dim} if effect.method.endswith("_structured") else {}
    if effect.method == "ln_structured":
        extra["n"] = effect.norm
    for module, name in pairs:
        partial(fn, **extra)(module, name, amount=effect.amount)


@handles(ResetToOriginals)
def _reset(effect: ResetToOriginals, ctx: Context) -> None:
    originals = ctx.host.extra_state.get(KEY, {}).get("originals", {})
    paths = {id(m): p for p, m in ctx.module.named_modules()}
    with torch.no_grad():
        for module, name in _pairs(ctx, effect.parameters):
            target = _value(module, name)
            if effect.resample:
                fresh = copy.deepcopy(module)
                for n in [n for n in ("weight", "bias") if hasattr(fresh, n + "_orig")]:
                    prune.remove(fresh, n)
                fresh.reset_parameters()
                source = getattr(fresh, name)
            else:
                source = originals[f"{paths[id(module)]}.{name}"]
            target.copy_(source.to(target.device))
            if hasattr(module, name + "_mask"):
                setattr(module, name, target * getattr(module, name + "_mask"))


@handles(MakePruningPermanent)
def _permanent(effect: MakePruningPermanent, ctx: Context) -> None:
    for module, name in _pairs(ctx, effect.parameters):
        if prune.is_pruned(module) and hasattr(module, name + "_mask"):
            prune.remove(module, name)


def sparsity(pairs: list[tuple[torch.nn.Module, str]]) -> tuple[int, int]:
    """``(zeros, total)`` over the current values of ``pairs``."""
    zeros = sum(int((getattr(m, n) == 0).sum()) for m, n in pairs)
    return zeros, sum(getattr(m, n).numel() for m, n in pairs)


@handles(ReportSparsity)
def _report(effect: ReportSparsity, ctx: Context) -> None:
    pairs = _pairs(ctx, effect.parameters)
    zeros, total = sparsity(pairs)
    log = logging.getLogger("fhooks")
    log.info("Applied `%s`. Pruned: %d/%d (%.2f%%)", effect.method, zeros, total, 100 * zeros / max(total, 1))
    if effect.verbose == 2:
        paths = {id(m): p for p, m in ctx.module.named_modules()}
        for module, name in pairs:
            z, t = sparsity([(module, name)])
            log.info("Applied `%s` to `%s.%s`. Pruned: %d/%d (%.2f%%)", effect.method, paths[id(module)], name, z, t,
                     100 * z / max(t, 1))


@handles(FoldPrunedCheckpoint)
def _fold(effect: FoldPrunedCheckpoint, ctx: Context) -> None:
    checkpoint = ctx.event.data
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        return
    state = dict(checkpoint["state_dict"])
    masks: dict[str, torch.Tensor] = {}
    origs: dict[str, torch.Tensor] = {}
    for key in [k for k in state if k.endswith("_orig")]:
        base = key[: -len("_orig")]
        if base + "_mask" in state:
            origs[base], masks[base] = state.pop(key).cpu(), state.pop(base + "_mask").cpu()
            state[base] = origs[base] * masks[base]
    checkpoint["state_dict"] = state
    extra = dict(checkpoint.get("extra_state", {}))
    extra[KEY] = {**extra.get(KEY, {}), "masks": masks, "orig": origs}
    checkpoint["extra_state"] = extra


@handles(RestorePruning)
def _restore(effect: RestorePruning, ctx: Context) -> None:
    kept = ctx.host.extra_state.get(KEY, {})
    with torch.no_grad():
        for full, mask in kept.get("masks", {}).items():
            path, _, name = full.rpartition(".")
            module = ctx.module.get_submodule(path)
            if not hasattr(module, name + "_mask"):
                prune.custom_from_mask(module, name, mask.to(_value(module, name).device))
            getattr(module, name + "_orig").copy_(kept["orig"][full])
            setattr(module, name, getattr(module, name + "_orig") * getattr(module, name + "_mask"))
