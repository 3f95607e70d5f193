"""MASS, BART and T5 corruption with exact expected values (Song et al. 2019; Lewis et al.
2020; Raffel et al. 2020). The text is 12 tokens with ids 10..21; [MASK] is 5."""

import pytest
import torch

from lmlab.config import load_config
from lmlab.data.batching import IGNORE
from lmlab.data.tokenizers import TokenizerConfig, sentence_end_table, sentinel_ids, train_tokenizer
from lmlab.errors import ConfigError
from lmlab.objectives.bart import BartConfig, BartObjective, bart_noise
from lmlab.objectives.bart_noise import (delete_random_tokens, infill_spans, mask_random_tokens,
                                         permute_sentences, poisson_span_lengths, rotate_document)
from lmlab.objectives.mass import MassConfig, MassObjective
from lmlab.objectives.seq2seq_pairs import pack_pairs
from lmlab.objectives.t5 import SpanCorruptionConfig, SpanCorruptionObjective, span_corruption_pair
from lmlab.presets import preset_path

TEXT = torch.arange(10, 22)  # (12,)
MASK = 5


def seeded(seed: int = 7) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_token_masking():  # round(0.3 * 12) = 4 tokens -> [MASK]
    assert mask_random_tokens(TEXT, 0.3, MASK, seeded()).tolist() == \
        [5, 11, 12, 5, 5, 5, 16, 17, 18, 19, 20, 21]


def test_token_deletion():  # the same 4 positions deleted
    assert delete_random_tokens(TEXT, 0.3, seeded()).tolist() == [11, 12, 16, 17, 18, 19, 20, 21]


def test_text_infilling_one_mask_per_span():
    # Spans of 3 and 1 (Poisson draws cut to the 4-token budget): 12-15 and 21.
    assert poisson_span_lengths(4, 3.0, seeded()).tolist() == [3, 1]
    assert infill_spans(TEXT, 0.3, 3.0, MASK, seeded()).tolist() == \
        [10, 11, 5, 15, 16, 17, 18, 19, 20, 5]


def test_text_infilling_zero_length_spans_insert_a_mask():
    assert poisson_span_lengths(4, 3.0, seeded(3)).tolist() == [0, 2, 2]
    # The 0-length span inserts a [MASK] before 10; 15-16 and 19-20 become one each.
    assert infill_spans(TEXT, 0.3, 3.0, MASK, seeded(3)).tolist() == \
        [5, 10, 11, 12, 13, 14, 5, 17, 18, 5, 21]
    assert poisson_span_lengths(4, 3.0, seeded(9)).tolist() == [3, 0, 1]
    assert infill_spans(TEXT, 0.3, 3.0, MASK, seeded(9)).tolist() == \
        [10, 11, 12, 13, 5, 17, 18, 5, 19, 5, 21]


def test_sentence_permutation():
    ends = torch.zeros(30, dtype=torch.bool)
    ends[[13, 17]] = True  # sentences 10-13, 14-17 and the unfinished 18-21
    assert permute_sentences(TEXT, ends, seeded(0)).tolist() == \
        [18, 19, 20, 21, 10, 11, 12, 13, 14, 15, 16, 17]


def test_document_rotation():
    assert rotate_document(TEXT, seeded()).tolist() == [13, 14, 15, 16, 17, 18, 19, 20, 21, 10, 11, 12]


def test_noising_functions_combine_in_order():
    config = BartConfig(token_masking=0.0, text_infilling=0.3, sentence_permutation=True,
                        document_rotation=True)
    ends = torch.zeros(30, dtype=torch.bool)
    ends[[13, 17]] = True
    generator = seeded(0)
    expected = rotate_document(infill_spans(permute_sentences(TEXT, ends, generator), 0.3, 3.0,
                                            MASK, generator), generator)
    assert torch.equal(bart_noise(TEXT, config, MASK, ends, seeded(0)), expected)
    assert config.describe() == "bart (sentence permutation + text infilling + document rotation)"


