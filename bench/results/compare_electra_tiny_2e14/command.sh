#!/bin/bash
# ELECTRA vs BERT at the bert-tiny size with twice the budget of ../compare_electra_tiny_1e14
# (2e14 training FLOPs each; the suite's own budget, at the smaller size); everything else,
# the floors included, exactly as there. Run from the repository root.
bash bench/results/compare_electra_tiny_1e14/command.sh 2e14
# Measured 2026-12-03, 16:43-17:53: pre-training 3547 s (BERT, 13741 steps) and 3953 s
# (ELECTRA, 12193 steps), fine-tuning and floors about 5 minutes more. The untrained row
# came out identical to the 1e14 run's (40.8 +- 0.6), as it should: same size, seeds, data.
# The outer script was stopped mid-run (its file had been edited under it); its last call,
# which only writes the tables from the finished units, was then run by hand with the same
# arguments: `lmlab compare "${common[@]}" --suite-set 'presets=[...BERT, ELECTRA]'`.
