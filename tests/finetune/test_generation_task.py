"""Generation tasks (issue 18): the AG News headline and news-commentary readers with their
seeded split, a held-out file given by path, the features of each generation mode written
out, UniLM's [MASK] decoding (cached = recomputed), ROUGE and BLEU, and one-line errors."""

from __future__ import annotations

import pytest
import torch

from lmlab.data.batching import IGNORE
from lmlab.errors import DataError
from lmlab.evaluation.metrics import compute
from lmlab.finetune.seq2seq_features import collate_seq2seq, encode_seq2seq
from lmlab.generation.api import SpecialIds, generate_ids
from lmlab.generation.options import GenerationOptions
from lmlab.tasks.catalogue import get_task
from lmlab.tasks.examples import Seq2SeqExample
from lmlab.tasks.seq2seq_readers import (clean_ag_news, read_headlines, read_parallel,
                                         seeded_split)


def test_ag_news_escapes_are_undone():
    raw = r"Fed #39;s rate \ hike &lt;b&gt;...&lt;/b&gt; costs  #36;10"
    assert clean_ag_news(raw) == "Fed's rate hike ... costs $10"


@pytest.mark.parametrize("header", ["label,title,description\n", ""])
def test_headlines_read_both_public_layouts(tmp_path, header):
    path = tmp_path / "ag.csv"
    path.write_text(header + '3,Oil #39;s rise,"Prices rose \\ again, said AP."\n'
                    '1,Vote today,Polls open at nine.\n', encoding="utf-8")
    examples = read_headlines(path)
    assert [(e.text, e.target) for e in examples] == [
        ("Prices rose again, said AP.", "Oil's rise"), ("Polls open at nine.", "Vote today")]
    assert examples[0].source == f"{path}:{2 if header else 1}"