def test_poisson_span_lengths_on_a_large_sample():
    lengths = poisson_span_lengths(300_000, 3.0, seeded(0)).float()
    assert lengths.sum() == 300_000  # cut to the budget exactly
    body = lengths[:-1]  # all but the cut last one are plain Poisson(3) draws
    assert abs(body.mean().item() - 3.0) < 0.03
    assert abs(body.var().item() - 3.0) < 0.06  # Poisson: variance = mean
    assert abs((body == 0).float().mean().item() - torch.exp(torch.tensor(-3.0)).item()) < 0.003


def test_t5_sentinels_numbered_in_order():
    sentinels = [100, 101, 102, 103]
    # 40 tokens: round(0.15 * 40) = 6 noise tokens in round(6 / 3) = 2 spans.
    source, target, _ = span_corruption_pair(torch.arange(10, 50), 0.15, 3.0, sentinels, 4,
                                             seeded(0))
    assert source.tolist() == [10, 11, 12, 100, *range(15, 46), 101, 4]
    assert target.tolist() == [100, 13, 14, 101, 46, 47, 48, 49, 102]
    # The paper's layout on the 12-token text: 2 noise tokens, 1 span, final sentinel.
    source, target, _ = span_corruption_pair(TEXT, 0.15, 3.0, sentinels, 4, seeded())
    assert source.tolist() == [10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 100, 4]
    assert target.tolist() == [100, 20, 21, 101]


def test_t5_noise_density_and_span_count_on_many_texts():
    sentinels = list(range(1000, 1040))
    noise = spans = 0
    for seed in range(200):
        source, target, _ = span_corruption_pair(torch.arange(10, 138), 0.15, 3.0, sentinels, 4,
                                                 seeded(seed))
        in_target = [t for t in target.tolist() if t < 1000]
        noise += len(in_target)
        spans += sum(1 for t in source.tolist() if t >= 1000)
        assert [t for t in target.tolist() if t >= 1000] == sentinels[:7]  # 6 spans + final
        assert sorted(in_target + [t for t in source.tolist() if 10 <= t < 1000]) == list(range(10, 138))
    assert noise == 200 * 19 and spans == 200 * 6  # round(.15 * 128), round(19 / 3)


def test_mass_decoder_sees_only_the_shifted_fragment():
    tokenizer = _tokenizer()
    assert tokenizer.mask_id == MASK
    objective = MassObjective(MassConfig(fragment_rate=0.5), tokenizer, seed=0)
    ids = torch.tensor([[tokenizer.cls_id, *range(10, 22), tokenizer.sep_id]])  # (1, 14)
    batch = objective.corrupt({"input_ids": ids, "step": 3, "example_ids": torch.tensor([4])})
    source = batch["mass_source_ids"][0].tolist()
    labels = batch["mass_labels"][0].tolist()
    start = source.index(MASK) - 1  # u, in text positions
    assert labels == list(range(10 + start, 16 + start))  # m = 6 contiguous tokens
    assert source == [tokenizer.cls_id, *range(10, 10 + start), *[MASK] * 6,
                      *range(16 + start, 22), tokenizer.sep_id]
    assert batch["mass_decoder_ids"][0].tolist() == [MASK, *labels[:-1]]
    assert batch["mass_decoder_positions"][0].tolist() == list(range(start + 1, start + 7))
    assert batch["input_ids"] is ids  # the blocks themselves are left alone


