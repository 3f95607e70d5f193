"""Feature sources of feature-based transfer: frozen pre-trained representations of each
word of a sentence, read by a task model that is trained on top of them.

The review contrasts two ways of using a pre-trained model: fine-tuning (the model is
trained further with the task head) and the feature-based way, where its representations
are frozen inputs of a task model (word2vec and C&W tables, context2vec, ELMo; Peters et al.
2018, §3.3: "we first freeze the weights of the biLM and then concatenate the ELMo vector
... into the task RNN"). A source maps word-tokenised sentences to per-word features
``(L, n, F)`` for each sentence: L layers (1 for a single representation; a biLM's L+1
[forward ; backward] layers, ELMo's 2L+1 representations, for its scalar mix), n words,
F features. Sources are frozen, so their features are computed once per sentence
(:func:`extract_all`) and cached: seeds and epochs reuse them.

* :class:`VectorTable`: a word-vector table (word2vec, C&W). A word is looked up as is,
  then lowercased; a word in neither form is out of vocabulary (OOV) and gets the **zero
  vector** (the task model has no trainable UNK vector), and is counted.
* :class:`FrozenLMFeatures`: a pre-trained lmlab model (ELMo's biLM, context2vec, a
  transformer). The words are tokenised with the model's tokenizer and each word reads its
  **first sub-token's** features (BERT's NER set-up, Devlin et al. 2019 §5.3); a word
  whose first sub-token is the unknown token is counted as OOV (a char-CNN embedding reads
  its characters instead, so it keeps its spelling).
* The ``random`` baseline is not a source of frozen features but a trainable embedding of
  the task's training words (:class:`TrainableWordEmbedding`, in the task model).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from lmlab.errors import ConfigError

FeatureFunction = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
"""(model, ids (B, T) or chars (B, T, W), attention_mask (B, T)) -> features (L, B, T, F)."""


@dataclass
class OOVCount:
    """Words looked up and words the source did not know (lowercase fallback included)."""
    words: int = 0
    oov: int = 0
    examples: list[str] = field(default_factory=list)
    truncated: int = 0
    """Words spelled by a char-CNN that were longer than its W - 2 bytes (cut, not OOV)."""

    def add(self, word: str, known: bool) -> None:
        self.words += 1
        if not known:
            self.oov += 1
            if len(self.examples) < 10:
                self.examples.append(word)

    def as_dict(self) -> dict:
        rate = self.oov / self.words if self.words else 0.0
        counts = {"words": self.words, "oov": self.oov, "oov_rate": round(rate, 4),
                  "oov_examples": self.examples}
        return {**counts, "truncated": self.truncated} if self.truncated else counts


class VectorTable:
    """A frozen word-vector table (word2vec, C&W): (1, n, D) per sentence; OOV -> zeros."""

    num_layers = 1

    def __init__(self, words: list[str], vectors, name: str = "vectors"):
        self.name = name
        self.vectors = torch.as_tensor(vectors, dtype=torch.float32)  # (V, D)
        self.width = self.vectors.shape[1]
        self.index = {word: row for row, word in enumerate(words)}
        self.oov = OOVCount()

    def row(self, word: str) -> int | None:
        found = self.index.get(word)
        return self.index.get(word.lower()) if found is None else found

    @torch.no_grad()
    def extract(self, sentences: list[list[str]]) -> list[torch.Tensor]:
        out = []
        for words in sentences:
            features = torch.zeros(1, len(words), self.width)  # (1, n, D): OOV rows stay 0
            for position, word in enumerate(words):
                row = self.row(word)
                self.oov.add(word, row is not None)
                if row is not None:
                    features[0, position] = self.vectors[row]
            out.append(features)
        return out


def encoder_layers(model: nn.Module, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Every layer the encoder reports, stacked: a biLM's L+1 layers (ELMo's 2L+1
    representations, eq. 1; layer 0 = [x ; x], layer j = [h→_j ; h←_j])."""
    output = model(ids, mask, return_layers=True)
    if not output.layer_states:
        return output.hidden.unsqueeze(0)  # (1, B, T, F)
    return torch.stack(tuple(output.layer_states))  # (L, B, T, F)


