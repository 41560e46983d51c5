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
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import hydra
import numpy as np
from omegaconf import DictConfig, OmegaConf

from iim.cli._common import fail, instantiate_group, print_table, root_cause
from iim.cli.console import quiet_library_notices
from iim.data.records import DatasetError

__all__ = ["evaluate", "main"]


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
    task = LocatorTask(net, mean=info.mean, std=info.std, inference=inference, min_area=info.min_area,
                       connectivity=info.connectivity, split_heads=bool(cfg.get("split_heads", False)),
                       split_min_distance=int(cfg.get("split_min_distance", 3)))  # fmt: skip
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
    (out / "metrics.json").write_text(json.dumps(result, indent=2, default=float))
    return result


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
