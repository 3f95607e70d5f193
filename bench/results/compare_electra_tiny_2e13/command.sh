#!/bin/bash
# ELECTRA vs BERT at the bert-tiny size (L2/H128/A2/FFN512; more steps per FLOP than L4/H256),
# 2e13 training FLOPs each (BERT 1374 steps, ELECTRA 1219), fine-tuning on 2000-example
# subsets, seq 64, 3 epochs, lr 3e-4 (ELECTRA-Small's), seeds 1 and 2, no untrained row
# (its floor at L4/H256 is in ../compare_electra_4e13). 1 thread; shared machine.
LMLAB_DATA=../shared/data lmlab compare suites/objectives \
  --out runs/compare-electra-tiny-2e13 --budget 2e13 \
  --set model.embedding.hidden_size=128 --set model.encoder.num_layers=2 \
  --set model.encoder.num_heads=2 --set model.encoder.ffn_size=512 \
  --set train.num_threads=1 --set train.progress=false \
  --suite-set 'presets=[{preset: bert/tiny, label: BERT}, {preset: electra/tiny, label: ELECTRA}]' \
  --suite-set 'tasks=[glue/cola, glue/sst2, glue/mrpc, glue/stsb, glue/rte]' \
  --suite-set 'finetune.seeds=[1, 2]' --suite-set finetune.max_train_examples=2000 \
  --suite-set finetune.max_seq_len=64 --suite-set finetune.lr=3e-4 \
  --suite-set finetune.progress=false --suite-set untrained=false
