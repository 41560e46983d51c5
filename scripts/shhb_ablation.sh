#!/usr/bin/env bash
# The README's results table: the paper's Table 3 ablation (fixed 0.5 / fixed 0.8 / IBM / PBM; the L1 loss into the
# confidence predictor on or off) on ShanghaiTech Part B, on a CPU, with the same budget for every row
# (experiment shhb_lite0_cpu: EfficientNet-Lite0, 8 epochs of 384x512 crops, batch 4).
#
#   scripts/shhb_ablation.sh [PART_B_ROOT] [OUT_DIR] [ROW ...]
#
# PART_B_ROOT: the ShanghaiTech part_B folder (default ../shared/data/shanghaitech/part_B); OUT_DIR: where the runs go
# (default logs/shhb_ablation). Rows (default all): fixed_0.5 fixed_0.8 ibm ibm_noL1 pbm pbm_noL1.
# Every row trains, then evaluates last.ckpt on the seeded validation split (10 % of train, seed 3035) under the NWPU
# protocol (sigma_l from estimated head sizes) and the fixed 4 / 8 px protocol. A finished row (its metrics.json
# exists) is skipped, an interrupted one resumes from its last.ckpt (written after every epoch); each attempt's
# training time goes to train/attempt-*.seconds; scripts/ablation_table.py sums them and prints the table.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=${1:-../shared/data/shanghaitech/part_B}
OUT=${2:-logs/shhb_ablation}
shift $(( $# > 2 ? 2 : $# ))
ROWS=("$@")
[ ${#ROWS[@]} -gt 0 ] || ROWS=(fixed_0.5 fixed_0.8 ibm ibm_noL1 pbm pbm_noL1)
BIN=${BIN:-.venv/bin}
export HF_HUB_OFFLINE=1 NO_ALBUMENTATIONS_UPDATE=1 WANDB_MODE=disabled

mkdir -p "$OUT"
for row in "${ROWS[@]}"; do
  case $row in
    fixed_0.5|fixed_0.8|ibm|pbm) te=$row; l1=true ;;
    ibm_noL1|pbm_noL1) te=${row%_noL1}; l1=false ;;
    *) echo "unknown row $row" >&2; exit 2 ;;
  esac
  dir=$OUT/$row
  if [ -f "$dir/eval/metrics.json" ]; then echo "== $row: done"; continue; fi
  resume=()
  [ -f "$dir/train/checkpoints/last.ckpt" ] && resume=("ckpt_path=$dir/train/checkpoints/last.ckpt")
  echo "== $row: train ($(date -u +%H:%M:%S))"
  # the training wall time of this attempt, counted in 10 s ticks: a killed attempt keeps what it ran, and time the
  # process group spent stopped (kill -STOP / -CONT, to free the CPU for something else) is not counted
  mkdir -p "$dir/train"
  attempt="$dir/train/attempt-$(date -u +%Y%m%dT%H%M%S).seconds"
  ( s=0; while sleep 10; do s=$((s + 10)); echo "$s" > "$attempt"; done ) &
  ticker=$!
  "$BIN/iim-train" +experiment=shhb_lite0_cpu "model/net/threshold_encoder=$te" "model.loss.l1_into_confidence=$l1" \
    "data.root=$ROOT" "hydra.run.dir=$dir/train" callbacks.progress_bar=null trainer.enable_progress_bar=false \
    "${resume[@]}" >> "$dir.train.log" 2>&1 \
    || { kill "$ticker"; echo "$row: training failed, see $dir.train.log" >&2; exit 1; }
  kill "$ticker"
  echo "== $row: evaluate ($(date -u +%H:%M:%S))"
  "$BIN/iim-eval" "ckpt_path=$dir/train/checkpoints/last.ckpt" data=shhb "data.root=$ROOT" split=val \
    "hydra.run.dir=$dir/eval" trainer.enable_progress_bar=false > "$dir.eval.log" 2>&1 \
    || { echo "$row: evaluation failed, see $dir.eval.log" >&2; exit 1; }
done
"$BIN/python" scripts/ablation_table.py "$OUT"
