"""Helpers of the conversion tests: a tiny tokenizer, random weights, and lmlab and HF
models of one conversion run on the same input.

Shared by the conversion parity tests: ``lmlab_outputs`` and ``hf_outputs`` give
``{"hidden": (N, D), "logits": (N, ...)}`` over the real (non-padding) positions, or per
example for sequence-level heads, so the two can be compared with one assert_close.
"""

from __future__ import annotations

import torch

from lmlab.data.tokenizers import TokenizerConfig, train_tokenizer

WORDS = ("the stock market fell sharply on monday as investors sold shares of banks and "
         "the company said profits rose while a cat sat on the mat near a river bank").split()
B, T, K = 2, 12, 3  # batch, length, choices


def randomise(model: torch.nn.Module, seed: int = 0) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.05)


def tiny_tokenizer():
    lines = [" ".join(WORDS[i:i + 9]) for i in range(0, len(WORDS), 3)]
    return train_tokenizer(lines, TokenizerConfig(), "word", None)


def make_batch(tokenizer, kind: str | None, seed: int = 0) -> dict:
    """Random ids of real tokens (never padding), one row right-padded, two segments."""
    generator = torch.Generator().manual_seed(seed)
    rows = B * K if kind == "multiple_choice" else B
    ids = torch.randint(tokenizer.num_special, tokenizer.vocab_size, (rows, T), generator=generator)
    ids[:, 0] = tokenizer.cls_id
    mask = torch.ones(rows, T, dtype=torch.long)
    mask[1, 8:] = 0
    ids[mask == 0] = tokenizer.pad_id
    segments = torch.zeros(rows, T, dtype=torch.long)
    segments[:, 5:8] = 1
    batch = {"input_ids": ids, "attention_mask": mask, "segments": segments}
    if kind == "tagging":
        batch["word_starts"] = torch.tensor([[0, 1, 3, 4, 6], [0, 2, 3, 5, 7]])
        batch["word_mask"] = torch.ones(B, 5, dtype=torch.long)
    if kind == "multiple_choice":
        batch["num_choices"] = K
    return batch


def _real(tensor, mask):
    return tensor[mask.bool()]


def lmlab_outputs(model, batch: dict, kind: str | None, architecture: str) -> dict:
    ids, mask, segments = batch["input_ids"], batch["attention_mask"], batch["segments"]
    if architecture == "gpt2":
        segments = None
    with torch.no_grad():
        if kind is None:
            hidden = model(ids, mask, segments).hidden
            if architecture == "electra":
                logits = model.heads["rtd"].discriminate(hidden)
            else:
                logits = model.lm_head(hidden)
            return {"hidden": _real(hidden, mask), "logits": _real(logits, mask)}
        hidden = model.backbone(ids, mask, segments).hidden
        logits = model(dict(batch, segments=segments if segments is not None
                            else torch.zeros_like(ids)))
    if kind == "span_qa":
        logits = _real(logits, mask)
    return {"hidden": _real(hidden, mask), "logits": logits}


def lmlab_generator_logits(model, batch: dict) -> torch.Tensor:
    rtd = model.heads["rtd"]
    ids, mask, segments = batch["input_ids"], batch["attention_mask"], batch["segments"]
    with torch.no_grad():
        x = rtd.generator_in(model.embedding(ids, segments))
        return _real(rtd.generator_head(rtd.generator(x, mask).hidden), mask)


def hf_outputs(hf_model, batch: dict, kind: str | None, architecture: str) -> dict:
    ids, mask, segments = batch["input_ids"], batch["attention_mask"], batch["segments"]
    inputs = {"input_ids": ids, "attention_mask": mask}
    if architecture != "gpt2":
        inputs["token_type_ids"] = segments
    if kind == "multiple_choice":
        inputs = {name: value.view(B, K, T) for name, value in inputs.items()}
    with torch.no_grad():
        output = hf_model(**inputs, output_hidden_states=True)
    hidden = output.hidden_states[-1]
    if kind == "span_qa":
        logits = _real(torch.stack([output.start_logits, output.end_logits], -1), mask)
    else:
        logits = output.logits
        if kind is None:
            logits = _real(logits, mask)
        elif kind == "tagging":
            starts = batch["word_starts"]
            logits = logits.gather(1, starts.unsqueeze(-1).expand(-1, -1, logits.shape[-1]))
        elif kind == "regression":
            logits = logits.squeeze(-1)
    return {"hidden": _real(hidden.reshape(mask.shape + hidden.shape[-1:]), mask),
            "logits": logits}


def assert_same(ours: dict, theirs: dict) -> None:
    for name in ("hidden", "logits"):
        assert ours[name].shape == theirs[name].shape, name
        torch.testing.assert_close(ours[name], theirs[name], atol=1e-5, rtol=1e-5, msg=name)
