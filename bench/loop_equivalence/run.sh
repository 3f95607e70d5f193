#!/bin/bash
# usage: run.sh <tree> <outroot>
tree=$1; out=$2; mkdir -p $out
export PYTHONPATH=$tree/src LMLAB_DATA=/work/shared/data OMP_NUM_THREADS=1
for p in $PRESETS; do
  name=${p//\//_}
  extra=""
  case $p in lstm/*|nnlm/*|rnnlm/*) extra="data.batch_size=4 data.seq_len=20";; *) extra="data.batch_size=4 data.seq_len=32";; esac
  /work/main/.venv/bin/python -c "import sys; from lmlab.cli import main; sys.exit(main())" train /work/wt/base/configs/$p.yaml --data ptb $(for kv in train.max_steps=12 train.max_epochs=0 train.max_time_s=0 train.eval_every=6 train.eval_batches=2 train.checkpoint_every=6 train.log_every=3 train.progress=false $extra; do printf -- "--set %s " $kv; done) --out $out/$name > $out/$name.log 2>&1 || echo "FAIL $p"
done
