#!/bin/bash
# The Chinese comparison of issue 7 (BERT vs BERT-wwm with jieba word boundaries) on the
# CLUECorpusSmall sample, at the bert-tiny size (L2/H128/A2/FFN512) instead of the suite's
# L4/H256, 1.5e13 training FLOPs per pre-training run (1114 steps, 4.6M tokens, ~7 epochs of
# the 650k-character sample), fine-tuning on 2000-example subsets, 3 epochs, 2 seeds.
# LCQMC and XNLI-zh ship dev files only here: the suite fine-tunes on dev[:50%] and scores
# dev[50%:] (task_splits). 2,189 s wall on 2 cores shared with 2-3 other jobs (load 3-5).
LMLAB_DATA=../shared/data lmlab compare suites/objectives_zh \
  --out runs/compare-zh-1.5e13 --budget 1.5e13 \
  --set model.embedding.hidden_size=128 --set model.encoder.num_layers=2 \
  --set model.encoder.num_heads=2 --set model.encoder.ffn_size=512 \
  --set train.num_threads=1 --set train.progress=false \
  --suite-set "finetune.seeds=[1, 2]" --suite-set finetune.max_train_examples=2000 \
  --suite-set finetune.progress=false
