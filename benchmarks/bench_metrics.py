"""NWPU localization evaluation: iim.metrics beside a straightforward implementation of the reference evaluator.

All images of the NWPU-Crowd validation ground truth (``val_gt_loc.txt``, 500 images, 196k heads) are scored against
three seeded prediction sets made from the ground truth itself:

- ``jittered``: every head moved by Gaussian noise (``--jitter`` px, float coordinates, like validation centroids),
- ``thinned``: a random ``--drop`` fraction of the heads removed (the rest at their exact integer positions),
- ``padded``: all heads plus ``--pad`` x as many uniformly random false points (at least one per image).

Each set is scored twice, per image, with both radii (sigma_s, sigma_l) and the six levels:

- **iim**: :func:`iim.metrics.score_image` (KD-tree candidates, Hopcroft-Karp, the compiled augmenting-path replay
  where the choice of heads is open), after one warm-up call that loads the compiled kernel;
- **reference**: the reference evaluator's algorithm written out plainly here (NWPU ``eval.py`` / IIM
  ``misc/compute_metric.py``): a dense ``scipy.spatial.distance_matrix``, the boolean matrix ``D <= sigma`` and the
  recursive Kuhn DFS "hungarian" with predictions in order and neighbours in head-index order.

Printed per set: both total times and their ratio, whether every per-image count (tp/fp/fn under sigma_s and
sigma_l, tp_c/fn_c per level) agrees, and the dataset-level F1 under sigma_l from both. The reference is slow
(about a minute on 2 cores) and needs ~2 GB for the largest image's dense matrices; ``--limit`` scores only the
first images.

    python benchmarks/bench_metrics.py [--gt PATH] [--seed 0] [--jitter 3] [--drop 0.15] [--pad 0.1] [--limit N]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from scipy.spatial import distance_matrix

from iim.metrics import GTLocRecord, LocalizationCounts, MatchingProtocol, match_points, read_gt_loc, score_image

REPO = Path(__file__).resolve().parents[1]
NUM_LEVELS = 6


def default_gt_path() -> Path:
    shared = Path(os.environ.get("IIM_SHARED_DIR", REPO.parent / "shared"))
    return shared / "data" / "nwpu" / "val_gt_loc.txt"


# ---------------------------------------------------------------------------------------------------------------------
# The reference evaluator, written out plainly (dense matrices, recursive augmenting paths).
# ---------------------------------------------------------------------------------------------------------------------


def reference_hungarian(match_tf: np.ndarray) -> list[int]:
    """Kuhn's augmenting-path maximum matching on a boolean (pred x gt) matrix; returns gt -> pred (-1: none)."""
    edges = np.argwhere(match_tf)
    lnum, rnum = match_tf.shape
    graph: list[list[int]] = [[] for _ in range(lnum)]
    for a, b in edges.tolist():
        graph[a].append(b)
    match = [-1] * rnum
    vis = [False] * rnum
    cleared = [False] * rnum

    def dfs(u: int) -> bool:
        for v in graph[u]:
            if vis[v]:
                continue
            vis[v] = True
            if match[v] == -1 or dfs(match[v]):
                match[v] = u
                return True
        return False

    for a in range(lnum):
        vis[:] = cleared  # the original clears it element by element, for every prediction
        dfs(a)
    return match


def reference_image(pred: np.ndarray, rec: GTLocRecord) -> tuple[int, ...]:
    """Per-image counts as the reference computes them: (tp, fp, fn) under sigma_s then sigma_l, then tp_c/fn_c."""
    num_pred, num_gt = len(pred), len(rec)
    out: list[int] = []
    per_level: list[int] = []
    if num_pred and num_gt:
        dist = distance_matrix(pred, rec.points, p=2)
        for sigma in (rec.sigma_s, rec.sigma_l):
            match = np.array(reference_hungarian(dist <= sigma[None, :]))
            matched = match >= 0
            tp = int(matched.sum())
            out += [tp, num_pred - tp, num_gt - tp]
            per_level += [int((rec.level[matched] == c).sum()) for c in range(NUM_LEVELS)]
            per_level += [int((rec.level[~matched] == c).sum()) for c in range(NUM_LEVELS)]
    else:  # no predictions: every head missed; no heads: every prediction false
        fn_c = [int((rec.level == c).sum()) for c in range(NUM_LEVELS)]
        for _ in range(2):
            out += [0, num_pred, num_gt]
            per_level += [0] * NUM_LEVELS + fn_c
    return tuple(out + per_level)


def iim_image(pred: np.ndarray, rec: GTLocRecord, protocol: MatchingProtocol) -> tuple[int, ...]:
    """The same tuple from iim."""
    s = score_image(pred, rec.as_target(), protocol)
    counts = [int(v) for k in range(2) for v in (s.tp[k], s.fp[k], s.fn[k])]
    levels = [int(v) for k in range(2) for v in (*s.tp_c[k], *s.fn_c[k])]
    return tuple(counts + levels)


