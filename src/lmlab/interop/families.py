"""Which HF class an lmlab model (pre-trained or fine-tuned) is, and its name table.

:data:`CLASSES` is read in both directions: on export, (architecture, task kind) gives
the ``transformers`` class written to ``config.json``'s ``architectures`` (so
``AutoModelFor...`` picks it); on import, the class named there gives back the
architecture and the kind. :func:`name_table` gives the weight table
(:mod:`lmlab.interop.tables`) for either direction.

Heads without an HF twin are refused by name: a mean-pooled or CRF head, GPT-2 sequence
or multiple-choice heads (HF pools GPT-2's *last* token, lmlab the first), and ELECTRA's
sequence classifier, whose HF head uses GELU where lmlab's (BERT's) uses tanh: an ELECTRA
classifier is exported as the BERT architecture it has (``BertForSequenceClassification``
gives its outputs exactly).
"""

from __future__ import annotations

from lmlab.interop.configs import NoCounterpartError
from lmlab.interop.tables import (Rule, albert_body, albert_mlm_head, bert_body, bert_mlm_head,
                                  electra_discriminator_head, gpt2_body, pooled_head,
                                  roberta_mlm_head, span_head, token_head)

PRETRAINED = "pretrained"  # the kind of an LM run (no fine-tuning head)
TIED = ("lm_head.decoder.weight",)
BODY_PREFIX = {"bert": "bert.", "roberta": "roberta.", "albert": "albert.",
               "electra": "electra.", "gpt2": "transformer."}

# architecture -> task kind -> transformers class
CLASSES: dict[str, dict[str, str]] = {
    "bert": {PRETRAINED: "BertForMaskedLM", "classification": "BertForSequenceClassification",
             "regression": "BertForSequenceClassification",
             "tagging": "BertForTokenClassification", "span_qa": "BertForQuestionAnswering",
             "multiple_choice": "BertForMultipleChoice"},
    "roberta": {PRETRAINED: "RobertaForMaskedLM",
                "classification": "RobertaForSequenceClassification",
                "regression": "RobertaForSequenceClassification",
                "tagging": "RobertaForTokenClassification",
                "span_qa": "RobertaForQuestionAnswering",
                "multiple_choice": "RobertaForMultipleChoice"},
    "albert": {PRETRAINED: "AlbertForMaskedLM",
               "classification": "AlbertForSequenceClassification",
               "regression": "AlbertForSequenceClassification",
               "tagging": "AlbertForTokenClassification", "span_qa": "AlbertForQuestionAnswering",
               "multiple_choice": "AlbertForMultipleChoice"},
    "electra": {PRETRAINED: "ElectraForPreTraining", "tagging": "ElectraForTokenClassification",
                "span_qa": "ElectraForQuestionAnswering",
                "multiple_choice": "ElectraForMultipleChoice"},
    "gpt2": {PRETRAINED: "GPT2LMHeadModel", "tagging": "GPT2ForTokenClassification",
             "span_qa": "GPT2ForQuestionAnswering"},
}
# Bare encoders (sentence-transformers checkpoints such as all-MiniLM-L6-v2): imported as a
# pre-trained run whose LM head starts untrained.
BARE = {"BertModel": "bert", "RobertaModel": "roberta", "AlbertModel": "albert",
        "ElectraModel": "electra", "GPT2Model": "gpt2"}

# (architecture, kind) -> [CLS] pooler and classifier names of the HF head
POOLED = {("bert", "classification"): ("bert.pooler.dense", "classifier"),
          ("bert", "multiple_choice"): ("bert.pooler.dense", "classifier"),
          ("roberta", "classification"): ("classifier.dense", "classifier.out_proj"),
          ("roberta", "multiple_choice"): ("roberta.pooler.dense", "classifier"),
          ("albert", "classification"): ("albert.pooler", "classifier"),
          ("albert", "multiple_choice"): ("albert.pooler", "classifier"),
          ("electra", "multiple_choice"): ("sequence_summary.summary", "classifier")}
# ElectraForMultipleChoice's SequenceSummary set up as lmlab's pooler: [CLS], dense, tanh.
ELECTRA_SUMMARY = {"summary_type": "first", "summary_use_proj": True,
                   "summary_proj_to_labels": False, "summary_activation": "tanh"}


