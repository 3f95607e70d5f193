#!/bin/bash
# Issue 17: which levers make pre-training show at the laptop budget? RoBERTa (MLM) at the
# bert-tiny size (L2/H128/A2/FFN512), 2e13 training FLOPs per pre-training (~1,300 steps),
# five GLUE tasks, seeds 1 and 2, fine-tuning lr 3e-4 at length 64. One unit per folder;
# each folder's table2.md is the row in the README's ablation table. Runs resume.
# Measured 2026-12-05/06 on the shared 2-core CPU, one thread per unit.
set -e
export OMP_NUM_THREADS=1
R=${R:-runs/levers}
common=(suites/objectives --budget 2e13
  --set model.embedding.hidden_size=128 --set model.encoder.num_layers=2
  --set model.encoder.num_heads=2 --set model.encoder.ffn_size=512
  --set train.num_threads=1 --set train.progress=false
  --suite-set 'presets=[{preset: roberta/tiny, label: RoBERTa}]' --suite-set 'verdict=[]'
  --suite-set 'tasks=[glue/cola, glue/sst2, glue/mrpc, glue/stsb, glue/rte]'
  --suite-set 'finetune.seeds=[1, 2]' --suite-set finetune.max_seq_len=64 --suite-set finetune.lr=3e-4
  --suite-set finetune.progress=false)
small=(--suite-set finetune.max_train_examples=2000)      # the 2k-example protocol of Tables 1-2
full=(--suite-set finetune.max_train_examples=20000 --suite-set finetune.epochs=5 --suite-set finetune.patience=2)
none=(--suite-set untrained=false --suite-set bow=false)
english=(--set data.dataset=$R/en_corpus)                  # the deduplicated English pool
nodrop=(--set model.embedding.dropout=0 --set model.encoder.dropout=0 --set model.encoder.attention_dropout=0)
[ -f $R/en_corpus/train.txt ] || lmlab data build-english --out $R/en_corpus
lmlab compare "${common[@]}" "${small[@]}" "${none[@]}" --out $R/base
lmlab compare "${common[@]}" "${small[@]}" "${none[@]}" --set objectives.0.mask_rate=0.4 --out $R/mask40
lmlab compare "${common[@]}" "${small[@]}" "${none[@]}" "${nodrop[@]}" --out $R/nodrop
lmlab compare "${common[@]}" "${small[@]}" "${none[@]}" "${english[@]}" --out $R/en
# the same with the untrained floor on the pool's vocabulary (reuses en's units)
mkdir -p $R/en_with_untrained && cp -rn $R/en/pretrain $R/en/finetune $R/en_with_untrained/
lmlab compare "${common[@]}" "${small[@]}" "${english[@]}" --suite-set bow=false --out $R/en_with_untrained
lmlab compare "${common[@]}" "${small[@]}" "${none[@]}" "${english[@]}" "${nodrop[@]}" --set objectives.0.mask_rate=0.4 --out $R/en_mask40_nodrop
lmlab compare "${common[@]}" "${small[@]}" "${none[@]}" "${english[@]}" --set train.lr=2e-3 --out $R/en_lr2e3
lmlab compare "${common[@]}" "${small[@]}" "${none[@]}" "${english[@]}" --set data.batch_size=8 --out $R/en_b8
lmlab compare "${common[@]}" "${small[@]}" "${english[@]}" --suite-set bow=false --set model.embedding.hidden_size=64 --set model.encoder.ffn_size=256 --out $R/en_h64
lmlab compare "${common[@]}" "${small[@]}" "${none[@]}" "${english[@]}" --set data.seq_len=64 --set data.batch_size=64 --out $R/en_seq64
# Full fine-tuning sets (20k examples at most, 5 epochs, early stopping after 2 flat epochs)
# reuse the pre-trainings above (copy RUN/pretrain into the new folder first, as done here).
mkdir -p $R/ft_full $R/mask40_ft_full $R/en_ft_full
cp -rn $R/base/pretrain $R/ft_full/; cp -rn $R/mask40/pretrain $R/mask40_ft_full/; cp -rn $R/en/pretrain $R/en_ft_full/
lmlab compare "${common[@]}" "${full[@]}" --out $R/ft_full                                  # + untrained and BoW floors
lmlab compare "${common[@]}" "${full[@]}" "${none[@]}" --set objectives.0.mask_rate=0.4 --out $R/mask40_ft_full
lmlab compare "${common[@]}" "${full[@]}" "${english[@]}" --suite-set bow=false --out $R/en_ft_full   # + untrained on the pool's vocabulary
# ELECTRA vs BERT re-tested with the pool + batch 8 (the best lever above)
for preset in bert/tiny:BERT electra/tiny:ELECTRA; do
  lmlab compare "${common[@]}" "${small[@]}" "${none[@]}" "${english[@]}" --set data.batch_size=8 \
    --suite-set "presets=[{preset: ${preset%%:*}, label: ${preset##*:}}]" --out $R/en_b8_${preset##*:}
done
