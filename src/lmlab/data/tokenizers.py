"""Tokenizers (DESIGN §3), all backed by HF ``tokenizers`` so they save as one JSON file.

* ``word``: whitespace-split words, vocabulary from the training split, the corpus's own
  unknown-word token kept (PTB and WikiText-2 already contain ``<unk>``).
* ``char``: one token per character, spaces included.
* ``bpe`` (byte-level, GPT-2 style), ``wordpiece`` (BERT style), ``unigram`` (Kudo 2018):
  trained with HF ``tokenizers`` trainers.

Every vocabulary starts with the same special tokens, so ids 0..5 are special and every
id >= ``num_special`` is an ordinary token (the MLM corruption relies on that).

A pretrained BERT ``vocab.txt`` (Devlin et al. 2019) names its special tokens differently
(``[PAD] [UNK] [CLS] [SEP] [MASK]``, no end-of-sequence token): :func:`wordpiece_from_vocab`
loads one with a ``special_tokens`` mapping (role -> token, eos falling back to ``[SEP]``),
saved beside the tokenizer so the folder reloads the same way.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Literal

import torch

from lmlab.errors import ConfigError, DataError

PAD, EOS, CLS, SEP, MASK = "<pad>", "<eos>", "[CLS]", "[SEP]", "[MASK]"
DEFAULT_UNK = "<unk>"
SPECIAL_ROLES = ("pad", "unk", "eos", "cls", "sep", "mask")
BERT_SPECIALS = {"pad": "[PAD]", "unk": "[UNK]", "eos": "[SEP]", "cls": "[CLS]",
                 "sep": "[SEP]", "mask": "[MASK]"}


@dataclass
class TokenizerConfig:
    kind: Literal["auto", "word", "char", "bpe", "wordpiece", "unigram"] = "auto"
    """auto: the dataset's default (word for PTB/WikiText-2, char for tiny-shakespeare)."""
    vocab_size: int = 0
    """Maximum vocabulary (0 = every word/char seen; subword tokenizers need a size)."""
    min_frequency: int = 1
    lowercase: bool = False
    split_cjk: bool = field(default=False, repr=False)
    """bpe/wordpiece/unigram: isolate every CJK ideograph before the subword model (as
    BERT's BasicTokenizer and mBERT do), so a shared en/zh vocabulary splits Chinese per
    character. Left out of the repr (the tokenizer cache key) while off, so existing
    cached tokenizers keep their keys."""
    sentinels: int = 0
    """Sentinel tokens ``<extra_id_0>`` … ``<extra_id_{n-1}>`` appended to the vocabulary
    after training, as special tokens (T5 span corruption, Raffel et al. 2020 §3.1.4)."""

    def validate(self, path: str) -> None:
        if self.vocab_size < 0:
            raise ConfigError(f"{path}.vocab_size: must be >= 0")
        if self.kind in ("bpe", "wordpiece", "unigram") and self.vocab_size == 0:
            raise ConfigError(f"{path}.vocab_size: a {self.kind} tokenizer needs a vocab_size "
                              f"(e.g. 8000)")
        if self.min_frequency < 1:
            raise ConfigError(f"{path}.min_frequency: must be >= 1")
        if self.sentinels < 0:
            raise ConfigError(f"{path}.sentinels: must be >= 0")


class TextTokenizer:
    """A trained HF tokenizer plus the ids of lmlab's special tokens."""

    FILE = "tokenizer.json"

    def __init__(self, backend, kind: str, unk_token: str,
                 special_tokens: dict[str, str] | None = None):
        self.backend = backend
        self.kind = kind
        self.unk_token = unk_token
        # role -> token; None keeps lmlab's own names (and older saved folders) working.
        self.special_tokens = special_tokens
        names = dict(zip(SPECIAL_ROLES, _special_tokens(unk_token)), **(special_tokens or {}))
        specials = [names[role] for role in SPECIAL_ROLES]
        ids = [backend.token_to_id(token) for token in specials]
        if any(i is None for i in ids):
            raise DataError(f"tokenizer lacks one of the special tokens {specials}")
        self.pad_id, self.unk_id, self.eos_id, self.cls_id, self.sep_id, self.mask_id = ids
        self.num_special = max(ids) + 1

    @property
    def vocab_size(self) -> int:
        return self.backend.get_vocab_size()

    def encode(self, text: str) -> list[int]:
        return self.backend.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.backend.encode_batch(texts, add_special_tokens=False)]

    def decode(self, ids: Iterable[int]) -> str:
        return self.backend.decode(list(ids), skip_special_tokens=False)

    def id_to_token(self, token_id: int) -> str:
        return self.backend.id_to_token(token_id)

    def token_to_id(self, token: str) -> int | None:
        return self.backend.token_to_id(token)

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.backend.save(str(folder / self.FILE))
        meta = {"kind": self.kind, "unk_token": self.unk_token}
        if self.special_tokens:
            meta["special_tokens"] = self.special_tokens
        (folder / "lmlab_tokenizer.json").write_text(json.dumps(meta))

    @classmethod
    def load(cls, folder: str | Path) -> "TextTokenizer":
        from tokenizers import Tokenizer

        folder = Path(folder)
        if not (folder / cls.FILE).exists():
            raise DataError(f"{folder}: no {cls.FILE} (not an lmlab tokenizer folder)")
        meta_path = folder / "lmlab_tokenizer.json"
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            kind, unk_token = meta["kind"], meta["unk_token"]
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
            raise DataError(f"{meta_path}: not a readable lmlab tokenizer description "
                            f"({type(error).__name__}: {error}); expected JSON with 'kind' and "
                            f"'unk_token'") from None
        try:
            backend = Tokenizer.from_file(str(folder / cls.FILE))
        except Exception as error:  # tokenizers raises a bare Exception for a damaged file
            raise DataError(f"{folder / cls.FILE}: not a readable tokenizer file ({error}); "
                            f"expected the JSON the tokenizers library writes") from None
        return cls(backend, kind, unk_token, meta.get("special_tokens"))


