#!/bin/bash
# issue 24: suites/crosslingual with the transfer pairs (SST-2 -> ChnSentiCorp + lexicon
# translate-train + Unicoder multi-language FT, RTE -> XNLI-2way, CMRC 2018 -> SQuAD) at the
# committed budget (1.4e12 training FLOPs per model). The pre-training of runs/crosslingual
# (the suite as committed before, same configs and budget) is reused: only the transfers run.
# CPU, nice, one thread; 2 cores shared with 4 other jobs. No squad_file: English QA is held
# back from $LMLAB_DATA, so that column reads "no English QA file".
set -e
export LMLAB_DATA=${LMLAB_DATA:-../shared/data} OMP_NUM_THREADS=1
[ -d runs/crosslingual/pretrain ] || nice -n 10 lmlab compare suites/crosslingual --out runs/crosslingual
for out in runs/crosslingual-pairs runs/crosslingual-pairs2; do
  mkdir -p $out/results
  cp -r runs/crosslingual/pretrain runs/crosslingual/.lmlab-output $out/
  cp runs/crosslingual/results/*.retrieval.json $out/results/
done
# the suite's protocol: 1,000 examples, 1 epoch, seeds 0 and 1 (468 s)
nice -n 10 lmlab compare suites/crosslingual --out runs/crosslingual-pairs
# longer fine-tuning of the same pre-trained models: 4,000 examples, 3 epochs, seed 0
nice -n 10 lmlab compare suites/crosslingual --out runs/crosslingual-pairs2 \
    --suite-set finetune.max_train_examples=4000 --suite-set finetune.epochs=3 \
    --suite-set 'finetune.seeds=[0]'
cp runs/crosslingual-pairs/crosslingual.{md,json} bench/results/crosslingual_pairs/
cp runs/crosslingual-pairs2/crosslingual.md bench/results/crosslingual_pairs/crosslingual_ft4000.md
cp runs/crosslingual-pairs2/crosslingual.json bench/results/crosslingual_pairs/crosslingual_ft4000.json
cp runs/crosslingual-pairs/translations/glue_sst2/coverage.json bench/results/crosslingual_pairs/lexicon_coverage.json
# RTE -> XNLI-2way with RTE translated by the lexicon too (translate-train + Unicoder's
# multi-language row on that pair), the suite's protocol; the SST-2 results are reused
# (the run was stopped after the five models' rows, before the MultiFiT bootstrapping row)
R=runs/crosslingual-pairs-rte
mkdir -p $R/results $R/translations
cp -r runs/crosslingual/pretrain runs/crosslingual/.lmlab-output $R/
cp runs/crosslingual-pairs/results/*.{retrieval,transfer}.json $R/results/
cp -r runs/crosslingual-pairs/translations/glue_sst2 $R/translations/
nice -n 10 lmlab compare suites/crosslingual --out $R \
    --suite-set 'transfers=[{label: RTE -> XNLI-2way, source: glue/rte, target: clue/xnli_2way, translate: true}]'
cp $R/crosslingual.md bench/results/crosslingual_pairs/crosslingual_rte_translate.md
cp $R/crosslingual.json bench/results/crosslingual_pairs/crosslingual_rte_translate.json
cp $R/translations/glue_rte/coverage.json bench/results/crosslingual_pairs/lexicon_coverage_rte.json
# with an English SQuAD v1.1 file (e.g. the held-back dev-v1.1.json), the zh -> en column:
#   lmlab compare suites/crosslingual --out runs/crosslingual-pairs --suite-set squad_file=/path/dev-v1.1.json
