"""A tiny model and data for the docs' hidden setup blocks (see tests/test_docs_snippets.py).

A page that trains starts with::

    <!-- setup
    ```python
    from tests.docs_fixtures import *
    model, train_loader, val_loader = tiny_run()
    ```
    -->

so its shown blocks can say ``trainer.fit(model, train_loader, val_loader)`` and run in about a second.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import DataLoader, TensorDataset

import fhooks
from fhooks.loggers import CSVLogger

#: The docs folder, for pages that read a file kept beside them.
DOCS = Path(__file__).resolve().parent.parent / "docs"

__all__ = ["DOCS", "CSVLogger", "Classifier", "DataLoader", "TensorDataset", "fhooks", "tiny_data", "tiny_run", "torch"]


def tiny_data(n: int = 64, features: int = 4, seed: int = 0) -> TensorDataset:
    """Two separable classes: the label says whether the first two features sum above 0."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=g)
    return TensorDataset(x, (x[:, 0] + x[:, 1] > 0).long())


class Classifier(torch.nn.Module):
    """A ``backbone`` and a ``head``, with Lightning's method names; logs ``val_loss`` and ``val_acc``."""

    def __init__(self, features: int = 4, hidden: int = 16, lr: float = 0.05) -> None:
        super().__init__()
        self.backbone = torch.nn.Sequential(torch.nn.Linear(features, hidden), torch.nn.ReLU())
        self.head = torch.nn.Linear(hidden, 2)
        self.lr = lr

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.cross_entropy(self(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        return {"val_loss": torch.nn.functional.cross_entropy(logits, y),
                "val_acc": (logits.argmax(1) == y).float().mean()}

    def predict_step(self, batch, batch_idx):
        return self(batch[0]).argmax(1)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


def tiny_run(seed: int = 0) -> tuple[Classifier, DataLoader, DataLoader]:
    """A fresh ``(model, train_loader, val_loader)``: 2 training batches of 32, 1 validation batch."""
    torch.manual_seed(seed)
    model = Classifier()
    return model, DataLoader(tiny_data(64, seed=seed), batch_size=32), DataLoader(tiny_data(32, seed=seed + 1),
                                                                                    batch_size=32)
