"""``fhooks.LightningDataModule``: Lightning's data module on plain torch."""

from __future__ import annotations

from typing import Any

from fhooks.lightning.hooks import DataHooks
from fhooks.lightning.hparams import HyperparametersMixin


class LightningDataModule(HyperparametersMixin, DataHooks):
    """Loaders and their preparation in one object: ``prepare_data``, ``setup(stage)``, ``*_dataloader``.

    >>> import torch
    >>> class Numbers(LightningDataModule):
    ...     def __init__(self, n: int = 8):
    ...         super().__init__()
    ...         self.save_hyperparameters()
    ...     def setup(self, stage):
    ...         self.data = torch.arange(self.hparams.n, dtype=torch.float32)
    ...     def train_dataloader(self):
    ...         return torch.utils.data.DataLoader(self.data, batch_size=4)
    >>> dm = Numbers()
    >>> dm.setup("fit")
    >>> [batch.tolist() for batch in dm.train_dataloader()]
    [[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0]]
    """

    _fhooks_base = True

    name: str | None = None

    def __init__(self) -> None:
        self.trainer: Any = None
