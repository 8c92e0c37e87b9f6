"""Epoch means: weighted by batch size, exact in float64 (NaN and inf propagate), bounded in memory over long epochs."""

from __future__ import annotations

import math

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
    assert len(means.pending.get("loss", ((), ()))[0]) < EpochMeans.chunk


@settings(max_examples=30, deadline=None)
@given(items, st.integers(0, 700))
def test_a_checkpoint_in_the_middle_keeps_the_mean(added, cut):
    means = EpochMeans()
    for i, (value, weight, as_tensor) in enumerate(added):
        means.add({"loss": torch.tensor(value) if as_tensor else value}, weight)
        if i == cut:
            means = EpochMeans.from_plain(means.to_plain())
    assert same(means.means()["loss"], weighted_mean(added))


def test_a_long_epoch_keeps_a_bounded_number_of_tensors():
    means = EpochMeans()
    for i in range(10_000):
        means.add({"loss": torch.tensor(float(i))}, 2)
    assert len(means.pending.get("loss", ((), ()))[0]) < EpochMeans.chunk
    assert means.means() == {"loss": 4999.5}