def f1_l(rows: list[tuple[int, ...]]) -> float:
    """Micro-averaged F1 under sigma_l from per-image tuples."""
    tp, fp, fn = (sum(r[i] for r in rows) for i in (3, 4, 5))
    counts = LocalizationCounts.zeros(1)
    counts.tp[0], counts.fp[0], counts.fn[0] = tp, fp, fn
    return counts.summary(MatchingProtocol("fixed", (1.0,)))["f1"]


# ---------------------------------------------------------------------------------------------------------------------


def make_predictions(gt: dict, seed: int, jitter: float, drop: float, pad: float) -> dict[str, dict]:
    rng = np.random.default_rng(seed)
    jittered, thinned, padded = {}, {}, {}
    for image_id, rec in gt.items():
        pts = rec.points
        jittered[image_id] = pts + rng.normal(0.0, jitter, size=pts.shape)
        thinned[image_id] = pts[rng.random(len(pts)) >= drop]
        extent = pts.max(axis=0) + 32.0 if len(pts) else np.array([1024.0, 768.0])
        extra = rng.random((max(1, round(pad * len(pts))), 2)) * extent
        padded[image_id] = np.concatenate([pts, extra])[rng.permutation(len(pts) + len(extra))]
    return {"jittered": jittered, "thinned": thinned, "padded": padded}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--gt", type=Path, default=default_gt_path(), help="ground-truth loc file (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jitter", type=float, default=3.0, help="std of the Gaussian jitter, px (default 3)")
    parser.add_argument("--drop", type=float, default=0.15, help="fraction of heads removed (default 0.15)")
    parser.add_argument("--pad", type=float, default=0.10, help="false points per head added (default 0.10)")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N images")
    args = parser.parse_args()
    if not args.gt.is_file():
        print(
            f"bench_metrics: ground-truth file not found: {args.gt} (pass --gt or set IIM_SHARED_DIR)", file=sys.stderr
        )
        return 1
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 100_000))  # the reference DFS recurses once per chain step

    gt = read_gt_loc(args.gt)
    if args.limit is not None:
        gt = dict(list(gt.items())[: args.limit])
    variants = make_predictions(gt, args.seed, args.jitter, args.drop, args.pad)
    protocol = MatchingProtocol("nwpu")
    match_points([[0.0, 0.0]], [[0.0, 0.0], [1.0, 0.0]], [1.0, 1.0])  # warm-up: loads the compiled kernel

    num_heads = sum(len(r) for r in gt.values())
    print(f"NWPU localization evaluation, {len(gt)} images, {num_heads} heads ({args.gt})")
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs; seed {args.seed}, jitter {args.jitter} px, drop {args.drop}, pad {args.pad}"
    )
    header = (
        f"{'predictions':<10} {'preds':>7} {'iim [s]':>8} {'reference [s]':>13} {'speed-up':>8} "
        f"{'counts agree':>13} {'F1_l iim':>9} {'F1_l ref':>9}"
    )
    print(header)
    print("-" * len(header))
    total_iim = total_ref = 0.0
    total_agree = total_images = 0
    all_agree = True
    for name, preds in variants.items():
        t0 = time.perf_counter()
        ours = [iim_image(preds[i], rec, protocol) for i, rec in gt.items()]
        t_iim = time.perf_counter() - t0
        t0 = time.perf_counter()
        ref = [reference_image(preds[i], rec) for i, rec in gt.items()]
        t_ref = time.perf_counter() - t0
        agree = sum(a == b for a, b in zip(ours, ref))
        all_agree &= agree == len(gt)
        total_iim += t_iim
        total_ref += t_ref
        total_agree += agree
        total_images += len(gt)
        n_pred = sum(len(p) for p in preds.values())
        print(
            f"{name:<10} {n_pred:>7} {t_iim:>8.2f} {t_ref:>13.2f} {t_ref / t_iim:>7.1f}x "
            f"{f'{agree}/{len(gt)}':>13} {f1_l(ours):>9.4f} {f1_l(ref):>9.4f}"
        )
    print("-" * len(header))
    print(
        f"{'total':<10} {'':>7} {total_iim:>8.2f} {total_ref:>13.2f} {total_ref / total_iim:>7.1f}x "
        f"{f'{total_agree}/{total_images}':>13}"
    )
    verdict = "every per-image count agrees" if all_agree else "COUNTS DIFFER"
    target = "meets" if total_ref / total_iim >= 20 else "misses"
    print(f"{verdict}; iim is {total_ref / total_iim:.1f}x faster ({target} the 20x target)")
    return 0 if all_agree else 1


if __name__ == "__main__":
    sys.exit(main())
