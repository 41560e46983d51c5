"""The files ``iim-predict`` writes, and the rule that it never overwrites earlier ones unless asked.

Per image ``<name>`` (its path relative to the folder it came from, without the suffix):

- ``<name>.json``: ``source``, ``image_size``, ``count``, ``points``, ``boxes``, ``areas``;
- ``<name>.csv``: one row per head, ``x,y,x1,y1,x2,y2,area``;
- ``<name>.overlay.png``: the image with the heads and the count drawn; ``<name>.maps.png`` (optional): the
  confidence and threshold maps (the paper's Fig. 7).

Per video, written frame by frame (memory does not grow with the video's length): ``<name>.frames.jsonl`` (one line
per processed frame: index, time, count, points, boxes), ``<name>.counts.csv`` (``frame,time_s,count``),
``<name>.overlay.mp4``, and at the end ``<name>.json`` (source, fps, frames processed, count statistics).

For the whole set: ``predictions.txt`` (the NWPU-Crowd submission format, ``id n x1 y1 ...`` with integer pixels,
one line per image), ``counts.csv`` (``name,count``) and ``summary.json`` (every input, its count or its error).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from iim.inference.predictor import Prediction
from iim.inference.sources import InputItem

__all__ = ["ON_EXISTING", "OutputError", "OutputPlan", "VideoResults"]

ON_EXISTING = ("error", "skip", "overwrite")


class OutputError(RuntimeError):
    """Outputs that would overwrite earlier files (the message lists them)."""


def _write_text(path: Path, text: str) -> None:
    """Write through a temporary file and a rename, so a file is either complete or absent."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _write_png(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part.png")
    if not cv2.imwrite(str(tmp), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"{path}: cannot write the PNG")
    os.replace(tmp, path)


def _csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def _round(values: np.ndarray, digits: int = 3) -> list[Any]:
    return np.round(values.astype(np.float64), digits).tolist()


class OutputPlan:
    """Where each input's outputs go, and the no-overwrite rule.

    Args:
        root: The output folder.
        json: Write ``<name>.json``.
        csv: Write ``<name>.csv`` (images) / ``<name>.counts.csv`` (videos).
        overlay: Write ``<name>.overlay.png`` / ``<name>.overlay.mp4``.
        maps: Write ``<name>.maps.png`` (images).
        on_existing: ``"error"`` (default: stop before writing anything if an output exists), ``"skip"`` (leave
            inputs whose outputs all exist alone) or ``"overwrite"``.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        json: bool = True,
        csv: bool = True,
        overlay: bool = True,
        maps: bool = False,
        on_existing: str = "error",
    ) -> None:
        if on_existing not in ON_EXISTING:
            raise ValueError(f"on_existing: must be one of {ON_EXISTING}, got {on_existing!r}")
        self.root = Path(root)
        self.json, self.csv, self.overlay, self.maps = json, csv, overlay, maps
        self.on_existing = on_existing

    def files(self, item: InputItem) -> list[Path]:
        """The files written for one input."""
        base = self.root / item.name
        if item.kind == "video":
            wanted = [(self.json, ".json"), (self.json, ".frames.jsonl"), (self.csv, ".counts.csv")]
            wanted.append((self.overlay, ".overlay.mp4"))
        else:
            wanted = [(self.json, ".json"), (self.csv, ".csv"), (self.overlay, ".overlay.png")]
            wanted.append((self.maps, ".maps.png"))
        return [base.with_name(base.name + suffix) for enabled, suffix in wanted if enabled]

    def set_files(self, submission: bool) -> list[Path]:
        """The files written once for the whole set."""
        names = ["counts.csv", "summary.json"] + (["predictions.txt"] if submission else [])
        return [self.root / n for n in names]

    def check(self, items: Sequence[InputItem], submission: bool) -> list[InputItem]:
        """Apply ``on_existing``: the items to process.

        Raises:
            OutputError: with ``on_existing="error"``, when any output already exists (listed in the message).
        """
        if self.on_existing == "overwrite":
            return list(items)
        todo, existing = [], []
        for item in items:
            present = [p for p in self.files(item) if p.exists()]
            if self.on_existing == "skip" and present and len(present) == len(self.files(item)):
                continue
            existing += present
            todo.append(item)
        if self.on_existing == "error":
            existing += [p for p in self.set_files(submission) if p.exists()]
            if existing:
                shown = ", ".join(str(p) for p in existing[:10])
                more = f" and {len(existing) - 10} more" if len(existing) > 10 else ""
                raise OutputError(
                    f"{len(existing)} output file(s) already exist: {shown}{more}. Nothing was written. Use another "
                    "output_dir, on_existing=skip (leave finished inputs alone) or on_existing=overwrite."
                )
        return todo

    def previous(self, item: InputItem) -> dict[str, Any]:
        """What an earlier run wrote for ``item`` (for the set files when it is skipped): ``count`` and ``points`` of
        an image, ``frames`` of a video, from its ``<name>.json``; empty if there is none."""
        path = self.root / f"{item.name}.json"
        if not self.json or not path.is_file():
            return {}
        data = json.loads(path.read_text(encoding="utf-8"))
        if item.kind == "video":
            return {"frames": data.get("frames")}
        return {"count": data.get("count"), "points": data.get("points", [])}

    # ------------------------------------------------------------------------------------------------ writing
    def write_image(self, item: InputItem, pred: Prediction, image: np.ndarray | None) -> None:
        """The per-image files (``image``: the RGB pixels, for the overlay)."""
        base = self.root / item.name
        if self.json:
            _write_text(base.with_name(base.name + ".json"), json.dumps({"name": item.name, **pred.to_dict()}))
        if self.csv:
            rows = ([*_round(p), *_round(b), int(a)] for p, b, a in zip(pred.points, pred.boxes, pred.areas))
            _write_text(base.with_name(base.name + ".csv"), _csv_text(["x", "y", "x1", "y1", "x2", "y2", "area"], rows))
        if self.overlay and image is not None:
            from iim.viz import draw_points

            _write_png(base.with_name(base.name + ".overlay.png"), draw_points(image, pred.points, pred.count))
        if self.maps and pred.confidence is not None and pred.threshold is not None:
            from iim.viz import maps_panel

            panel = maps_panel(pred.confidence, pred.threshold, binary=pred.confidence >= pred.threshold, image=image)
            _write_png(base.with_name(base.name + ".maps.png"), panel)

    def video_results(self, item: InputItem, fps: float, overlay_fps: float | None = None) -> VideoResults:
        """An incremental writer of one video's per-frame results and overlay (at ``overlay_fps``, default ``fps``)."""
        return VideoResults(self, item, fps, overlay_fps)

    def write_set(self, results: list[dict[str, Any]], submission: dict[Any, np.ndarray] | None) -> None:
        """``counts.csv``, ``summary.json`` and (for images) the NWPU-format ``predictions.txt``."""
        from iim.metrics import write_pred_loc

        rows = ([r["name"], r["count"]] for r in results if r.get("count") is not None)
        _write_text(self.root / "counts.csv", _csv_text(["name", "count"], rows))
        _write_text(self.root / "summary.json", json.dumps({"inputs": results}, indent=2))
        if submission:
            tmp = self.root / ".predictions.txt.part"
            write_pred_loc(tmp, submission)
            os.replace(tmp, self.root / "predictions.txt")