def test_pack_pairs_pads_and_shifts():
    pairs = [(torch.tensor([2, 10, 11, 4]), torch.tensor([10, 11, 12]), None),
             (torch.tensor([2, 5, 4]), torch.tensor([13]), torch.tensor([7]))]
    batch = pack_pairs(pairs, pad_id=0, decoder_start_id=3, prefix="x")
    assert batch["x_source_ids"].tolist() == [[2, 10, 11, 4], [2, 5, 4, 0]]
    assert batch["x_source_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 1, 0]]
    assert batch["x_decoder_ids"].tolist() == [[3, 10, 11], [3, 0, 0]]
    assert batch["x_labels"].tolist() == [[10, 11, 12], [13, IGNORE, IGNORE]]
    assert batch["x_decoder_positions"].tolist() == [[0, 1, 2], [7, 1, 2]]


def _tokenizer(sentinels: int = 0):
    lines = ["w%d w%d w%d ." % (i, i + 1, i + 2) for i in range(40)]
    return train_tokenizer(lines, TokenizerConfig(sentinels=sentinels), "word", None)


def test_tokenizer_sentinels_and_sentence_ends():
    tokenizer = _tokenizer(sentinels=3)
    ids = sentinel_ids(tokenizer)
    assert [tokenizer.id_to_token(i) for i in ids] == ["<extra_id_0>", "<extra_id_1>", "<extra_id_2>"]
    assert ids == list(range(tokenizer.vocab_size - 3, tokenizer.vocab_size))
    assert tokenizer.encode("w1 <extra_id_1> .")[1] == ids[1]
    ends = sentence_end_table(tokenizer)
    assert ends.nonzero().squeeze(1).tolist() == sorted([tokenizer.eos_id, tokenizer.token_to_id(".")])


def test_objectives_corrupt_the_same_way_for_the_same_step_and_example():
    tokenizer = _tokenizer(sentinels=8)
    text = (6 + torch.arange(60) % 40).tolist()  # 60 ordinary tokens: T5 drops 9 in 3 spans
    ids = torch.tensor([[tokenizer.cls_id, *text, tokenizer.sep_id]] * 2)
    for objective in (BartObjective(BartConfig(document_rotation=True), tokenizer, 0),
                      SpanCorruptionObjective(SpanCorruptionConfig(), tokenizer, 0)):
        name = objective.config.name
        first = objective.corrupt({"input_ids": ids, "step": 5, "example_ids": torch.tensor([1, 2])})
        again = objective.corrupt({"input_ids": ids, "step": 5, "example_ids": torch.tensor([1, 2])})
        other = objective.corrupt({"input_ids": ids, "step": 6, "example_ids": torch.tensor([1, 2])})
        assert torch.equal(first[f"{name}_source_ids"], again[f"{name}_source_ids"])
        assert not torch.equal(first[f"{name}_source_ids"][0], first[f"{name}_source_ids"][1])
        assert not torch.equal(first[f"{name}_source_ids"], other[f"{name}_source_ids"])


def test_t5_without_sentinels_is_a_one_line_error():
    with pytest.raises(ConfigError, match=r"^data\.tokenizer\.sentinels: t5 span corruption needs"):
        SpanCorruptionObjective(SpanCorruptionConfig(), _tokenizer(sentinels=0), 0)
    with pytest.raises(ConfigError, match=r"data\.tokenizer\.sentinels: t5 span corruption of "
                                          r"data\.seq_len=64 needs at least 4 sentinel tokens, got 2"):
        load_config(preset_path("t5/tiny"), ["data.tokenizer.sentinels=2"])


@pytest.mark.parametrize("override, message", [
    ("objectives.0.text_infilling=1.5", r"objectives\[0\]\.text_infilling: must be in \[0, 1\)"),
    ("objectives.0.poisson_lambda=0", r"objectives\[0\]\.poisson_lambda: must be > 0"),
    ("objectives.0={name: bart, text_infilling: 0, sentence_permutation: false}",
     r"objectives\[0\]: no noising function is on"),
    ("data.batching=stream", r"objectives\[0\]: bart needs data\.batching: blocks"),
    ("model.encoder.mask=causal", r"objectives\[0\]: bart needs a bidirectional encoder"),
    ("data.seq_len=3", r"data\.seq_len: bart needs blocks of at least 4 tokens, got 3"),
])
def test_bart_config_errors_name_the_option(override, message):
    with pytest.raises(ConfigError, match=message) as error:
        load_config(preset_path("bart/tiny"), [override])
    assert "\n" not in str(error.value)
