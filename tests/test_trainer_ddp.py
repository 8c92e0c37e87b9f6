"""fhooks.Trainer under DDP on CPU (gloo, 2 processes): the same weights as one process over the same samples,
one set of files, stops agreed by every rank, exact resume, a dead rank fails the others; and the arguments.

The multi-process runs go through ``trainer_ddp_script.py`` in subprocesses with timeouts (see ``ddp_runs.py``).
"""

from __future__ import annotations

import csv
import json
import sys
from datetime import timedelta

import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler

import fhooks
from fhooks import DDPStrategy
from fhooks.errors import InvalidArgument
from fhooks.trainer.strategies import SingleDeviceStrategy
from tests.ddp_runs import ROOT, rank_reports, run_command, run_script

pytest.importorskip("lightning")  # the script's module is a LightningModule, run by fhooks.Trainer
from tests import trainer_ddp_script as script


@pytest.fixture(scope="module")
def fit_run(tmp_path_factory):
    """One run of the script's ``fit`` mode: a fit, a resume from a mid-epoch checkpoint, a stop on rank 1."""
    folder = tmp_path_factory.mktemp("ddp_fit")
    done = run_script("fit", folder)
    assert done.returncode == 0, done.stdout[-4000:]
    return folder


def one_process_batch_32():
    """The same samples in the same order on one process: each step reads the union of the ranks' batches of 16."""
    data = script.dataset()
    order = DistributedSampler(data, num_replicas=1, rank=0, shuffle=True, seed=0)  # the ranks' sampler, undivided
    trainer = fhooks.Trainer(max_epochs=script.EPOCHS, logger=False, enable_checkpointing=False,
                             enable_progress_bar=False, enable_model_summary=False)
    module = script.Net()
    trainer.fit(module, DataLoader(data, batch_size=2 * script.BATCH, sampler=order))
    return module.state_dict()


def assert_same_weights(got, expected):
    assert got.keys() == expected.keys()
    for name in got:
        torch.testing.assert_close(got[name], expected[name], atol=1e-6, rtol=0)


def test_two_processes_with_batch_16_train_as_one_with_batch_32(fit_run):
    rank0, rank1 = rank_reports(fit_run, "fit")
    assert rank0["weights"] == rank1["weights"]
    assert rank0["global_step"] == rank1["global_step"] == 6
    assert_same_weights(torch.load(fit_run / "fit-weights.pt"), one_process_batch_32())


def test_ranks_know_their_place_hooks_hear_it_and_rank_zero_keeps_rank_zeros_effects(fit_run):
    rank0, rank1 = rank_reports(fit_run, "fit")
    assert [rank0["rank"], rank0["local_rank"], rank0["world_size"], rank0["is_global_zero"]] == [0, 0, 2, True]
    assert [rank1["rank"], rank1["local_rank"], rank1["world_size"], rank1["is_global_zero"]] == [1, 1, 2, False]
    # fit_start: event.rank, RunInfo.world_size, RunInfo.global_rank; then what only rank zero's effects did
    assert rank0["events"] == [[0, 2, 0], "rank zero's"]
    assert rank1["events"] == [[1, 2, 1]]


def test_sync_dist_averages_over_the_ranks(fit_run):
    rank0, rank1 = (r["callback_metrics"] for r in rank_reports(fit_run, "fit"))
    assert rank0["train_loss_epoch"] == rank1["train_loss_epoch"]
    assert rank0["local_loss"] != rank1["local_loss"]  # logged without sync_dist: each rank's own half
    assert rank0["train_loss_epoch"] == pytest.approx((rank0["local_loss"] + rank1["local_loss"]) / 2, rel=1e-6)


def test_one_set_of_files_written_by_rank_zero(fit_run):
    logs = fit_run / "runs" / "lightning_logs"
    assert sorted(p.name for p in logs.iterdir()) == ["version_0"]
    checkpoints = sorted(p.name for p in (logs / "version_0" / "checkpoints").iterdir())
    assert checkpoints == [".fhooks-ledger"] + [f"step={s}.ckpt" for s in range(1, 7)]
    with open(logs / "version_0" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows if r["train_loss_step"]] == list(range(6))  # once per step, not per rank


def test_resume_from_a_mid_epoch_checkpoint_under_ddp_is_exact(fit_run):
    resumed0, resumed1 = rank_reports(fit_run, "resume")
    assert resumed0["global_step"] == resumed1["global_step"] == 6
    assert_same_weights(torch.load(fit_run / "resume-weights.pt"), torch.load(fit_run / "fit-weights.pt"))
    assert sorted(p.name for p in (fit_run / "resumed" / "checkpoints").iterdir()) == (
        [".fhooks-ledger", "step=5.ckpt", "step=6.ckpt"])


def test_a_stop_on_rank_one_only_stops_both_at_the_same_step(fit_run):
    rank0, rank1 = rank_reports(fit_run, "stop")
    assert rank0["global_step"] == rank1["global_step"] == 3
    assert rank1["stop_reason"] == "rank 1 saw step 3"
    assert rank0["stop_reason"] == "another rank asked to stop"
    assert rank0["weights"] == rank1["weights"]


