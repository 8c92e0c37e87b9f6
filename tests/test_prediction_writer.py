"""BasePredictionWriter and PredictionWriter on real predict runs: intervals, shapes, files on disk."""

from __future__ import annotations

import pytest
import torch

from fhooks import Trainer
from fhooks.callbacks.prediction_writer import BasePredictionWriter, PredictionWriter, batch_indices
from fhooks.errors import InvalidArgument
from tests.models import Regressor, loader


class Recording(BasePredictionWriter):
    def __init__(self, write_interval="batch"):
        super().__init__(write_interval)
        self.batches, self.epochs = [], []

    def write_on_batch_end(self, trainer, pl_module, prediction, batch_indices, batch, batch_idx, dataloader_idx):
        self.batches.append((tuple(prediction.shape), batch_indices, batch_idx, dataloader_idx))

    def write_on_epoch_end(self, trainer, pl_module, predictions, batch_indices):
        self.epochs.append((predictions, batch_indices))


def predict(writer, loaders):
    trainer = Trainer(callbacks=[writer], enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    return trainer, trainer.predict(Regressor(), loaders)


class TestIntervals:
    @pytest.mark.parametrize("interval, batches, epochs", [("batch", 3, 0), ("epoch", 0, 1), ("batch_and_epoch", 3, 1)])
    def test_which_methods_run(self, interval, batches, epochs):
        writer = Recording(interval)
        predict(writer, loader(6, 2))
        assert (len(writer.batches), len(writer.epochs)) == (batches, epochs)
        assert writer.interval == interval

    def test_epoch_predictions_are_what_predict_returns(self):
        writer = Recording("epoch")
        _, returned = predict(writer, loader(6, 2))
        predictions, _ = writer.epochs[0]
        assert len(predictions) == 3 and all(torch.equal(a, b) for a, b in zip(predictions, returned))

    def test_two_dataloaders_nest_per_loader(self):
        writer = Recording("batch_and_epoch")
        predict(writer, [loader(4, 2), loader(2, 2)])
        assert [(b[2], b[3]) for b in writer.batches] == [(0, 0), (1, 0), (0, 1)]
        predictions, indices = writer.epochs[0]
        assert [len(p) for p in predictions] == [2, 1] and len(indices) == 2

    def test_unknown_interval(self):
        with pytest.raises(InvalidArgument) as info:
            BasePredictionWriter("per_batch")
        assert str(info.value) == ("BasePredictionWriter: write_interval='per_batch' is not one of "
                                   "'batch', 'epoch', 'batch_and_epoch'")

    def test_base_methods_must_be_overridden(self):
        with pytest.raises(NotImplementedError, match="override write_on_batch_end"):
            predict(BasePredictionWriter("batch"), loader(2, 2))

    def test_indices_from_the_trainer_or_a_sequential_loader(self):
        class WithIndices:
            current_batch_indices = (4, 5)

        class WithLoaders:
            predict_dataloaders = [loader(5, 2)]

        assert batch_indices(WithIndices(), 0, 0) == [4, 5]
        assert [batch_indices(WithLoaders(), 0, i) for i in range(3)] == [[0, 1], [2, 3], [4]]
        assert batch_indices(object(), 0, 0) == []


class TestPredictionWriter:
    def test_per_batch_files(self, tmp_path):
        _, returned = predict(PredictionWriter(tmp_path), loader(6, 2))
        assert sorted(p.name for p in tmp_path.iterdir()) == [f"predictions_0_{i}.pt" for i in range(3)]
        for i, expected in enumerate(returned):
            assert torch.equal(torch.load(tmp_path / f"predictions_0_{i}.pt"), expected)

    def test_per_epoch_files(self, tmp_path):
        _, returned = predict(PredictionWriter(tmp_path / "out", write_interval="epoch"), loader(6, 2))
        saved = torch.load(tmp_path / "out" / "predictions.pt")
        assert len(saved) == 3 and all(torch.equal(a, b) for a, b in zip(saved, returned))
        assert isinstance(torch.load(tmp_path / "out" / "batch_indices.pt"), list)
        assert not [p for p in (tmp_path / "out").iterdir() if p.name.endswith(".tmp")]

    def test_repr(self):
        assert repr(PredictionWriter("preds")) == "PredictionWriter('preds')"
