"""lmlab.generation: beam search on a model whose best sequence is known, the processors'
exact values, KV-cached decoding = recomputing every prefix, batching = one at a time,
per-sequence stopping, and one-line errors for bad options and inputs."""

import pytest
import torch

from lmlab.config import load_config
from lmlab.errors import ConfigError
from lmlab.generation import GenerationOptions, SpecialIds, generate_ids
from lmlab.generation.processors import banned_by_ngrams, top_k_filter, top_p_filter
from lmlab.generation.search import beam_search, greedy_or_sample
from lmlab.presets import preset_path
from lmlab.registry import build_model

EOS, A, B = 0, 1, 2


class MarkovStepper:
    """A hand-built 3-token model: p(next | last token), as log-probabilities.

    p(A) = 0.6, p(B) = 0.4 first; after A: EOS 0.34, A 0.33, B 0.33; after B: EOS 0.9.
    Greedy takes A then EOS (p = 0.204); the best sequence is B EOS (p = 0.36)."""

    TABLE = {None: [1e-9, 0.6, 0.4], A: [0.34, 0.33, 0.33], B: [0.9, 0.05, 0.05]}

    def __init__(self):
        self.batch_sizes = []

    def _logits(self):
        self.batch_sizes.append(len(self.last))
        return torch.tensor([self.TABLE[last] for last in self.last]).log()

    def start(self, prompts):
        self.last = [None] * len(prompts)
        return self._logits()

    def step(self, tokens):
        self.last = tokens.tolist()
        return self._logits()

    def select(self, rows):
        self.last = [self.last[row] for row in rows.tolist()]


def test_beam_search_finds_the_best_sequence_greedy_does_not():
    options = GenerationOptions(max_new_tokens=5)
    assert greedy_or_sample(MarkovStepper(), [[7]], [[7]], options, (EOS,)) == [[A, EOS]]
    beams = GenerationOptions(max_new_tokens=5, num_beams=2)
    assert beam_search(MarkovStepper(), [[7]], [[7]], beams, (EOS,)) == [[B, EOS]]


def test_finished_sequences_leave_the_batch():
    stepper = MarkovStepper()
    outputs = greedy_or_sample(stepper, [[7]] * 3, [[7]] * 3,
                               GenerationOptions(max_new_tokens=5), (EOS,))
    assert outputs == [[A, EOS]] * 3
    assert stepper.batch_sizes == [3, 3]  # all stopped at step 2: no third step is run


def test_ngram_blocking_bans_what_would_repeat():
    # 2-grams of [5, 6, 5]: (5, 6), (6, 5); after a final 5, 6 would repeat (5, 6).
    assert banned_by_ngrams([[5, 6, 5], [1], [3, 3]], 2) == [[6], [], [3]]
    assert banned_by_ngrams([[1, 2, 3, 1, 2]], 3) == [[3]]
    assert banned_by_ngrams([[4, 9]], 1) == [[4, 9]]


def test_top_k_and_top_p_keep_exactly_the_expected_tokens():
    scores = torch.tensor([[2.0, 1.0, 0.0, -1.0]])  # probabilities .644 .237 .087 .032
    assert torch.isinf(top_k_filter(scores, 2)).tolist() == [[False, False, True, True]]
    # top_p 0.85: .644 + .237 = .881 reaches it; the third token is dropped.
    assert torch.isinf(top_p_filter(scores, 0.85)).tolist() == [[False, False, True, True]]
    assert torch.isinf(top_p_filter(scores, 0.9)).tolist() == [[False, False, False, True]]
    assert not torch.isinf(top_p_filter(scores, 1.0)).any()
    assert torch.isinf(top_p_filter(scores, 0.1)).tolist() == [[False, True, True, True]]


def _model(preset: str, vocab: int = 50, overrides=()):
    torch.manual_seed(0)
    config = load_config(preset_path(preset), list(overrides))
    model = build_model(config.model, vocab).eval()
    for parameter in model.parameters():
        parameter.data.normal_(0.0, 0.3)
    return model


SPECIAL = {"gpt/tiny": SpecialIds((3,), 0), "bart/tiny": SpecialIds((3,), 0, 2),
           "t5/tiny": SpecialIds((3,), 0, 0), "lstm/small": SpecialIds((3,), 0)}
