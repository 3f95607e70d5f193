"""Task metrics (DESIGN §5): from scikit-learn / scipy, not re-derived.

Official metric per GLUE task (Wang et al. 2019): Matthews correlation (CoLA), accuracy
(SST-2, MNLI, QNLI, RTE, WNLI), F1 + accuracy (MRPC, QQP), Pearson + Spearman (STS-B).
NER is scored on entities, as conlleval (CoNLL-2003): an entity counts when its type and
both boundaries match exactly. Generation: ROUGE-1/2/L F1 (Lin 2004) from Google's
``rouge-score`` with its Porter stemmer, as BART and PEGASUS report it; translation:
BLEU (Papineni et al. 2002) and chrF (Popović 2015) from ``sacrebleu`` with its ``zh``
tokenizer for Chinese references (Post 2018). All scores are percentages (0..100) like the review's tables.
"""

from __future__ import annotations

from typing import Sequence

from lmlab.evaluation.squad_metrics import squad_scores


def accuracy(predictions: Sequence, golds: Sequence) -> float:
    from sklearn.metrics import accuracy_score

    return 100.0 * accuracy_score(golds, predictions)


def binary_f1(predictions: Sequence, golds: Sequence, positive="1") -> float:
    from sklearn.metrics import f1_score

    # F1 of the positive class; a third label (a text-to-text output that is no label
    # word) only counts as a miss, as in T5's evaluation.
    return 100.0 * float(f1_score(golds, predictions, labels=[positive], average=None,
                                  zero_division=0)[0])


def matthews(predictions: Sequence, golds: Sequence) -> float:
    from sklearn.metrics import matthews_corrcoef

    return 100.0 * matthews_corrcoef(golds, predictions)


def pearson(predictions: Sequence[float], golds: Sequence[float]) -> float:
    from scipy.stats import pearsonr

    return 100.0 * float(pearsonr(predictions, golds)[0])


def spearman(predictions: Sequence[float], golds: Sequence[float]) -> float:
    from scipy.stats import spearmanr

    return 100.0 * float(spearmanr(predictions, golds)[0])


def entity_spans(tags: Sequence[str]) -> set[tuple[str, int, int]]:
    """(type, start, end inclusive) for every entity in a BIO or BIOES tag sequence.

    Follows conlleval: an I- (or E-) tag whose type differs from the open entity starts a
    new entity; S- is a one-token entity; M- (BMES) is treated as I-.
    """
    spans, kind, start = set(), None, 0
    for index, tag in enumerate(list(tags) + ["O"]):
        prefix, _, label = tag.partition("-")
        prefix = "I" if prefix == "M" else prefix
        continues = prefix in ("I", "E") and label == kind
        if kind is not None and not continues:
            spans.add((kind, start, index - 1))
            kind = None
        if prefix in ("B", "S") or (prefix in ("I", "E") and not continues):
            kind, start = label, index
        if kind is not None and prefix in ("S", "E"):
            spans.add((kind, start, index))
            kind = None
    return spans


def entity_prf(predictions: Sequence[Sequence[str]], golds: Sequence[Sequence[str]]) -> dict:
    """Micro precision/recall/F1 over entities of every sentence."""
    correct = predicted = gold = 0
    for predicted_tags, gold_tags in zip(predictions, golds):
        p, g = entity_spans(predicted_tags), entity_spans(gold_tags)
        correct, predicted, gold = correct + len(p & g), predicted + len(p), gold + len(g)
    precision = 100.0 * correct / predicted if predicted else 0.0
    recall = 100.0 * correct / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"entity_f1": f1, "precision": precision, "recall": recall}


def _squad(predictions, golds):
    return squad_scores(predictions, golds)


def _cmrc(predictions, golds):
    return squad_scores(predictions, golds, chinese=True)


def rouge(predictions: Sequence[str], golds: Sequence[str]) -> dict:
    """Mean ROUGE-L, -1 and -2 F1 over the examples (ROUGE-L first: the headline)."""
    from rouge_score import rouge_scorer

    names = ("rougeL", "rouge1", "rouge2")
    scorer = rouge_scorer.RougeScorer(list(names), use_stemmer=True)
    totals = dict.fromkeys(names, 0.0)
    for prediction, gold in zip(predictions, golds):
        for name, value in scorer.score(gold, prediction).items():
            totals[name] += value.fmeasure
    return {name: 100.0 * total / max(1, len(golds)) for name, total in totals.items()}


def sacrebleu_zh(predictions: Sequence[str], golds: Sequence[str]) -> dict:
    """Corpus BLEU (zh tokenizer) and chrF of Chinese outputs, one reference each."""
    import sacrebleu

    bleu = sacrebleu.corpus_bleu(list(predictions), [list(golds)], tokenize="zh")
    chrf = sacrebleu.corpus_chrf(list(predictions), [list(golds)])
    return {"bleu": bleu.score, "chrf": chrf.score}


# name -> function(predictions, golds) -> {metric: value}; the first key is the headline.
TASK_METRICS = {
    "accuracy": lambda p, g: {"accuracy": accuracy(p, g)},
    "mcc": lambda p, g: {"mcc": matthews(p, g)},
    "f1_accuracy": lambda p, g: {"f1": binary_f1(p, g), "accuracy": accuracy(p, g)},
    "pearson_spearman": lambda p, g: {"spearman": spearman(p, g), "pearson": pearson(p, g)},
    "entity_f1": entity_prf,
    "squad": _squad,
    "cmrc": _cmrc,
    "rouge": rouge,
    "sacrebleu_zh": sacrebleu_zh,
}


def compute(metric: str, predictions: Sequence, golds: Sequence) -> dict[str, float]:
    """All scores of a task's metric; ``headline(metric, scores)`` picks the main one."""
    if len(predictions) != len(golds):
        raise ValueError(f"{len(predictions)} predictions for {len(golds)} gold labels")
    return {k: round(float(v), 4) for k, v in TASK_METRICS[metric](predictions, golds).items()}


def headline(scores: dict[str, float]) -> float:
    return next(iter(scores.values()))
