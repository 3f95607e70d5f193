"""Parity: all-MiniLM-L6-v2 imported into lmlab's BERT composition gives the hidden
states of ``transformers.BertModel`` (to 1e-5), and the same WordPiece ids."""

import pytest
import torch

from lmlab.errors import CheckpointError
from lmlab.interop.hf_folder import load_hf_bert

transformers = pytest.importorskip("transformers")

TEXTS = ["The stock market fell sharply on Monday.",
         "A café's naïve résumé, unaffable [MASK] prose!"]


def test_minilm_hidden_states_match_bert_model(minilm_dir):
    _, tokenizer, ours, pooler = load_hf_bert(f"hf:{minilm_dir}")
    reference = transformers.BertModel.from_pretrained(str(minilm_dir)).eval()
    hf_tokenizer = transformers.BertTokenizerFast.from_pretrained(str(minilm_dir))
    batch = hf_tokenizer(TEXTS, padding=True, return_tensors="pt")
    for row, text in enumerate(TEXTS):
        ids = [tokenizer.cls_id] + tokenizer.encode(text) + [tokenizer.sep_id]
        assert ids == batch["input_ids"][row][batch["attention_mask"][row].bool()].tolist()
    with torch.no_grad():
        expected = reference(**batch).last_hidden_state
        got = ours(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"]).hidden
    keep = batch["attention_mask"].bool()
    torch.testing.assert_close(got[keep], expected[keep], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(pooler["weight"], reference.pooler.dense.weight)


def test_folder_without_config_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="no config.json"):
        load_hf_bert(f"hf:{tmp_path}")


def test_sequence_classification_matches_bert_for_sequence_classification(minilm_dir):
    """Encoder + pre-trained pooler + classifier: the logits of HF's model (to 1e-5)."""
    from lmlab.finetune.config import FinetuneOptions
    from lmlab.finetune.features import collate, pack
    from lmlab.finetune.model import build_finetune_model

    _, tokenizer, backbone, pooler = load_hf_bert(f"hf:{minilm_dir}")
    ours = build_finetune_model(backbone, "classification", 2, FinetuneOptions(), pooler).eval()
    reference = transformers.BertForSequenceClassification.from_pretrained(
        str(minilm_dir), num_labels=2).eval()
    with torch.no_grad():
        reference.classifier.weight.copy_(ours.head.classifier.weight)
        reference.classifier.bias.copy_(ours.head.classifier.bias)
    features = [pack(tokenizer, tokenizer.encode(a), tokenizer.encode(b), 64)
                for a, b in [("A man plays a flute.", "Someone is playing music."),
                             ("It rained all day.", "The weather was dry and it was sunny.")]]
    batch = collate(features, "classification", tokenizer.pad_id)
    with torch.no_grad():
        expected = reference(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                             token_type_ids=batch["segments"]).logits
        got = ours(batch)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_finetuning_steps_match_bert_for_sequence_classification(minilm_dir):
    """Three AdamW steps (dropout off, same batches, BERT's decay groups, clipping):
    lmlab's pair-classification losses are HF's, so the gap of issue 15 is the recipe."""
    from lmlab.config import TrainConfig
    from lmlab.finetune.config import FinetuneOptions
    from lmlab.finetune.features import collate, pack
    from lmlab.finetune.model import build_finetune_model
    from lmlab.training.optim import build_optimizer

    _, tokenizer, backbone, pooler = load_hf_bert(f"hf:{minilm_dir}")
    options = FinetuneOptions().for_kind("classification")
    ours = build_finetune_model(backbone, "classification", 2, options, pooler).eval()
    reference = transformers.BertForSequenceClassification.from_pretrained(
        str(minilm_dir), num_labels=2).eval()
    with torch.no_grad():
        reference.classifier.weight.copy_(ours.head.classifier.weight)
        reference.classifier.bias.copy_(ours.head.classifier.bias)
    train = TrainConfig(lr=options.lr, weight_decay=options.weight_decay)
    optimizers = [build_optimizer(ours, train), build_optimizer(reference, train)]
    pairs = [("A man plays a flute.", "Someone is playing music.", 1),
             ("It rained all day.", "The weather was dry and it was sunny.", 0),
             ("The cat sat on the mat.", "A cat was sitting on a mat.", 1),
             ("Stocks fell.", "Shares rose sharply in early trading.", 0)]
    features = [{**pack(tokenizer, tokenizer.encode(a), tokenizer.encode(b), 64), "label": y}
                for a, b, y in pairs]
    batch = collate(features, "classification", tokenizer.pad_id)
    for _ in range(3):
        losses = [ours.head.loss(ours(batch), batch),
                  reference(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                            token_type_ids=batch["segments"], labels=batch["labels"]).loss]
        torch.testing.assert_close(losses[0], losses[1], atol=1e-5, rtol=1e-5)
        for model, optimizer, loss in zip((ours, reference), optimizers, losses):
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), options.grad_clip)
            optimizer.step()