PROMPTS = [[5, 9, 11, 40, 7], [8], [12, 13, 14]]
SEARCHES = [GenerationOptions(max_new_tokens=8),
            GenerationOptions(max_new_tokens=8, num_beams=3, no_repeat_ngram_size=2),
            GenerationOptions(max_new_tokens=8, do_sample=True, top_k=10, seed=1)]


@pytest.mark.parametrize("preset", ["gpt/tiny", "bart/tiny", "t5/tiny"])
def test_kv_cached_decoding_equals_recomputing_every_prefix(preset):
    model = _model(preset).double()  # float64: the two paths agree far below any tie
    for options in SEARCHES:
        cached = generate_ids(model, PROMPTS, options, SPECIAL[preset])
        assert cached == generate_ids(model, PROMPTS, options, SPECIAL[preset], use_cache=False)
        assert all(len(output) >= 1 for output in cached)


@pytest.mark.parametrize("preset", ["gpt/tiny", "bart/tiny", "t5/tiny", "lstm/small"])
def test_a_batch_generates_what_each_prompt_generates_alone(preset):
    model = _model(preset).double()
    options = SEARCHES[1]
    together = generate_ids(model, PROMPTS, options, SPECIAL[preset])
    assert together == [generate_ids(model, [p], options, SPECIAL[preset])[0] for p in PROMPTS]


def test_same_seed_same_samples_other_seed_other_samples():
    model = _model("gpt/tiny")
    options = GenerationOptions(max_new_tokens=10, do_sample=True)
    first = generate_ids(model, PROMPTS, options, SPECIAL["gpt/tiny"])
    assert first == generate_ids(model, PROMPTS, options, SPECIAL["gpt/tiny"])
    other = GenerationOptions(max_new_tokens=10, do_sample=True, seed=1)
    assert first != generate_ids(model, PROMPTS, other, SPECIAL["gpt/tiny"])


@pytest.mark.parametrize("options, message", [
    (GenerationOptions(num_beams=0), "num_beams: must be >= 1"),
    (GenerationOptions(max_new_tokens=0), "max_new_tokens: must be >= 1"),
    (GenerationOptions(top_p=1.5), "top_p: must be in (0, 1]"),
    (GenerationOptions(temperature=0.0), "temperature: must be > 0"),
    (GenerationOptions(min_new_tokens=9, max_new_tokens=4), "min_new_tokens: must be from 0"),
    (GenerationOptions(num_beams=2, do_sample=True), "num_beams: beam search does not sample"),
])
def test_bad_options_are_one_line_errors_naming_the_option(options, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("]", r"\]")):
        generate_ids(_model("gpt/tiny"), PROMPTS, options, SPECIAL["gpt/tiny"])


def test_empty_input_and_a_missing_start_token_are_refused():
    with pytest.raises(ConfigError, match="input 1: empty"):
        generate_ids(_model("gpt/tiny"), [[4], []], GenerationOptions(), SPECIAL["gpt/tiny"])
    with pytest.raises(ConfigError, match="decoder_start_id"):
        generate_ids(_model("bart/tiny"), [[4]], GenerationOptions(), SpecialIds((3,), 0))


def test_lengths_beyond_the_positions_are_cut_with_a_count_or_refused(capsys):
    model = _model("gpt/tiny", overrides=["model.embedding.max_positions=16", "data.seq_len=16"])
    with pytest.raises(ConfigError, match="max_new_tokens: at most 15 .* got 16"):
        generate_ids(model, PROMPTS, GenerationOptions(max_new_tokens=16), SPECIAL["gpt/tiny"])
    long = list(range(4, 30))  # 26 tokens; 16 positions - 6 new tokens leave 10
    outputs = generate_ids(model, [long, [5]], GenerationOptions(max_new_tokens=6),
                           SPECIAL["gpt/tiny"])
    assert outputs[0] == generate_ids(model, [long[-10:]], GenerationOptions(max_new_tokens=6),
                                      SPECIAL["gpt/tiny"])[0]
    assert "1 of 2 prompts were longer than the model's 10 positions" in capsys.readouterr().err