def test_an_empty_title_names_its_line(tmp_path):
    path = tmp_path / "ag.csv"
    path.write_text("label,title,description\n2,,Some text here.\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"ag.csv:2: field 'title' is empty"):
        read_headlines(path)


def test_parallel_lines_need_two_columns(tmp_path):
    path = tmp_path / "en-zh.txt"
    path.write_text("Hello.\t你好。\nNo target here\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"en-zh.txt:2: field 'target'"):
        read_parallel(path)


def test_the_seeded_split_is_fixed_disjoint_and_in_file_order():
    examples = [Seq2SeqExample(str(i), str(i), f"f:{i}") for i in range(10)]
    sizes = {"train": 6, "dev": 2, "test": 2}
    parts = {name: [e.text for e in seeded_split(examples, name, sizes)] for name in sizes}
    assert sorted(sum(parts.values(), []), key=int) == [str(i) for i in range(10)]
    assert all(part == sorted(part, key=int) for part in parts.values())
    assert parts == {name: [e.text for e in seeded_split(examples, name, sizes)]
                     for name in sizes}
    with pytest.raises(DataError, match="10 examples, but the split train 8, dev 4"):
        seeded_split(examples, "dev", {"train": 8, "dev": 4})


def test_the_headline_task_splits_6000_800_800(shared_data):
    spec = get_task("gen/ag_news_headlines")
    parts = {split: spec.read(split) for split in ("train", "dev", "test")}
    assert {k: len(v) for k, v in parts.items()} == {"train": 6000, "dev": 800, "test": 800}
    sources = [{e.source for e in part} for part in parts.values()]
    assert not (sources[0] & sources[1] or sources[0] & sources[2] or sources[1] & sources[2])


def test_a_held_out_file_is_read_whole_by_path(tmp_path):
    path = tmp_path / "held_out.csv"
    path.write_text("label,title,description\n4,A title,A description.\n", encoding="utf-8")
    examples = get_task("gen/ag_news_headlines").read(str(path))
    assert [(e.text, e.target) for e in examples] == [("A description.", "A title")]
    with pytest.raises(DataError, match="missing.csv: no such file"):
        get_task("gen/ag_news_headlines").read(str(tmp_path / "missing.csv"))


class WordTokenizer:
    """Whitespace tokens; ids from a fixed list, specials first (as lmlab's tokenizers)."""
    pad_id, unk_id, eos_id, cls_id, sep_id, mask_id = range(6)

    def __init__(self, words: str):
        self.vocab = {w: i + 6 for i, w in enumerate(words.split())}

    def encode_batch(self, texts):
        return [[self.vocab.get(w, self.unk_id) for w in text.split()] for text in texts]


TOKENIZER = WordTokenizer("a b c x y z")  # a=6 b=7 c=8 x=9 y=10 z=11
EXAMPLE = [Seq2SeqExample("a b c", "x y", "t:1")]


def test_encoder_decoder_features_and_batch():
    feature, = encode_seq2seq(TOKENIZER, EXAMPLE, "encoder_decoder", 16, 8, decoder_start_id=2)
    assert feature["ids"] == feature["prompt"] == [3, 6, 7, 8, 4]  # [CLS] a b c [SEP]
    assert feature["target"] == [9, 10, 4]  # x y [SEP]
    assert feature["decoder_ids"] == [2, 9, 10]  # start x y
    batch = collate_seq2seq([feature], "encoder_decoder", TOKENIZER)
    assert batch["labels"].tolist() == [[9, 10, 4]]


def test_prefix_lm_labels_are_the_next_target_token():
    feature, = encode_seq2seq(TOKENIZER, EXAMPLE, "prefix_lm", 16, 8)
    assert feature["ids"] == [6, 7, 8, 4, 9, 10, 2]  # a b c [SEP] x y <eos>
    batch = collate_seq2seq([feature], "prefix_lm", TOKENIZER)
    assert batch["labels"].tolist() == [[IGNORE, IGNORE, IGNORE, 9, 10, 2, IGNORE]]


def test_unilm_masks_targets_and_uses_the_seq2seq_mask():
    feature, = encode_seq2seq(TOKENIZER, EXAMPLE, "unilm", 16, 8)
    assert feature["ids"] == [3, 6, 7, 8, 4, 9, 10, 4] and feature["segments"] == [0] * 5 + [1] * 3
    batch = collate_seq2seq([feature], "unilm", TOKENIZER, target_mask_rate=1.0,
                            generator=torch.Generator().manual_seed(0))
    assert batch["input_ids"].tolist() == [[3, 6, 7, 8, 4, 5, 5, 5]]  # every target: [MASK]
    assert batch["labels"].tolist() == [[IGNORE] * 5 + [9, 10, 4]]
    mask = batch["attention_mask"][0].int()  # (L, L): source both ways, target causal
    assert mask[0].tolist() == [1, 1, 1, 1, 1, 0, 0, 0]
    assert mask[6].tolist() == [1, 1, 1, 1, 1, 1, 1, 0]


def test_long_sources_and_targets_are_cut_with_a_counted_warning(capsys):
    examples = [Seq2SeqExample("a b c a b c", "x y z x", "t:1"), EXAMPLE[0]]
    features = encode_seq2seq(TOKENIZER, examples, "encoder_decoder", 6, 3, decoder_start_id=2)
    assert features[0]["ids"] == [3, 6, 7, 8, 6, 4] and features[0]["target"] == [9, 10, 4]
    err = capsys.readouterr().err
    assert "1 of 2 sources were longer than 4 tokens" in err
    assert "1 of 2 targets were longer than 2 tokens" in err


def _bidirectional_model():
    from lmlab.composition import LanguageModel
    from lmlab.embeddings.token_embedding import EmbeddingConfig, TokenEmbedding
    from lmlab.encoders.transformer import TransformerConfig, TransformerEncoder
    from lmlab.heads.lm_head import LMHead, LMHeadConfig

    torch.manual_seed(0)
    embedding = TokenEmbedding(EmbeddingConfig(vocab_size=12, hidden_size=16, num_segments=2,
                                               position="learned", max_positions=32))
    encoder = TransformerEncoder(16, TransformerConfig(num_layers=2, num_heads=2, ffn_size=32,
                                                       mask="bidirectional", dropout=0.0))
    head = LMHead(16, 12, LMHeadConfig(), embedding.tokens)
    return LanguageModel(embedding, encoder, head).eval()


@pytest.mark.parametrize("beams", [1, 3])
def test_unilm_decoding_with_the_cache_equals_recomputing(beams):
    model = _bidirectional_model()
    prompts = [[3, 6, 7, 4], [3, 8, 9, 10, 11, 4]]  # different lengths: left padding
    special = SpecialIds((4,), 0, mask_predict_id=5)
    options = GenerationOptions(max_new_tokens=6, num_beams=beams, suppress_ids=(0, 1, 2, 3, 5))
    cached = generate_ids(model, prompts, options, special)
    assert cached == generate_ids(model, prompts, options, special, use_cache=False)
    one_by_one = [generate_ids(model, [p], options, special)[0] for p in prompts]
    assert cached == one_by_one  # padding changes nothing


def test_unilm_first_step_reads_the_mask_after_the_source():
    model = _bidirectional_model()
    prompt = [3, 6, 7, 4]
    special = SpecialIds((4,), 0, mask_predict_id=5)
    first = generate_ids(model, [prompt], GenerationOptions(max_new_tokens=1,
                                                            suppress_ids=(0, 1, 2, 3, 5)),
                         special)[0][0]
    ids = torch.tensor([prompt + [5]])  # [CLS] a b [SEP] [MASK]
    segments = torch.tensor([[0, 0, 0, 0, 1]])
    with torch.no_grad():
        logits = model.lm_head(model(ids, None, segments).hidden[:, -1])[0]
    logits[[0, 1, 2, 3, 5]] = float("-inf")
    assert first == int(logits.argmax())


def test_rouge_and_bleu_come_from_their_libraries():
    scores = compute("rouge", ["oil prices rise", "vote today"], ["Oil price rises", "vote today"])
    assert scores == {"rougeL": 100.0, "rouge1": 100.0, "rouge2": 100.0}  # stemmed, lowercased
    half = compute("rouge", ["oil prices fall"], ["oil prices rise sharply"])
    assert half["rouge1"] == pytest.approx(100 * 2 * (2 / 3) * (2 / 4) / (2 / 3 + 2 / 4), abs=1e-3)
    bleu = compute("sacrebleu_zh", ["巴黎是法国的首都。"], ["巴黎是法国的首都。"])
    assert bleu["bleu"] == pytest.approx(100.0) and bleu["chrf"] == pytest.approx(100.0)


def test_text_to_text_writes_t5_inputs_and_targets(shared_data):
    from lmlab.tasks.text_to_text import from_text, text_to_text

    mrpc = text_to_text(get_task("glue/mrpc"))
    assert mrpc.kind == "generation" and mrpc.metric == "f1_accuracy"
    first = mrpc.read("dev")[0]
    assert first.text.startswith("mrpc sentence1: ") and " sentence2: " in first.text
    assert (first.target, first.gold) in (("equivalent", "1"), ("not equivalent", "0"))
    stsb = text_to_text(get_task("glue/stsb")).read("dev[:50]")
    assert all(e.target == f"{round(e.gold * 5) / 5:.1f}" for e in stsb)  # nearest 0.2
    assert from_text("glue/stsb", "3 . 8") == 3.8 and from_text("glue/stsb", "great") == -1.0
    assert from_text("glue/mrpc", " Not  Equivalent ") == "0"
    assert from_text("glue/mrpc", "equivalent maybe") == "<invalid>"
    with pytest.raises(DataError, match="ner/conll2003 has no text-to-text format"):
        text_to_text(get_task("ner/conll2003"))
