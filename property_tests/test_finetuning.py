"""The backbone lr schedule against Lightning's formulas for every epoch, and the resume law."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from fhooks.core import Event, fold
from fhooks.hooks.finetuning import backbone_finetuning
from fhooks.hooks.model_effects import AddParamGroup, BackboneLearningRate, Freeze
from fhooks.testing import assert_resumes, fit_streams

lrs = st.floats(1e-6, 1.0)


def lightning_backbone_lrs(main_lrs, unfreeze_at, factor, ratio, initial, align):
    """BackboneFinetuning.finetune_function's lr for each epoch (None before the unfreeze), as Lightning writes it."""
    out, previous = [], None
    for epoch, current in enumerate(main_lrs):
        if epoch < unfreeze_at:
            out.append(None)
            continue
        if epoch == unfreeze_at:
            previous = initial if initial is not None else current * ratio
        else:
            nxt = factor(epoch + 1) * previous
            previous = current if align and nxt > current else nxt
        out.append(previous)
    return out


@settings(max_examples=300)
@given(st.lists(lrs, min_size=1, max_size=15), st.integers(0, 10), st.floats(0.5, 3.0), st.floats(0.01, 1.0),
       st.none() | lrs, st.booleans())
def test_schedule_matches_lightning_for_every_epoch(main_lrs, unfreeze_at, k, ratio, initial, align):
    factor = lambda epoch: k * (1 + epoch % 3) / 2  # noqa: E731 - depends on the epoch passed in
    hook = backbone_finetuning(unfreeze_at, lambda_func=factor, backbone_initial_ratio_lr=ratio,
                               backbone_initial_lr=initial, should_align=align)
    previous, got = None, []
    for epoch, main in enumerate(main_lrs):
        lr = hook.schedule.lr(epoch, main, previous)
        previous = lr if lr is not None else previous
        got.append(lr)
    assert got == lightning_backbone_lrs(main_lrs, unfreeze_at, factor, ratio, initial, align)


@settings(max_examples=200)
@given(fit_streams(max_epochs=8), st.integers(0, 8), st.booleans())
def test_one_lr_decision_per_epoch_from_the_unfreeze_epoch(events, unfreeze_at, train_bn):
    _, effects = fold(backbone_finetuning(unfreeze_at, train_bn=train_bn), events)
    epochs = sorted({e.epoch for e in events if e.kind == "train_epoch_start"})
    assert effects[0] == Freeze(("backbone",), train_bn)
    assert [e.epoch for e in effects if isinstance(e, BackboneLearningRate)] == [e for e in epochs if e >= unfreeze_at]
    assert not any(isinstance(e, AddParamGroup) for e in effects)


@settings(max_examples=150)
@given(fit_streams(max_epochs=6), st.integers(0, 5), st.data())
def test_resume_law(events, unfreeze_at, data):
    assert_resumes(backbone_finetuning(unfreeze_at), events, data.draw(st.integers(0, len(events))))
