#!/bin/bash
# The first real (small, far from converged) objective comparison, 2 shared CPU cores,
# load average 5-7 from other jobs during the whole run; 1233 s wall in all.
# The bert-tiny size (L2/H128) instead of the suite's L4/H256, 1e12 training FLOPs per
# pre-training run (60-78 steps, about 0.3M tokens), fine-tuning on 1000-example subsets,
# 2 epochs, seq 64, 2 seeds. FLOPs per step were counted before commit bcfbc41, which added
# the fused LM head's in-place weight-gradient matmul: MLM-headed rows were undercounted by
# 7-8% (SpanBERT, whose SBO head is fused too, by 15%), ELECTRA by 7%, so BERT vs ELECTRA
# stayed within 1% of equal compute.
LMLAB_DATA=../shared/data lmlab compare suites/objectives \
  --out runs/compare-first-1e12 --budget 1e12 \
  --set model.embedding.hidden_size=128 --set model.encoder.num_layers=2 \
  --set model.encoder.num_heads=2 --set model.encoder.ffn_size=512 --set train.progress=false \
  --suite-set "finetune.seeds=[1, 2]" --suite-set finetune.max_train_examples=1000 \
  --suite-set finetune.epochs=2 --suite-set finetune.max_seq_len=64 --suite-set finetune.progress=false
