"""Epoch means: weighted by batch size, exact in float64, and bounded in memory over long epochs."""

from __future__ import annotations

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fhooks.trainer.outputs import EpochMeans

values = st.floats(-1e6, 1e6, allow_nan=False, width=32)
items = st.lists(st.tuples(values, st.integers(1, 64), st.booleans()), min_size=1, max_size=700)


@settings(max_examples=60, deadline=None)
@given(items)
def test_means_equal_the_weighted_mean_of_what_was_added(added):
    means = EpochMeans()
    for value, weight, as_tensor in added:
        means.add({"loss": torch.tensor(value) if as_tensor else value}, weight)
    expected = math.fsum(v * w for v, w, _ in added) / sum(w for _, w, _ in added)
    assert math.isclose(means.means()["loss"], expected, rel_tol=1e-9, abs_tol=1e-6)
    assert len(means.values["loss"]) <= EpochMeans.chunk + 1


@settings(max_examples=30, deadline=None)
@given(items, st.integers(0, 700))
def test_a_checkpoint_in_the_middle_keeps_the_mean(added, cut):
    means = EpochMeans()
    for i, (value, weight, as_tensor) in enumerate(added):
        means.add({"loss": torch.tensor(value) if as_tensor else value}, weight)
        if i == cut:
            means = EpochMeans.from_plain(means.to_plain())
    expected = math.fsum(v * w for v, w, _ in added) / sum(w for _, w, _ in added)
    assert math.isclose(means.means()["loss"], expected, rel_tol=1e-9, abs_tol=1e-6)


def test_a_long_epoch_keeps_a_bounded_number_of_tensors():
    means = EpochMeans()
    for i in range(10_000):
        means.add({"loss": torch.tensor(float(i))}, 2)
    assert len(means.values["loss"]) <= EpochMeans.chunk + 1
    assert means.means() == {"loss": 4999.5}
