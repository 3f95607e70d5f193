#!/bin/bash
# ELECTRA vs BERT at the bert-tiny size (L2/H128/A2/FFN512) with 5x the budget of
# ../compare_electra_tiny_2e13: 1e14 training FLOPs each (another budget: pass it as the
# first argument, e.g. `bash command.sh 2e14`; the out folder is named after it).
# Fine-tuning exactly as there (2000-example subsets, seq 64, 3 epochs, lr 3e-4, seeds 1
# and 2), with the untrained encoder of the same size and bag-of-words as floors
# (fine-tuned again here, after BERT's pre-training, in BERT's process). The two
# pre-trainings run as two processes, 1 thread each, on the 2 cores of an otherwise quiet
# machine; the last call only writes the tables.
# Measured 2026-12-03, 15:53-16:29: pre-training 1769 s (BERT, 6870 steps) and 1975 s
# (ELECTRA, 6096 steps); all fine-tuning and the floors 6 minutes more.
export LMLAB_DATA=../shared/data
budget=${1:-1e14}
common=(suites/objectives --out runs/compare-electra-tiny-$budget --budget $budget
  --set model.embedding.hidden_size=128 --set model.encoder.num_layers=2
  --set model.encoder.num_heads=2 --set model.encoder.ffn_size=512
  --set train.num_threads=1 --set train.progress=false
  --suite-set 'tasks=[glue/cola, glue/sst2, glue/mrpc, glue/stsb, glue/rte]'
  --suite-set 'finetune.seeds=[1, 2]' --suite-set finetune.max_train_examples=2000
  --suite-set finetune.max_seq_len=64 --suite-set finetune.lr=3e-4
  --suite-set finetune.progress=false)
one() {
  lmlab compare "${common[@]}" --suite-set "presets=[{preset: $1, label: $2}]" \
    --suite-set 'verdict=[]' --suite-set untrained=$3 --suite-set bow=$3
}
(one bert/tiny BERT false && one bert/tiny BERT true) &
one electra/tiny ELECTRA false &
wait
lmlab compare "${common[@]}" \
  --suite-set 'presets=[{preset: bert/tiny, label: BERT}, {preset: electra/tiny, label: ELECTRA}]'
