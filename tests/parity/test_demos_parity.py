"""The models in ``lightning.pytorch.demos`` train unchanged on ``fhooks.Trainer``, as on Lightning's.

``LightningLSTM`` would download WikiText-2; it gets synthetic tokens instead, and a smaller ``SimpleLSTM``
(its own code otherwise).
"""

from __future__ import annotations

import pytest
import torch

from tests.parity.lightning_code import compare, loader, trainer_args

demos = pytest.importorskip("lightning.pytorch.demos")

pytestmark = pytest.mark.parity


def test_boring_model(tmp_path):
    def program(pl):
        torch.manual_seed(0)
        module = demos.BoringModel()
        trainer = pl.Trainer(**trainer_args(pl, max_epochs=2, limit_train_batches=8, limit_val_batches=4,
                                            log_every_n_steps=2))
        trainer.fit(module)
        trainer.weights = module.layer.weight.detach().clone()
        return trainer

    ours, theirs = compare(tmp_path, program)
    assert ours.step == 16 and torch.allclose(ours.trainer.weights, theirs.trainer.weights, atol=1e-6)
    assert ours.files == ["logs/lightning_logs/version_0/checkpoints/epoch=1-step=16.ckpt"]


def test_demo_model_with_a_logging_subclass(tmp_path):
    def program(pl):
        class Logged(demos.DemoModel):
            def training_step(self, batch, batch_nb):
                loss = super().training_step(batch, batch_nb)
                self.log("train_loss", loss, prog_bar=True, on_epoch=True)
                return loss

        torch.manual_seed(0)
        data = torch.utils.data.DataLoader(demos.boring_classes.RandomDataset(32, 24), batch_size=4)
        trainer = pl.Trainer(**trainer_args(pl, max_epochs=2, log_every_n_steps=2))
        trainer.fit(Logged(), data)
        return trainer

    ours, _ = compare(tmp_path, program)
    assert ours.step == 12 and {"train_loss_step", "train_loss_epoch"} <= set(ours.header)


class SyntheticTokens(torch.utils.data.Dataset):
    """Token pairs (input, next token) as WikiText2 gives them, from a fixed random sequence."""

    def __init__(self, vocab_size: int = 40, length: int = 400, block_size: int = 10) -> None:
        self.data = torch.randint(vocab_size, (length + 1,), generator=torch.Generator().manual_seed(0))
        self.block_size = block_size

    def __len__(self) -> int:
        return (len(self.data) - 1) // self.block_size

    def __getitem__(self, index: int):
        start = index * self.block_size
        return self.data[start:start + self.block_size], self.data[start + 1:start + self.block_size + 1]


def test_lightning_lstm_on_synthetic_tokens(tmp_path):
    from lightning.pytorch.demos.lstm import LightningLSTM, SequenceSampler, SimpleLSTM

    class SyntheticLSTM(LightningLSTM):
        def __init__(self, vocab_size: int):
            super().__init__(vocab_size)
            self.model = SimpleLSTM(vocab_size, ninp=16, nhid=16, nlayers=2)  # the demo's, smaller, to stay fast

        def prepare_data(self):
            pass  # WikiText2 would be downloaded here

        def train_dataloader(self):
            dataset = SyntheticTokens()
            return torch.utils.data.DataLoader(dataset, batch_sampler=SequenceSampler(dataset, batch_size=4))

    def program(pl):
        torch.manual_seed(0)
        trainer = pl.Trainer(**trainer_args(pl, max_epochs=1, log_every_n_steps=2, gradient_clip_val=0.25))
        trainer.fit(SyntheticLSTM(vocab_size=40))
        return trainer

    ours, _ = compare(tmp_path, program)
    assert ours.step == 10 and len([r for r in ours.rows if "train_loss" in r]) == 5


def test_a_lightning_module_and_datamodule_of_lightnings_own_on_fhooks_trainer(tmp_path):
    """Lightning's own base classes, fhooks' trainer and callbacks: the same run as under Lightning's trainer."""
    import lightning.pytorch as lp

    class Data(lp.LightningDataModule):
        def setup(self, stage):
            self.train_set, self.val_set = loader(40, 1).dataset, loader(22, 1, seed=1).dataset

        def train_dataloader(self):
            return torch.utils.data.DataLoader(self.train_set, batch_size=8)

        def val_dataloader(self):
            return torch.utils.data.DataLoader(self.val_set, batch_size=8)

    class Model(lp.LightningModule):
        def __init__(self, lr: float = 0.02):
            super().__init__()
            self.save_hyperparameters()
            torch.manual_seed(0)
            self.layer = torch.nn.Linear(4, 1)

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.layer(x), y)
            self.log("train_loss", loss, on_step=True, on_epoch=True, prog_bar=True)
            return loss

        def validation_step(self, batch, batch_idx):
            x, y = batch
            self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x), y))

        def on_train_epoch_end(self):
            self.log("epoch_seen", float(self.current_epoch + 10 * self.trainer.current_epoch))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    def program(pl):
        trainer = pl.Trainer(**trainer_args(pl, max_epochs=20, log_every_n_steps=2,
                                            callbacks=[pl.EarlyStopping("val_loss", patience=1, min_delta=0.1)]))
        trainer.fit(Model(), datamodule=Data())
        return trainer

    ours, _ = compare(tmp_path, program)
    assert ours.epoch < 20 and isinstance(ours.trainer.callback_metrics["val_loss"], torch.Tensor)


def test_lightning_transformer_on_synthetic_tokens(tmp_path):
    from lightning.pytorch.demos.transformer import LightningTransformer, Transformer

    class SyntheticTransformer(LightningTransformer):
        def __init__(self, vocab_size: int):
            super().__init__(vocab_size)
            self.model = Transformer(vocab_size, ninp=8, nhead=2, nhid=8, nlayers=1)  # the demo's, smaller

        def prepare_data(self):
            pass  # WikiText2 would be downloaded here

        def train_dataloader(self):
            return torch.utils.data.DataLoader(SyntheticTokens(length=100), batch_size=2)

        def on_train_batch_end(self, outputs, batch, batch_idx):
            self.log("train_loss", outputs["loss"])

    def program(pl):
        torch.manual_seed(0)
        trainer = pl.Trainer(**trainer_args(pl, max_epochs=1, log_every_n_steps=1))
        trainer.fit(SyntheticTransformer(vocab_size=40))
        return trainer

    ours, _ = compare(tmp_path, program)
    assert ours.step == 5 and len(ours.rows) == 5


def test_boring_model_with_the_boring_datamodule_through_every_stage(tmp_path):
    def program(pl):
        torch.manual_seed(0)
        trainer = pl.Trainer(**trainer_args(pl, max_epochs=1, limit_train_batches=4, limit_val_batches=2,
                                            limit_test_batches=2, limit_predict_batches=2))
        module, data = demos.BoringModel(), demos.BoringDataModule()
        trainer.fit(module, datamodule=data)
        trainer.validate(module, datamodule=data)
        trainer.test(module, datamodule=data)
        trainer.predictions = trainer.predict(module, datamodule=data)
        return trainer

    ours, theirs = compare(tmp_path, program)
    assert len(ours.trainer.predictions) == len(theirs.trainer.predictions) == 2
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(ours.trainer.predictions, theirs.trainer.predictions))
