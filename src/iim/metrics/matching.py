"""Point matching of the NWPU-Crowd localization protocol: maximum-cardinality matching within per-GT radii.

A prediction may match ground-truth head ``j`` iff their Euclidean distance is ``<= sigma[j]`` (inclusive, per GT).
Each prediction and each head is used at most once, and the number of matches is maximised (the reference
evaluator's augmenting-path "hungarian" on a boolean matrix; this is *not* a min-cost assignment, and
``scipy.optimize.linear_sum_assignment`` on distances undercounts).

How :func:`match_points` computes it, exactly and without a dense ``P x G`` matrix:

1. Candidate pairs come from a KD-tree query around every head with a slightly enlarged radius. Each candidate is then
   tested exactly as the reference does (``scipy.spatial.minkowski_distance``, the function behind
   ``scipy.spatial.distance_matrix``, then ``<= sigma``), so ties on the boundary are decided bit for bit the same.
2. ``scipy.sparse.csgraph.maximum_bipartite_matching`` (Hopcroft-Karp) on the sparse biadjacency gives a maximum
   matching, hence tp / fp / fn.
3. *Which* heads are matched decides the per-level counts (``tp_c`` / ``fn_c``), and different maximum matchings can
   cover different heads. If every head left unmatched has no candidate at all, the matched heads are forced (any
   maximum matching covers the same ones) and step 2's answer is final. Otherwise the reference's own algorithm
   (Kuhn's augmenting paths; predictions in index order, candidate heads in index order) is replayed by a compiled
   kernel, which reproduces the reference's matching pair for pair; its size is checked against step 2.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit
from scipy.sparse import csr_array
from scipy.sparse.csgraph import maximum_bipartite_matching
from scipy.spatial import cKDTree, minkowski_distance

from iim import validation

__all__ = ["NUM_LEVELS", "MatchResult", "level_counts", "match_points"]

NUM_LEVELS = 6
"""Head-size levels of the NWPU protocol (A0..A5, by box area: <10, 10-100, ..., >1e5 px²)."""

# The KD-tree only proposes candidates; the exact test decides. The query radius is enlarged so that rounding inside
# the tree can never drop a pair that the exact test accepts.
_RADIUS_REL_SLACK = 1e-7
_RADIUS_ABS_SLACK = 1e-6


@dataclass(frozen=True, eq=False)
class MatchResult:
    """Outcome of :func:`match_points` for one image.

    Attributes:
        tp: Matched predictions (= matched heads).
        fp: Unmatched predictions.
        fn: Unmatched heads.
        gt_matched: Which heads are matched. This is exactly the set the reference evaluator matches, so per-level
            counts derived from it (:func:`level_counts`) agree with the reference.
        gt_to_pred: The prediction matched to each head, ``-1`` if none: a maximum matching. It is the reference's
            own matching whenever the choice of heads is not forced; otherwise (all heads with a candidate matched)
            the pairing may differ from the reference's arbitrary one, the matched heads cannot.
        pred_matched: Which predictions are matched in ``gt_to_pred``.
        num_candidates: Number of (prediction, head) pairs within the head's radius (edges of the matching graph).

    Shape:
        - gt_matched: :math:`(G,)` bool
        - gt_to_pred: :math:`(G,)` int64
        - pred_matched: :math:`(P,)` bool
    """

    tp: int
    fp: int
    fn: int
    gt_matched: np.ndarray
    gt_to_pred: np.ndarray
    pred_matched: np.ndarray
    num_candidates: int

    def level_counts(self, levels: Any, num_levels: int = NUM_LEVELS) -> tuple[np.ndarray, np.ndarray]:
        """Matched / unmatched heads per level; see :func:`level_counts`."""
        return level_counts(self.gt_matched, levels, num_levels)

    def __repr__(self) -> str:
        return (
            f"MatchResult(tp={self.tp}, fp={self.fp}, fn={self.fn}, num_gt={self.gt_matched.size}, "
            f"num_pred={self.pred_matched.size}, num_candidates={self.num_candidates})"
        )


def level_counts(gt_matched: Any, levels: Any, num_levels: int = NUM_LEVELS) -> tuple[np.ndarray, np.ndarray]:
    """Matched (``tp_c``) and unmatched (``fn_c``) ground-truth heads per level.

    Args:
        gt_matched: Which heads are matched (e.g. :attr:`MatchResult.gt_matched`).
        levels: The level of every head, integers in ``[0, num_levels)``.
        num_levels: Number of levels (6 for NWPU: A0..A5).

    Returns:
        ``(tp_c, fn_c)``, int64 arrays of length ``num_levels``.

    Shape:
        - gt_matched: :math:`(G,)` bool
        - levels: :math:`(G,)` int
        - tp_c, fn_c: :math:`(L,)` with ``L = num_levels``
    """
    matched = np.asarray(validation.to_numpy(gt_matched), dtype=bool)
    if matched.ndim != 1:
        raise ValueError(f"level_counts: `gt_matched` must have shape (G,), got shape {matched.shape}")
    lv = validation.as_levels("level_counts: `levels`", levels, matched.shape[0], num_levels)
    tp_c = np.bincount(lv[matched], minlength=num_levels).astype(np.int64)
    fn_c = np.bincount(lv[~matched], minlength=num_levels).astype(np.int64)
    return tp_c, fn_c


def _candidate_pairs(
    pred: np.ndarray, gt: np.ndarray, sigmas: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Candidate (pred, gt) pairs within ``max(sigmas)``, sorted by (pred, gt), and a keep-mask per sigma.

    The masks are the reference's exact test: ``distance_matrix(pred, gt)`` (= ``minkowski_distance``, p=2, float64)
    ``<= sigma`` of the head.
    """
    reach = sigmas[0] if len(sigmas) == 1 else np.maximum.reduce(sigmas)
    tree = cKDTree(pred)
    hits = tree.query_ball_point(gt, reach * (1.0 + _RADIUS_REL_SLACK) + _RADIUS_ABS_SLACK, return_sorted=False)
    lengths = np.fromiter(map(len, hits), dtype=np.intp, count=len(hits))
    total = int(lengths.sum())
    pi = np.fromiter(itertools.chain.from_iterable(hits), dtype=np.intp, count=total)
    gj = np.repeat(np.arange(len(gt), dtype=np.intp), lengths)
    dist = minkowski_distance(pred[pi], gt[gj])
    order = np.lexsort((gj, pi))
    pi, gj, dist = pi[order], gj[order], dist[order]
    return pi, gj, [dist <= sigma[gj] for sigma in sigmas]


