"""The rich progress bar and model summary on a real run: an MLP on scikit-learn's handwritten digits.

    pip install 'fhooks[examples]'
    python examples/rich_progress.py

Runtime: 12 s (measured on 2 shared CPU cores, torch 2.13 CPU). Seeded before the
model is built, so every run gives the same test accuracy (0.963). In a terminal the
bar moves; in a log file rich prints the final state of each bar once.
"""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, TensorDataset

import fhooks.display  # noqa: F401  (registers the renderers, until the trainer imports them itself)
from fhooks import Trainer
from fhooks.callbacks.model_summary import RichModelSummary
from fhooks.callbacks.progress import RichProgressBar, RichProgressBarTheme


class DigitsMLP(torch.nn.Module):
    """64 pixels -> 128 -> 64 -> 10 classes, with dropout."""

    def __init__(self) -> None:
        super().__init__()
        self.features = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Dropout(0.1),
                                            torch.nn.Linear(128, 64), torch.nn.ReLU())
        self.classifier = torch.nn.Linear(64, 10)
        self.example_input_array = torch.zeros(32, 64)  # gives the summary its In/Out sizes columns

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.cross_entropy(self(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        return {"val_loss": torch.nn.functional.cross_entropy(logits, y),
                "val_acc": (logits.argmax(1) == y).float().mean()}

    def test_step(self, batch, batch_idx):
        x, y = batch
        return {"test_acc": (self(x).argmax(1) == y).float().mean()}

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=3e-3)


def loaders() -> tuple[DataLoader, DataLoader, DataLoader]:
    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x / 16.0, dtype=torch.float32)
    y = torch.tensor(y)
    x_train, x_rest, y_train, y_rest = train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)
    x_val, x_test, y_val, y_test = train_test_split(x_rest, y_rest, test_size=0.5, random_state=0, stratify=y_rest)
    generator = torch.Generator().manual_seed(0)
    return (DataLoader(TensorDataset(x_train, y_train), batch_size=32, shuffle=True, generator=generator),
            DataLoader(TensorDataset(x_val, y_val), batch_size=128),
            DataLoader(TensorDataset(x_test, y_test), batch_size=128))


def main() -> None:
    torch.set_num_threads(2)
    torch.manual_seed(0)  # before the model is built: the same weights, dropout and accuracy on every run
    model = DigitsMLP()
    train, val, test = loaders()
    bar = RichProgressBar(leave=True, theme=RichProgressBarTheme(metrics="italic green"))
    trainer = Trainer(callbacks=[bar, RichModelSummary(max_depth=2)], max_epochs=6, enable_checkpointing=False)
    trainer.fit(model, train, val)
    accuracy = trainer.test(trainer.module, test)[0]["test_acc"]
    print(f"test accuracy: {accuracy:.3f}")


if __name__ == "__main__":
    main()
