#!/bin/bash
# ELECTRA vs BERT at the suite's size (L4/H256/A4/FFN1024, WikiText-2, 8k WordPiece, seq 128,
# batch 32), 4e13 training FLOPs each (BERT 442 steps, ELECTRA 392: its FLOPs per step were
# counted before commit "ELECTRA step: inverse-CDF sampling ...", which removed its second
# generator decoder product, so ELECTRA got ~2.5% fewer steps than it would now). Fine-tuning
# on 2000-example subsets, seq 64, 3 epochs, lr 1e-4, seeds 1 and 2; 1 thread per job on
# 2 cores shared with 2-3 other jobs; 6,292 s wall in all.
LMLAB_DATA=../shared/data lmlab compare suites/objectives \
  --out runs/compare-electra-4e13 --budget 4e13 --set train.num_threads=1 --set train.progress=false \
  --suite-set 'presets=[{preset: bert/tiny, label: BERT}, {preset: electra/tiny, label: ELECTRA}]' \
  --suite-set 'tasks=[glue/cola, glue/sst2, glue/mrpc, glue/stsb, glue/rte]' \
  --suite-set 'finetune.seeds=[1, 2]' --suite-set finetune.max_train_examples=2000 \
  --suite-set finetune.max_seq_len=64 --suite-set finetune.progress=false