class VideoResults:
    """One video's outputs, written frame by frame into ``.part`` files that are renamed when :meth:`close` runs.

    Args:
        plan: The output plan (which files, where).
        item: The video.
        fps: Its frame rate.
        overlay_fps: The overlay's frame rate (``fps / stride`` when only every ``stride``-th frame is processed).
    """

    def __init__(self, plan: OutputPlan, item: InputItem, fps: float, overlay_fps: float | None = None) -> None:
        self.plan, self.item, self.fps = plan, item, float(fps)
        self.overlay_fps = float(overlay_fps or fps)
        base = plan.root / item.name
        base.parent.mkdir(parents=True, exist_ok=True)
        self._final: list[tuple[Path, Path]] = []
        self._jsonl = self._open(base.with_name(base.name + ".frames.jsonl")) if plan.json else None
        self._csv = self._open(base.with_name(base.name + ".counts.csv")) if plan.csv else None
        if self._csv is not None:
            self._csv.write("frame,time_s,count\n")
        self._writer: Any = None
        self.counts: list[int] = []

    def _open(self, path: Path) -> Any:
        tmp = path.with_name(f".{path.name}.part")
        self._final.append((tmp, path))
        return tmp.open("w", encoding="utf-8")

    def add(self, index: int, time_s: float, frame: np.ndarray, pred: Prediction) -> None:
        """One processed frame (``frame``: its RGB pixels, for the overlay)."""
        self.counts.append(pred.count)
        if self._jsonl is not None:
            record = {"frame": index, "time_s": round(time_s, 4), "count": pred.count,
                      "points": _round(pred.points), "boxes": _round(pred.boxes)}  # fmt: skip
            self._jsonl.write(json.dumps(record) + "\n")
        if self._csv is not None:
            self._csv.write(f"{index},{round(time_s, 4)},{pred.count}\n")
        if self.plan.overlay:
            from iim.inference.video import VideoWriter
            from iim.viz import draw_points

            if self._writer is None:
                path = self.plan.root / f"{self.item.name}.overlay.mp4"
                tmp = path.with_name(f".{path.name}.part.mp4")
                self._final.append((tmp, path))
                self._writer = VideoWriter(tmp, self.overlay_fps, frame.shape[:2])
            label = f"count: {pred.count}  frame {index}"
            self._writer.write(draw_points(frame, pred.points, pred.count, label=label))

    def close(self, complete: bool = True) -> None:
        """Finish the files; with ``complete`` (no error) move them into place and write ``<name>.json``."""
        for handle in (self._jsonl, self._csv, self._writer):
            if handle is not None:
                handle.close()
        if not complete:
            for tmp, _ in self._final:
                tmp.unlink(missing_ok=True)
            return
        for tmp, path in self._final:
            os.replace(tmp, path)
        if self.plan.json:
            counts = np.asarray(self.counts, dtype=np.float64)
            summary = {
                "name": self.item.name,
                "source": str(self.item.path),
                "fps": self.fps,
                "frames": len(self.counts),
                "count_mean": float(counts.mean()) if counts.size else None,
                "count_min": int(counts.min()) if counts.size else None,
                "count_max": int(counts.max()) if counts.size else None,
            }
            base = self.plan.root / self.item.name
            _write_text(base.with_name(base.name + ".json"), json.dumps(summary, indent=2))
