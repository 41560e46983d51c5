#!/usr/bin/env bash
# The README's results tables on ShanghaiTech Part B, on a CPU, with the same budget for every row unless the row
# says otherwise (experiment shhb_lite0_cpu: EfficientNet-Lite0, 8 epochs of 384x512 crops, batch 4):
# - the paper's Table 3 ablation: fixed 0.5 / fixed 0.8 / IBM / PBM, the L1 loss into the confidence predictor on or off;
# - the accuracy levers of issue 17, one change at a time against the PBM row.
#
#   scripts/shhb_ablation.sh [PART_B_ROOT] [OUT_DIR] [ROW ...]
#
# PART_B_ROOT: the ShanghaiTech part_B folder (default ../shared/data/shanghaitech/part_B); OUT_DIR: where the runs go
# (default logs/shhb_ablation). Rows (default: the ablation's six):
#   ablation   fixed_0.5 fixed_0.8 ibm ibm_noL1 pbm pbm_noL1
#   budget     pbm_16ep pbm_32ep                       (PBM trained 16 / 32 epochs)
#   levers     x2           Part B read at twice its size (as the original prepares ShanghaiTech); evaluated at x2
#              s2           Lite0 with the confidence head on its stride-2 features (predictor efficientnet_lite0_s2),
#                           5 epochs: its steps cost ~1.7x, so about the minutes of pbm's 8
#              fg5          foreground-weighted MSE (heads' pixels weigh 5)
#              focal2       focal MSE (gamma 2)
#              cosine       linear warm-up (5 % of steps) then a cosine schedule, instead of poly
#              lr2x         both learning rates doubled (confidence 4e-4, threshold 6e-5), for a short run
#              lr4x         both learning rates four times the recipe's (confidence 8e-4, threshold 1.2e-4)
#              lite2        EfficientNet-Lite2 backbone
#              pbm_split    (no training: pbm's checkpoint) split merged components at evaluation
#              pbm_hflip    (no training: pbm's checkpoint) test-time horizontal flip at evaluation
#   recipe     cpu_plus     the recipe that combines the winners (experiment shhb_lite0_cpu_plus: learning rates
#                           x4, split at 6 px, min_area 12)
#              cpu_plus_fixed_0.5                       the same with a fixed 0.5 threshold
# Any row takes a seed suffix, e.g. cpu_plus@2: the training seed becomes 2; the validation split stays seed 3035's.
# Every row trains, then evaluates last.ckpt on the seeded validation split (10 % of train, seed 3035) under the NWPU
# protocol (sigma_l from estimated head sizes) and the fixed 4 / 8 px protocol. A finished row (its metrics.json
# exists) is skipped, an interrupted one resumes from its last.ckpt (written after every epoch); each attempt's
# training time goes to train/attempt-*.seconds; scripts/ablation_table.py sums them and prints the table.
# DATA=shha (optional; default shhb) trains and evaluates the same rows on another dataset config, e.g. Part A:
#   DATA=shha KEEP=docs/results/shha scripts/shhb_ablation.sh ../shared/data/shanghaitech/part_A logs/shha pbm
# KEEP=FOLDER (optional) copies each finished row's small record there (summary.json, attempt-*.seconds, the Hydra
# overrides, the validation history and eval/metrics.json; no checkpoints): the README's figures come from
# docs/results/shhb (committed), so runs made in different sessions add up.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=${1:-../shared/data/shanghaitech/part_B}
OUT=${2:-logs/shhb_ablation}
shift $(( $# > 2 ? 2 : $# ))
ROWS=("$@")
[ ${#ROWS[@]} -gt 0 ] || ROWS=(fixed_0.5 fixed_0.8 ibm ibm_noL1 pbm pbm_noL1)
BIN=${BIN:-.venv/bin}
DATA=${DATA:-shhb}
data_args=()
[ "$DATA" = shhb ] || data_args=("data=$DATA")  # the recipe reads Part B; another dataset replaces its data group
export HF_HUB_OFFLINE=1 NO_ALBUMENTATIONS_UPDATE=1 WANDB_MODE=disabled

mkdir -p "$OUT"
for row in "${ROWS[@]}"; do
  base=${row%@*}
  seed=()
  [ "$base" != "$row" ] && seed=("seed=${row#*@}" "data.source.seed=3035")
  experiment=shhb_lite0_cpu; te=pbm; l1=true; train_args=(); eval_args=(); train_row=$row
  case $base in
    fixed_0.5|fixed_0.8|ibm|pbm) te=$base ;;
    ibm_noL1|pbm_noL1) te=${base%_noL1}; l1=false ;;
    pbm_16ep) train_args=(trainer.max_epochs=16) ;;
    pbm_32ep) train_args=(trainer.max_epochs=32) ;;
    x2) train_args=(+data.source.scale=2); eval_args=(+data.source.scale=2) ;;
    s2) train_args=(model/net/predictor=efficientnet_lite0_s2 trainer.max_epochs=5) ;;  # a step costs ~1.7x: 5 epochs ~ 8 of pbm
    fg5) train_args=(+model.loss.foreground_weight=5) ;;
    focal2) train_args=(+model.loss.focal_gamma=2) ;;
    cosine) train_args=("~model.schedulers.confidence" "~model.schedulers.threshold"
                        "+model.schedulers.confidence={_target_:iim.tasks.WarmupCosineLR,_partial_:true,warmup_steps:0.05}"
                        "+model.schedulers.threshold={_target_:iim.tasks.WarmupCosineLR,_partial_:true,warmup_steps:0.05}") ;;
    lr2x) train_args=(model.optimizers.confidence.lr=4e-4 model.optimizers.threshold.lr=6e-5) ;;
    lr4x) train_args=(model.optimizers.confidence.lr=8e-4 model.optimizers.threshold.lr=1.2e-4) ;;
    lite2) train_args=(model/net/predictor=efficientnet_lite2) ;;
    pbm_split) train_row=pbm; eval_args=(split_heads=true) ;;
    pbm_hflip) train_row=pbm; eval_args=(+inference.hflip=true) ;;
    cpu_plus|cpu_plus_fixed_0.5)
      experiment=shhb_lite0_cpu_plus; te=${base#cpu_plus_}; [ "$te" = cpu_plus ] && te=pbm
      eval_args=(split_heads=true split_min_distance=6) ;;  # as the recipe validates (min_area is in the checkpoint)
    *) echo "unknown row $row" >&2; exit 2 ;;
  esac
  [ "$base" != "$row" ] && [ "$train_row" != "$row" ] && train_row=$train_row@${row#*@}
  dir=$OUT/$row
  if [ -f "$dir/eval/metrics.json" ]; then echo "== $row: done"; continue; fi
  tdir=$OUT/$train_row/train
  if [ "$train_row" != "$row" ]; then
    [ -f "$tdir/checkpoints/last.ckpt" ] || { echo "$row: evaluates $train_row's checkpoint; run $train_row first" >&2; exit 1; }
    # the training row's time is this row's too (the table reads it from here)
    mkdir -p "$dir/train" && cp "$OUT/$train_row"/train/attempt-*.seconds "$OUT/$train_row"/train/summary.json "$dir/train/" 2>/dev/null || true
  else
    resume=()
    [ -f "$tdir/checkpoints/last.ckpt" ] && resume=("ckpt_path=$tdir/checkpoints/last.ckpt")
    echo "== $row: train ($(date -u +%H:%M:%S))"
    # the training wall time of this attempt, counted in 10 s ticks: a killed attempt keeps what it ran, and time the
    # process group spent stopped (kill -STOP / -CONT, to free the CPU for something else) is not counted
    mkdir -p "$tdir"
    attempt="$tdir/attempt-$(date -u +%Y%m%dT%H%M%S).seconds"
    ( s=0; while sleep 10; do s=$((s + 10)); echo "$s" > "$attempt"; done ) &
    ticker=$!
    "$BIN/iim-train" "+experiment=$experiment" "model/net/threshold_encoder=$te" "model.loss.l1_into_confidence=$l1" \
      "data.root=$ROOT" "hydra.run.dir=$tdir" callbacks.progress_bar=null trainer.enable_progress_bar=false \
      "${data_args[@]}" "${train_args[@]}" "${seed[@]}" "${resume[@]}" >> "$dir.train.log" 2>&1 \
      || { kill "$ticker"; echo "$row: training failed, see $dir.train.log" >&2; exit 1; }
    kill "$ticker"
  fi
  echo "== $row: evaluate ($(date -u +%H:%M:%S))"
  "$BIN/iim-eval" "ckpt_path=$tdir/checkpoints/last.ckpt" "data=$DATA" "data.root=$ROOT" split=val \
    "hydra.run.dir=$dir/eval" trainer.enable_progress_bar=false "${eval_args[@]}" > "$dir.eval.log" 2>&1 \
    || { echo "$row: evaluation failed, see $dir.eval.log" >&2; exit 1; }
  if [ -n "${KEEP:-}" ]; then
    keep=$KEEP/$row
    mkdir -p "$keep/train/.hydra" "$keep/eval"
    cp "$dir/eval/metrics.json" "$keep/eval/"
    cp "$dir"/train/attempt-*.seconds "$dir"/train/summary.json "$keep/train/" 2>/dev/null || true
    cp "$tdir/.hydra/overrides.yaml" "$keep/train/.hydra/" 2>/dev/null || true
    find "$tdir" -path '*csv*' -name metrics.csv -exec cp {} "$keep/train/val_history.csv" \; 2>/dev/null || true
  fi
done
"$BIN/python" scripts/ablation_table.py "$OUT"
