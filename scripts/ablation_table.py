"""Collect the ablation runs of ``scripts/shhb_ablation.sh`` into the README's markdown table.

python scripts/ablation_table.py [OUT_DIR]          # default logs/shhb_ablation
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

ROWS = {
    "fixed_0.5": ("fixed 0.5", "on"),
    "fixed_0.8": ("fixed 0.8", "on"),
    "ibm": ("IBM (image-level)", "on"),
    "ibm_noL1": ("IBM (image-level)", "off (BM only)"),
    "pbm": ("PBM (pixel-level)", "on"),
    "pbm_noL1": ("PBM (pixel-level)", "off (BM only)"),
}


def _last_threshold(train_dir: Path) -> str:
    """Mean of the threshold map over the last logged training step (``train/threshold_mean`` in the CSV log)."""
    value = ""
    for metrics_csv in sorted((train_dir / "csv").glob("**/metrics.csv")):
        with metrics_csv.open() as f:
            for record in csv.DictReader(f):
                value = record.get("train/threshold_mean") or value
    return f"{float(value):.2f}" if value else "?"


def _wall(train_dir: Path) -> str:
    """The training time of a row: the sum of its attempts' ``attempt-*.seconds`` (stopped time not counted), or,
    for runs from before those files, ``wall_seconds.txt`` less ``paused_seconds.txt``."""
    attempts = sorted(train_dir.glob("attempt-*.seconds"))
    if attempts:
        total = sum(int(a.read_text() or 0) for a in attempts)
        return f"{total / 60:.0f} min" + (f" ({len(attempts)} attempts)" if len(attempts) > 1 else "")
    wall_file, paused_file = train_dir / "wall_seconds.txt", train_dir / "paused_seconds.txt"
    if not wall_file.is_file():
        return "?"
    paused = int(paused_file.read_text()) if paused_file.is_file() else 0  # time the run was stopped (SIGSTOP)
    return f"{(int(wall_file.read_text()) - paused) / 60:.0f} min"


def _prf(m: dict, suffix: str = "") -> str:
    return " / ".join(f"{m.get(k + suffix, float('nan')):.3f}" for k in ("f1", "precision", "recall"))


def main(out: Path) -> None:
    header = (
        "| threshold | L1 into confidence | F1 / P / R (sigma_l) | F1 / P / R (4 px) | F1 / P / R (8 px) | MAE | RMSE "
        "| NAE | threshold mean at the end | train wall |\n"
        "|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [header]
    for row, (threshold, l1) in ROWS.items():
        metrics_file = out / row / "eval" / "metrics.json"
        if not metrics_file.is_file():
            continue
        result = json.loads(metrics_file.read_text())
        m, fixed = result["metrics"], result.get("metrics_fixed", {})
        wall = _wall(out / row / "train")
        lines.append(
            f"| {threshold} | {l1} | {_prf(m)} | {_prf(fixed, '_r4')} | {_prf(fixed, '_r8')} | {m['mae']:.1f} | "
            f"{m['mse']:.1f} | {m['nae']:.3f} | {_last_threshold(out / row / 'train')} | {wall} |"
        )
    print("\n".join(lines))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("logs/shhb_ablation"))
