"""``iim-eval``: evaluate a checkpoint on a dataset split: a metrics table, a JSON file, a per-image CSV and an
NWPU-format prediction (submission) file.

    iim-eval ckpt_path=logs/train/runs/<run>/checkpoints/last.ckpt                    # the demo's synthetic test split
    iim-eval ckpt_path=best.ckpt data=nwpu data.root=/data/NWPU-Crowd split=val
    iim-eval ckpt_path=best.ckpt data=nwpu data.root=/data/NWPU-Crowd split=test      # unannotated: submission only

Everything is written to the run's own folder (``logs/eval/runs/<date>/``): ``metrics.json``, ``per_image.csv``,
``predictions.txt`` (``id n x1 y1 ...``, integer pixels as the NWPU benchmark expects) and, on annotated splits,
``gt_loc.txt`` (the split's ground truth in the NWPU format, so that ``iim-score predictions.txt gt_loc.txt``
reproduces the numbers). Besides the NWPU protocol (per-head sigma_s / sigma_l), the fixed-radius protocol of
P2PNet and others is reported for ``fixed_radii`` (4 and 8 px by default).

``sweep`` scores other post-processing settings on the same maps, without running the network again:

    iim-eval ckpt_path=best.ckpt data=shhb data.root=/data/part_B split=val \
        'sweep.threshold_offset=[-0.05,0,0.05,0.1]' 'sweep.split_min_distance=[0,5,8,12]' 'sweep.min_area=[3,8]'

prints F1 / P / R (sigma_l) and MAE for every combination (``split_min_distance`` 0: no splitting) and writes
``sweep.csv``. ``min_area=`` (the smallest component counted as a head) replaces the checkpoint's for the
evaluation itself. Settings picked this way are tuned on the images they are scored on: pick them on ``val`` and report
``test``.
"""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import hydra
import numpy as np
from omegaconf import DictConfig, OmegaConf

from iim.cli._common import fail, instantiate_group, print_table, root_cause
from iim.cli.console import quiet_library_notices
from iim.data.records import DatasetError
from iim.validation import as_bool, as_threshold_offset, non_negative_int, positive_int

__all__ = ["evaluate", "main", "sweep_postprocessing"]