def wordpiece_from_vocab(vocab_path: str | Path, lowercase: bool) -> TextTokenizer:
    """A BERT WordPiece tokenizer from a pretrained ``vocab.txt`` (one token a line).

    Normalisation and pre-tokenisation follow BERT's ``BasicTokenizer``: clean text, split
    CJK characters, lowercase and strip accents for uncased checkpoints.
    """
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import WordPiece

    vocab_path = Path(vocab_path)
    if not vocab_path.exists():
        raise DataError(f"{vocab_path}: no such vocabulary file")
    vocab = {}
    lines = vocab_path.read_text(encoding="utf-8").split("\n")  # not splitlines: U+2028 is a token
    for line_number, line in enumerate(lines[:-1] if lines[-1] == "" else lines, 1):
        token = line.rstrip("\r")
        if token in vocab:
            raise DataError(f"{vocab_path}:{line_number}: token {token!r} appears twice")
        vocab[token] = len(vocab)
    missing = [t for t in set(BERT_SPECIALS.values()) if t not in vocab]
    if missing:
        raise DataError(f"{vocab_path}: lacks the BERT special tokens {sorted(missing)}")
    backend = Tokenizer(WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    backend.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                                    strip_accents=None, lowercase=lowercase)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.decoder = decoders.WordPiece()
    backend.add_special_tokens(sorted(set(BERT_SPECIALS.values())))
    return TextTokenizer(backend, "wordpiece", "[UNK]", dict(BERT_SPECIALS))


def _special_tokens(unk_token: str) -> list[str]:
    return [PAD, unk_token, EOS, CLS, SEP, MASK]


def _word_level(vocab: dict[str, int], unk_token: str, lowercase: bool):
    from tokenizers import Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import WordLevel

    backend = Tokenizer(WordLevel(vocab, unk_token=unk_token))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    # Special tokens are matched before splitting, so "[MASK]" survives any pre-tokenizer.
    backend.add_special_tokens(_special_tokens(unk_token))
    if lowercase:
        backend.normalizer = normalizers.Lowercase()
    return backend


def train_word(lines: Iterable[str], config: TokenizerConfig, unk_token: str):
    counts = Counter()
    for line in lines:
        counts.update((line.lower() if config.lowercase else line).split())
    specials = _special_tokens(unk_token)
    words = [w for w, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
             if c >= config.min_frequency and w not in specials]
    if config.vocab_size:
        words = words[: max(0, config.vocab_size - len(specials))]
    vocab = {token: i for i, token in enumerate(specials + words)}
    return _word_level(vocab, unk_token, config.lowercase)


def train_char(lines: Iterable[str], config: TokenizerConfig, unk_token: str):
    from tokenizers import Regex, decoders, pre_tokenizers

    counts = Counter()
    for line in lines:
        counts.update(line.lower() if config.lowercase else line)
    specials = _special_tokens(unk_token)
    chars = [c for c, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
             if n >= config.min_frequency]
    if config.vocab_size:
        chars = chars[: max(0, config.vocab_size - len(specials))]
    vocab = {token: i for i, token in enumerate(specials + chars)}
    backend = _word_level(vocab, unk_token, config.lowercase)
    backend.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    backend.decoder = decoders.Fuse()
    return backend


