"""The pruning schedule: the amounts pruned match ``amount`` and ``apply_pruning`` for every epoch; resume law."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from fhooks.core import fold
from fhooks.hooks.model_effects import MakePruningPermanent, Prune, ResetToOriginals, SelectPruned
from fhooks.hooks.pruning import model_pruning
from fhooks.testing import assert_resumes, fit_streams

amounts = st.one_of(st.floats(0, 1), st.integers(0, 50))


@settings(max_examples=200)
@given(fit_streams(max_epochs=8), st.lists(amounts, min_size=8, max_size=8), st.lists(st.booleans(), min_size=8,
       max_size=8), st.booleans(), st.booleans())
def test_pruned_amounts_match_the_schedule(events, by_epoch, applied, lth, on_train_epoch_end):
    hook = model_pruning("l1_unstructured", amount=by_epoch.__getitem__, apply_pruning=applied.__getitem__,
                         use_lottery_ticket_hypothesis=lth, prune_on_train_epoch_end=on_train_epoch_end)
    state, effects = fold(hook, events)
    kind = "train_epoch_end" if on_train_epoch_end else "validation_epoch_end"
    moments = [e.epoch for e in events if e.kind == kind and e.stage == "fit"]
    expected = [by_epoch[e] for e in moments if applied[e] and by_epoch[e]]
    assert [e.amount for e in effects if isinstance(e, Prune)] == expected
    assert state.steps == len(expected)
    assert sum(isinstance(e, ResetToOriginals) for e in effects) == (len(expected) if lth else 0)
    assert isinstance(effects[0], SelectPruned) and effects[0].keep_originals is lth
    assert isinstance(effects[-1], MakePruningPermanent)


@settings(max_examples=100)
@given(fit_streams(max_epochs=6), amounts, st.data())
def test_resume_law(events, amount, data):
    hook = model_pruning("random_unstructured", amount=amount, parameters_to_prune=[("net.0", "weight")])
    assert_resumes(hook, events, data.draw(st.integers(0, len(events))))
