"""ModelSummary: rows and totals against hand-counted parameters, sizes, and the table printed at fit start."""

from __future__ import annotations

import pytest
import torch

import fhooks.display  # noqa: F401  (registers the RenderSummary handler)
from fhooks import Trainer
from fhooks.callbacks.model_summary import ModelSummary
from fhooks.core import Event, fold
from fhooks.display.summary import LayerRow, format_summary, human_count, summarize
from fhooks.errors import InvalidArgument
from fhooks.hooks.model_summary import RenderSummary, model_summary
from tests.models import loader


class Known(torch.nn.Module):
    """Hand count: encoder Linear(4, 8) = 4*8 + 8 = 40; norm BatchNorm1d(8) = 8 + 8 = 16 (eval mode);
    head Linear(8, 2) = 8*2 + 2 = 18, frozen; scale: a root parameter of 3. Total 77, trainable 59."""

    def __init__(self, example: bool = False) -> None:
        super().__init__()
        self.encoder = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU())
        self.norm = torch.nn.BatchNorm1d(8).eval()
        self.head = torch.nn.Linear(8, 2)
        self.head.requires_grad_(False)
        self.scale = torch.nn.Parameter(torch.ones(3))
        if example:
            self.example_input_array = torch.zeros(5, 4)

    def forward(self, x):
        return self.head(self.norm(self.encoder(x))) * self.scale[0], x.sum()

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self(x)[0][:, :1], y)

    def configure_optimizers(self):
        return torch.optim.SGD([p for p in self.parameters() if p.requires_grad], lr=0.01)


class TestSummarize:
    def test_rows_and_totals_depth_one(self):
        s = summarize(Known())
        assert s.rows == (LayerRow("encoder", "Sequential", 40, "train"), LayerRow("norm", "BatchNorm1d", 16, "eval"),
                          LayerRow("head", "Linear", 18, "train"), LayerRow("other params", "n/a", 3, "n/a", "n/a", "n/a"))
        assert (s.trainable, s.non_trainable, s.total) == (59, 18, 77)
        assert s.size_mb == pytest.approx(77 * 4 * 1e-6)
        assert (s.train_modules, s.eval_modules) == (4, 1)

    def test_depth_two_and_all(self):
        names = [r.name for r in summarize(Known(), max_depth=2).rows]
        assert names == ["encoder", "encoder.0", "encoder.1", "norm", "head"]  # nested rows double-count: no "other"
        assert [r.params for r in summarize(Known(), max_depth=-1).rows] == [40, 40, 0, 16, 18]
        assert summarize(Known(), max_depth=0).rows == (LayerRow("other params", "n/a", 77, "n/a", "n/a", "n/a"),)

    def test_sizes_from_example_input_array(self):
        module = Known(example=True)
        module.train()
        rows = summarize(module, max_depth=2).rows
        assert [(r.name, r.in_size, r.out_size) for r in rows] == [
            ("encoder", [5, 4], [5, 8]), ("encoder.0", [5, 4], [5, 8]), ("encoder.1", [5, 8], [5, 8]),
            ("norm", [5, 8], [5, 8]), ("head", [5, 8], [5, 2])]
        assert module.training and module.norm.training  # modes restored after the example run

    def test_precision_changes_the_size(self):
        assert summarize(Known(), precision="bf16-mixed").size_mb == pytest.approx(77 * 4 * 1e-6)
        assert summarize(Known(), precision="64-true").size_mb == pytest.approx(77 * 8 * 1e-6)

    def test_text_table(self):
        assert format_summary(summarize(Known())) == "\n".join([
            "  | Name         | Type        | Params | Mode",
            "-----------------------------------------------",
            "0 | encoder      | Sequential  | 40     | train",
            "1 | norm         | BatchNorm1d | 16     | eval",
            "2 | head         | Linear      | 18     | train",
            "  | other params | n/a         | 3      | n/a",
            "-----------------------------------------------",
            "59        Trainable params",
            "18        Non-trainable params",
            "77        Total params",
            "0.000     Total estimated model params size (MB)",
            "4         Modules in train mode",
            "1         Modules in eval mode"])

    def test_text_table_with_sizes(self):
        text = format_summary(summarize(Known(example=True)))
        assert text.splitlines()[0] == "  | Name         | Type        | Params | Mode  | In sizes | Out sizes"
        assert text.splitlines()[4] == "2 | head         | Linear      | 18     | train | [5, 8]   | [5, 2]"

    @pytest.mark.parametrize("n, text", [(0, "0"), (123, "123"), (1000, "1.0 K"), (1234, "1.2 K"),
                                         (99_999, "100.0 K"), (100_000, "100 K"), (2_000_000, "2.0 M"),
                                         (3 * 10**9, "3.0 B"), (4 * 10**14, "400 T"), (5 * 10**15, "5,000 T")])
    def test_human_count(self, n, text):
        assert human_count(n) == text

    def test_lazy_parameters_count_zero(self):
        lazy = torch.nn.Sequential(torch.nn.LazyLinear(3))
        assert summarize(lazy).total == 0


class TestHook:
    def test_renders_at_fit_start_only(self):
        events = [Event("fit_start"), Event("fit_start", stage="validate"), Event("fit_start", rank=1)]
        assert fold(model_summary(), events)[1] == (RenderSummary(1, "plain"),)
        assert fold(model_summary(0), events)[1] == ()

    @pytest.mark.parametrize("depth", [-2, 1.0, True, "1"])
    def test_bad_max_depth(self, depth):
        with pytest.raises(InvalidArgument) as info:
            ModelSummary(max_depth=depth)
        assert str(info.value) == f"model_summary: max_depth={depth!r} must be an int >= -1 (-1: every layer, 0: no summary)"

    def test_bad_style(self):
        with pytest.raises(InvalidArgument, match=r"^model_summary: style='html' must be one of 'plain', 'rich'$"):
            model_summary(style="html")

    def test_printed_once_at_fit_start(self, capsys):
        trainer = Trainer(callbacks=[ModelSummary(max_depth=-1)], max_epochs=2, enable_checkpointing=False)
        trainer.fit(Known(), [(torch.randn(4, 4), torch.randn(4, 1))] * 2)
        out = capsys.readouterr().out
        assert out.count("Trainable params") == 1
        assert "1 | encoder.0 | Linear      | 40     | train" in out
        assert "77        Total params" in out

    def test_not_printed_for_validate(self, capsys):
        from tests.models import Regressor

        Trainer(callbacks=[ModelSummary()], enable_checkpointing=False).validate(Regressor(), loader(16))
        assert "Total params" not in capsys.readouterr().out
