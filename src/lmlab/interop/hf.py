"""HF transformers interop: map GPT-2 and BERT weights and configs onto lmlab's parts.

Only tensors and JSON are read (safetensors / state dicts), never pickled code. The
mapping is the whole contract; the parity tests check that the composed lmlab model
gives the same outputs as ``GPT2LMHeadModel`` / ``BertForMaskedLM`` / ``BertModel``.
The name tables live in :mod:`lmlab.interop.tables`, the configs in
:mod:`lmlab.interop.configs`; these are the import shortcuts the older code uses.
"""

from __future__ import annotations

from lmlab.interop.configs import model_config_from_hf  # noqa: F401  (re-exported)
from lmlab.interop.tables import (albert_body, albert_mlm_head, bert_body, bert_mlm_head,
                                  gpt2_body, to_lmlab)


TIED = ("lm_head.decoder.weight",)  # lmlab's tied decoder names the token matrix again


def gpt2_to_lmlab(state: dict, num_layers: int) -> dict:
    """GPT-2 state dict (``transformer.*``) -> lmlab names. GPT-2's Conv1D stores (in, out)."""
    return to_lmlab(gpt2_body(num_layers, tied_decoders=TIED), state)


def bert_to_lmlab(state: dict, num_layers: int, with_mlm_head: bool = True) -> dict:
    """BERT state dict (``bert.*`` + ``cls.*``, or a bare ``BertModel``) -> lmlab names."""
    prefix = "bert." if any(k.startswith("bert.") for k in state) else ""
    rules = bert_body(prefix, num_layers, tied_decoders=TIED)
    return to_lmlab(rules + (bert_mlm_head() if with_mlm_head else []), state)


def albert_to_lmlab(state: dict, num_layers: int) -> dict:
    """``AlbertForMaskedLM`` state dict -> lmlab names (one layer group, shared by all depths)."""
    prefix = "albert." if any(k.startswith("albert.") for k in state) else ""
    rules = albert_body(prefix, num_layers, shared=True, tied_decoders=TIED)
    return to_lmlab(rules + albert_mlm_head(), state)
