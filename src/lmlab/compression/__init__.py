"""Model compression (review §5.1; issue 20): transforms of a built model.

A compression method takes a built (fine-tuned) model and returns a smaller or faster one;
nothing here subclasses a family (DESIGN §1, §6). ``quantization/`` (dynamic int8, k-means
weight sharing) and ``pruning/`` (magnitude) import only torch; the command that reads and
writes run folders is :mod:`lmlab.recipes.compress`.
"""
