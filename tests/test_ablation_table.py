"""scripts/ablation_table.py: the table of scripts/shhb_ablation.sh's run folders (``<row>/train``, ``<row>/eval``),
from runs of before ``summary.json``: the figures of their CSV logs, the training time of their attempt files."""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "ablation_table.py"


def _row(out: Path, name: str, f1: float, wall: int, paused: int | None, thresholds: list[float]) -> None:
    train = out / name / "train"
    (train / "csv").mkdir(parents=True)
    (train / ".hydra").mkdir()
    l1 = "false" if name.endswith("_noL1") else "true"
    overrides = [
        "+experiment=shhb_lite0_cpu",
        f"model/net/threshold_encoder={name.removesuffix('_noL1')}",
        f"model.loss.l1_into_confidence={l1}",
    ]
    (train / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    lines = ["epoch,step,train/threshold_mean,val/f1"] + [f"0,{i},{t}," for i, t in enumerate(thresholds)]
    (train / "csv" / "metrics.csv").write_text("\n".join([*lines, "0,9,,0.4"]) + "\n")
    (train / "wall_seconds.txt").write_text(str(wall))
    if paused is not None:
        (train / "paused_seconds.txt").write_text(str(paused))
    metrics = {"f1": f1, "precision": 0.6, "recall": 0.5, "mae": 12.25, "mse": 20.0, "nae": 0.125}
    fixed = {"f1_r4": 0.1, "precision_r4": 0.2, "recall_r4": 0.3, "f1_r8": 0.4, "precision_r8": 0.5, "recall_r8": 0.6}
    fixed |= {"f1": 0.4, "precision": 0.5, "recall": 0.6, "mae": 12.25}  # as iim-eval writes it: the largest radius
    (out / name / "eval").mkdir()
    (out / name / "eval" / "metrics.json").write_text(json.dumps({"metrics": metrics, "metrics_fixed": fixed}))


def _ablation(tmp_path: Path) -> Path:
    _row(tmp_path, "pbm", 0.53, wall=3600, paused=600, thresholds=[0.53, 0.31])
    _row(tmp_path, "fixed_0.5", 0.41, wall=1800, paused=None, thresholds=[0.5, 0.5])
    _row(tmp_path, "ibm_noL1", 0.45, wall=9999, paused=None, thresholds=[0.5])
    for stamp, seconds in (("20261201T220000", "1200"), ("20261201T230000", "1330")):  # killed once, resumed
        (tmp_path / "ibm_noL1" / "train" / f"attempt-{stamp}.seconds").write_text(seconds)
    (tmp_path / "pbm_noL1" / "train").mkdir(parents=True)  # not started yet: not in the table
    return tmp_path


def test_markdown_table_of_the_ablation_runs_in_order_with_paused_time_removed(tmp_path, capsys):
    status = runpy.run_path(str(SCRIPT), run_name="not_main")["main"]([str(_ablation(tmp_path)), "--markdown"])
    assert status == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("|")]
    assert len(lines) == 5
    assert lines[0] == (
        "| job | model/net/threshold_encoder | model.loss.l1_into_confidence | val F1 / P / R | val MAE "
        "| threshold (end) | eval F1 / P / R (sigma_l) | eval F1 / P / R (4 px) | eval F1 / P / R (8 px) | eval MAE "
        "| eval RMSE | eval NAE | wall | best checkpoint | status |"
    )
    assert lines[2] == (
        "| fixed_0.5/train | fixed_0.5 | true | 0.400 / - / - | - | 0.500 | 0.410 / 0.600 / 0.500 "
        "| 0.100 / 0.200 / 0.300 | 0.400 / 0.500 / 0.600 | 12.2 | 20.0 | 0.125 | 30 min | - | csv log |"
    )
    assert lines[3].startswith("| ibm_noL1/train | ibm | false | 0.400 / - / - | - | 0.500 | 0.450 / ")
    assert lines[3].endswith("| 42 min (2 attempts) | - | csv log |")
    assert lines[4].startswith("| pbm/train | pbm | true | 0.400 / - / - | - | 0.310 | 0.530 / ")
    assert lines[4].endswith("| 50 min | - | csv log |")


def test_the_readme_usage_prints_the_console_table(tmp_path):
    out = _ablation(tmp_path)
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(out)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert f"3 runs in {out}" in result.stdout
    assert all(f"{row}/train" in result.stdout for row in ("fixed_0.5", "ibm_noL1", "pbm"))
    assert "42 min (2 attempts)" in result.stdout
    assert not list(out.glob("sweep_table*"))  # printing writes nothing


def test_a_folder_without_runs_or_missing_says_so(tmp_path, capsys):
    main = runpy.run_path(str(SCRIPT), run_name="not_main")["main"]
    assert main([str(tmp_path)]) == 1
    assert main([str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "no runs under" in err and "is not a folder" in err
