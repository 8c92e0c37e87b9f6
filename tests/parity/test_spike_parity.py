"""SpikeDetection against Lightning 2.5.6: decisions on scripted loss streams, and a real fit in both trainers."""

from __future__ import annotations

import json
import math
import types
import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import fhooks
import fhooks.trainer.files  # noqa: F401 - registers the WriteJson handler
from fhooks.callbacks import SpikeDetection, TrainingSpikeException
from fhooks.core import Event, Raise, fold
from fhooks.hooks import WriteJson, spike_detection

L = pytest.importorskip("lightning")
from lightning.fabric.utilities import spike as fabric_spike  # noqa: E402
from lightning.pytorch.callbacks.spike import SpikeDetection as LightningSpikeDetection  # noqa: E402

pytestmark = pytest.mark.parity

# Multiples of 1/4 add up exactly, so Lightning's sums and ours agree to the bit.
VALUES = [0.0, 0.25, 0.5, 1.0, 1.0, 1.5, 2.0, 3.0, 4.0, 8.0, 16.0, -1.0, math.nan, math.inf, -math.inf]
configs = st.fixed_dictionaries({
    "mode": st.sampled_from(["min", "max"]),
    "window": st.integers(1, 5),
    "warmup": st.integers(0, 3),
    "atol": st.sampled_from([None, 0.5, 2.0, -1.0]),
    "rtol": st.sampled_from([None, 2.0, 0.5, 0.0]),
    "finite_only": st.booleans(),
})
epochs = st.lists(st.lists(st.sampled_from(VALUES), min_size=1, max_size=8), min_size=1, max_size=3)


@pytest.fixture(autouse=True)
def float64():
    """Lightning keeps its running mean in the default dtype: use float64 so only the rule is compared."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def fabric_decisions(config, epochs_of_losses, path):
    detector = fabric_spike.SpikeDetection(exclude_batches_path=str(path), **config)
    strategy = types.SimpleNamespace(root_device=torch.device("cpu"), barrier=lambda: None,
                                     reduce_boolean_decision=lambda decision, all=True: decision)
    fabric = types.SimpleNamespace(strategy=strategy, global_rank=0)
    raised, files = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for losses in epochs_of_losses:
            for i, loss in enumerate(losses):
                try:
                    detector.on_train_batch_end(fabric, torch.tensor(loss), None, i)
                except fabric_spike.TrainingSpikeException as error:
                    raised.append(int(str(error).rsplit(" ", 1)[1]))
                    files.append(json.loads(path.read_text()))
    return raised, files, detector.bad_batches


def fhooks_decisions(config, epochs_of_losses):
    events = [Event("train_batch_end", epoch=e, batch_idx=i, metrics={"loss": x})
              for e, losses in enumerate(epochs_of_losses) for i, x in enumerate(losses)]
    state, effects = fold(spike_detection(**config), events)
    raised = [e.error.batch_idx for e in effects if isinstance(e, Raise)]
    files = [list(e.data) for e in effects if isinstance(e, WriteJson)]
    return raised, files, list(state.bad_batches)


@settings(max_examples=200, deadline=None)
@given(configs, epochs)
def test_same_decisions_as_lightnings_detector(tmp_path_factory, config, epochs_of_losses):
    path = tmp_path_factory.mktemp("spike") / "skip.json"
    assert fhooks_decisions(config, epochs_of_losses) == fabric_decisions(config, epochs_of_losses, path)


@pytest.mark.parametrize(("config", "losses", "spike_at"), [
    ({}, [[1.0, 3.0]], [1]),
    ({}, [[1.0, 2.875]], []),
    ({"warmup": 2, "rtol": 0.5}, [[15.5, 1.0, 2.0]], [2]),
    ({"finite_only": False}, [[1.0, -math.inf, math.nan, 1.0, math.inf]], [4]),
    ({"warmup": 2}, [[1.0, 1.0, 1.0], [50.0, 1.0, 50.0]], [2]),
])
def test_known_streams(tmp_path, config, losses, spike_at):
    expected = fabric_decisions(config, losses, tmp_path / "skip.json")
    assert expected[0] == spike_at
    assert fhooks_decisions(config, losses) == expected


class Scripted(torch.nn.Module):
    """A module whose training loss is the next value of a script (the parameter gets zero gradients)."""

    def __init__(self, losses):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.losses, self.calls = losses, 0

    def training_step(self, batch, batch_idx):
        value = self.losses[self.calls]
        self.calls += 1
        return torch.tensor(value, dtype=torch.float32) + 0.0 * self.w.sum()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


class LightningScripted(L.LightningModule):
    def __init__(self, losses):
        super().__init__()
        self.inner = Scripted(losses)

    def training_step(self, batch, batch_idx):
        return self.inner.training_step(batch, batch_idx)

    def configure_optimizers(self):
        return self.inner.configure_optimizers()


QUIET = dict(enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
             num_sanity_val_steps=0, accelerator="cpu", max_epochs=3, limit_train_batches=4)


def data():
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.zeros(16, 1)), batch_size=4)


@pytest.mark.parametrize(("kwargs", "losses", "batch"), [
    ({}, [1.0, 1.0, 0.5, 1.0, 1.0, 1.0, 4.0, 1.0] + [1.0] * 4, 2),
    ({"warmup": 2, "window": 2}, [1.0] * 4 + [9.0, 1.0, 1.0, 9.0] + [1.0] * 4, 3),
])
def test_a_real_fit_stops_at_the_same_batch_with_the_same_file(tmp_path, kwargs, losses, batch):
    torch.set_default_dtype(torch.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = L.Trainer(callbacks=[LightningSpikeDetection(**kwargs)], logger=False,
                            default_root_dir=tmp_path / "lightning", **QUIET)
        with pytest.raises(fabric_spike.TrainingSpikeException, match=f"batch {batch}$"):
            trainer.fit(LightningScripted(losses), data())
    ours = SpikeDetection(**kwargs)
    trainer = fhooks.Trainer(callbacks=[ours], default_root_dir=tmp_path / "fhooks", **QUIET)
    with pytest.raises(TrainingSpikeException, match=f"batch {batch}$"):
        trainer.fit(Scripted(losses), data())
    expected = json.loads((tmp_path / "lightning" / "skip_batches.json").read_text())
    assert json.loads((tmp_path / "fhooks" / "skip_batches.json").read_text()) == expected == ours.bad_batches
