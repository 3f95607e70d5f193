"""Typed, strict fine-tuning configs (DESIGN §6.4): the options of one ``finetune`` call
and the config saved in a fine-tuned run folder."""

from __future__ import annotations

import json

from dataclasses import dataclass, field, replace
from typing import Literal

from lmlab.config import DEVICE, ModelConfig
from lmlab.errors import ConfigError


# Per task family (the task's kind) defaults for the options left unset (None) below.
# Sentence and pair classification / regression (GLUE, CLUE): the HF fine-tuning recipe
# for a small BERT (BertForSequenceClassification: [CLS] -> pooler -> dropout -> linear,
# AdamW at 1e-4, batch 32, 3 epochs, linear decay). BERT's 2e-5..5e-5 grid is for
# BERT-base; at 2e-5 a 6-layer 384-wide encoder (all-MiniLM-L6-v2) ends 3 F1 / 6 accuracy
# points under HF on MRPC, at 1e-4 level with it (issue 15:
# bench/results/finetune_mrpc_diagnosis.json). Other families keep BERT's recipe.
FAMILY_DEFAULTS: dict[str, dict] = {
    "classification": {"lr": 1e-4, "epochs": 3.0, "batch_size": 32, "warmup_ratio": 0.1},
    "regression": {"lr": 1e-4, "epochs": 3.0, "batch_size": 32, "warmup_ratio": 0.1},
    # Generation (headlines, translation) from a small pre-trained model: BART's
    # summarisation recipe (AdamW, warm-up then linear decay) at a small model's rate.
    "generation": {"lr": 3e-4, "epochs": 5.0, "batch_size": 32, "warmup_ratio": 0.1},
}
BERT_DEFAULTS: dict = {"lr": 2e-5, "epochs": 3.0, "batch_size": 32, "warmup_ratio": 0.1}
"""Tagging, span QA, multiple choice, and any kind not in FAMILY_DEFAULTS."""


