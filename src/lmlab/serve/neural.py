"""Endpoint handlers of neural runs (issue 23), each a thin call into what lmlab already
does: per-token scores (:mod:`lmlab.evaluation.token_scores`), ``fill_mask``,
``generate_texts`` / ``generate_outputs``, and the fine-tuning's ``task_data.encode`` ->
head -> ``task_data.decode``.

A handler maps (texts, request) to one result dict per text; ``lmlab.serve.app`` has
already checked the request against the server's limits.
"""

from __future__ import annotations

import math

import torch

from lmlab.evaluation.fill_mask import fill_mask
from lmlab.evaluation.token_scores import token_log_probs
from lmlab.finetune import task_data
from lmlab.finetune.features import collate
from lmlab.finetune.generate import special_ids
from lmlab.finetune.job import predict
from lmlab.finetune.qa_features import MAX_QUESTION_TOKENS, best_answers
from lmlab.generation import generate_texts
from lmlab.generation.api import generate_outputs, position_limit
from lmlab.heads.sequence_classification import pool
from lmlab.serve.limits import RequestError
from lmlab.tasks.catalogue import get_task
from lmlab.tasks.examples import (ChoiceExample, QAExample, Seq2SeqExample, TaggedExample,
                                  TextExample)


def score_result(tokens: list[str], log_probs: list[float], **extra) -> dict:
    """Perplexity exp(-mean ln p) and each scored token's ln p (shared with n-gram runs)."""
    total = sum(log_probs)
    return {"perplexity": math.exp(-total / len(log_probs)), "log_prob": total,
            "tokens": [{"token": token, "logprob": value, **{k: v[i] for k, v in extra.items()}}
                       for i, (token, value) in enumerate(zip(tokens, log_probs))]}


def _where(texts: list[str], index: int) -> str:
    return "text" if len(texts) == 1 else f"texts[{index}]"


def _check_positions(embedding, texts: list[str], lengths: list[int]) -> None:
    """A text longer than the model's positions is refused, never cut silently."""
    limit = position_limit(embedding)
    for index, length in enumerate(lengths):
        if limit is not None and length > limit:
            raise RequestError(422, f"{_where(texts, index)}: {length} tokens, more than the "
                                    f"model's {limit} positions; send a shorter text")


def scorer(model, tokenizer, seq_len: int):
    """Causal LMs: the text as a line of the corpus, ``<eos>`` before it as context and
    after it scored, exactly as the held-out perplexity reads a split."""
    @torch.inference_mode()
    def score(texts: list[str], request) -> list[dict]:
        results = []
        for text in texts:
            ids = [tokenizer.eos_id] + tokenizer.encode(text) + [tokenizer.eos_id]
            log_probs = token_log_probs(model, ids, seq_len)  # (len(ids) - 1,)
            results.append(score_result([tokenizer.id_to_token(i) for i in ids[1:]], log_probs))
        return results
    return score


def mask_filler(model, tokenizer):
    mask = tokenizer.id_to_token(tokenizer.mask_id)

    def fill(texts: list[str], request) -> list[dict]:
        _check_positions(model.embedding, texts, [len(tokenizer.encode(t)) + 2 for t in texts])
        results = []
        for index, text in enumerate(texts):
            predictions = fill_mask(model, tokenizer, text, request.top_k)
            if not predictions:
                raise RequestError(422, f"{_where(texts, index)}: no {mask} token; write {mask} "
                                        f"where a word is missing")
            results.append({"masks": [[{"token": token, "probability": p} for token, p in row]
                                      for row in predictions]})
        return results
    return fill


def generator(model, tokenizer, decoder_start_id: int | None):
    """Pre-training runs, as ``lmlab generate`` (``recipes.evaluate.generate_from_run``)."""
    def generate(texts: list[str], request) -> list[dict]:
        outputs = generate_texts(model, tokenizer, texts, request.options(), decoder_start_id)
        return [{"generated_text": output} for output in outputs]
    return generate


def finetuned_generator(model, tokenizer, config):
    """Fine-tuned generators: the prompt as the fine-tuning laid it out
    (``task_data.encode``), the request's decoding options."""
    spec = get_task(config.task)
    special = special_ids(tokenizer, config.generation_mode, config.decoder_start_id)

    def generate(texts: list[str], request) -> list[dict]:
        examples = [Seq2SeqExample(text, None, _where(texts, i)) for i, text in enumerate(texts)]
        features = task_data.encode(spec, tokenizer, examples, config)
        outputs = generate_outputs(model.backbone, tokenizer, [f["prompt"] for f in features],
                                   request.options(), special)
        return [{"generated_text": output} for output in outputs]
    return generate


