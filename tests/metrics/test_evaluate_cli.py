"""evaluate_files and the ``iim-score`` command (and its former name ``iim-evaluate``): results, id rules, outputs,
overwrite protection, errors."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from iim.cli import evaluate
from iim.cli.score import main
from iim.metrics import (
    EvaluationError,
    LocalizationMetrics,
    evaluate_files,
    evaluate_predictions,
    read_gt_loc,
    read_pred_loc,
    write_pred_loc,
)

# method.md's example as image 3110, plus an image without predictions and one with no heads.
GT_TEXT = "3110 3 10 10 2 6 1 30 10 2 6 2 100 100 5 12 3\n7 2 5 5 1 2 0 50 50 3 4 5\n8 0\n"
PRED_TEXT = "3110 4 11 10 14 10 35 10 200 200\n8 2 1 1 2 2\n"


@pytest.fixture
def files(tmp_path):
    gt = tmp_path / "gt.txt"
    pred = tmp_path / "run1.txt"
    gt.write_text(GT_TEXT)
    pred.write_text(PRED_TEXT)
    return pred, gt


def test_evaluate_files_matches_the_metric_and_lists_missing_images(files):
    pred, gt = files
    with pytest.warns(UserWarning, match=r"1 ground-truth image\(s\) have no predictions .*: 7"):
        result = evaluate_files(pred, gt)
    assert result.num_images == 3 and result.missing_ids == [7] and result.ignored_ids == []
    assert result.pred_path == str(pred) and result.gt_path == str(gt)

    metric = LocalizationMetrics()
    gt_records, preds = read_gt_loc(gt), read_pred_loc(pred)
    metric.update([preds.get(i, np.zeros((0, 2))) for i in gt_records], [r.as_target() for r in gt_records.values()])
    assert result.metrics == {k: v.item() for k, v in metric.compute().items()}
    assert result.metrics["precision_l"] == pytest.approx(2 / 6)  # tp 2 of 4 + 2 predictions
    assert result.metrics["recall_l"] == pytest.approx(2 / 5)
    assert result.metrics["nae"] == pytest.approx((1 / 3 + 2 / 2) / 2)  # the image with 0 heads is left out

    assert [row["id"] for row in result.per_image] == [3110, 7, 8]
    assert result.per_image[0] == {
        "id": 3110,
        "gt_count": 3,
        "gt_points": 3,
        "pred_count": 4,
        **{"tp_s": 1, "fp_s": 3, "fn_s": 2, "tp_l": 2, "fp_l": 2, "fn_l": 1},
    }
    assert result.per_image[1]["fn_l"] == 2 and result.per_image[2]["fp_l"] == 2
    data = result.to_json_dict()
    assert data["counts"]["tp_c_l"] == [0, 1, 1, 0, 0, 0] and data["counts"]["fn_c_l"] == [1, 0, 0, 1, 0, 1]
    json.dumps(data)


def test_extra_prediction_ids_are_an_error_unless_ignored(files):
    pred, gt = files
    pred.write_text(PRED_TEXT + "9999 1 5 5\n7 0\n")
    with pytest.raises(EvaluationError, match=r"1 prediction id\(s\) are not in the ground truth: 9999"):
        evaluate_files(pred, gt)
    result = evaluate_files(pred, gt, ignore_extra=True)
    assert result.ignored_ids == [9999] and result.num_images == 3


def test_fixed_protocol_from_files(files):
    pred, gt = files
    result = evaluate_files(pred, gt, protocol="fixed", radii=[4, 8], warn_missing=False)
    assert {"f1_r4", "f1_r8", "recall_r4"} <= set(result.metrics) and "recall_a0" not in result.metrics
    assert set(result.per_image[0]) >= {"tp_r4", "fp_r8"}


@pytest.mark.data
def test_nwpu_val_gt_against_itself_and_a_thinned_copy(nwpu_val_gt, tmp_path):
    gt = read_gt_loc(nwpu_val_gt)
    perfect = evaluate_predictions({i: r.points for i, r in gt.items()}, gt)
    m = perfect.metrics
    assert (m["f1"], m["f1_s"], m["recall_mean"], m["mae"], m["nae"]) == (1.0, 1.0, 1.0, 0.0, 0.0)
    rng = np.random.default_rng(0)
    thinned = {i: r.points[rng.random(len(r)) > 0.2] for i, r in gt.items()}
    pred_path = tmp_path / "thinned.txt"
    write_pred_loc(pred_path, thinned)
    result = evaluate_files(pred_path, nwpu_val_gt)
    assert result.metrics["precision"] == 1.0 and 0.75 < result.metrics["recall"] < 0.85
    assert sum(row["pred_count"] for row in result.per_image) == sum(len(p) for p in thinned.values())


# ---------------------------------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------------------------------


def test_cli_prints_table_and_writes_json_next_to_predictions(files, capsys):
    pred, gt = files
    assert main([str(pred), str(gt)]) == 0
    out = capsys.readouterr().out
    for text in ("3 images, protocol nwpu", "sigma_l", "sigma_s", "Precision", "A5", "mean", "MAE", "NAE"):
        assert text in out
    assert "no prediction line (zero predictions): 7" in out
    assert "0.3636" in out  # F1 under sigma_l: P = 2/6, R = 2/5, F1 = 4/11
    json_path = pred.with_name("run1_metrics.json")
    data = json.loads(json_path.read_text())
    assert data["num_images"] == 3 and data["protocol"] == "nwpu" and data["missing_ids"] == [7]
    assert data["metrics"]["f1"] == pytest.approx(4 / 11)
    assert data["counts"]["tp_l"] == 2


def test_cli_refuses_to_overwrite_without_flag(files, capsys):
    pred, gt = files
    json_path = pred.with_name("run1_metrics.json")
    json_path.write_text("keep me")
    assert main([str(pred), str(gt)]) == 1
    err = capsys.readouterr().err
    assert "output file already exists" in err and "overwrite=true" in err
    assert json_path.read_text() == "keep me"
    assert main([str(pred), str(gt), "overwrite=true"]) == 0
    assert json.loads(json_path.read_text())["num_images"] == 3


def test_cli_out_per_image_and_fixed_protocol(files, tmp_path):
    pred, gt = files
    out, rows = tmp_path / "res" / "m.json", tmp_path / "rows.csv"
    out.parent.mkdir()
    argv = [str(pred), str(gt), f"out={out}", f"per_image={rows}", "protocol=fixed", "radii=[4,8]"]
    assert main(argv) == 0
    data = json.loads(out.read_text())
    assert data["radii"] == [4.0, 8.0] and "f1_r4" in data["metrics"]
    table = list(csv.DictReader(rows.open()))
    assert [r["id"] for r in table] == ["3110", "7", "8"]
    assert table[0]["tp_r8"] == "2" and table[0]["tp_r4"] == "1"
    assert main(argv) == 1  # both outputs exist now


@pytest.mark.parametrize(
    ("pred_text", "gt_text", "message"),
    [
        ("3110 2 1 1\n", GT_TEXT, r"run1.txt, line 1: expected 2 \+ 2 \* num = 6 tokens"),
        (PRED_TEXT, "1 1 1 1 1\n", r"gt.txt, line 1: expected 2 \+ 5k tokens"),
        (PRED_TEXT + "42 0\n", GT_TEXT, r"not in the ground truth: 42"),
    ],
)
def test_cli_malformed_inputs_exit_1_with_the_reason(files, capsys, pred_text, gt_text, message):
    pred, gt = files
    pred.write_text(pred_text)
    gt.write_text(gt_text)
    assert main([str(pred), str(gt)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("iim-score: error: ")
    assert __import__("re").search(message, err)
    assert not pred.with_name("run1_metrics.json").exists()


def test_cli_missing_files_and_usage_errors(files, tmp_path, capsys):
    pred, gt = files
    assert main([str(tmp_path / "nope.txt"), str(gt)]) == 1
    assert "prediction file not found" in capsys.readouterr().err
    assert main([str(pred), str(tmp_path / "nope.txt")]) == 1
    assert "ground-truth file not found" in capsys.readouterr().err
    assert main([str(pred), str(gt), f"out={gt}", "overwrite=true"]) == 1
    assert "is one of the input files" in capsys.readouterr().err
    assert main([str(pred), str(gt), "radii=[4]"]) == 2
    assert "iim-score: error: radii applies only to protocol=fixed" in capsys.readouterr().err
    assert main([str(pred), str(gt), "protocol=fixed", "radii=[4,4]"]) == 1
    assert "`radii` must be distinct" in capsys.readouterr().err
    assert main([str(pred), str(gt), "protocol=nwpu2"]) == 2
    assert "protocol must be one of nwpu, fixed" in capsys.readouterr().err
    # usage errors: a missing file argument is named, an unknown key is Hydra's error, a key given twice, old flags
    assert main([str(pred)]) == 2
    assert "iim-score: error: missing gt=..." in capsys.readouterr().err
    assert main([str(pred), str(gt), "per_imag=x.csv"]) == 2
    assert "Could not override 'per_imag'" in capsys.readouterr().err
    assert main([str(pred), str(gt), f"pred={pred}"]) == 2
    assert "pred is given twice" in capsys.readouterr().err
    assert main([str(pred), str(gt), "--overwrite"]) == 2  # Hydra's argparse: the old flags are no options
    assert "unrecognized arguments: --overwrite" in capsys.readouterr().err
    assert not list(pred.parent.glob(".hydra")) and not list(pred.parent.glob("*.log"))


def test_cli_settings_from_keys_only(files, tmp_path):
    pred, gt = files
    out = tmp_path / "only keys.json"  # a space: the positional form quotes it, here it is quoted by hand
    assert main([f"pred={pred}", f"gt={gt}", f"out='{out}'"]) == 0
    assert json.loads(out.read_text())["num_images"] == 3


def test_iim_evaluate_is_an_alias_with_a_notice(files, capsys):
    pred, gt = files
    assert evaluate.main([str(pred), str(gt)]) == 0
    captured = capsys.readouterr()
    assert "iim-evaluate is now iim-score; the old name goes away in the next release" in captured.err
    assert "PRED GT key=value" in captured.err and "0.3636" in captured.out
    assert evaluate.main([str(pred), str(gt)]) == 1  # the output exists now
    assert "iim-evaluate: error: output file already exists" in capsys.readouterr().err


def test_metrics_package_and_cli_import_light():
    """``import iim.metrics`` needs numpy/scipy only: no torch, torchmetrics, Lightning or Hydra; the command adds
    OmegaConf (Hydra when it runs), not torch."""
    code = (
        "import sys, iim.metrics\n"
        "heavy = ('torch', 'torchmetrics', 'lightning', 'pytorch_lightning', 'hydra', 'omegaconf')\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in heavy)))\n"
        "import iim.cli.score, iim.cli.evaluate\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in heavy[:4])))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines() == ["", ""]
    import iim.metrics

    assert all(hasattr(iim.metrics, name) for name in iim.metrics.__all__)
    assert "LocalizationMetrics" in dir(iim.metrics)
