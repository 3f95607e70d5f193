#!/bin/bash
# issue 21: the knowledge suite at 1e12 FLOPs a row (as bench/results/knowledge_small) with
# the supersense probe column on every row, plus KnowBERT on gloss embeddings (word2vec of
# WikiText-2, 50-d, the size of TransE's auto). 2 shared CPU cores, nice, 1 thread.
set -e
OUT=bench/results/knowledge_probe   # run from the repository root
export OMP_NUM_THREADS=1
nice -n 10 lmlab embed train --data wikitext-2 --out runs/sg-wt2-50d --vector-size 50 --epochs 5 \
  --workers 1 --no-progress
nice -n 10 lmlab knowledge gloss --vectors runs/sg-wt2-50d --out runs/gloss-wt2-50d
ROWS='[{preset: bert/tiny, label: BERT}, {preset: libert/tiny, label: LIBERT},
 {preset: sensebert/tiny, label: SenseBERT}, {preset: ernie2/tiny, label: ERNIE 2.0},
 {preset: ernie_thu/tiny, label: ERNIE-THU}, {preset: knowbert/tiny, label: KnowBERT},
 {preset: knowbert/tiny, label: KnowBERT-gloss, overrides: [model.encoder.knowledge.entities=runs/gloss-wt2-50d]}]'
nice -n 10 lmlab compare suites/knowledge --out runs/knowledge-probe --budget 1e12 \
  --set model.embedding.hidden_size=128 --set model.encoder.num_layers=2 \
  --set model.encoder.num_heads=2 --set model.encoder.ffn_size=512 --set train.progress=false \
  --suite-set "presets=$ROWS" \
  --suite-set "tasks=[glue/sst2,glue/mrpc]" --suite-set finetune.seeds=[1,2] \
  --suite-set finetune.epochs=1 --suite-set finetune.max_train_examples=1000 \
  --suite-set finetune.progress=false --suite-set lexical.supersense_max_tokens=5000
# the command alone: BERT has no head (fallback to the probe), SenseBERT's head, the probe
# on SenseBERT, and the unmasked probe (a positive control) on both
nice -n 10 lmlab knowledge supersense runs/knowledge-probe/pretrain/BERT > $OUT/supersense_BERT.json
nice -n 10 lmlab knowledge supersense runs/knowledge-probe/pretrain/SenseBERT --max-tokens 5000 \
  > $OUT/supersense_SenseBERT_head.json
nice -n 10 lmlab knowledge supersense runs/knowledge-probe/pretrain/SenseBERT --probe \
  > $OUT/supersense_SenseBERT_probe.json
for run in BERT SenseBERT; do
  nice -n 10 lmlab knowledge supersense runs/knowledge-probe/pretrain/$run --probe --unmasked \
    > $OUT/supersense_${run}_unmasked.json
done
cp runs/knowledge-probe/{compare.md,lexical.md,lexical.json,table1.json,table2.json} $OUT/
# 600 PTB steps (the presets' own data and size): the masked probe on BERT vs SenseBERT,
# 3 line-split seeds, and SenseBERT's head on valid
for p in bert sensebert; do
  nice -n 10 lmlab train $p/tiny --out runs/probe600-$p --set train.max_steps=600 \
    --set train.progress=false --set train.eval_every=600
  nice -n 10 lmlab knowledge supersense runs/probe600-$p --probe > $OUT/probe600_$p.json
  for s in 1 2; do
    nice -n 10 lmlab knowledge supersense runs/probe600-$p --probe --seed $s > $OUT/probe600_${p}_seed$s.json
  done
done
nice -n 10 lmlab knowledge supersense runs/probe600-sensebert --max-tokens 20000 > $OUT/probe600_sensebert_head.json
# KnowBERT, 200 PTB steps: TransE (auto) vs gloss entity vectors (-> knowbert200.json, from
# each run's metrics.jsonl at step 200)
nice -n 10 lmlab train knowbert/tiny --out runs/kb200-auto --set train.max_steps=200 \
  --set train.eval_every=100 --set train.progress=false
nice -n 10 lmlab train knowbert/tiny --out runs/kb200-gloss --set train.max_steps=200 \
  --set train.eval_every=100 --set train.progress=false \
  --set model.encoder.knowledge.entities=runs/gloss-wt2-50d
for e in auto gloss; do
  nice -n 10 lmlab knowledge supersense runs/kb200-$e > $OUT/kb200_${e}_probe.json
done
