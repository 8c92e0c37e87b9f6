"""What a checkpoint file holds does not depend on how fhooks writes it: the same pickle as ``torch.save``'s."""

from __future__ import annotations

import io
import random
import zipfile
from collections import OrderedDict

import torch

from fhooks.trainer import checkpoint as ckpt


def _records(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {name.partition("/")[2]: z.read(name) for name in z.namelist()}


def test_write_atomic_writes_what_torch_save_writes(tmp_path):
    checkpoint = {"state_dict": OrderedDict(w=torch.arange(6.0).view(2, 3), b=torch.zeros(2)),
                  "rng": ckpt.packed_rng(ckpt.rng_states()), "loops": {"a": {"b": [1, 2.5, None, True, "x"]}},
                  "storage": torch.ones(3).untyped_storage(), "pair": (torch.Size([2]), torch.float16)}
    ckpt.write_atomic(checkpoint, tmp_path / "a.ckpt")
    reference = io.BytesIO()
    torch.save(checkpoint, reference)
    ours, theirs = _records((tmp_path / "a.ckpt").read_bytes()), _records(reference.getvalue())
    ours.pop(".data/serialization_id"), theirs.pop(".data/serialization_id")  # random per file
    assert ours == theirs
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    loaded = ckpt.read(tmp_path / "a.ckpt")
    assert torch.equal(loaded["state_dict"]["w"], checkpoint["state_dict"]["w"])


def test_python_rng_words_follow_the_state():
    random.seed(1)
    first = ckpt.packed_rng(ckpt.rng_states())["python"][1]
    assert ckpt.packed_rng(ckpt.rng_states())["python"][1] is first  # unchanged state: the same tensor again
    random.random()
    second = ckpt.packed_rng(ckpt.rng_states())["python"][1]
    assert second.tolist() == list(random.getstate()[1]) and second.dtype == torch.int64
    assert second.tolist() != first.tolist()
    ckpt.set_rng_states(ckpt.packed_rng(ckpt.rng_states()))
