"""lmlab: every family of language model surveyed by Wang et al. (2020), runnable.

Nothing happens at import time; import the parts you need, e.g.
``from lmlab.registry import build_model`` or ``from lmlab.data import catalogue``.
"""

__version__ = "0.1.0"
