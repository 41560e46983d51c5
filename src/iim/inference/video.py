"""Reading and writing videos frame by frame (OpenCV's FFmpeg backend: mp4, avi, mov, mkv, webm, ...)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

__all__ = ["VideoError", "VideoInfo", "VideoWriter", "read_frames", "video_info"]


class VideoError(ValueError):
    """A video cannot be opened, read or written; the message names the file."""


@dataclass(frozen=True)
class VideoInfo:
    """What a video's header says: frames per second, frame count (an estimate for some containers), size."""

    fps: float
    frames: int
    height: int
    width: int


def _open(path: str | os.PathLike[str]) -> cv2.VideoCapture:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such video file")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise VideoError(f"{path}: cannot open it as a video (unknown format or a corrupt file)")
    return capture


def video_info(path: str | os.PathLike[str]) -> VideoInfo:
    """The header of a video (raises :class:`VideoError` if OpenCV cannot open it)."""
    capture = _open(path)
    try:
        fps = float(capture.get(cv2.CAP_PROP_FPS)) or 25.0
        info = VideoInfo(
            fps=fps if np.isfinite(fps) and fps > 0 else 25.0,
            frames=max(int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), 0),
            height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
        )
    finally:
        capture.release()
    if info.height <= 0 or info.width <= 0:
        raise VideoError(f"{path}: cannot read it as a video (no frame size; a corrupt or unsupported file)")
    return info


def read_frames(
    path: str | os.PathLike[str], stride: int = 1, max_frames: int | None = None
) -> Iterator[tuple[int, float, np.ndarray]]:
    """The frames of a video as ``(index, time in seconds, RGB uint8 (H, W, 3))``, every ``stride``-th one.

    Args:
        path: The video file.
        stride: Keep frames ``0, stride, 2 * stride, ...`` (the others are decoded and dropped).
        max_frames: Stop after this many kept frames.

    Raises:
        FileNotFoundError: No such file.
        VideoError: OpenCV cannot open it, or it has no readable frame.
    """
    if stride < 1 or (max_frames is not None and max_frames < 1):
        raise ValueError(f"read_frames: `stride` and `max_frames` must be >= 1, got {stride} and {max_frames}")
    capture = _open(path)
    fps = float(capture.get(cv2.CAP_PROP_FPS))
    fps = fps if np.isfinite(fps) and fps > 0 else 25.0
    kept = index = 0
    try:
        while max_frames is None or kept < max_frames:
            if index % stride:
                if not capture.grab():
                    break
            else:
                ok, frame = capture.read()
                if not ok:
                    break
                kept += 1
                yield index, index / fps, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            index += 1
    finally:
        capture.release()
    if index == 0:
        raise VideoError(f"{path}: the video has no readable frame")


class VideoWriter:
    """Write RGB frames to a video file (``.mp4`` with the ``mp4v`` codec by default).

    Args:
        path: The output file; must not exist.
        fps: Frames per second.
        size: ``(height, width)`` of every frame.
        codec: FourCC code.
    """

    def __init__(self, path: str | os.PathLike[str], fps: float, size: tuple[int, int], codec: str = "mp4v") -> None:
        self.path = Path(path)
        self.size = (int(size[0]), int(size[1]))
        self._writer = cv2.VideoWriter(
            str(self.path), cv2.VideoWriter_fourcc(*codec), float(fps), (self.size[1], self.size[0])
        )
        if not self._writer.isOpened():
            raise VideoError(f"{self.path}: cannot write a {codec!r} video here (OpenCV has no encoder for it)")

    def write(self, frame: np.ndarray) -> None:
        """Append one RGB uint8 frame :math:`(H, W, 3)` of the writer's size."""
        if frame.shape[:2] != self.size:
            raise VideoError(f"{self.path}: frame of size {frame.shape[:2]} in a video of size {self.size}")
        self._writer.write(cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        """Finish the file."""
        self._writer.release()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
