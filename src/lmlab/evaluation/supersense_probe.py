"""A supersense probe on any frozen encoder (issue 21's word-level table).

SenseBERT (Levine et al. 2020, §5.1, "SemEval-SS Frozen") reads a frozen model's
contextual states with a linear classifier over the 45 WordNet supersenses. lmlab has no
sense-annotated text (docs/knowledge.md, "Gold senses"), so the
probe is trained as SenseBERT's own head is, on the allowed sets: a word w's targets are
A(w), the lexnames of all its synsets (:mod:`lmlab.knowledge.supersense`), and a linear
layer on the standardised states minimises

    L_allowed + L_reg = −log Σ_{s ∈ A(w)} p(s | h_w) − Σ_{s ∈ A(w)} (1 / |A(w)|) log p(s | h_w)

(Levine et al. 2020, eqs. 3-4; the objective's default ``reg_weight`` 1), full batch with
L-BFGS. It is scored as SenseBERT scores its head: a word counts when its top supersense
is in A(w). Beside it, the context-free prior: always answer the supersense allowed most
often among the *training* words.

The text is the run's own training split: its lines (distinct texts only), in a seeded
order, read until ``max_tokens`` tokens; the first ``1 − test_fraction`` of those lines
train the probe, the rest test it, so no sentence is on both sides
(:func:`split_sentences`). Each line is fed as ``[CLS] line [SEP]`` (cut to the run's
``seq_len``); h_w is the last layer's state of a word with a non-empty A(w) *at a
[MASK]*: the line is read in 7 copies, each masking a seeded seventh of its sense words
(:func:`masked_copies`), so the context alone must say which supersenses fit, as for
SenseBERT's head, and SenseBERT's supersense input vectors (empty at [MASK]) cannot hand
A(w) to the probe. ``groups = 0`` reads the words themselves, unmasked. An entity-fusion
run (ERNIE-THU, KnowBERT) reads the line's WordNet links less the masked words' mentions,
as in pre-training.
"""

from __future__ import annotations

import numpy as np
import torch

from lmlab.data.lm_data import split_lines
from lmlab.errors import DataError
from lmlab.knowledge.entity_linking import hide_masked
from lmlab.knowledge.lexical_pairs import cached_wordnet
from lmlab.knowledge.supersense import (NUM_SUPERSENSES, allowed_supersense_loss,
                                        allowed_supersense_mask, supersense_accuracy)
from lmlab.registry import build_objectives
from lmlab.training.checkpoint import load_run


def split_sentences(sentences: list[list[int]], seed: int, max_tokens: int,
                    test_fraction: float) -> tuple[list[list[int]], list[list[int]]]:
    """(train, test) token-id lines: distinct non-empty lines in a seeded order (NumPy
    ``default_rng(seed).permutation``), kept until ``max_tokens`` tokens (0 = all), the
    last ``round(n · test_fraction)`` (at least 1) of the n kept lines on the test side."""
    distinct = list({tuple(s): None for s in sentences if s})
    order = np.random.default_rng(seed).permutation(len(distinct))
    kept, tokens = [], 0
    for index in order:
        if max_tokens and tokens >= max_tokens:
            break
        kept.append(list(distinct[index]))
        tokens += len(distinct[index])
    if len(kept) < 2:
        raise DataError(f"the supersense probe needs at least 2 distinct lines; got {len(kept)}")
    test = max(1, round(len(kept) * test_fraction))
    return kept[:-test], kept[-test:]


def fit_supersense_probe(train_x: np.ndarray, train_allowed: np.ndarray,
                         test_x: np.ndarray, test_allowed: np.ndarray, seed: int = 0,
                         reg_weight: float = 1.0, weight_decay: float = 1e-4,
                         max_iterations: int = 200) -> dict:
    """A linear layer on the standardised states, trained full-batch (L-BFGS) on
    L_allowed + ``reg_weight`` · L_reg (eqs. 3-4, :func:`allowed_supersense_loss`) plus
    ``weight_decay`` · ||W||², and its allowed-set accuracy on both sides, with the training
    side's most-allowed supersense as the prior."""
    if not train_allowed.any(axis=1).all():
        raise DataError("the supersense probe's training words need a non-empty A(w)")
    mean, std = train_x.mean(axis=0), train_x.std(axis=0) + 1e-6

    def scaled(x):
        return torch.from_numpy(((x - mean) / std).astype(np.float32))  # (N, H)

    inputs, allowed = scaled(train_x), torch.from_numpy(train_allowed)
    generator = torch.Generator().manual_seed(seed)
    probe = torch.nn.Linear(inputs.shape[1], NUM_SUPERSENSES)
    with torch.no_grad():
        bound = 1 / inputs.shape[1] ** 0.5  # nn.Linear's own init, from a seeded generator
        probe.weight.uniform_(-bound, bound, generator=generator)
        probe.bias.uniform_(-bound, bound, generator=generator)
    optimizer = torch.optim.LBFGS(probe.parameters(), max_iter=max_iterations,
                                  line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss_allowed, loss_reg = allowed_supersense_loss(probe(inputs), allowed)
        loss = loss_allowed + reg_weight * loss_reg + weight_decay * probe.weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)

    def accuracy(x, sets):
        with torch.no_grad():
            return supersense_accuracy(probe(scaled(x)), torch.from_numpy(sets))

    prior = int(train_allowed.sum(axis=0).argmax())  # the supersense allowed most often
    return {"accuracy": accuracy(test_x, test_allowed),
            "train_accuracy": accuracy(train_x, train_allowed),
            "prior_accuracy": float(test_allowed[:, prior].mean()),
            "prior_supersense": prior,
            "train_words": int(len(train_x)), "test_words": int(len(test_x))}