@njit(cache=True)
def _kuhn(indptr: np.ndarray, indices: np.ndarray, num_gt: int) -> np.ndarray:  # pragma: no cover - compiled
    """The reference's augmenting-path matching as an iterative DFS; returns ``gt_to_pred``.

    Equivalent to the recursive original: predictions in index order, each a DFS over its candidate heads in CSR order
    (ascending), recursing into the prediction that holds a visited head. ``visited`` is cleared only after a
    successful augmentation (the original clears it for every prediction): everything a failed search visited can
    reach no free head until the matching changes, so skipping it later alters neither the outcome nor the path found.
    """
    num_pred = indptr.shape[0] - 1
    match = np.full(num_gt, -1, dtype=np.int64)
    visited = np.zeros(num_gt, dtype=np.bool_)
    touched = np.empty(num_gt, dtype=np.int64)
    n_touched = 0
    stack_u = np.empty(num_pred + 1, dtype=np.int64)
    stack_pos = np.empty(num_pred + 1, dtype=np.int64)
    stack_v = np.empty(num_pred + 1, dtype=np.int64)
    for root in range(num_pred):
        depth = 0
        stack_u[0] = root
        stack_pos[0] = indptr[root]
        found = False
        while depth >= 0:
            u = stack_u[depth]
            pos = stack_pos[depth]
            end = indptr[u + 1]
            pushed = False
            while pos < end:
                v = indices[pos]
                pos += 1
                if visited[v]:
                    continue
                visited[v] = True
                touched[n_touched] = v
                n_touched += 1
                stack_pos[depth] = pos
                stack_v[depth] = v
                w = match[v]
                if w == -1:
                    found = True
                else:  # recurse: can the prediction holding v move elsewhere?
                    depth += 1
                    stack_u[depth] = w
                    stack_pos[depth] = indptr[w]
                    pushed = True
                break
            if found:
                break
            if not pushed:  # this prediction's candidates are exhausted: back to its parent's next candidate
                depth -= 1
        if found:
            for d in range(depth + 1):
                match[stack_v[d]] = stack_u[d]
            for k in range(n_touched):
                visited[touched[k]] = False
            n_touched = 0
    return match


