# The feature-based table (issue 19), 2 shared CPU cores, torch 1 thread, nice:
cd /work/main && . .venv/bin/activate && export LMLAB_DATA=/work/shared/data OMP_NUM_THREADS=1
nice lmlab compare suites/feature_based --out runs/feature-based
# (measured: /tmp/fbfull/out, 2,499 s for the first pass; the transformer's reference
# fine-tuning was then re-run with the suite's current finetune options (lr 1e-3, 10
# epochs; the first pass used lr 1e-4, 3 epochs: superseded_finetune_lr1e-4_3epochs/) by
# the same command on the same --out, which kept every other unit.)

# The extra ELMo rows: elmo/tiny trained for the preset's own 600 steps (the suite's
# 240 s cap stopped it at 228 steps); measured in /tmp/fbelmo/elmo800 (sic: 600 steps)
nice lmlab train elmo/tiny --set train.progress=false --set train.eval_every=0 --out runs/elmo-tiny
for task in ner/conll2003 glue/sst2; do for layers in mix top; do
  nice lmlab finetune elmo:runs/elmo-tiny --task $task --feature-based --feature-layers $layers \
    --lr 2e-3 --epochs 10 --batch-size 32 --dropout 0.5 --seeds 1 2 3 --max-train-examples 2000 \
    --quiet --out runs/features-elmo-$(echo $task | tr / _)-$layers
done; done