def _linker(config, tokenizer, model):
    """The run's entity linker (ERNIE-THU's ``dea``, KnowBERT's ``entity_linking``), or None."""
    for objective in build_objectives(config.objectives, tokenizer, config.train.seed):
        links = getattr(objective, "entity_links", None)
        if links is not None:
            links.attach(model)
            return links
    return None


def masked_copies(line: list[int], has_sense: list[bool], groups: int, seed: int,
                  index: int, mask_id: int) -> list[tuple[list[int], list[int]]]:
    """(ids, masked positions) copies of one line: its sense words are dealt round-robin, in
    a seeded order (``default_rng([seed, index])``), into ``groups`` groups, and each copy
    masks one group (about 1/groups of the sense words), so every sense word is
    read once at a ``[MASK]``. ``groups = 0``: the line itself, its sense words unmasked."""
    words = [position for position, sense in enumerate(has_sense) if sense]
    if groups == 0:
        return [(line, words)] if words else []
    order = np.random.default_rng([seed, index]).permutation(len(words))
    copies = []
    for group in range(min(groups, len(words))):
        chosen = sorted(words[i] for i in order[group::groups])
        ids = list(line)
        for position in chosen:
            ids[position] = mask_id
        copies.append((ids, chosen))
    return copies


def word_states(model, lines: list[list[int]], allowed: torch.Tensor, tokenizer,
                seq_len: int, linker=None, groups: int = 7, seed: int = 0,
                batch_size: int = 16):
    """(states (N, H), allowed (N, 45)) of the sense words (non-empty A(w)) of ``lines``,
    each line read as ``[CLS] line [SEP]`` (cut to ``seq_len``) in its
    :func:`masked_copies`; an entity-fusion run's links come from the clean line, less the
    masked words' mentions (as in pre-training)."""
    items = []  # (clean ids, ids read, positions read)
    for index, line in enumerate(lines):
        clean = [tokenizer.cls_id, *line[:seq_len - 2], tokenizer.sep_id]
        has_sense = allowed[torch.tensor(clean)].any(dim=-1).tolist()
        items += [(clean, ids, chosen) for ids, chosen in
                  masked_copies(clean, has_sense, groups, seed, index, tokenizer.mask_id)]
    states, senses = [], []
    for start in range(0, len(items), batch_size):
        chunk = items[start:start + batch_size]
        width = max(len(clean) for clean, _, _ in chunk)
        clean = torch.full((len(chunk), width), tokenizer.pad_id, dtype=torch.long)  # (B, T)
        ids = clean.clone()
        mask = torch.zeros(len(chunk), width, dtype=torch.long)  # (B, T), 1 = token
        chosen = torch.zeros(len(chunk), width, dtype=torch.bool)  # (B, T): positions read
        for row, (clean_ids, read_ids, positions) in enumerate(chunk):
            clean[row, :len(clean_ids)] = torch.tensor(clean_ids)
            ids[row, :len(read_ids)] = torch.tensor(read_ids)
            mask[row, :len(clean_ids)] = 1
            chosen[row, positions] = True
        knowledge = {}
        if linker is not None:
            links = linker.links(clean)
            knowledge = {"knowledge": hide_masked(links, chosen) if groups else links}
        with torch.no_grad():
            hidden = model(ids, mask, **knowledge).hidden  # (B, T, H)
        states.append(hidden[chosen].float())
        senses.append(allowed[clean][chosen])
    return torch.cat(states).numpy(), torch.cat(senses).numpy()


def supersense_probe_of_run(run: str, seed: int = 0, max_tokens: int = 20000,
                            test_fraction: float = 0.2, wordnet: str | None = None,
                            groups: int = 7) -> dict:
    """The probe on the run folder ``run`` (module docstring); one JSON-able dict."""
    config, tokenizer, model = load_run(run)
    vocabulary = [tokenizer.id_to_token(i) or "" for i in range(tokenizer.vocab_size)]
    allowed = allowed_supersense_mask(cached_wordnet(str(wordnet or "")), vocabulary)
    lines = tokenizer.encode_batch([line.text for line in
                                    split_lines(config.data.dataset, "train")
                                    if line.text.strip()])
    train_lines, test_lines = split_sentences(lines, seed, max_tokens, test_fraction)
    linker = _linker(config, tokenizer, model)
    train_x, train_allowed = word_states(model, train_lines, allowed, tokenizer,
                                         config.data.seq_len, linker, groups, seed)
    test_x, test_allowed = word_states(model, test_lines, allowed, tokenizer,
                                       config.data.seq_len, linker, groups, seed)
    if len(train_x) == 0 or len(test_x) == 0:
        raise DataError(f"{run}: no WordNet word on the probe's train or test side")
    return {"run": str(run), "method": "probe", "seed": seed, "max_tokens": max_tokens,
            "test_fraction": test_fraction, "masked": groups > 0,
            "train_lines": len(train_lines),
            "test_lines": len(test_lines),
            **fit_supersense_probe(train_x, train_allowed, test_x, test_allowed, seed)}
