"""scripts/ablation_table.py: the README's results table from the run folders of scripts/shhb_ablation.sh."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "ablation_table.py"


def _row(out: Path, name: str, f1: float, wall: int, paused: int | None, thresholds: list[float]) -> None:
    train = out / name / "train"
    (train / "csv").mkdir(parents=True)
    lines = ["epoch,step,train/threshold_mean,val/f1"] + [f"0,{i},{t}," for i, t in enumerate(thresholds)]
    (train / "csv" / "metrics.csv").write_text("\n".join([*lines, "0,9,,0.4"]) + "\n")
    (train / "wall_seconds.txt").write_text(str(wall))
    if paused is not None:
        (train / "paused_seconds.txt").write_text(str(paused))
    metrics = {"f1": f1, "precision": 0.6, "recall": 0.5, "mae": 12.25, "mse": 20.0, "nae": 0.125}
    fixed = {"f1_r4": 0.1, "precision_r4": 0.2, "recall_r4": 0.3, "f1_r8": 0.4, "precision_r8": 0.5, "recall_r8": 0.6}
    (out / name / "eval").mkdir()
    (out / name / "eval" / "metrics.json").write_text(json.dumps({"metrics": metrics, "metrics_fixed": fixed}))


def test_table_lists_finished_rows_in_order_with_paused_time_removed(tmp_path, capsys):
    _row(tmp_path, "pbm", 0.53, wall=3600, paused=600, thresholds=[0.53, 0.31])
    _row(tmp_path, "fixed_0.5", 0.41, wall=1800, paused=None, thresholds=[0.5, 0.5])
    _row(tmp_path, "ibm", 0.45, wall=9999, paused=None, thresholds=[0.5])
    for stamp, seconds in (("20261201T220000", "1200"), ("20261201T230000", "1330")):  # killed once, resumed
        (tmp_path / "ibm" / "train" / f"attempt-{stamp}.seconds").write_text(seconds)
    (tmp_path / "pbm_noL1" / "train").mkdir(parents=True)  # started, not evaluated: not in the table
    runpy.run_path(str(SCRIPT), run_name="not_main")["main"](tmp_path)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 5 and lines[0].startswith("| threshold |")
    assert lines[2] == (
        "| fixed 0.5 | on | 0.410 / 0.600 / 0.500 | 0.100 / 0.200 / 0.300 | 0.400 / 0.500 / 0.600 | 12.2 | 20.0 "
        "| 0.125 | 0.50 | 30 min |"
    )
    assert lines[3].startswith("| IBM (image-level) | on | 0.450 / ") and lines[3].endswith("| 42 min (2 attempts) |")
    assert lines[4].startswith("| PBM (pixel-level) | on | 0.530 / ") and lines[4].endswith("| 0.31 | 50 min |")