def export_architecture(architecture: str, kind: str, options=None) -> str:
    """The architecture a model of ``kind`` is written as, or NoCounterpartError."""
    if options is not None and kind in ("classification", "regression", "multiple_choice"):
        if options.pooling != "cls":
            raise NoCounterpartError(f"a {kind} head with pooling: {options.pooling} has no "
                                     f"AutoModelFor... counterpart (HF pools [CLS])")
    if options is not None and kind == "tagging" and options.crf:
        raise NoCounterpartError("a CRF tagging head has no AutoModelForTokenClassification "
                                 "counterpart")
    if architecture == "electra" and kind in ("classification", "regression"):
        return "bert"  # see the module docstring
    if kind not in CLASSES[architecture]:
        raise NoCounterpartError(f"a {architecture} model with a {kind} head has no HF "
                                 f"counterpart (HF has {', '.join(CLASSES[architecture])})")
    return architecture


def head_config(architecture: str, kind: str, labels: list[str]) -> dict:
    """Extra ``config.json`` fields for a fine-tuned head."""
    extra: dict = {}
    if kind in ("classification", "tagging"):
        extra["id2label"] = dict(enumerate(labels))
        extra["label2id"] = {label: i for i, label in enumerate(labels)}
    elif kind == "regression":
        extra.update(num_labels=1, problem_type="regression")
    if architecture == "electra" and kind == "multiple_choice":
        extra.update(ELECTRA_SUMMARY)
    return extra


def class_of(architectures: list[str] | None, hf_config: dict) -> tuple[str, str]:
    """(architecture, lmlab kind) of an HF folder from its ``architectures`` entry."""
    name = (architectures or [None])[0]
    if name in BARE:
        return BARE[name], PRETRAINED
    for architecture, classes in CLASSES.items():
        for kind, class_name in classes.items():
            if class_name == name:
                if class_name.endswith("SequenceClassification"):
                    regression = (hf_config.get("num_labels") == 1 or len(hf_config.get(
                        "id2label") or {}) == 1 or hf_config.get("problem_type") == "regression")
                    kind = "regression" if regression else "classification"
                if architecture == "electra" and kind == "multiple_choice" and any(
                        hf_config.get(k, v) != v for k, v in ELECTRA_SUMMARY.items()):
                    break
                return architecture, kind
    supported = sorted(BARE) + sorted({c for classes in CLASSES.values() for c in classes.values()})
    raise NoCounterpartError(f"HF class {name!r} has no lmlab counterpart; lmlab reads "
                             f"{', '.join(supported)}")


def _body(architecture: str, model_config, pad_id: int, ours: str, tied) -> list[Rule]:
    layers = model_config.encoder.num_layers
    if architecture == "gpt2":
        return gpt2_body(layers, ours, tied)
    if architecture == "albert":
        shared = model_config.encoder.share_layers == "all"
        return albert_body("albert.", layers, shared, ours, tied)
    offset = pad_id + 1 if architecture == "roberta" else 0
    return bert_body(BODY_PREFIX[architecture], layers, ours, offset, tied)


def _check_mlm_head(architecture: str, model_config) -> None:
    head = model_config.lm_head
    wanted = "gelu" if architecture == "roberta" else model_config.encoder.activation
    if not (head.transform and head.bias and head.tie_weights and head.activation == wanted):
        raise NoCounterpartError(f"this model's LM head (transform {head.transform}, bias "
                                 f"{head.bias}, activation {head.activation}) is not HF "
                                 f"{CLASSES[architecture][PRETRAINED]}'s")


def name_table(architecture: str, kind: str, model_config, pad_id: int) -> list[Rule]:
    """The weight table of (architecture, kind): a LanguageModel's names for PRETRAINED,
    a FineTuneModel's (``backbone.*``, ``head.*``) otherwise."""
    if kind == PRETRAINED:
        rules = _body(architecture, model_config, pad_id, "", TIED)
        if architecture == "gpt2":
            return rules
        if architecture == "electra":
            return rules + electra_discriminator_head()
        _check_mlm_head(architecture, model_config)
        return rules + {"bert": bert_mlm_head, "roberta": roberta_mlm_head,
                        "albert": albert_mlm_head}[architecture]()
    rules = _body(architecture, model_config, pad_id, "backbone.", ())
    if kind == "tagging":
        return rules + token_head()
    if kind == "span_qa":
        return rules + span_head()
    pooler, classifier = POOLED[(architecture, "multiple_choice" if kind == "multiple_choice"
                                 else "classification")]
    return rules + pooled_head(pooler, classifier, scorer=kind == "multiple_choice")