def classifier(model, tokenizer, config):
    """The head's label (``head.predict``, as ``lmlab predict``) and the softmax of its
    logits over ``config.labels``; regression: the value."""
    spec = get_task(config.task)

    @torch.inference_mode()
    def classify(texts: list[str], request) -> list[dict]:
        if request.text_pair is not None and len(texts) > 1:
            raise RequestError(422, "text_pair: give it with one text, not with a batch")
        examples = [TextExample(text, request.text_pair, None, _where(texts, i))
                    for i, text in enumerate(texts)]
        features = task_data.encode(spec, tokenizer, examples, config)
        batch = collate(features, spec.kind, tokenizer.pad_id)
        logits = model(batch)  # (B, C), or (B,) for regression
        labels = task_data.decode(spec, examples, features, model.head.predict(logits, batch),
                                  config.labels, config.options)
        if spec.kind == "regression":
            return [{"value": value} for value in labels]
        probabilities = torch.softmax(logits.float(), dim=-1).tolist()  # (B, C)
        return [{"label": label, "scores": dict(zip(config.labels, row))}
                for label, row in zip(labels, probabilities)]
    return classify


def tagger(model, tokenizer, config):
    """One tag per space-separated word (``job.predict`` then ``task_data.decode``)."""
    spec = get_task(config.task)

    def tag(texts: list[str], request) -> list[dict]:
        examples = [TaggedExample(text.split(), None, _where(texts, i))
                    for i, text in enumerate(texts)]
        features = task_data.encode(spec, tokenizer, examples, config)
        raw = predict(model, spec.kind, features, config, tokenizer)
        tags = task_data.decode(spec, examples, features, raw, config.labels, config.options)
        return [{"words": [{"word": word, "tag": tag} for word, tag in zip(example.tokens, row)]}
                for example, row in zip(examples, tags)]
    return tag


def answerer(model, tokenizer, config):
    """Span QA as the fine-tuning's evaluation reads it: ``[CLS] question [SEP] window [SEP]``
    windows ``doc_stride`` apart (``task_data.encode``), the head's start/end logits
    (``job.predict``), the best of the n-best spans up to ``max_answer_length`` tokens over
    all windows (``qa_features.best_answers``)."""
    spec, options = get_task(config.task), config.options

    def answer(texts: list[str], request) -> list[dict]:
        asked = len(tokenizer.backend.encode(request.question, add_special_tokens=False).ids)
        if asked > MAX_QUESTION_TOKENS:  # encode_qa would keep only the first ones
            raise RequestError(422, f"question: {asked} tokens, more than the "
                                    f"{MAX_QUESTION_TOKENS} a QA model reads; ask it shorter")
        example = QAExample("request", request.question, request.context)
        features = task_data.encode(spec, tokenizer, [example], config)
        logits = predict(model, spec.kind, features, config, tokenizer)  # (T, 2) per window
        (best,) = best_answers([example], features, logits, options.n_best,
                               options.max_answer_length)
        return [{"answer": best.pop("text"), **best, "windows": len(features)}]
    return answer


def chooser(model, tokenizer, config):
    """Multiple choice as fine-tuned: ``[CLS] context [SEP] question choice [SEP]`` per
    choice (``task_data.encode``; the context is cut to fit, as in training), the softmax
    of the head's scores over the choices."""
    spec = get_task(config.task)

    @torch.inference_mode()
    def choose(texts: list[str], request) -> list[dict]:
        example = ChoiceExample(request.context, request.question, list(request.choices), None)
        (feature,) = task_data.encode(spec, tokenizer, [example], config)
        batch = collate([feature], spec.kind, tokenizer.pad_id)
        probabilities = torch.softmax(model(batch).float(), dim=-1)[0].tolist()  # (K,)
        best = max(range(len(probabilities)), key=probabilities.__getitem__)
        context = len(tokenizer.encode(request.context)) if request.context.strip() else 0
        kept = min(sequence["segments"].count(0) - 2 for sequence in feature["choices"])
        return [{"label": best, "choice": request.choices[best],
                 "probabilities": probabilities, "context_truncated": kept < context}]
    return choose


def embedder(backbone, tokenizer, framed: bool):
    """The mean of the last hidden states over the text's tokens; ``framed``: as
    ``[CLS] text [SEP]`` (bidirectional encoders and encoder–decoders read it so)."""
    @torch.inference_mode()
    def embed(texts: list[str], request) -> list[dict]:
        if request.neighbors:
            raise RequestError(422, "neighbors: only word-vector models have nearest words; "
                                    "leave it 0 for a neural model")
        rows = [tokenizer.encode(text) for text in texts]
        rows = [[tokenizer.cls_id] + row + [tokenizer.sep_id] if framed else row or
                [tokenizer.eos_id] for row in rows]
        _check_positions(backbone.embedding, texts, [len(row) for row in rows])
        backbone.eval()
        results = []
        for row in rows:
            ids = torch.tensor([row])  # (1, T)
            mask = torch.ones_like(ids)
            hidden = backbone(ids, mask).hidden  # (1, T, D)
            vector = pool(hidden.float(), mask, "mean")[0]  # (D,)
            results.append({"vector": vector.tolist(), "dimensions": int(vector.numel()),
                            "tokens": len(row)})
        return results
    return embed
