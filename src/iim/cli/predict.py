"""``iim-predict``: locate heads in images, folders, glob patterns and videos with a trained checkpoint.

    iim-predict photo.jpg crowd/ 'shots/*.png' clip.mp4 ckpt=logs/train/runs/<run>/checkpoints/last.ckpt
    iim-predict frames/ ckpt=best.ckpt output_dir=results device=cuda precision=16-mixed batch_size=8

The leading words (before the first ``key=value`` or flag) are the inputs (``inputs=[...]`` works too); everything
else is a Hydra override of ``conf/predict.yaml``. Per image it writes ``<name>.json``, ``<name>.csv`` and
``<name>.overlay.png``; per video ``<name>.frames.jsonl``, ``<name>.counts.csv``, ``<name>.overlay.mp4`` and
``<name>.json``; for the set ``predictions.txt`` (NWPU-Crowd submission format), ``counts.csv`` and ``summary.json``
(see :mod:`iim.inference.outputs`). Inputs that cannot be read are listed and skipped; the exit status is 1 when any
failed, 2 when nothing could start.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from iim.cli._common import fail, print_table, root_cause, run_app
from iim.validation import as_bool, positive_int

__all__ = ["main", "predict", "summarize"]


def _submission_id(name: str) -> int | str:
    return int(name) if name.isdigit() else "_".join(name.split())


def _progress(enabled: bool) -> Any:
    if not enabled:
        return nullcontext(None)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=False
    )


def _video(predictor: Any, plan: Any, item: Any, cfg: DictConfig, bar: Any) -> int:
    """Predict every ``stride``-th frame of a video, writing as it goes; returns the number of frames processed."""
    from iim.inference.video import read_frames, video_info

    info = video_info(item.path)
    stride, limit = int(cfg.video.stride), cfg.video.max_frames
    results = plan.video_results(item, info.fps, overlay_fps=info.fps / stride)
    task = bar.add_task(f"  {item.name}", total=(info.frames // stride or None)) if bar is not None else None
    pending: list[tuple[int, float, np.ndarray]] = []

    def flush() -> None:
        for (index, time_s, frame), pred in zip(pending, predictor.predict_many([p[2] for p in pending])):
            results.add(index, time_s, frame, pred)
            if task is not None:
                bar.advance(task)
        pending.clear()

    complete = False
    try:
        for index, time_s, frame in read_frames(item.path, stride=stride, max_frames=limit):
            pending.append((index, time_s, frame))
            if len(pending) >= predictor.batch_size:
                flush()
        if pending:
            flush()
        complete = True
    finally:
        results.close(complete)
        if task is not None:
            bar.remove_task(task)
    return len(results.counts)


def predict(cfg: DictConfig) -> dict[str, Any]:
    """Run ``cfg.ckpt`` over ``cfg.inputs`` and write the outputs; returns a summary."""
    from iim.inference import InputError, OutputPlan, Predictor, as_rgb_array, collect_inputs
    from iim.inference.video import VideoError
    from iim.io import ImageReadError

    inputs = [str(p) for p in cfg.inputs]
    if not inputs:
        raise ValueError("no inputs: iim-predict IMAGE|FOLDER|'PATTERN'|VIDEO ... ckpt=CHECKPOINT")
    items, problems = collect_inputs(inputs, recursive=bool(cfg.recursive))
    if not items:
        raise ValueError("nothing to process: " + "; ".join(f"{i}: {m}" for i, m in problems))
    overrides = OmegaConf.to_container(cfg.inference, resolve=True) if cfg.get("inference") else {}
    predictor = Predictor.from_checkpoint(
        cfg.ckpt, device=str(cfg.device), precision=str(cfg.precision), inference=overrides,  # type: ignore[arg-type]
        min_area=cfg.min_area, connectivity=cfg.connectivity, batch_size=int(cfg.batch_size),
        split_heads=None if cfg.get("split_heads") is None else as_bool("split_heads", cfg.split_heads),
        split_min_distance=None if cfg.get("split_min_distance") is None
        else positive_int("split_min_distance", cfg.split_min_distance),
        threshold_offset=float(cfg.get("threshold_offset", 0.0)),
    )  # fmt: skip
    out = Path(str(cfg.output_dir))
    plan = OutputPlan(out, json=cfg.outputs.json, csv=cfg.outputs.csv, overlay=cfg.outputs.overlay,
                      maps=cfg.outputs.maps, on_existing=str(cfg.on_existing))  # fmt: skip
    want_submission = bool(cfg.outputs.submission) and any(i.kind == "image" for i in items)
    todo = plan.check(items, want_submission)
    pending = {id(item) for item in todo}
    results: list[dict[str, Any]] = [{"name": None, "source": i, "error": m} for i, m in problems]
    submission: dict[Any, np.ndarray] = {}
    failed = [f"{i}: {m}" for i, m in problems]
    with _progress(bool(cfg.progress)) as bar:
        task = bar.add_task("iim-predict", total=len(todo)) if bar is not None else None
        for item in items:
            entry: dict[str, Any] = {"name": item.name, "source": str(item.path), "kind": item.kind}
            if id(item) not in pending:  # on_existing=skip: its files are there; the set files still list it
                entry.update(plan.previous(item), skipped=True)
                if item.kind == "image" and "points" in entry:
                    submission[_submission_id(item.name)] = np.asarray(entry.pop("points"), dtype=np.float64)
                results.append(entry)
                continue
            try:
                if item.kind == "video":
                    entry["frames"] = _video(predictor, plan, item, cfg, bar)
                else:
                    image = as_rgb_array(item.path)
                    pred = predictor.predict(image, return_maps=bool(cfg.outputs.maps))
                    pred.source = str(item.path)
                    plan.write_image(item, pred, image)
                    entry["count"] = pred.count
                    submission[_submission_id(item.name)] = pred.points
            except (FileNotFoundError, InputError, VideoError, ImageReadError, OSError) as err:
                entry["error"] = str(err)
                failed.append(str(err))
            results.append(entry)
            if task is not None:
                bar.advance(task)
    plan.write_set(results, submission if want_submission else None)
    return {"output_dir": str(out), "processed": len(todo), "skipped": len(items) - len(todo), "failed": failed,
            "results": results, "images": len(submission)}  # fmt: skip


def summarize(summary: dict[str, Any]) -> None:
    """Print the result table and the inputs that failed."""
    rows = [("processed", str(summary["processed"])), ("output folder", summary["output_dir"])]
    if summary["skipped"]:
        rows.append(("skipped (outputs exist)", str(summary["skipped"])))
    counts = [r["count"] for r in summary["results"] if r.get("count") is not None]
    if counts:
        rows.append(("images", f"{len(counts)}, heads {sum(counts)} (min {min(counts)}, max {max(counts)})"))
    videos = [r for r in summary["results"] if r.get("frames") is not None]
    if videos:
        rows.append(("videos", f"{len(videos)}, frames {sum(r['frames'] for r in videos)}"))
    rows.append(("failed", str(len(summary["failed"]))))
    print_table("iim-predict", rows)
    for message in summary["failed"]:
        print(f"iim-predict: skipped: {message}", file=sys.stderr)


def _run(cfg: DictConfig) -> int:
    from iim.inference.outputs import OutputError

    try:
        summary = predict(cfg)
    except Exception as err:
        if isinstance(root_cause(err), (OutputError, FileNotFoundError, ValueError)):
            fail("iim-predict", err)
        raise
    summarize(summary)
    return 1 if summary["failed"] else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``iim-predict``: the leading words are the inputs (``inputs=[...]``), the rest are Hydra's arguments.

    Args:
        argv: The arguments (without the program name); ``None`` reads ``sys.argv``.

    Returns:
        The exit status: 0, 1 when some inputs failed (the rest was done), 2 when nothing could start.
    """
    return run_app("iim-predict", "predict", _run, argv, rest_key="inputs")


if __name__ == "__main__":
    sys.exit(main())
