"""Make docs/images/replay.png and docs/images/digits_metrics.csv: a real logged run, replayed.

Trains the quickstart's digit classifier for 30 epochs with no stop rule (seeded, CPU, about 30 s), keeps the
metrics.csv it logged, then replays ``early_stopping("val_loss", patience=3)`` with a ``save_top_k=2`` checkpoint
over it and draws the picture. Run from the repository root:

    python scripts/make_replay_png.py
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import torch
from torch.utils.data import DataLoader

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "examples")]

from fhooks import Trainer, replay, sequence  # noqa: E402
from fhooks.hooks import early_stopping, model_checkpoint  # noqa: E402
from quickstart import DigitClassifier, digits  # noqa: E402

IMAGES = ROOT / "docs" / "images"


def logged_run(folder: Path) -> Path:
    """Train 30 epochs with no stop rule; the metrics.csv the run logged."""
    torch.manual_seed(0)
    train, val, _ = digits()
    model = DigitClassifier()
    trainer = Trainer(max_epochs=30, default_root_dir=folder, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False)
    trainer.fit(model, DataLoader(train, batch_size=32, shuffle=True), DataLoader(val, batch_size=256))
    return Path(trainer.log_dir) / "metrics.csv"


def main() -> None:
    IMAGES.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        shutil.copyfile(logged_run(Path(folder)), IMAGES / "digits_metrics.csv")
    policy = sequence(model_checkpoint(monitor="val_loss", save_top_k=2), early_stopping("val_loss", patience=3))
    report = replay(policy, IMAGES / "digits_metrics.csv")
    report.plot(path=IMAGES / "replay.png")
    print(report)
    print(f"wrote {IMAGES / 'replay.png'} and {IMAGES / 'digits_metrics.csv'}")


if __name__ == "__main__":
    main()
