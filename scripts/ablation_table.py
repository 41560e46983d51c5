"""Collect the ablation runs of ``scripts/shhb_ablation.sh`` into the README's markdown table.

python scripts/ablation_table.py [OUT_DIR]          # default logs/shhb_ablation
"""

from __future__ import annotations

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


def main(out: Path) -> None:
    header = (
        "| threshold | L1 into confidence | F1 | P | R | MAE | NAE | F1 @4 px | F1 @8 px | train wall |\n"
        "|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [header]
    for row, (threshold, l1) in ROWS.items():
        metrics_file = out / row / "eval" / "metrics.json"
        if not metrics_file.is_file():
            continue
        result = json.loads(metrics_file.read_text())
        m, fixed = result["metrics"], result.get("metrics_fixed", {})
        wall_file, paused_file = out / row / "train" / "wall_seconds.txt", out / row / "train" / "paused_seconds.txt"
        paused = int(paused_file.read_text()) if paused_file.is_file() else 0  # time the run was stopped (SIGSTOP)
        wall = f"{(int(wall_file.read_text()) - paused) / 60:.0f} min" if wall_file.is_file() else "?"
        lines.append(
            f"| {threshold} | {l1} | {m['f1']:.3f} | {m['precision']:.3f} | {m['recall']:.3f} | {m['mae']:.1f} | "
            f"{m['nae']:.3f} | {fixed.get('f1_r4', float('nan')):.3f} | {fixed.get('f1_r8', float('nan')):.3f} | "
            f"{wall} |"
        )
    print("\n".join(lines))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("logs/shhb_ablation"))
