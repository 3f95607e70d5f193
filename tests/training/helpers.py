"""Small configs over the tiny PTB folder, shared by the training tests."""

from lmlab.config import load_config
from lmlab.presets import preset_path

TINY = {
    "gpt/tiny": ["data.seq_len=32", "data.batch_size=4", "model.embedding.max_positions=64"],
    "bert/tiny": ["data.seq_len=32", "data.batch_size=4", "model.embedding.max_positions=64"],
    "lstm/small": ["data.seq_len=10", "data.batch_size=4", "model.embedding.hidden_size=32"],
    "roberta/tiny": ["data.seq_len=32", "data.batch_size=4", "model.embedding.max_positions=64"],
    "albert/tiny": ["data.seq_len=32", "data.batch_size=4", "model.embedding.max_positions=64"],
    "unilm/tiny": ["data.seq_len=32", "data.batch_size=4", "model.embedding.max_positions=64"],
    "electra/tiny": ["data.seq_len=32", "data.batch_size=4", "model.embedding.max_positions=64"],
    "spanbert/tiny": ["data.seq_len=32", "data.batch_size=4", "model.embedding.max_positions=64"],
    "structbert/tiny": ["data.seq_len=32", "data.batch_size=4", "model.embedding.max_positions=64"],
    "ernie/tiny": ["data.seq_len=32", "data.batch_size=4", "model.embedding.max_positions=64"],
    "bert_wwm/tiny": ["data.seq_len=32", "data.batch_size=4", "model.embedding.max_positions=64"],
    "bert_zh/tiny": ["data.seq_len=32", "data.batch_size=4", "model.embedding.max_positions=64"],
    "bert_wwm_zh/tiny": ["data.seq_len=32", "data.batch_size=4", "model.embedding.max_positions=64"],
}


def tiny_overrides(preset: str, corpus, steps: int, every: int) -> list[str]:
    return [f"data.dataset={corpus}", f"train.max_steps={steps}", "train.max_epochs=0",
            f"train.checkpoint_every={every}", f"train.eval_every={every}", "train.eval_batches=2",
            "train.log_every=1", "train.progress=false", "data.eval_batch_size=4",
            *TINY.get(preset, [])]


def tiny_config(preset: str, corpus, steps: int = 8, every: int = 4):
    return load_config(preset_path(preset), tiny_overrides(preset, corpus, steps, every))
