#!/usr/bin/env bash
# The GPU check (scripts/gpu_check.py does the work): training images/s of the demo network and HRNet-W48 in fp32,
# mixed precision + channels_last and torch.compile, peak GPU memory, fp32 vs bf16 early loss, iim-predict frames/s
# on a synthetic 1080p video and iim-eval on 50 synthetic 1080p images, as a Markdown table (<= 8 minutes on a GPU).
#
#   scripts/gpu_check.sh [--out FILE.md] [--budget-s 450] ...     # on a CUDA machine
#   scripts/gpu_check.sh --cpu --quick                            # the same sections on the CPU, tiny sizes (~1 min)
#
# Exit status: 0 when every section ran, 1 when any failed (its error is in the table), 2 without a CUDA device
# (and no --cpu). PYTHON picks the interpreter (default: .venv/bin/python, else python3).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1} NO_ALBUMENTATIONS_UPDATE=${NO_ALBUMENTATIONS_UPDATE:-1}
export WANDB_MODE=${WANDB_MODE:-disabled}
exec "$PY" scripts/gpu_check.py "$@"
