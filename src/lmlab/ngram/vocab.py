"""Vocabulary and tokenization for counting LMs, following KenLM ``lmplz`` conventions.

Ids: ``<unk>`` = 0, ``<s>`` = 1, ``</s>`` = 2, then words in order of first appearance
(as lmplz numbers them). Text is split on whitespace.

Special symbols in the *text*: ``<s>`` and ``</s>`` are refused (lmplz refuses them too:
they would corrupt sentence boundaries). A literal ``<unk>`` in the text (PTB and
WikiText-2 ship with one) is an ordinary word type; so that it is not confused with the
model's out-of-vocabulary symbol it is spelled :data:`TEXT_UNK_WORD` in the model and in
ARPA files, the same rewrite that one does by hand before running ``lmplz`` on PTB.
"""

from __future__ import annotations

from lmlab.errors import DataError

UNK, BOS, EOS = 0, 1, 2
UNK_TOKEN, BOS_TOKEN, EOS_TOKEN = "<unk>", "<s>", "</s>"
SPECIAL_TOKENS = (UNK_TOKEN, BOS_TOKEN, EOS_TOKEN)
TEXT_UNK_WORD = "UNKW"  # what a literal "<unk>" in the text becomes


class Vocabulary:
    """Word <-> id map growing in order of first appearance (lmplz's numbering)."""

    def __init__(self, words: list[str] | None = None):
        self.words: list[str] = list(SPECIAL_TOKENS) if words is None else list(words)
        if self.words[:3] != list(SPECIAL_TOKENS):
            raise DataError(f"a vocabulary must start with {', '.join(SPECIAL_TOKENS)}; "
                            f"got {self.words[:3]}")
        self.word_to_id: dict[str, int] = {w: i for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    def add_tokens(self, tokens: list[str], out: list[int]) -> None:
        """Append the ids of ``tokens`` to ``out``, adding unseen words (the counting path)."""
        get = self.word_to_id.get
        for token in tokens:
            index = get(token)
            if index is None:
                index = len(self.words)
                self.word_to_id[token] = index
                self.words.append(token)
            out.append(index)

    def lookup(self, tokens: list[str]) -> list[int]:
        """Ids of ``tokens``; unknown words map to ``<unk>`` (the query path)."""
        get = self.word_to_id.get
        return [get(token, UNK) for token in tokens]


def tokenize(text: str, where: str = "") -> list[str]:
    """Whitespace tokens of one sentence, with the special-symbol policy above.

    ``where`` (``file:line``) prefixes the error for a refused symbol.
    """
    tokens = text.split()
    if BOS_TOKEN in tokens or EOS_TOKEN in tokens:
        bad = BOS_TOKEN if BOS_TOKEN in tokens else EOS_TOKEN
        raise DataError(f"{where or 'text'}: the symbol {bad} appears in the text; sentence "
                        f"boundaries are added by lmlab (as lmplz does), remove it")
    if UNK_TOKEN in tokens:
        tokens = [TEXT_UNK_WORD if t == UNK_TOKEN else t for t in tokens]
    return tokens
