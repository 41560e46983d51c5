"""scripts/plot_levers.py: the README's figure and table of scripts/shhb_ablation.sh's rows (seeds pooled)."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "plot_levers.py"


def _row(out: Path, name: str, f1: float, mae: float, seconds: int) -> None:
    train = out / name / "train"
    (train / "csv").mkdir(parents=True)
    (train / "csv" / "metrics.csv").write_text(f"epoch,step,val/f1\n7,719,{f1}\n")
    (train / "attempt-20261203T000000.seconds").write_text(str(seconds))
    metrics = {"f1": f1, "precision": f1 + 0.1, "recall": f1 - 0.1, "mae": mae}
    fixed = {"f1": 0.1, "precision": 0.1, "recall": 0.1, "mae": mae, "f1_r8": 0.1}  # must not shadow sigma_l
    (out / name / "eval").mkdir()
    (out / name / "eval" / "metrics.json").write_text(json.dumps({"metrics": metrics, "metrics_fixed": fixed}))


def test_rows_seeds_pooled_and_the_figure_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = tmp_path / "levers"
    for name, f1, mae, seconds in [("pbm", 0.54, 43.0, 2100), ("pbm_16ep", 0.58, 35.0, 4200), ("x2", 0.66, 24.0, 2400),
                                   ("best@1", 0.70, 20.0, 3000), ("best@2", 0.74, 22.0, 3600)]:  # fmt: skip
        _row(runs, name, f1, mae, seconds)
    (runs / "x2" / "eval" / "sweep.csv").write_text(
        "threshold_offset,split_min_distance,f1,precision,recall,mae\n0.0,0,0.66,0.76,0.56,24.0\n"
        "0.1,16,0.69,0.7,0.68,21.5\n0.1,0,0.67,0.8,0.5,30.0\n"
    )
    (runs / "pbm_16ep" / "eval" / "sweep.csv").write_text(  # with the min_area column
        "threshold_offset,split_min_distance,min_area,f1,precision,recall,mae\n0.0,0,3,0.58,0.68,0.48,35.0\n"
        "0.05,8,9,0.61,0.7,0.55,30.0\n0.05,8,3,0.6,0.6,0.6,31.0\n"
    )
    (runs / "lite2" / "train").mkdir(parents=True)  # started, not evaluated: left out
    module = runpy.run_path(str(SCRIPT))
    png = tmp_path / "figure.png"
    assert module["main"]([str(runs), "--out", str(png)]) == 0
    table = capsys.readouterr().out
    assert "| best (2 seeds) | 0.720 ± 0.020 / 0.820 ± 0.020 / 0.620 ± 0.020 | 21.0 ± 1.0 | 55 ± 5 | - |" in table
    assert "| x2 | 0.660 / 0.760 / 0.560 | 24.0 | 40 | 0.690 (offset +0.10, split 16; MAE 21.5) |" in table
    tuned = "0.610 (offset +0.05, split 8, min area 9; MAE 30.0)"
    assert f"| pbm_16ep | 0.580 / 0.680 / 0.480 | 35.0 | 70 | {tuned} |" in table
    assert "lite2" not in table
    image = np.asarray(Image.open(png).convert("RGB"))
    assert image.shape[0] > 300 and image.shape[1] > 500 and image.std() > 10  # drawn, not blank


def test_a_folder_without_evaluated_rows_is_refused_by_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    module = runpy.run_path(str(SCRIPT))
    (tmp_path / "pbm" / "train").mkdir(parents=True)
    with pytest.raises(SystemExit):
        module["main"]([str(tmp_path), "--out", str(tmp_path / "x.png")])
    assert f"FOLDER: no evaluated rows under {tmp_path}" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        module["main"]([str(tmp_path / "missing")])
    assert "missing is not a folder" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()
