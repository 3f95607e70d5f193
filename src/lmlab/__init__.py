"""lmlab: the language-model families surveyed by Wang et al. (2020), trained on a CPU.

Built so far: n-gram LMs, word vectors (word2vec, C&W, multi-prototype), neural LMs (NNLM,
RNNLM, LSTM, attention RNN), GPT, the BERT family (RoBERTa, ALBERT, ELECTRA, UniLM,
SpanBERT, StructBERT, ERNIE, whole-word masking) and fine-tuning heads. Not yet: seq2seq,
XLNet, ELMo, compression, knowledge, cross-lingual and multimodal models.

Nothing happens at import time; import the parts you need, e.g.
``from lmlab.registry import build_model`` or ``from lmlab.data import catalogue``.
"""

__version__ = "0.1.0"