@dataclass
class FinetuneOptions:
    lr: float | None = None
    """Peak learning rate; None = the task family's default (FAMILY_DEFAULTS)."""
    epochs: float | None = None
    batch_size: int | None = None
    eval_batch_size: int = 64
    max_seq_len: int = 128
    warmup_ratio: float | None = None
    """Linear warmup over this fraction of the steps, then linear decay (BERT)."""
    schedule: Literal["linear", "one_cycle"] = "linear"
    """linear: warm-up then linear decay (BERT); one_cycle: the cosine one-cycle policy of
    MultiFiT (Eisenschlos et al. 2019, §3), rising over ``warmup_ratio`` of the steps from
    lr/25 (``lmlab.training.optim``)."""
    label_smoothing: float = 0.0
    """Classification: cross-entropy against (1 − ε) one-hot + ε / C (Szegedy et al. 2016,
    §7), as MultiFiT fine-tunes its classifier (§3); 0 = plain cross-entropy."""
    pseudo_labels_from: str = ""
    """Cross-lingual bootstrapping (MultiFiT §3.3): a fine-tuned classifier run whose
    predictions replace the labels of the training and dev examples (the gold labels are
    not read); empty = the task's own labels."""
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    seeds: list[int] = field(default_factory=lambda: [0])
    """One fine-tuning run per seed; scores are reported as mean ± std."""
    patience: int = 0
    """Stop after this many evaluations without a better dev score; 0 = never stop early."""
    evals_per_epoch: int = 1
    max_train_examples: int = 0
    """Use a fixed random subset of the training split (0 = all of it)."""
    subset_seed: int = 0
    dev_split: str = "dev"
    train_split: str = "train"
    extra_train_task: str = ""
    """Unicoder's multi-language fine-tuning (Huang et al. 2019 §3.5): a task in another
    language with the same kind and labels (``clue/chnsenticorp``) whose
    ``extra_train_split`` joins the training examples, each example read with its own
    task's language id; empty = none."""
    extra_train_split: str = "train"
    """That task's split or file (e.g. the source training set translated into it); the
    same ``max_train_examples`` / ``subset_seed`` subset is taken of it."""
    pooling: Literal["cls", "mean", "last"] = "cls"
    dropout: float = 0.1
    crf: bool = False
    doc_stride: int = 128
    max_answer_length: int = 30
    n_best: int = 20
    max_target_len: int = 32
    """Generation: reference tokens kept (the stop token included), and the most tokens
    generated."""
    num_beams: int = 1
    """Generation: beam width of dev/test decoding (1 = greedy)."""
    length_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    text_to_text: bool = False
    """Fine-tune a GLUE task as T5 does: generate the label as text (tasks.text_to_text)."""
    kbert_relations: list[str] = field(default_factory=list)
    """K-BERT (Liu et al. 2020): inject WordNet triples of these relations (names of
    lmlab.knowledge.triples.RELATION_NAMES) into classification/regression inputs as a
    sentence tree with soft positions and a visible matrix; empty = off."""
    kbert_max_branches: int = 2
    """K-BERT: most branches injected after one word."""
    target_mask_rate: float = 0.7
    """UniLM generation fine-tuning: share of target tokens masked and predicted (Dong et
    al. 2019 mask 0.7 for CNN/DailyMail)."""
    max_unk_rate: float = 0.5
    """Refuse a checkpoint whose vocabulary turns more than this share of the task's
    tokens into [UNK] (e.g. an English vocabulary on Chinese text); 1 = only warn."""
    num_threads: int = 1
    """torch intra-op threads (1 is fastest on a shared 2-core machine)."""
    progress: bool = True
    device: str = "auto"
    """auto, cpu, cuda, cuda:N or mps (as ``train.device``)."""
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    """As ``train.precision``: bf16 on a capable GPU, fp32 on CPU."""

    def for_kind(self, kind: str) -> "FinetuneOptions":
        """A copy with every unset (None) option filled from the task family's defaults."""
        defaults = FAMILY_DEFAULTS.get(kind, BERT_DEFAULTS)
        return replace(self, **{name: value for name, value in defaults.items()
                                if getattr(self, name) is None})

    def validate(self, path: str) -> None:
        unset = {name: getattr(self, name) is None for name in BERT_DEFAULTS}
        checks = [  # (option, ok, what is allowed)
            ("lr", unset["lr"] or self.lr > 0, "> 0"),
            ("epochs", unset["epochs"] or self.epochs > 0, "> 0"),
            ("batch_size", unset["batch_size"] or self.batch_size > 0, ">= 1"),
            ("eval_batch_size", self.eval_batch_size > 0, ">= 1"),
            ("max_seq_len", 8 <= self.max_seq_len <= 4096, "from 8 to 4096"),
            ("warmup_ratio", unset["warmup_ratio"] or 0 <= self.warmup_ratio < 1, "in [0, 1)"),
            ("seeds", bool(self.seeds), "at least one seed"),
            ("patience", self.patience >= 0, ">= 0 (0 = never stop early)"),
            ("evals_per_epoch", self.evals_per_epoch >= 1, ">= 1"),
            ("max_train_examples", self.max_train_examples >= 0, ">= 0 (0 = all)"),
            ("dropout", 0 <= self.dropout < 1, "in [0, 1)"),
            ("label_smoothing", 0 <= self.label_smoothing < 1, "in [0, 1)"),
            ("doc_stride", self.doc_stride > 0, ">= 1"),
            ("max_unk_rate", 0 <= self.max_unk_rate <= 1, "in [0, 1]"),
            ("max_target_len", 2 <= self.max_target_len <= 4096, "from 2 to 4096"),
            ("num_beams", self.num_beams >= 1, ">= 1 (1 = greedy)"),
            ("no_repeat_ngram_size", self.no_repeat_ngram_size >= 0, ">= 0 (0 = off)"),
            ("target_mask_rate", 0 < self.target_mask_rate <= 1, "in (0, 1]"),
            ("kbert_max_branches", self.kbert_max_branches >= 1, ">= 1"),
            ("num_threads", self.num_threads >= 0, ">= 0 (0 = torch's default)"),
            ("device", DEVICE.fullmatch(self.device) is not None,
             "auto, cpu, cuda, cuda:N or mps")]
        for name, ok, allowed in checks:
            if not ok:
                raise ConfigError(f"{path}.{name}: bad value {getattr(self, name)!r}; "
                                  f"expected {allowed}")


def same_options(saved: dict, options: FinetuneOptions,
                 ignore: tuple[str, ...] = ()) -> bool:
    """Whether the options ``saved`` in a run folder (a JSON dict) are ``options``. A key
    the saved dict lacks (an option added to lmlab since) counts as its default, so older
    fine-tunings stay reusable; ``ignore``: keys that do not change the scores."""
    now = json.loads(json.dumps(options.__dict__))
    defaults = json.loads(json.dumps(FinetuneOptions().__dict__))
    return all(saved.get(key, defaults.get(key)) == now.get(key, defaults.get(key))
               for key in saved.keys() | now.keys() if key not in ignore)


@dataclass
class FinetuneRunConfig:
    """What ``<run>/checkpoint/config.yaml`` holds for a fine-tuned model."""
    task: str = ""
    kind: str = ""
    base: str = ""
    """The run folder or ``hf:<dir>`` the encoder started from."""
    labels: list[str] = field(default_factory=list)
    model: ModelConfig = field(default_factory=ModelConfig)
    options: FinetuneOptions = field(default_factory=FinetuneOptions)
    generation_mode: str = ""
    """Generation tasks: encoder_decoder, prefix_lm or unilm (finetune.seq2seq_features)."""
    decoder_start_id: int | None = None
    """Encoder–decoders: the decoder's first input, as in the base's pre-training."""
    quantization: Literal["", "dynamic_int8"] = ""
    """``lmlab compress --method dynamic_int8`` (issue 20): fp32 weights are saved and the
    loader quantizes the nn.Linear layers (lmlab.compression.quantization.dynamic)."""
