#!/bin/bash
# ELECTRA vs BERT at the bert-tiny size with twice the budget of ../compare_electra_tiny_1e14
# (2e14 training FLOPs each; the suite's own budget, at the smaller size); everything else,
# the floors included, exactly as there. Run from the repository root.
bash bench/results/compare_electra_tiny_1e14/command.sh 2e14
