"""Cross-lingual pre-training parts (review §5.4; XLM, Lample & Conneau 2019): parallel
pairs, language sampling. Language embeddings live in :mod:`lmlab.embeddings`."""
