"""fhooks.Trainer(strategy="ddp", devices=2) against Lightning's Trainer(strategy="ddp", devices=2) on CPU (gloo):
the same module and loader give the same final weights (DistributedSampler as Lightning puts it in, set_epoch
every epoch, gradients averaged). Both runs go in subprocesses with timeouts."""

from __future__ import annotations

import pytest
import torch

from tests.ddp_runs import run_script

pytest.importorskip("lightning")
pytestmark = pytest.mark.parity


def test_fhooks_ddp_ends_with_lightnings_ddp_weights(tmp_path):
    for mode in ("once", "lightning"):
        done = run_script(mode, tmp_path)
        assert done.returncode == 0, done.stdout[-4000:]
    ours, theirs = torch.load(tmp_path / "once-weights.pt"), torch.load(tmp_path / "lightning-weights.pt")
    assert ours.keys() == theirs.keys()
    for name in ours:
        torch.testing.assert_close(ours[name], theirs[name], atol=1e-6, rtol=0)
