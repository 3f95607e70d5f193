"""Small configs over the tiny PTB folder, shared by the training tests."""

from lmlab.config import load_config
from lmlab.presets import preset_path

_TRANSFORMER = ["data.seq_len=32", "data.batch_size=4", "model.embedding.max_positions=64"]
TINY = {
    "lstm/small": ["data.seq_len=10", "data.batch_size=4", "model.embedding.hidden_size=32"],
    **{preset: _TRANSFORMER for preset in (
        "gpt/tiny", "bert/tiny", "roberta/tiny", "albert/tiny", "unilm/tiny", "electra/tiny",
        "spanbert/tiny", "structbert/tiny", "ernie/tiny", "bert_wwm/tiny", "bert_zh/tiny",
        "bert_wwm_zh/tiny", "mass/tiny", "bart/tiny", "xlm/tiny", "mbert/tiny", "xlmr/tiny",
        "ernie_thu/tiny", "knowbert/tiny")},
    # ERNIE 2.0: its stages (fractions 0, 0.25, 0.5) start at steps 0, 2 and 4 of 8
    "ernie2/tiny": _TRANSFORMER,
    "unicoder/tiny": _TRANSFORMER,  # issue 24
    # issue 24: the QRNN LM. Byte-level BPE here: after 3 steps the unigram vocabulary's
    # most frequent piece is a bare "▁", which beam search repeats (text of spaces).
    "multifit/tiny": ["data.seq_len=10", "data.batch_size=4", "model.embedding.hidden_size=32",
                      "model.encoder.hidden_size=48", "data.tokenizer.kind=bpe"],
    # 46 text tokens: T5 drops 7 in 2 spans placed at random (30 or fewer: 1 span, at the end).
    "t5/tiny": ["data.seq_len=48", "data.batch_size=4"],
    "context2vec/tiny": ["data.seq_len=16", "data.batch_size=4"],
    "elmo/tiny": ["data.seq_len=10", "data.batch_size=4", "model.embedding.hidden_size=32",
                  "model.encoder.cell_size=48"],
    "sa_lstm/tiny": ["data.seq_len=12", "data.batch_size=4", "model.embedding.hidden_size=32"],
}


def tiny_overrides(preset: str, corpus, steps: int, every: int) -> list[str]:
    return [f"data.dataset={corpus}", f"train.max_steps={steps}", "train.max_epochs=0",
            f"train.checkpoint_every={every}", f"train.eval_every={every}", "train.eval_batches=2",
            "train.log_every=1", "train.progress=false", "data.eval_batch_size=4",
            *TINY.get(preset, [])]


def tiny_config(preset: str, corpus, steps: int = 8, every: int = 4):
    return load_config(preset_path(preset), tiny_overrides(preset, corpus, steps, every))
