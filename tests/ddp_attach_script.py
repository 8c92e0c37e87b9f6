"""Run by test_attach.py: two gloo processes, a hand loop with ``fhooks.attach``, a stop met on rank 1 only.

Usage: python ddp_attach_script.py PORT OUT_DIR. Each rank writes OUT_DIR/rank<r>.json.
"""

import json
import os
import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import fhooks
from fhooks import Stop, lambda_hook


def stop_on_rank_one(event):
    return Stop("rank 1 saw step 3") if event.rank == 1 and event.step == 3 else None


def worker(rank, port, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    model = torch.nn.Linear(1, 1)
    host = fhooks.attach(lambda_hook(on_train_batch_end=stop_on_rank_one), model)
    steps = 0
    for epoch in range(3):
        for batch_idx in range(4):
            steps += 1
            host.emit("train_batch_end", batch_idx=batch_idx)
            if host.should_stop:
                break
        host.emit("train_epoch_end")
        if host.should_stop:
            break
    with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
        json.dump({"steps": steps, "global_step": host.global_step, "reason": host.stop_reason,
                   "world_size": host.world_size}, f)
    dist.destroy_process_group()


if __name__ == "__main__":
    mp.spawn(worker, args=(int(sys.argv[1]), sys.argv[2]), nprocs=2)
