#!/usr/bin/env bash
# GPU benchmark (issue 17): tokens/s and MFU of gpt/small and bert/small at bf16, eager and
# compiled, plus the objectives suite's pre-training time at 1e17 FLOPs per model, as one
# JSON on stdout. Runs unchanged on any machine with one CUDA GPU and torch installed; on a
# machine without one it says so and exits 0. Data: $LMLAB_DATA (PTB and WikiText-2).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
export LMLAB_DATA="${LMLAB_DATA:-$(cd .. && pwd)/shared/data}"
python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null \
  || { echo '{"gpu": null, "message": "no CUDA GPU here: nothing measured"}'; exit 0; }
exec python3 bench/gpu.py "$@"