def _nwpu_id(image_id: str) -> int | str:
    return int(image_id) if image_id.isdigit() else image_id


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Run the network of ``cfg.ckpt_path`` over ``cfg.split`` of ``cfg.data`` and write the result files."""
    import pytorch_lightning as pl
    from hydra.utils import instantiate

    from iim.metrics import GTLocRecord, evaluate_predictions, write_gt_loc, write_pred_loc
    from iim.models import load_network
    from iim.tasks import LocatorTask

    quiet_library_notices()
    pl.seed_everything(int(cfg.seed), workers=True, verbose=False)
    out = Path(cfg.paths.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    net, info = load_network(cfg.ckpt_path)
    overrides = cfg.get("inference")
    inference = {**info.inference, **(OmegaConf.to_container(overrides, resolve=True) if overrides else {})}
    min_area = info.min_area if cfg.get("min_area") is None else non_negative_int("min_area", cfg.min_area)
    split_heads = info.split_heads if cfg.get("split_heads") is None else as_bool("split_heads", cfg.split_heads)
    split_min_distance = (info.split_min_distance if cfg.get("split_min_distance") is None
                          else positive_int("split_min_distance", cfg.split_min_distance))  # fmt: skip
    task = LocatorTask(net, mean=info.mean, std=info.std, inference=inference, min_area=min_area,
                       connectivity=info.connectivity, split_heads=split_heads, split_min_distance=split_min_distance,
                       threshold_offset=float(cfg.get("threshold_offset", 0.0)))  # fmt: skip
    sweep = _sweep_settings(cfg.get("sweep"), min_area)
    task.keep_test_maps = sweep is not None
    datamodule = instantiate(cfg.data, splits={"test": cfg.split})
    datamodule.source  # noqa: B018 - fail early on a missing dataset
    loggers = instantiate_group(cfg.get("logger"))
    bar = [pl.callbacks.RichProgressBar()] if cfg.trainer.get("enable_progress_bar", True) else []
    trainer = instantiate(cfg.trainer, logger=loggers or False, callbacks=bar)
    trainer.test(task, datamodule=datamodule)

    rows = task.test_predictions
    preds = {_nwpu_id(r["image_id"]): r["points"] for r in rows}
    write_pred_loc(out / "predictions.txt", preds)
    result: dict[str, Any] = {"checkpoint": str(info.path), "split": cfg.split, "images": len(rows),
                              "output_dir": str(out), "predictions": str(out / "predictions.txt")}  # fmt: skip
    annotated = [r for r in rows if r["annotated"]]
    if annotated:
        gt = {
            _nwpu_id(r["image_id"]): GTLocRecord.from_arrays(
                r["target"]["points"],
                r["target"]["sigma_s"],
                r["target"]["sigma_l"],
                r["target"]["level"],
                num=round(float(r["target"]["count"])),
            )
            for r in annotated
        }
        scored = {k: v for k, v in preds.items() if k in gt}
        evaluation = evaluate_predictions(scored, gt)
        result["metrics"] = evaluation.metrics
        radii = [float(r) for r in (cfg.get("fixed_radii") or [])]
        if radii:  # the fixed-radius protocol of P2PNet and others, from the same predictions
            result["metrics_fixed"] = evaluate_predictions(scored, gt, protocol="fixed", radii=radii).metrics
        write_gt_loc(out / "gt_loc.txt", gt)
        result["ground_truth"] = str(out / "gt_loc.txt")
        with (out / "per_image.csv").open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(evaluation.per_image[0]))
            writer.writeheader()
            writer.writerows(evaluation.per_image)
        result["per_image"] = str(out / "per_image.csv")
        if sweep is not None:
            result["sweep"] = sweep_postprocessing(annotated, gt, *sweep, connectivity=info.connectivity)
            with (out / "sweep.csv").open("w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=list(result["sweep"][0]))
                writer.writeheader()
                writer.writerows(result["sweep"])
            result["sweep_csv"] = str(out / "sweep.csv")
    (out / "metrics.json").write_text(json.dumps(result, indent=2, default=float))
    return result


SWEEP_KEYS = ("threshold_offset", "split_min_distance", "min_area")


def _sweep_settings(sweep: Any, min_area: int) -> tuple[list[float], list[int], list[int]] | None:
    """``cfg.sweep`` -> (threshold offsets, split distances, smallest areas), checked; None when there is no sweep.

    A key left empty sweeps nothing: offset 0, no splitting, ``min_area`` (the evaluation's own).
    """
    unknown = set(sweep or {}) - set(SWEEP_KEYS)
    if unknown:
        raise ValueError(f"sweep: unknown keys {sorted(unknown)}; expected {', '.join(SWEEP_KEYS)}")
    if not sweep or not any(sweep.get(k) for k in SWEEP_KEYS):
        return None

    def values(key: str) -> list[Any]:
        raw = sweep.get(key) or []
        return list(raw) if isinstance(raw, (list, tuple)) or OmegaConf.is_list(raw) else [raw]

    offsets = [as_threshold_offset(f"sweep.threshold_offset[{i}]", o) for i, o in enumerate(values("threshold_offset"))]
    distances = [non_negative_int(f"sweep.split_min_distance[{i}] (0 = no splitting)", d)
                 for i, d in enumerate(values("split_min_distance"))]  # fmt: skip
    areas = [non_negative_int(f"sweep.min_area[{i}]", a) for i, a in enumerate(values("min_area"))]
    return offsets or [0.0], distances or [0], areas or [min_area]


def sweep_postprocessing(
    rows: list[dict[str, Any]],
    gt: dict[Any, Any],
    offsets: Sequence[float],
    distances: Sequence[int],
    areas: Sequence[int] = (3,),
    *,
    connectivity: int = 4,
) -> list[dict[str, float]]:
    """Score every (threshold offset, split distance, smallest area) combination on maps already predicted.

    Args:
        rows: ``LocatorTask.test_predictions`` kept with their maps (``keep_test_maps``): ``image_id``,
            ``confidence`` and ``threshold`` :math:`(H, W)` float32 each.
        gt: ``{image id: GTLocRecord}`` of those images.
        offsets: Added to the threshold before binarizing.
        distances: ``split_min_distance`` of :func:`~iim.ops.extract_instances`; 0 means no splitting.
        areas: ``min_area`` values: the smallest component kept, in pixels.
        connectivity: 4 or 8.

    Returns:
        One row per combination: ``threshold_offset``, ``split_min_distance``, ``min_area``, F1 / precision /
        recall (sigma_l) and MAE.
    """
    from iim.metrics import evaluate_predictions
    from iim.ops import extract_instances

    table = []
    for offset, distance, min_area in itertools.product(offsets, distances, areas):
        preds = {}
        for r in rows:
            conf, thr = r["confidence"], r["threshold"]
            inst = extract_instances(conf >= thr + offset, min_area=min_area, connectivity=connectivity,
                                     split_heads=distance > 0, confidence=conf if distance > 0 else None,
                                     split_min_distance=max(distance, 1))  # fmt: skip
            preds[_nwpu_id(r["image_id"])] = inst.points
        m = evaluate_predictions({k: v for k, v in preds.items() if k in gt}, gt).metrics
        table.append({"threshold_offset": offset, "split_min_distance": distance, "min_area": min_area,
                      **{k: float(m[k]) for k in ("f1", "precision", "recall", "mae")}})  # fmt: skip
    return table


def summarize(result: dict[str, Any]) -> None:
    """Print the evaluation table and where the files went."""
    m = result.get("metrics", {})
    rows = [(f"split ({result['images']} images)", str(result["split"]))]
    keys = [("F1 (sigma_l)", "f1"), ("precision (sigma_l)", "precision"), ("recall (sigma_l)", "recall"),
            ("F1 (sigma_s)", "f1_s"), ("mean level recall A0-A5", "recall_mean"), ("MAE", "mae"),
            ("MSE (RMSE)", "mse"), ("NAE", "nae")]  # fmt: skip
    rows += [(name, f"{float(m[key]):.4f}") for name, key in keys if key in m and np.isfinite(float(m[key]))]
    if not m:
        rows.append(("metrics", "none: the split has no annotations (submission file only)"))
    rows += [
        ("predictions (NWPU format)", result["predictions"]),
        ("metrics JSON", f"{result['output_dir']}/metrics.json"),
    ]
    for key, value in result.get("metrics_fixed", {}).items():
        if key.startswith("f1_r") and np.isfinite(float(value)):
            radius = key.removeprefix("f1_r")
            p, r = result["metrics_fixed"][f"precision_r{radius}"], result["metrics_fixed"][f"recall_r{radius}"]
            rows.append((f"F1 / P / R (fixed {radius} px)", f"{float(value):.4f} / {float(p):.4f} / {float(r):.4f}"))
    if "per_image" in result:
        rows.append(("per-image CSV", result["per_image"]))
        rows.append(("ground truth (NWPU format)", result["ground_truth"]))
    print_table("iim-eval", rows)
    if result.get("sweep"):
        rows = [("offset, split distance, min area", "F1 / P / R (sigma_l), MAE")]
        rows += [
            (
                f"{r['threshold_offset']:+.3f}, {r['split_min_distance']}, {r['min_area']}",
                f"{r['f1']:.4f} / {r['precision']:.4f} / {r['recall']:.4f}, {r['mae']:.2f}",
            )
            for r in result["sweep"]
        ]
        print_table("iim-eval sweep", rows)


@hydra.main(version_base="1.3", config_path="pkg://iim.conf", config_name="eval")
def main(cfg: DictConfig) -> None:
    """Entry point of ``iim-eval``."""
    try:
        result = evaluate(cfg)
    except Exception as err:
        if isinstance(root_cause(err), (DatasetError, FileNotFoundError, ValueError)):
            fail("iim-eval", err)
        raise
    summarize(result)


if __name__ == "__main__":
    main()