def _maximum_matching(pi: np.ndarray, gj: np.ndarray, num_pred: int, num_gt: int) -> np.ndarray:
    """``gt_to_pred`` of a maximum matching whose matched heads are exactly the reference's.

    ``pi`` / ``gj`` are the candidate pairs sorted by (pred, gt): the CSR rows are predictions, each row's heads in
    index order, which is the order in which the reference tries them.
    """
    indptr = np.zeros(num_pred + 1, dtype=np.int64)
    np.cumsum(np.bincount(pi, minlength=num_pred), out=indptr[1:])
    indices = gj.astype(np.int64)
    graph = csr_array((np.ones(indices.size, dtype=np.int8), indices, indptr), shape=(num_pred, num_gt))
    gt_to_pred = maximum_bipartite_matching(graph, perm_type="row").astype(np.int64, copy=False)
    unmatched_with_candidates = (gt_to_pred < 0) & (np.bincount(indices, minlength=num_gt) > 0)
    if not unmatched_with_candidates.any():
        # Every head with a candidate is matched, so every maximum matching (the reference's too) matches exactly
        # these heads: it has the same size and can only use heads that have candidates.
        return gt_to_pred
    reference = _kuhn(indptr, indices, num_gt)
    if int((reference >= 0).sum()) != int((gt_to_pred >= 0).sum()):  # pragma: no cover - a bug guard
        raise RuntimeError("match_points: internal error, the augmenting-path and Hopcroft-Karp sizes differ")
    return reference


def _result(gt_to_pred: np.ndarray, num_pred: int, num_candidates: int) -> MatchResult:
    gt_matched = gt_to_pred >= 0
    pred_matched = np.zeros(num_pred, dtype=bool)
    pred_matched[gt_to_pred[gt_matched]] = True
    tp = int(gt_matched.sum())
    return MatchResult(
        tp=tp,
        fp=num_pred - tp,
        fn=gt_to_pred.size - tp,
        gt_matched=gt_matched,
        gt_to_pred=gt_to_pred,
        pred_matched=pred_matched,
        num_candidates=num_candidates,
    )


def _match_many(pred: np.ndarray, gt: np.ndarray, sigmas: list[np.ndarray]) -> list[MatchResult]:
    """:func:`match_points` for validated inputs under several radii at once (one KD-tree query for all)."""
    num_pred, num_gt = pred.shape[0], gt.shape[0]
    if num_pred == 0 or num_gt == 0:
        return [_result(np.full(num_gt, -1, dtype=np.int64), num_pred, 0) for _ in sigmas]
    pi, gj, keeps = _candidate_pairs(pred, gt, sigmas)
    results = []
    for keep in keeps:
        n = int(keep.sum())
        gt_to_pred = (
            _maximum_matching(pi[keep], gj[keep], num_pred, num_gt) if n else np.full(num_gt, -1, dtype=np.int64)
        )
        results.append(_result(gt_to_pred, num_pred, n))
    return results


def match_points(pred: Any, gt: Any, sigma: Any) -> MatchResult:
    """Match predicted points to ground-truth points, each head within its own radius (NWPU protocol).

    Prediction ``i`` may match head ``j`` iff ``||pred_i - gt_j||_2 <= sigma[j]`` (inclusive). The matching has
    maximum cardinality; ``tp`` = matches, ``fp`` = unmatched predictions, ``fn`` = unmatched heads. Empty ``pred``
    and/or ``gt`` are valid. The counts and the set of matched heads are exactly those of the reference evaluator
    (see the module docstring).

    Args:
        pred: Predicted points, numpy array, nested list or torch tensor (any device; it is copied to the CPU).
            An empty array of any shape means no predictions.
        gt: Ground-truth points, same conventions.
        sigma: The matching radius of every ground-truth point (``sigma_s`` or ``sigma_l`` of the NWPU ``gt`` file),
            or one scalar for all of them (the fixed-radius protocol). Must be finite and ``>= 0``.

    Returns:
        A :class:`MatchResult`.

    Raises:
        ValueError: naming the argument, on a wrong shape, a non-numeric dtype, NaN/inf coordinates, NaN, inf or
            negative radii, or a ``sigma`` whose length is not ``G``.

    Shape:
        - pred: :math:`(P, 2)` as (x, y) pixels
        - gt: :math:`(G, 2)` as (x, y) pixels
        - sigma: :math:`(G,)` pixels, or a scalar

    Example:
        >>> r = match_points([[11, 10], [14, 10], [35, 10], [200, 200]], [[10, 10], [30, 10], [100, 100]], [6, 6, 12])
        >>> r.tp, r.fp, r.fn, r.gt_matched.tolist()
        (2, 2, 1, [True, True, False])
    """
    pred_a = validation.as_points("match_points: `pred`", pred)
    gt_a = validation.as_points("match_points: `gt`", gt)
    sigma_a = validation.as_radii("match_points: `sigma`", sigma, gt_a.shape[0])
    return _match_many(pred_a, gt_a, [sigma_a])[0]