def top_layer(model: nn.Module, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The encoder's output only (a transformer's last layer): (1, B, T, F)."""
    return model(ids, mask).hidden.unsqueeze(0)


class FrozenLMFeatures:
    """A pre-trained lmlab model, frozen, read word by word at each word's first sub-token.

    ``features``: how the model's representations are read (:func:`encoder_layers`,
    :func:`top_layer`, context2vec's context vectors). ``add_specials``: wrap each
    sentence in [CLS] … [SEP] as a BERT-style encoder was pre-trained. ``char_ids``: a
    function from words to (n, W) character ids for a char-CNN embedding (ELMo), so an
    out-of-vocabulary word keeps its spelling; None reads token ids.
    """

    def __init__(self, model: nn.Module, tokenizer, features: FeatureFunction,
                 name: str = "lm", add_specials: bool = False, max_tokens: int = 256,
                 char_ids: Callable[[list[str]], torch.Tensor] | None = None,
                 batch_size: int = 32):
        self.model, self.tokenizer, self.features = model.eval(), tokenizer, features
        self.name, self.add_specials, self.max_tokens = name, add_specials, max_tokens
        self.char_ids, self.batch_size = char_ids, batch_size
        for parameter in model.parameters():
            parameter.requires_grad_(False)  # frozen: never trained by the task (§3.3)
        self.oov = OOVCount()
        probe = self._extract_batch([["the"]])[0]  # (L, 1, F)
        self.num_layers, self.width = probe.shape[0], probe.shape[-1]
        self.oov = OOVCount()  # the probe is not a task word

    def _tokens(self, words: list[str]) -> tuple[list[int], list[int]]:
        """(token ids, first-token position of each word); words past ``max_tokens`` read
        the last kept token (they are few: sentences are cut at ``max_words`` earlier)."""
        encoding = self.tokenizer.backend.encode(words, is_pretokenized=True,
                                                 add_special_tokens=False)
        ids = [self.tokenizer.cls_id] if self.add_specials else []
        budget = self.max_tokens - (1 if self.add_specials else 0)
        starts: dict[int, int] = {}
        for token_id, word in zip(encoding.ids, encoding.word_ids):
            if len(ids) >= budget:
                break
            if word is not None and word not in starts:
                starts[word] = len(ids)
                self.oov.add(words[word], token_id != self.tokenizer.unk_id)
            ids.append(token_id)
        if self.add_specials:
            ids.append(self.tokenizer.sep_id)
        fallback = max(len(ids) - 1, 0)
        for word in range(len(words)):  # a word with no token (a control character)
            if word not in starts:
                self.oov.add(words[word], False)
        return ids or [self.tokenizer.unk_id], [starts.get(w, fallback) for w in range(len(words))]

    @torch.no_grad()
    def _extract_batch(self, sentences: list[list[str]]) -> list[torch.Tensor]:
        if self.char_ids is not None:
            return self._extract_chars(sentences)
        encoded = [self._tokens(words) for words in sentences]
        width = max(len(ids) for ids, _ in encoded)
        ids = torch.full((len(encoded), width), self.tokenizer.pad_id)  # (B, T)
        mask = torch.zeros(len(encoded), width, dtype=torch.long)  # (B, T)
        for row, (tokens, _) in enumerate(encoded):
            ids[row, :len(tokens)] = torch.tensor(tokens)
            mask[row, :len(tokens)] = 1
        layers = self.features(self.model, ids, mask)  # (L, B, T, F)
        return [layers[:, row, starts].float().clone() for row, (_, starts) in enumerate(encoded)]

    def _extract_chars(self, sentences: list[list[str]]) -> list[torch.Tensor]:
        """One token per word, embedded from its characters: (B, n, W) char ids."""
        rows = [self.char_ids(words[:self.max_tokens]) for words in sentences]  # (n, W)
        length, chars = max(r.shape[0] for r in rows), max(r.shape[1] for r in rows)
        ids = torch.zeros(len(rows), length, chars, dtype=torch.long)  # (B, n, W)
        mask = torch.zeros(len(rows), length, dtype=torch.long)  # (B, n)
        for row, char_rows in enumerate(rows):
            ids[row, :char_rows.shape[0], :char_rows.shape[1]] = char_rows
            mask[row, :char_rows.shape[0]] = 1
        for words in sentences:
            for word in words:
                self.oov.add(word, True)  # every word is spelled, none unknown
                self.oov.truncated += len(word.encode("utf-8")) > chars - 2
        layers = self.features(self.model, ids, mask)  # (L, B, n, F)
        out = []
        for row, words in enumerate(sentences):
            kept = layers[:, row, :min(len(words), self.max_tokens)].float()
            if len(words) > kept.shape[1]:  # beyond max_tokens: repeat the last word's
                kept = torch.cat([kept, kept[:, -1:].expand(-1, len(words) - kept.shape[1], -1)], 1)
            out.append(kept.clone())
        return out

    def extract(self, sentences: list[list[str]]) -> list[torch.Tensor]:
        out = []
        for start in range(0, len(sentences), self.batch_size):
            out += self._extract_batch(sentences[start:start + self.batch_size])
        return out


def extract_all(source, sentences: list[list[str]], dtype=torch.float16) -> list[torch.Tensor]:
    """Every sentence's (L, n, F) features, sorted by length for batching, stored in
    ``dtype`` (half the memory; the task model reads them back as float32)."""
    order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
    features: list = [None] * len(sentences)
    batch = getattr(source, "batch_size", 64)
    for start in range(0, len(order), batch):
        chosen = order[start:start + batch]
        for index, tensor in zip(chosen, source.extract([sentences[i] for i in chosen])):
            features[index] = tensor.to(dtype)
    return features


def check_layers(source, layers: str, label: str) -> None:
    """``layers: mix`` needs several layers to mix (a biLM's L+1)."""
    if layers == "mix" and source.num_layers < 2:
        raise ConfigError(f"feature_layers: mix needs a source with several layers; {label} "
                          f"gives {source.num_layers} (use feature_layers: top)")
