"""Post-training dynamic int8: quantized Linear modules, logits close to fp32."""

import torch
from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear
from torch import nn

from lmlab.compression.quantization.dynamic import dynamic_int8_bits, quantize_dynamic_int8
from lmlab.finetune.run_folder import load_finetuned

# Measured on this fixture (random bert/tiny classifier, 2 labels, x86 CPU): the largest
# logit gap is 0.012 with logits of size 0.03-0.4; 3e-2 leaves room for other int8 kernels.
TOLERANCE = 3e-2


def _batch(tokenizer):
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(tokenizer.num_special, tokenizer.vocab_size, (3, 12), generator=generator)
    ids[:, 0] = tokenizer.cls_id
    mask = torch.ones(3, 12, dtype=torch.long)
    mask[1, 7:] = 0
    ids[mask == 0] = tokenizer.pad_id
    return {"input_ids": ids, "attention_mask": mask,
            "segments": torch.zeros(3, 12, dtype=torch.long)}


def test_linear_layers_become_quantized_and_logits_stay_close(finetuned_run):
    _, tokenizer, model = load_finetuned(finetuned_run)
    quantized = quantize_dynamic_int8(model)
    linears = [m for m in model.modules() if type(m) is nn.Linear]
    assert linears and not any(type(m) is nn.Linear for m in quantized.modules())
    assert sum(isinstance(m, DynamicLinear) for m in quantized.modules()) == len(linears)
    batch = _batch(tokenizer)
    with torch.no_grad():
        fp32, int8 = model(batch), quantized(batch)  # (B, C) logits
    assert fp32.shape == (3, 2)
    assert (fp32 - int8).abs().max() < TOLERANCE
    assert not torch.equal(fp32, int8)  # it did quantize


def test_size_estimate_counts_linear_weights_as_bytes():
    model = nn.Sequential(nn.Embedding(5, 4), nn.Linear(4, 3))
    # embedding 20 fp32, Linear weight 12 int8 + scale/zero point, bias 3 fp32
    assert dynamic_int8_bits(model) == 20 * 32 + 12 * 8 + 64 + 3 * 32
