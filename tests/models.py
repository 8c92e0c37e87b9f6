"""Small real modules and data for the trainer's tests."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, TensorDataset


def regression_data(n: int = 64, features: int = 4, seed: int = 0) -> TensorDataset:
    """A noisy linear regression problem, the same for a given seed."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=g)
    y = x @ torch.arange(1.0, features + 1).unsqueeze(1) + 0.1 * torch.randn(n, 1, generator=g)
    return TensorDataset(x, y)


def loader(n: int = 64, batch_size: int = 8, shuffle: bool = False, seed: int = 0) -> DataLoader:
    return DataLoader(regression_data(n, seed=seed), batch_size=batch_size, shuffle=shuffle)


class Regressor(torch.nn.Module):
    """A small MLP with dropout (so resume must restore RNG states) and Lightning's step methods."""

    def __init__(self, features: int = 4, hidden: int = 16, lr: float = 0.01, dropout: float = 0.1) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Linear(features, hidden), torch.nn.ReLU(),
                                       torch.nn.Dropout(dropout), torch.nn.Linear(hidden, 1))
        self.lr = lr

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        return {"val_loss": torch.nn.functional.mse_loss(self(x), y)}

    def test_step(self, batch, batch_idx):
        x, y = batch
        return {"test_loss": torch.nn.functional.mse_loss(self(x), y)}

    def predict_step(self, batch, batch_idx):
        return self(batch[0])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr, momentum=0.9)