def train_subword(lines: Iterable[str], config: TokenizerConfig, unk_token: str):
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    specials = _special_tokens(unk_token)
    if config.kind == "bpe":
        backend = Tokenizer(models.BPE(unk_token=None))
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        backend.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=config.vocab_size, special_tokens=specials,
                                      min_frequency=config.min_frequency,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    elif config.kind == "wordpiece":
        backend = Tokenizer(models.WordPiece(unk_token=unk_token))
        backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        backend.decoder = decoders.WordPiece()
        trainer = trainers.WordPieceTrainer(vocab_size=config.vocab_size, special_tokens=specials,
                                            min_frequency=config.min_frequency)
    else:
        backend = Tokenizer(models.Unigram())
        backend.pre_tokenizer = pre_tokenizers.Metaspace()
        backend.decoder = decoders.Metaspace()
        trainer = trainers.UnigramTrainer(vocab_size=config.vocab_size, special_tokens=specials,
                                          unk_token=unk_token)
    if config.lowercase:
        backend.normalizer = normalizers.Lowercase()
    if config.split_cjk:
        from tokenizers import Regex

        backend.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(CJK_CHARACTER), behavior="isolated"),
            backend.pre_tokenizer])
    backend.train_from_iterator(lines, trainer=trainer)
    if config.kind == "wordpiece":
        # HF's WordPiece trainer numbers equally frequent pieces in hash order, so two
        # trainings on the same text give the same pieces under different ids; number
        # them canonically (specials first, then sorted) so a run is reproducible.
        # Greedy longest-match WordPiece does not depend on the ids.
        vocab = backend.get_vocab()
        ordered = specials + sorted(token for token in vocab if token not in specials)
        backend.model = models.WordPiece({t: i for i, t in enumerate(ordered)}, unk_token=unk_token)
    return backend


CJK_CHARACTER = "[\u3400-\u4DBF\u4E00-\u9FFF\uF900-\uFAFF\U00020000-\U0002FA1F]"
"""The CJK ideograph blocks of BERT's ``_is_chinese_char`` (Devlin et al. 2019, tokenization.py)."""


def train_tokenizer(lines: Iterable[str], config: TokenizerConfig, kind: str,
                    unk_token: str | None, source: str = "the training corpus") -> TextTokenizer:
    """Train a tokenizer of ``kind`` on ``lines`` (the training split only); ``source``
    names them in the error an empty corpus gives."""
    unk_token = unk_token or DEFAULT_UNK
    config = dataclasses.replace(config, kind=kind)
    trainer = {"word": train_word, "char": train_char}.get(kind, train_subword)
    backend = trainer(lines, config, unk_token)
    if backend.get_vocab_size() <= len(_special_tokens(unk_token)):
        raise DataError(f"{source}: the corpus is empty (no non-blank line); a tokenizer "
                        f"needs text to learn from")
    if config.sentinels:  # after the learned vocabulary: ids V .. V+n-1, numbered in order
        backend.add_special_tokens([sentinel_token(i) for i in range(config.sentinels)])
    return TextTokenizer(backend, kind, unk_token)


def word_start_table(tokenizer) -> torch.Tensor | None:
    """(V,) bool: whether each vocabulary entry starts a word. WordPiece marks
    continuations with '##'; byte-level BPE and Unigram mark word starts with 'Ġ' / '▁';
    word-level and character vocabularies (None) start a word with every token."""
    kind = getattr(tokenizer, "kind", "word")
    if kind in ("word", "char") or not hasattr(tokenizer, "id_to_token"):
        return None
    tokens = [tokenizer.id_to_token(i) or "" for i in range(tokenizer.vocab_size)]
    if kind == "wordpiece":
        return torch.tensor([not t.startswith("##") for t in tokens])
    marker = "Ġ" if kind == "bpe" else "▁"
    return torch.tensor([t.startswith(marker) for t in tokens])


def sentinel_token(index: int) -> str:
    """T5's name of the ``index``-th sentinel."""
    return f"<extra_id_{index}>"


def sentinel_ids(tokenizer) -> list[int]:
    """The ids of ``<extra_id_0>``, ``<extra_id_1>``, … in order, as many as it has."""
    ids = []
    while (token_id := tokenizer.token_to_id(sentinel_token(len(ids)))) is not None:
        ids.append(token_id)
    return ids


SENTENCE_END_MARKS = (".", "!", "?")


def sentence_end_table(tokenizer) -> torch.Tensor:
    """(V,) bool: tokens after which a sentence ends: ``<eos>`` (a line end in the token
    store) and tokens that are a full stop, exclamation or question mark once the
    subword markers (``Ġ``, ``▁``, ``##``) are stripped (BART §2.2 splits at full stops)."""
    table = torch.zeros(tokenizer.vocab_size, dtype=torch.bool)
    for token_id in range(tokenizer.vocab_size):
        text = (tokenizer.id_to_token(token_id) or "").lstrip("Ġ▁").removeprefix("##")
        table[token_id] = text in SENTENCE_END_MARKS
    table[tokenizer.eos_id] = True
    return table