def test_a_killed_rank_makes_the_other_fail_within_a_minute(tmp_path):
    done = run_script("kill", tmp_path, timeout=60)
    assert done.returncode != 0
    assert "DistributedError: rank 0: another process of the DDP run failed" in done.stdout, done.stdout[-3000:]


def test_ddp_spawn_brings_rank_zeros_weights_back(tmp_path):
    done = run_script("spawn", tmp_path)
    assert done.returncode == 0, done.stdout[-4000:]
    report = json.loads((tmp_path / "spawn-rank0.json").read_text())  # written by the caller, after the spawn
    assert report["global_step"] == 6
    assert_same_weights(torch.load(tmp_path / "spawn-weights.pt"), one_process_batch_32())


def test_torchrun_runs_the_example(tmp_path):
    done = run_command([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                        str(ROOT / "examples" / "ddp.py"), "--epochs", "2"], tmp_path, timeout=90)
    assert done.returncode == 0, done.stdout[-4000:]
    assert "world_size=2 global_step=16" in done.stdout
    assert sorted(p.name for p in (tmp_path / "lightning_logs").iterdir()) == ["version_0"]


# -- the arguments -------------------------------------------------------------------------------
def test_one_device_by_default():
    trainer = fhooks.Trainer(accelerator="cpu")
    assert isinstance(trainer.strategy, SingleDeviceStrategy)
    assert (trainer.world_size, trainer.num_devices, trainer.num_nodes, trainer.device_ids) == (1, 1, 1, [0])
    assert (trainer.global_rank, trainer.local_rank, trainer.node_rank, trainer.is_global_zero) == (0, 0, 0, True)
    assert trainer.accelerator == "cpu"


def test_several_devices_mean_ddp_never_one_device_silently():
    trainer = fhooks.Trainer(accelerator="cpu", devices=4)
    assert isinstance(trainer.strategy, DDPStrategy)
    assert (trainer.world_size, trainer.num_devices) == (4, 4)
    assert trainer.strategy.backend == "gloo"
    two_nodes = fhooks.Trainer(accelerator="cpu", devices=2, num_nodes=3, strategy="ddp_spawn")
    assert two_nodes.world_size == 6 and two_nodes.strategy.start_method == "spawn"


def test_strategy_options():
    options = DDPStrategy(find_unused_parameters=True, static_graph=True, timeout=timedelta(seconds=5))
    trainer = fhooks.Trainer(accelerator="cpu", devices=2, strategy=options)
    assert trainer.strategy is options
    assert (options.find_unused_parameters, options.static_graph, options.timeout) == (True, True, timedelta(seconds=5))


@pytest.mark.parametrize("arguments, message", [
    ({"devices": 0}, "devices=0"),
    ({"devices": [0, 1]}, "devices=[0, 1] with accelerator='cpu'"),
    ({"devices": "many"}, "devices='many'"),
    ({"strategy": "fsdp"}, "strategy='fsdp'; accepted: 'auto', 'ddp', 'ddp_spawn'"),
    ({"strategy": "single_device", "devices": 2}, "strategy='single_device' runs one process"),
    ({"num_nodes": 0}, "num_nodes=0"),
    ({"sync_batchnorm": "yes"}, "sync_batchnorm='yes'"),
    ({"sync_batchnorm": True, "devices": 2}, "SyncBatchNorm runs on CUDA only"),
])
def test_bad_distribution_arguments_are_refused_at_construction(arguments, message):
    with pytest.raises(InvalidArgument, match=message.replace("[", r"\[").replace("]", r"\]")):
        fhooks.Trainer(accelerator="cpu", **arguments)


def test_bad_strategy_options_are_refused():
    with pytest.raises(InvalidArgument, match="timeout=-1"):
        DDPStrategy(timeout=-1)
    with pytest.raises(InvalidArgument, match="start_method='fork'"):
        DDPStrategy(start_method="fork")


TORCHRUN_RANK_1 = {"RANK": "1", "LOCAL_RANK": "1", "GROUP_RANK": "0", "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2",
                   "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}


def test_under_torchrun_the_trainer_takes_the_world_it_finds(monkeypatch):
    for name, value in TORCHRUN_RANK_1.items():
        monkeypatch.setenv(name, value)
    trainer = fhooks.Trainer(accelerator="cpu")  # devices="auto": torchrun's processes per node
    assert isinstance(trainer.strategy, DDPStrategy)
    assert (trainer.global_rank, trainer.local_rank, trainer.world_size, trainer.is_global_zero) == (1, 1, 2, False)
    with pytest.raises(InvalidArgument, match="makes 3 processes, but torchelastic started 2"):
        fhooks.Trainer(accelerator="cpu", devices=3)


def test_under_slurm_the_trainer_takes_the_world_it_finds(monkeypatch):
    for name, value in {"SLURM_NTASKS": "4", "SLURM_PROCID": "3", "SLURM_LOCALID": "1", "SLURM_NODEID": "1",
                        "SLURM_NTASKS_PER_NODE": "2", "SLURM_JOB_NAME": "train", "SLURM_NODELIST": "n[1-2]"}.items():
        monkeypatch.setenv(name, value)
    trainer = fhooks.Trainer(accelerator="cpu", devices=2, num_nodes=2)
    assert (trainer.global_rank, trainer.local_rank, trainer.node_rank, trainer.world_size) == (3, 1, 1, 4)
