"""Sharded (FSDP rank-file) checkpoints read back by concatenation (issue 17); the
2-process runs are in test_distributed.py."""

from __future__ import annotations

import json

import pytest
import torch

from lmlab.errors import CheckpointError
from lmlab.training import sharded_checkpoint as shards
from lmlab.training.checkpoint import checkpoint_folder


class _Shard:
    """What an FSDP2 DTensor offers the writer: the whole shape and this rank's rows."""

    def __init__(self, whole: torch.Tensor, rows: slice):
        self.shape, self._local = whole.shape, whole[rows]

    def to_local(self) -> torch.Tensor:
        return self._local


WEIGHT = torch.arange(6.0).reshape(3, 2)  # 3 rows over 2 ranks: torch.chunk gives 2 + 1
BUFFER = torch.tensor([7.0, 8.0])


def _write(folder, ranks=(0, 1)):
    rows = {0: slice(0, 2), 1: slice(2, 3)}
    for rank in ranks:
        shards.write_rank_file(folder / shards.rank_file("model", rank, 2),
                               {"w": _Shard(WEIGHT, rows[rank]), "buf": BUFFER}, rank)


def test_rank_files_hold_their_rows_and_concatenate_back(tmp_path):
    _write(tmp_path)
    whole = shards.assemble_weights(tmp_path)
    assert torch.equal(whole["w"], WEIGHT) and torch.equal(whole["buf"], BUFFER)
    from safetensors import safe_open
    with safe_open(str(tmp_path / "model-00001-of-00002.safetensors"), "pt") as file:
        assert list(file.keys()) == ["w"]  # a whole tensor is written by rank 0 only
        assert file.get_tensor("w").tolist() == [[4.0, 5.0]]
        layout = json.loads(file.metadata()[shards.LAYOUT_KEY])
    assert layout == {"w": {"sharded": True, "shape": [3, 2]}}


def test_a_missing_rank_file_is_one_line_naming_it(tmp_path):
    _write(tmp_path, ranks=(0,))
    with pytest.raises(CheckpointError, match=r"model-00001-of-00002\.safetensors: the sharded "
                                              r"checkpoint of 2 ranks needs exactly"):
        shards.assemble_weights(tmp_path)


def test_shards_that_do_not_make_the_saved_shape_are_refused(tmp_path):
    _write(tmp_path)
    shards.write_rank_file(tmp_path / "model-00001-of-00002.safetensors",
                           {"w": _Shard(torch.zeros(4, 2), slice(2, 4))}, 1)
    with pytest.raises(CheckpointError, match=r"shards of 'w' make shape \[4, 2\], the rank "
                                              r"files say \[3, 2\]"):
        shards.assemble_weights(tmp_path)


def test_optimizer_state_comes_back_keyed_by_position(tmp_path):
    first, second = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(3))
    optimizer = torch.optim.AdamW([{"params": [second], "weight_decay": 0.0},
                                   {"params": [first]}], lr=0.1)
    (first.sum() + 2 * second.sum()).backward()
    optimizer.step()
    tensors, groups = shards.optimizer_tensors(optimizer, {id(first): "a", id(second): "b"})
    assert sorted(tensors) == ["a::exp_avg", "a::exp_avg_sq", "a::step",
                               "b::exp_avg", "b::exp_avg_sq", "b::step"]
    assert [group["params"] for group in groups["param_groups"]] == [["b"], ["a"]]
    shards.write_rank_file(tmp_path / "optimizer-00000-of-00001.safetensors", tensors, 0)
    back, expected = shards.assemble_optimizer_state(tmp_path, groups), optimizer.state_dict()
    assert back["param_groups"] == expected["param_groups"]
    assert back["state"].keys() == expected["state"].keys() == {0, 1}
    for index, entries in expected["state"].items():
        for key, value in entries.items():
            assert torch.equal(back["state"][index][key], value), (index, key)


def test_reading_a_sharded_checkpoint_elsewhere_names_lmlab_consolidate(tmp_path):
    folder = tmp_path / "run" / "checkpoint"
    folder.mkdir(parents=True)
    _write(folder)
    (folder / "config.yaml").write_text("model: {}\n")
    (folder / "manifest.json").write_text("{}")
    with pytest.raises(CheckpointError, match=r"a sharded checkpoint .*lmlab consolidate"):
        checkpoint_folder(tmp_path / "run", verify=False)
    assert checkpoint_folder(tmp_path / "run", verify=False, sharded_ok=True) == folder


def test_each_rank_of_a_same_size_resume_gets_its_own_saved_rng_stream():
    from lmlab.training.distributed import World
    from lmlab.training.loop import _rank_rng
    streams = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        streams.append(torch.get_rng_state())
    state = {"rng": streams[0], "rng_by_rank": torch.stack(streams), "step": 3}
    torch.set_rng_state(_rank_rng(state, World(rank=1, size=2)))  # failed on a row view
    after_seed_2 = torch.rand(3)
    torch.manual_seed(2)
    assert torch.equal(after_seed_2, torch.rand(3))
