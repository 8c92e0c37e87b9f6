"""Lightning's module-side API on plain torch: ``LightningModule``, ``LightningDataModule``, ``seed_everything``.

Importing this package never imports Lightning.
"""

from fhooks.lightning.datamodule import LightningDataModule
from fhooks.lightning.module import LightningModule
from fhooks.lightning.seed import seed_everything

__all__ = ["LightningDataModule", "LightningModule", "seed_everything"]
