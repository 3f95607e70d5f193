#!/bin/bash
# XLNet's row of ../compare_objectives_tiny_2e13 with the same settings (bert-tiny size
# L2/H128/A2/FFN512, 2e13 training FLOPs, WikiText-2, 8k WordPiece, seq 128, batch 32;
# fine-tuning on 2000-example subsets, seq 64, 3 epochs, lr 3e-4, seeds 1 and 2), the
# classifiers reading the last token (the suite row's pooling: last). One process, 1 thread,
# load average 4.5-6 from other jobs on the 2 cores; 1291 s wall (pre-training 1028 s).
# Measured 2026-12-05, 11:27-11:49.
export LMLAB_DATA=../shared/data
lmlab compare suites/objectives --out runs/compare-xlnet-tiny-2e13 --budget 2e13 \
  --set model.embedding.hidden_size=128 --set model.encoder.num_layers=2 \
  --set model.encoder.num_heads=2 --set model.encoder.ffn_size=512 \
  --set train.num_threads=1 --set train.progress=false \
  --suite-set 'tasks=[glue/cola, glue/sst2, glue/mrpc, glue/stsb, glue/rte]' \
  --suite-set 'finetune.seeds=[1, 2]' --suite-set finetune.max_train_examples=2000 \
  --suite-set finetune.max_seq_len=64 --suite-set finetune.lr=3e-4 \
  --suite-set finetune.progress=false \
  --suite-set 'presets=[{preset: xlnet/tiny, label: XLNet, pooling: last}]' \
  --suite-set 'verdict=[]' --suite-set untrained=false --suite-set bow=false
