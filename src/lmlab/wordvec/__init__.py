"""Word embeddings (review §2.2, §3.1.3–3.1.4): word2vec, C&W ranking, multi-prototype.

Re-exports only; see word2vec.py, cw.py, multiproto.py, io.py, evaluate.py.
"""

from lmlab.wordvec.io import load_vectors, save_vectors
from lmlab.wordvec.word2vec import Word2VecConfig, train_word2vec

__all__ = ["Word2VecConfig", "load_vectors", "save_vectors", "train_word2vec"]
