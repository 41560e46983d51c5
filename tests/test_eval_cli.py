"""iim-eval: a trained checkpoint evaluated on a split writes metrics, a per-image CSV and NWPU predictions whose
scores agree with the offline evaluator; bad checkpoints get clear errors."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from helpers.configs import compose_train
from iim.cli.eval import evaluate
from iim.metrics import evaluate_files, read_pred_loc
from iim.models import load_network


@pytest.fixture(scope="module")
def checkpoint(trained_checkpoint):
    return trained_checkpoint


def test_checkpoint_rebuilds_the_network(checkpoint):
    net, info = load_network(checkpoint)
    assert type(net.threshold_encoder).__name__ == "PixelThresholdEncoder"
    assert info.mean == (0.5, 0.5, 0.5) and info.min_area == 3 and info.global_step == 4  # 2 epochs x 2 batches
    state = torch.load(checkpoint, weights_only=True)["state_dict"]
    assert torch.equal(
        net.state_dict()["predictor.head.project.0.weight"], state["net.predictor.head.project.0.weight"]
    )


def test_eval_writes_the_result_files(tmp_path, checkpoint):
    data = [
        "data.source.train=8",
        "data.source.val=2",
        "data.source.test=2",
        "data.source.height=96",
        "data.source.width=128",
        "data.num_workers=0",
    ]
    cfg = compose_train([f"ckpt_path={checkpoint}", *data, "trainer.enable_progress_bar=false"], tmp_path, "eval")
    result = evaluate(cfg)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["split"] == "test" and metrics["images"] == 2
    assert set(metrics["metrics"]) >= {"f1", "precision", "recall", "mae", "mse", "nae", "recall_a0"}
    rows = list(csv.DictReader((tmp_path / "per_image.csv").open()))
    assert len(rows) == 2 and {"tp_l", "fp_l", "fn_l", "gt_count", "pred_count"} <= set(rows[0])
    preds = read_pred_loc(tmp_path / "predictions.txt")
    assert sum(len(p) for p in preds.values()) == sum(int(r["pred_count"]) for r in rows)
    assert {"f1_r4", "f1_r8", "precision_r4", "recall_r8"} <= set(metrics["metrics_fixed"])
    offline = evaluate_files(tmp_path / "predictions.txt", tmp_path / "gt_loc.txt")  # the written files reproduce it
    assert offline.metrics["f1"] == pytest.approx(metrics["metrics"]["f1"], abs=0.02)
    assert result["metrics"]["mae"] == pytest.approx(
        sum(abs(int(r["gt_count"]) - int(r["pred_count"])) for r in rows) / len(rows)
    )
    # split_heads: touching heads cut at their confidence peaks; never fewer heads than one a component
    split_cfg = compose_train(
        [f"ckpt_path={checkpoint}", *data, "trainer.enable_progress_bar=false", "split_heads=true",
         "split_min_distance=2"], tmp_path / "split", "eval",
    )  # fmt: skip
    evaluate(split_cfg)
    split_rows = list(csv.DictReader((tmp_path / "split" / "per_image.csv").open()))
    assert [r["id"] for r in split_rows] == [r["id"] for r in rows]
    assert all(int(a["pred_count"]) >= int(b["pred_count"]) for a, b in zip(split_rows, rows, strict=True))


def test_the_sweep_scores_each_setting_as_its_own_evaluation_would(tmp_path, checkpoint):
    data = ["data.source.train=8", "data.source.val=2", "data.source.test=3", "data.source.height=96",
            "data.source.width=128", "data.num_workers=0", "trainer.enable_progress_bar=false"]  # fmt: skip
    sweep = ["sweep.threshold_offset=[0,0.15]", "sweep.split_min_distance=[0,2]", "sweep.min_area=[3,12]"]
    result = evaluate(compose_train([f"ckpt_path={checkpoint}", *data, *sweep], tmp_path / "sweep", "eval"))
    table = {(r["threshold_offset"], r["split_min_distance"], r["min_area"]): r for r in result["sweep"]}
    assert set(table) == {(o, d, a) for o in (0.0, 0.15) for d in (0, 2) for a in (3, 12)}
    assert len(list(csv.DictReader((tmp_path / "sweep" / "sweep.csv").open()))) == 8
    assert "confidence" not in json.loads((tmp_path / "sweep" / "metrics.json").read_text())
    # (0, no split, the checkpoint's 3) is the evaluation itself; the other cells equal the evaluation run with that
    # setting (every pair at min_area 3, and one cell with min_area=12, which replaces the checkpoint's)
    assert table[0.0, 0, 3]["f1"] == pytest.approx(result["metrics"]["f1"], abs=1e-12)
    assert table[0.0, 0, 3]["mae"] == pytest.approx(result["metrics"]["mae"], abs=1e-12)
    for (offset, distance, area), row in table.items():
        if area != 3 and (offset, distance) != (0.15, 2):
            continue
        single = [f"threshold_offset={offset}", f"split_heads={distance > 0}", f"split_min_distance={max(distance, 1)}",
                  f"min_area={area}"]  # fmt: skip
        other = evaluate(compose_train([f"ckpt_path={checkpoint}", *data, *single],
                                       tmp_path / f"{offset}_{distance}_{area}", "eval"))  # fmt: skip
        for key in ("f1", "precision", "recall", "mae"):
            assert row[key] == pytest.approx(other["metrics"][key], abs=1e-12), (offset, distance, area, key)
    assert len({(r["f1"], r["mae"]) for r in table.values()}) > 1  # the settings change the answer
    # without splitting, min_area 12 keeps a subset of min_area 3's heads: recall can only fall
    assert all(table[o, 0, 12]["recall"] <= table[o, 0, 3]["recall"] for o in (0.0, 0.15))


@pytest.mark.parametrize(
    ("override", "message"),
    [("sweep.threshold_offset=[2]", r"sweep\.threshold_offset\[0\] must be a number in \[-1, 1\], got 2$"),
     ("sweep.split_min_distance=[-1]", r"split_min_distance\[0\] \(0 = no splitting\): expected an integer >= 0"),
     ("sweep.threshold_offset=[a]", r"sweep\.threshold_offset\[0\] must be a number in \[-1, 1\], got 'a'"),
     ("sweep.min_area=[3,1.5]", r"sweep\.min_area\[1\]: expected an integer >= 0, got 1\.5"),
     ("+sweep.area=[3]", r"sweep: unknown keys \['area'\]"),
     ("min_area=-2", r"min_area: expected an integer >= 0, got -2"),
     ("threshold_offset=3", r"LocatorTask: `threshold_offset` must be a number in \[-1, 1\], got 3"),
     ("split_heads=maybe", r"split_heads: expected true or false, got 'maybe'"),
     ("split_min_distance=0", r"split_min_distance must be a positive integer, got 0")],
)  # fmt: skip
def test_bad_sweep_settings_are_named(tmp_path, checkpoint, override, message):
    cfg = compose_train([f"ckpt_path={checkpoint}", "data.num_workers=0", override], tmp_path, "eval")
    with pytest.raises(ValueError, match=message):
        evaluate(cfg)


def test_bad_checkpoints(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_network(tmp_path / "missing.ckpt")
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"junk\.ckpt: cannot read it as a PyTorch checkpoint"):
        load_network(tmp_path / "junk.ckpt")
    torch.save({"model": {}}, tmp_path / "other.ckpt")
    with pytest.raises(ValueError, match="not an iim checkpoint"):
        load_network(tmp_path / "other.ckpt")


def _with_split_metadata(checkpoint: str, path, split_min_distance: int) -> str:
    """A copy of ``checkpoint`` whose run validated with split heads (as +experiment=shhb_lite0_cpu_plus's)."""
    state = torch.load(checkpoint, weights_only=True)
    state["iim"].update(split_heads=True, split_min_distance=split_min_distance)
    torch.save(state, path)
    return str(path)


def test_eval_follows_the_checkpoints_split_heads_unless_told_otherwise(tmp_path, checkpoint):
    data = ["data.source.test=3", "data.source.height=96", "data.source.width=128", "data.num_workers=0",
            "trainer.enable_progress_bar=false"]  # fmt: skip
    assert load_network(checkpoint)[1].split_heads is False  # the smoke run validated without splitting
    recipe = _with_split_metadata(checkpoint, tmp_path / "recipe.ckpt", split_min_distance=2)
    info = load_network(recipe)[1]
    assert (info.split_heads, info.split_min_distance) == (True, 2)

    def counts(ckpt: str, name: str, *extra: str) -> list[int]:
        evaluate(compose_train([f"ckpt_path={ckpt}", *data, *extra], tmp_path / name, "eval"))
        return [int(r["pred_count"]) for r in csv.DictReader((tmp_path / name / "per_image.csv").open())]

    explicit = counts(checkpoint, "explicit", "split_heads=true", "split_min_distance=2")
    plain = counts(checkpoint, "plain")
    assert explicit != plain  # splitting changes the answer on these maps, so the comparisons below can fail
    assert counts(recipe, "from_checkpoint") == explicit
    assert counts(recipe, "overridden", "split_heads=false") == plain
