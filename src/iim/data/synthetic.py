"""Synthetic crowds: seeded, crowd-like scenes with exact head points and boxes (iim's built-in default data).

Each scene has a textured background, clutter (rectangles, lines and round distractors that are not heads), and
people drawn back to front: a body, a face and hair. Head sizes follow a perspective (small far away at the top,
large near the bottom), positions mix dense clusters with sparse scatter, and a fraction of the scenes are negatives
with no heads at all. Every scene is a pure function of ``(seed, index)``, so datasets are reproducible and any
sample can be regenerated alone.

The generator feeds the tests and the default demo run, in memory (:meth:`SyntheticCrowds.records`) or written to
disk in iim's custom format (:func:`write_synthetic_dataset`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from iim.data.records import CrowdRecord

__all__ = ["SyntheticCrowds", "SyntheticSample", "SyntheticSource", "write_synthetic_dataset"]

_SKIN = np.array([[224, 172, 105], [198, 134, 66], [141, 85, 36], [255, 205, 148], [241, 194, 125]], np.float64)
_HAIR = np.array([[20, 15, 10], [60, 40, 20], [90, 60, 30], [40, 40, 40], [150, 120, 70]], np.float64)


@dataclass
class SyntheticSample:
    """One synthetic scene.

    Attributes:
        image: RGB image, :math:`(H, W, 3)` uint8.
        points: Head centres, :math:`(N, 2)` float32 ``(x, y)``, 0-based pixels.
        boxes: Head boxes, :math:`(N, 4)` float32 ``(x1, y1, x2, y2)``.
    """

    image: np.ndarray
    points: np.ndarray
    boxes: np.ndarray


class SyntheticCrowds:
    """A seeded family of synthetic crowd scenes.

    Args:
        num_images: Number of scenes.
        seed: Seed; scene ``i`` depends only on ``(seed, i)``.
        height: Scene height in pixels.
        width: Scene width in pixels.
        max_heads: Upper bound on the heads of a scene (the number is drawn per scene, dense scenes near it).
        head_size: ``(far, near)`` head diameters in pixels at the top and bottom of the scene (each scene jitters
            them by up to 25 %).
        negative_fraction: Fraction of scenes with no heads.
        clutter: Mean number of clutter shapes per scene.
    """

    def __init__(
        self,
        num_images: int = 100,
        seed: int = 0,
        height: int = 384,
        width: int = 512,
        max_heads: int = 120,
        head_size: tuple[float, float] = (8.0, 30.0),
        negative_fraction: float = 0.1,
        clutter: int = 12,
    ) -> None:
        if num_images < 0:
            raise ValueError(f"SyntheticCrowds: `num_images` must be >= 0, got {num_images}")
        if height < 16 or width < 16:
            raise ValueError(f"SyntheticCrowds: scenes must be at least 16x16, got {height}x{width}")
        if not 0 < head_size[0] <= head_size[1]:
            raise ValueError(f"SyntheticCrowds: `head_size` must be (far, near) with 0 < far <= near, got {head_size}")
        if not 0.0 <= negative_fraction <= 1.0:
            raise ValueError(f"SyntheticCrowds: `negative_fraction` must be in [0, 1], got {negative_fraction}")
        self.num_images = num_images
        self.seed = seed
        self.height = height
        self.width = width
        self.max_heads = max_heads
        self.head_size = (float(head_size[0]), float(head_size[1]))
        self.negative_fraction = negative_fraction
        self.clutter = clutter

    def __len__(self) -> int:
        return self.num_images

    def __getitem__(self, index: int) -> SyntheticSample:
        if not 0 <= index < self.num_images:
            raise IndexError(f"SyntheticCrowds: index {index} out of range [0, {self.num_images})")
        return self.generate(index)

    # ------------------------------------------------------------------------------------------------- rendering
    def _background(self, rng: np.random.Generator) -> np.ndarray:
        h, w = self.height, self.width
        top, bottom = rng.uniform(40, 220, size=3), rng.uniform(40, 220, size=3)
        ramp = np.linspace(0.0, 1.0, h)[:, None, None]
        img = top * (1 - ramp) + bottom * ramp
        img = np.broadcast_to(img, (h, w, 3)).copy()
        low = rng.normal(0, 18, size=(max(h // 32, 2), max(w // 32, 2), 3))
        img += cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC)
        img += rng.normal(0, 6, size=(h, w, 3))
        return img

    def _clutter(self, img: np.ndarray, rng: np.random.Generator, sizes: tuple[float, float]) -> None:
        h, w = self.height, self.width
        for _ in range(rng.poisson(self.clutter)):
            color = tuple(float(c) for c in rng.uniform(0, 255, size=3))
            kind = rng.integers(0, 4)
            x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
            if kind == 0:
                dx, dy = (int(v) for v in rng.integers(10, max(w // 4, 12), size=2))
                cv2.rectangle(img, (x, y), (x + dx, y + dy), color, -1)
            elif kind == 1:
                x2, y2 = int(rng.integers(0, w)), int(rng.integers(0, h))
                cv2.line(img, (x, y), (x2, y2), color, int(rng.integers(1, 6)), cv2.LINE_AA)
            elif kind == 2:  # round distractor of head size, saturated and without a face
                r = int(rng.uniform(*sizes) / 2)
                sat = np.zeros(3)
                sat[rng.integers(0, 3)] = 255
                cv2.circle(
                    img,
                    (x, y),
                    max(r, 2),
                    tuple(float(c) for c in 0.3 * np.asarray(color) + 0.7 * sat),
                    -1,
                    cv2.LINE_AA,
                )
            else:
                pts = rng.integers([0, 0], [w, h], size=(int(rng.integers(3, 6)), 2)).astype(np.int32)
                cv2.fillPoly(img, [pts], color)

    def _positions(self, rng: np.random.Generator, n: int, far: float, near: float) -> tuple[np.ndarray, np.ndarray]:
        h, w = self.height, self.width
        horizon = rng.uniform(0.0, 0.25) * h
        centres = np.stack([rng.uniform(0, w, 6), rng.uniform(horizon, h, 6)], axis=1)
        points: list[np.ndarray] = []
        sizes: list[float] = []
        dense = rng.uniform(0.3, 0.9)
        for _ in range(n * 20):
            if len(points) >= n:
                break
            if rng.random() < dense:
                c = centres[rng.integers(0, len(centres))]
                p = c + rng.normal(0, [0.08 * w, 0.06 * h])
            else:
                p = np.array([rng.uniform(0, w), rng.uniform(horizon, h)])
            if not (0 <= p[0] <= w - 1 and horizon <= p[1] <= h - 1):
                continue
            size = (far + (near - far) * (p[1] - horizon) / max(h - horizon, 1.0)) * rng.uniform(0.85, 1.15)
            if points:
                d = np.linalg.norm(np.asarray(points) - p, axis=1)
                if np.any(d < 0.75 * np.maximum(np.asarray(sizes), size)):
                    continue
            points.append(p)
            sizes.append(size)
        return np.asarray(points, np.float64).reshape(-1, 2), np.asarray(sizes, np.float64)

    def _draw_person(self, img: np.ndarray, rng: np.random.Generator, x: float, y: float, size: float) -> None:
        r = size / 2
        shift = 4  # sub-pixel precision for cv2 drawing
        s = 1 << shift

        def pt(px: float, py: float) -> tuple[int, int]:
            return round(px * s), round(py * s)

        def ax(a: float, b: float) -> tuple[int, int]:
            return max(round(a * s), 1), max(round(b * s), 1)

        shirt = tuple(float(c) for c in rng.uniform(0, 255, size=3))
        cv2.ellipse(img, pt(x, y + 2.3 * r), ax(1.6 * r, 1.5 * r), 0, 0, 360, shirt, -1, cv2.LINE_AA, shift)
        skin = _SKIN[rng.integers(0, len(_SKIN))] * rng.uniform(0.85, 1.1)
        hair = _HAIR[rng.integers(0, len(_HAIR))] * rng.uniform(0.8, 1.2)
        cv2.ellipse(img, pt(x, y), ax(0.85 * r, r), 0, 0, 360, tuple(float(c) for c in skin), -1, cv2.LINE_AA, shift)
        cv2.ellipse(
            img,
            pt(x, y - 0.1 * r),
            ax(0.9 * r, 0.95 * r),
            0,
            180,
            360,
            tuple(float(c) for c in hair),
            -1,
            cv2.LINE_AA,
            shift,
        )

    def generate(self, index: int) -> SyntheticSample:
        """Render scene ``index``."""
        rng = np.random.default_rng([self.seed, index])
        jitter = rng.uniform(0.75, 1.25)
        far, near = self.head_size[0] * jitter, self.head_size[1] * jitter
        img = self._background(rng)
        self._clutter(img, rng, (far, near))
        negative = rng.random() < self.negative_fraction
        n = 0 if negative else int(rng.integers(max(1, self.max_heads // 10), self.max_heads + 1))
        points, sizes = self._positions(rng, n, far, near)
        order = np.argsort(points[:, 1], kind="stable")  # far to near: nearer people occlude farther ones
        points, sizes = points[order], sizes[order]
        for (x, y), size in zip(points, sizes):
            self._draw_person(img, rng, x, y, size)
        image = np.clip(img, 0, 255).astype(np.uint8)
        half = sizes[:, None] / 2
        boxes = np.concatenate([points - half, points + half], axis=1)
        boxes[:, 0::2] = boxes[:, 0::2].clip(0, self.width)
        boxes[:, 1::2] = boxes[:, 1::2].clip(0, self.height)
        return SyntheticSample(image, points.astype(np.float32), boxes.astype(np.float32))

    def records(self, split: str = "train") -> list[CrowdRecord]:
        """All scenes as in-memory records (``image`` set, no file), ready for the data pipeline."""
        out = []
        for i in range(self.num_images):
            sample = self.generate(i)
            out.append(
                CrowdRecord(
                    image_id=f"synthetic_{self.seed}_{i:05d}",
                    image_path=None,
                    height=self.height,
                    width=self.width,
                    points=sample.points,
                    boxes=sample.boxes,
                    meta={"split": split, "count": len(sample.points)},
                    image=sample.image,
                )
            )
        return out


def write_synthetic_dataset(
    root: str | Path,
    splits: dict[str, int] | None = None,
    seed: int = 0,
    overwrite: bool = False,
    image_format: str = "png",
    **kwargs: object,
) -> Path:
    """Write synthetic scenes to ``root`` in iim's custom format (images/, annotations/, one list file per split).

    Args:
        root: Output folder (created).
        splits: Number of scenes per split; defaults to ``{"train": 80, "val": 20, "test": 20}``. Each split uses its
            own seed offset, so its scenes differ from the other splits'.
        seed: Base seed.
        overwrite: Allow writing into a non-empty folder (existing files of the same names are replaced).
        image_format: ``png`` (lossless, default) or ``jpg``.
        **kwargs: Passed to :class:`SyntheticCrowds` (height, width, max_heads, head_size, ...).

    Returns:
        ``root``.
    """
    root = Path(root)
    splits = dict(splits or {"train": 80, "val": 20, "test": 20})
    if image_format not in ("png", "jpg"):
        raise ValueError(f"write_synthetic_dataset: `image_format` must be 'png' or 'jpg', got {image_format!r}")
    if root.exists() and any(root.iterdir()) and not overwrite:
        raise FileExistsError(f"write_synthetic_dataset: {root} is not empty; pass overwrite=True to write into it")
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    for k, (split, count) in enumerate(splits.items()):
        gen = SyntheticCrowds(num_images=count, seed=seed * 1000 + k, **kwargs)  # type: ignore[arg-type]
        names = []
        for i in range(count):
            sample = gen.generate(i)
            name = f"{split}_{i:05d}"
            cv2.imwrite(str(root / "images" / f"{name}.{image_format}"), sample.image[:, :, ::-1])
            ann = {"points": sample.points.round(3).tolist(), "boxes": sample.boxes.round(3).tolist()}
            (root / "annotations" / f"{name}.json").write_text(json.dumps(ann))
            names.append(name)
        (root / f"{split}.txt").write_text("".join(f"{n}\n" for n in names))
    return root


class SyntheticSource:
    """Synthetic crowds served split by split, like a dataset reader (``read(split)``), all in memory.

    Args:
        train: Number of training scenes.
        val: Number of validation scenes.
        test: Number of test scenes.
        seed: Base seed; every split has its own scenes.
        **generator: Passed to :class:`SyntheticCrowds` (height, width, max_heads, head_size, negative_fraction, ...).
    """

    name = "synthetic"

    def __init__(self, train: int = 200, val: int = 20, test: int = 20, seed: int = 0, **generator: object) -> None:
        self.sizes = {"train": train, "val": val, "test": test}
        self.seed = seed
        self.generator = generator

    def splits(self) -> list[str]:
        """The split names."""
        return list(self.sizes)

    def read(self, split: str) -> list[CrowdRecord]:
        """The scenes of a split as in-memory records."""
        if split not in self.sizes:
            raise ValueError(f"synthetic: unknown split {split!r}; choose one of {list(self.sizes)}")
        offset = list(self.sizes).index(split)
        gen = SyntheticCrowds(num_images=self.sizes[split], seed=self.seed * 1000 + offset, **self.generator)  # type: ignore[arg-type]
        return gen.records(split)
