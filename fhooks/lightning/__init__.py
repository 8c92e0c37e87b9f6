"""fhooks and Lightning: the module-side API on plain torch, and fhooks inside Lightning's own Trainer.

``LightningModule``, ``LightningDataModule`` and ``seed_everything`` need torch only, so swapping
``import lightning.pytorch as L`` for ``import fhooks as L`` runs typical Lightning code on
:class:`fhooks.Trainer`; :func:`as_callback` runs a hook expression inside Lightning's Trainer.
Importing this package never imports Lightning: only calling :func:`as_callback` does.

>>> import fhooks.lightning
>>> callable(fhooks.lightning.as_callback)
True
"""

from fhooks.lightning.callback import as_callback
from fhooks.lightning.datamodule import LightningDataModule
from fhooks.lightning.module import LightningModule
from fhooks.lightning.seed import seed_everything

__all__ = ["LightningDataModule", "LightningModule", "as_callback", "seed_everything"]
