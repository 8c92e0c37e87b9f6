"""Epoch means: weighted by batch size, exact in float64 (NaN and inf propagate), no step's tensor kept alive."""

from __future__ import annotations

import gc
import math
import weakref

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fhooks.trainer.outputs import EpochMeans

values = st.one_of(st.floats(-1e6, 1e6, allow_nan=False, width=32), st.sampled_from([math.nan, math.inf, -math.inf]))
items = st.lists(st.tuples(values, st.integers(1, 64), st.booleans()), min_size=1, max_size=700)


def weighted_mean(added) -> float:
    """The reference: NaN when a NaN or both infinities are in, the infinity when one is, else the exact mean."""
    seen = [v for v, _, _ in added]
    if any(math.isnan(v) for v in seen) or (math.inf in seen and -math.inf in seen):
        return math.nan
    for inf in (math.inf, -math.inf):
        if inf in seen:
            return inf
    return math.fsum(v * w for v, w, _ in added) / sum(w for _, w, _ in added)


def same(got: float, expected: float) -> bool:
    if math.isnan(expected) or math.isinf(expected):
        return got == expected or (math.isnan(got) and math.isnan(expected))
    return math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-6)


@settings(max_examples=60, deadline=None)
@given(items)
def test_means_equal_the_weighted_mean_of_what_was_added(added):
    means = EpochMeans()
    for value, weight, as_tensor in added:
        means.add({"loss": torch.tensor(value) if as_tensor else value}, weight)
    assert same(means.means()["loss"], weighted_mean(added))


@settings(max_examples=30, deadline=None)
@given(items, st.integers(0, 700))
def test_a_checkpoint_in_the_middle_keeps_the_mean(added, cut):
    means = EpochMeans()
    for i, (value, weight, as_tensor) in enumerate(added):
        means.add({"loss": torch.tensor(value) if as_tensor else value}, weight)
        if i == cut:
            means = EpochMeans.from_plain(means.to_plain())
    assert same(means.means()["loss"], weighted_mean(added))


def test_no_added_tensor_outlives_its_step():
    """A step's tensors kept alive until an epoch's end (or every few steps) fragment the heap of a CPU run."""
    means = EpochMeans()
    alive = []
    for i in range(100):
        loss = torch.tensor(float(i), requires_grad=True) * 1  # a graph's output, as a training_step returns
        alive.append(weakref.ref(loss))
        means.add({"loss": loss}, 2)
        del loss
    gc.collect()
    assert [ref for ref in alive if ref() is not None] == []
    assert means.means() == {"loss": 49.5}


def test_values_that_are_not_scalars_are_not_averaged():
    means = EpochMeans()
    means.add({"loss": torch.tensor(1.0), "preds": torch.zeros(32, 1), "name": "a", "flag": True}, 32)
    means.add({"loss": torch.tensor([3.0])}, 32)  # a one-element tensor is a scalar
    assert means.means() == {"loss": 2.0}
