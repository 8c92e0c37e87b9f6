"""``self.log``'s reductions, by property: what a Results collection gives at an epoch's end for any values."""

from __future__ import annotations

import math

import torch
from hypothesis import given
from hypothesis import strategies as st

from fhooks.trainer.results import Results

values = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, width=32)
batches = st.lists(st.tuples(values, st.integers(min_value=1, max_value=64)), min_size=1, max_size=30)


def logged(batches, **options):
    """The epoch value and the last step value of one name logged once per batch."""
    results = Results(training=True)
    for value, size in batches:
        results.start_batch((torch.zeros(size, 2),))
        results.log("training_step", "x", torch.tensor(value), on_step=True, on_epoch=True, **options)
    return results.metrics(on_step=False).callback, results.metrics(on_step=True).callback


@given(batches)
def test_the_epoch_mean_is_weighted_by_the_inferred_batch_size(batches):
    epoch, step = logged(batches)
    expected = sum(v * n for v, n in batches) / sum(n for _, n in batches)
    assert math.isclose(float(epoch["x_epoch"]), expected, rel_tol=1e-4, abs_tol=1e-2)
    assert float(epoch["x"]) == float(epoch["x_epoch"]) and float(step["x_step"]) == batches[-1][0]


@given(batches, st.sampled_from(["sum", "max", "min"]))
def test_sum_max_min_ignore_batch_sizes(batches, reduce_fx):
    epoch, _ = logged(batches, reduce_fx=reduce_fx)
    plain = [v for v, _ in batches]
    expected = {"sum": sum(plain), "max": max(plain), "min": min(plain)}[reduce_fx]
    assert math.isclose(float(epoch["x_epoch"]), expected, rel_tol=1e-4, abs_tol=1e-2)


@given(batches, st.integers(min_value=1, max_value=9))
def test_a_given_batch_size_wins_over_the_inferred_one(batches, size):
    results = Results(training=False)
    for value, inferred in batches:
        results.start_batch((torch.zeros(inferred, 2),))
        results.log("validation_step", "v", torch.tensor(value), batch_size=size)
    expected = sum(v for v, _ in batches) / len(batches)
    assert math.isclose(float(results.metrics(on_step=False).callback["v"]), expected, rel_tol=1e-4, abs_tol=1e-2)


@given(batches)
def test_a_reset_forgets_everything_until_the_next_log(batches):
    results = Results(training=True)
    for value, size in batches:
        results.start_batch((torch.zeros(size, 2),))
        results.log("training_step", "x", torch.tensor(value))
    results.reset()
    assert results.metrics(on_step=True) == results.metrics(on_step=False) == ({}, {}, {})


special = st.one_of(values, st.sampled_from([math.nan, math.inf, -math.inf, 0.0, 1.0]))  # ties, NaN, both infinities
special_batches = st.lists(st.tuples(special, st.integers(min_value=1, max_value=64)), min_size=1, max_size=30)


def same_number(got: float, expected: float) -> bool:
    if math.isnan(expected) or math.isinf(expected):
        return (math.isnan(got) and math.isnan(expected)) or got == expected
    return math.isclose(got, expected, rel_tol=1e-4, abs_tol=1e-2)


@given(special_batches, st.sampled_from(["mean", "sum", "max", "min"]))
def test_nan_and_infinities_reduce_as_torch_reduces_them(batches, reduce_fx):
    epoch, step = logged(batches, reduce_fx=reduce_fx)
    plain = torch.tensor([v for v, _ in batches], dtype=torch.float64)
    sizes = torch.tensor([n for _, n in batches], dtype=torch.float64)
    expected = {"mean": lambda: (plain * sizes).sum() / sizes.sum(), "sum": plain.sum, "max": plain.max,
                "min": plain.min}[reduce_fx]()
    assert same_number(float(epoch["x_epoch"]), float(expected)), (float(epoch["x_epoch"]), float(expected))
    last = batches[-1][0]
    assert same_number(float(step["x_step"]), last)
