"""match_points / level_counts: method.md's cross-check numbers, exact boundaries, the reference's matching, errors."""

from __future__ import annotations

import sys
from functools import cache

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial import distance_matrix

from iim.metrics import MatchResult, level_counts, match_points

# method.md section 12, "Metric (eval_metrics)".
GT = [[10, 10], [30, 10], [100, 100]]
SIGMA_S = [2, 2, 5]
SIGMA_L = [6, 6, 12]
LEVEL = [1, 2, 3]
PRED = [[11, 10], [14, 10], [35, 10], [200, 200]]


# ---------------------------------------------------------------------------------------------------------------------
# Independent references, dense and small.
# ---------------------------------------------------------------------------------------------------------------------


def dense_adjacency(pred, gt, sigma) -> np.ndarray:
    """The reference's candidate matrix: ``distance_matrix(pred, gt) <= sigma`` (per GT column)."""
    pred, gt = np.asarray(pred, float).reshape(-1, 2), np.asarray(gt, float).reshape(-1, 2)
    if len(pred) == 0 or len(gt) == 0:
        return np.zeros((len(pred), len(gt)), dtype=bool)
    return distance_matrix(pred, gt) <= np.asarray(sigma, float)[None, :]


def brute_force_max_matching(adj: np.ndarray) -> int:
    """Exhaustive maximum matching size (each pred: skip it, or take any free adjacent GT)."""
    rows = [tuple(np.flatnonzero(r).tolist()) for r in adj]

    @cache
    def best(i: int, used: int) -> int:
        if i == len(rows):
            return 0
        value = best(i + 1, used)
        for j in rows[i]:
            if not used >> j & 1:
                value = max(value, 1 + best(i + 1, used | 1 << j))
        return value

    return best(0, 0)


def reference_kuhn(adj: np.ndarray) -> np.ndarray:
    """The reference "hungarian": recursive DFS, preds in order, GTs in index order, visited cleared per pred."""
    lnum, rnum = adj.shape
    graph = [np.flatnonzero(r).tolist() for r in adj]
    match = [-1] * rnum
    vis = [False] * rnum

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
        for i in range(rnum):
            vis[i] = False
        dfs(a)
    return np.array(match, dtype=np.int64)


def assert_valid_matching(result: MatchResult, adj: np.ndarray) -> None:
    pairs = [(int(p), j) for j, p in enumerate(result.gt_to_pred) if p >= 0]
    assert all(adj[p, j] for p, j in pairs), "a matched pair is not within the head's radius"
    assert len({p for p, _ in pairs}) == len(pairs), "a prediction is matched twice"
    assert result.tp == len(pairs)
    assert result.fp == adj.shape[0] - result.tp and result.fn == adj.shape[1] - result.tp
    assert np.array_equal(result.gt_matched, result.gt_to_pred >= 0)
    assert result.pred_matched.sum() == result.tp
    assert result.num_candidates == int(adj.sum())


# ---------------------------------------------------------------------------------------------------------------------
# method.md cross-check numbers
# ---------------------------------------------------------------------------------------------------------------------


def test_method_md_sigma_s():
    r = match_points(PRED, GT, SIGMA_S)
    assert (r.tp, r.fp, r.fn) == (1, 3, 2)
    tp_c, fn_c = r.level_counts(LEVEL)
    assert tp_c.tolist() == [0, 1, 0, 0, 0, 0]
    assert fn_c.tolist() == [0, 0, 1, 1, 0, 0]


def test_method_md_sigma_l():
    r = match_points(PRED, GT, SIGMA_L)
    assert (r.tp, r.fp, r.fn) == (2, 2, 1)
    tp_c, fn_c = r.level_counts(LEVEL)
    assert tp_c.tolist() == [0, 1, 1, 0, 0, 0]
    assert fn_c.tolist() == [0, 0, 0, 1, 0, 0]
    # Two preds are within sigma_l of GT0 but only one can take it.
    assert r.gt_matched.tolist() == [True, True, False]
    assert r.gt_to_pred[0] in (0, 1) and r.gt_to_pred[1] == 2


def test_method_md_no_gt_gives_all_false_positives():
    r = match_points([[1, 1], [5, 5]], np.zeros((0, 2)), [])
    assert (r.tp, r.fp, r.fn) == (0, 2, 0)
    assert r.gt_matched.shape == (0,) and r.pred_matched.tolist() == [False, False]


def test_method_md_no_pred_gives_all_misses_by_level():
    r = match_points([], [[10, 10], [50, 50]], [4, 4])
    assert (r.tp, r.fp, r.fn) == (0, 0, 2)
    tp_c, fn_c = r.level_counts([0, 5])
    assert tp_c.tolist() == [0] * 6
    assert fn_c.tolist() == [1, 0, 0, 0, 0, 1]


def test_method_md_3x3_matrix_needs_maximum_matching():
    m = np.array([[1, 1, 0], [1, 0, 0], [0, 1, 1]], dtype=bool)
    gt = [[0, 0], [10, 0], [30, 0]]
    sigma = [5, 5, 15]
    pred = [[5, 0], [-4, 0], [15, 0]]  # pred0 on the boundary of gt0 and gt1, pred1 near gt0, pred2 near gt1 and gt2
    assert np.array_equal(dense_adjacency(pred, gt, sigma), m), "the coordinates must realise M exactly"
    # A greedy first-available assignment in index order gets only 2 (pred0 -> gt0 leaves pred1 nothing).
    taken: set[int] = set()
    for row in m:
        free = [j for j in np.flatnonzero(row) if j not in taken]
        if free:
            taken.add(free[0])
    assert len(taken) == 2
    r = match_points(pred, gt, sigma)
    assert (r.tp, r.fp, r.fn) == (3, 0, 0)
    assert r.gt_to_pred.tolist() == [1, 0, 2]  # pred0 -> gt1, pred1 -> gt0, pred2 -> gt2 (the only perfect matching)


# ---------------------------------------------------------------------------------------------------------------------
# Boundaries, dtypes, empties
# ---------------------------------------------------------------------------------------------------------------------


def test_boundary_is_inclusive():
    assert match_points([[3, 4]], [[0, 0]], [5]).tp == 1  # distance exactly 5
    assert match_points([[3, 4]], [[0, 0]], [4.999999]).tp == 0
    assert match_points([[7, 7]], [[7, 7]], [0]).tp == 1  # sigma 0 (NWPU has sigma_s = 0 heads): only exact hits


def test_boundary_decided_like_distance_matrix_not_like_squared_distances():
    # sqrt rounds this distance to exactly 2.0, while x² + y² > 4 in floating point: the reference matches it.
    pred, gt = [[0.0, 0.0]], [[0.559108249113462, 1.9202598693336481]]
    assert distance_matrix(pred, gt)[0, 0] <= 2.0
    assert gt[0][0] ** 2 + gt[0][1] ** 2 > 4.0
    assert match_points(pred, gt, [2.0]).tp == 1
    assert match_points(gt, pred, [2.0]).tp == 1


def test_empty_inputs_of_any_shape():
    for empty in ([], np.zeros((0, 2)), np.zeros((0,)), torch.empty(0, 2)):
        r = match_points(empty, [[1, 1]], [1])
        assert (r.tp, r.fp, r.fn) == (0, 0, 1)
        r = match_points([[1, 1]], empty, [])
        assert (r.tp, r.fp, r.fn) == (0, 1, 0)
    r = match_points([], [], [])
    assert (r.tp, r.fp, r.fn) == (0, 0, 0)


def test_no_candidate_within_reach():
    r = match_points([[0, 0], [100, 100]], [[50, 50]], [3])
    assert (r.tp, r.fp, r.fn, r.num_candidates) == (0, 2, 1, 0)


def test_torch_numpy_and_lists_agree_and_scalar_sigma_broadcasts():
    a = match_points(PRED, GT, SIGMA_L)
    b = match_points(torch.tensor(PRED, dtype=torch.float32), torch.tensor(GT), torch.tensor(SIGMA_L))
    c = match_points(np.array(PRED, np.int32), np.array(GT, np.int64), np.array(SIGMA_L, np.float32))
    for r in (b, c):
        assert (r.tp, r.fp, r.fn) == (a.tp, a.fp, a.fn)
        assert np.array_equal(r.gt_matched, a.gt_matched)
    scalar = match_points(PRED, GT, 6)
    assert (scalar.tp, scalar.fp, scalar.fn) == (2, 2, 1)
    assert "tp=2" in repr(scalar)


def test_level_counts_function_and_errors():
    tp_c, fn_c = level_counts([True, False, True], [0, 0, 5])
    assert tp_c.tolist() == [1, 0, 0, 0, 0, 1] and fn_c.tolist() == [1, 0, 0, 0, 0, 0]
    assert level_counts(np.array([True]), np.array([2.0]))[0].tolist() == [0, 0, 1, 0, 0, 0]
    with pytest.raises(ValueError, match=r"`levels` must be integers in \[0, 6\), got 6 at index 1"):
        level_counts([True, False], [0, 6])
    with pytest.raises(ValueError, match=r"`levels` must be integers.*got 2.5"):
        level_counts([True], [2.5])
    with pytest.raises(ValueError, match=r"`levels` must have shape \(G,\) = \(2,\).*got shape \(3,\)"):
        level_counts([True, False], [0, 1, 2])
    with pytest.raises(ValueError, match=r"`gt_matched` must have shape \(G,\)"):
        level_counts([[True]], [0])


@pytest.mark.parametrize(
    ("pred", "gt", "sigma", "pattern"),
    [
        ([1, 2, 3], GT, SIGMA_L, r"match_points: `pred` must have shape \(N, 2\) as \(x, y\) pixels, got shape \(3,\)"),
        (PRED, np.zeros((3, 3)), SIGMA_L, r"`gt` must have shape \(N, 2\).*got shape \(3, 3\)"),
        ([[0, np.nan]], GT, SIGMA_L, r"`pred` must hold finite values, got \[0.0, nan\] at row 0"),
        (PRED, [[0, 0], [np.inf, 1], [2, 2]], SIGMA_L, r"`gt` must hold finite values.*at row 1"),
        (
            PRED,
            GT,
            [2, 2],
            r"`sigma` must have shape \(G,\) = \(3,\), one radius per point, or be a scalar, got shape \(2,",
        ),
        (PRED, GT, [2, -1, 2], r"`sigma` must be finite and >= 0, got -1.0 at index 1"),
        (PRED, GT, [2, np.nan, 2], r"`sigma` must be finite and >= 0, got nan at index 1"),
        (PRED, GT, ["a", "b", "c"], r"`sigma` must hold real numbers"),
        ([["a", "b"]], GT, SIGMA_L, r"`pred` must hold real numbers"),
    ],
)
def test_bad_inputs_raise_clear_errors(pred, gt, sigma, pattern):
    with pytest.raises(ValueError, match=pattern):
        match_points(pred, gt, sigma)


# ---------------------------------------------------------------------------------------------------------------------
# Property tests against the references
# ---------------------------------------------------------------------------------------------------------------------


@st.composite
def small_instances(draw):
    """Up to 7 preds and 7 GTs on a tiny integer (or quarter-pixel) grid with integer radii: exact ties are common."""
    n_pred = draw(st.integers(0, 7))
    n_gt = draw(st.integers(0, 7))
    scale = draw(st.sampled_from([1.0, 0.25]))
    coord = st.integers(0, 12)
    pred = [[draw(coord) * scale, draw(coord) * scale] for _ in range(n_pred)]
    gt = [[draw(coord) * scale, draw(coord) * scale] for _ in range(n_gt)]
    sigma = [float(draw(st.integers(0, 5))) for _ in range(n_gt)]
    return pred, gt, sigma


@settings(max_examples=300, deadline=None)
@given(small_instances())
def test_tp_equals_brute_force_and_matched_heads_equal_reference(instance):
    pred, gt, sigma = instance
    adj = dense_adjacency(pred, gt, sigma)
    r = match_points(np.array(pred).reshape(-1, 2), np.array(gt).reshape(-1, 2), sigma)
    assert r.tp == brute_force_max_matching(adj)
    assert_valid_matching(r, adj)
    assert np.array_equal(r.gt_matched, reference_kuhn(adj) >= 0)


def test_crowded_random_scenes_match_the_reference_head_for_head():
    """Larger clustered scenes (many overlapping radii, missing and extra points): the matched heads, hence the
    per-level counts, are the reference's; where the choice of heads is open the pairs are the reference's too."""
    rng = np.random.default_rng(0)
    replayed = 0
    for _ in range(40):
        n_gt = int(rng.integers(20, 160))
        gt = rng.integers(0, 60, size=(n_gt, 2)).astype(float)
        keep = rng.random(n_gt) > rng.uniform(0, 0.4)
        extra = rng.uniform(0, 60, size=(int(rng.integers(0, 30)), 2))
        pred = np.concatenate([gt[keep] + rng.normal(0, 1.5, size=(int(keep.sum()), 2)), extra])
        pred = pred[rng.permutation(len(pred))]
        sigma = rng.integers(0, 8, size=n_gt).astype(float)
        adj = dense_adjacency(pred, gt, sigma)
        ref = reference_kuhn(adj)
        r = match_points(pred, gt, sigma)
        assert_valid_matching(r, adj)
        assert np.array_equal(r.gt_matched, ref >= 0)
        open_choice = ((ref < 0) & adj.any(axis=0)).any()
        if open_choice:
            replayed += 1
            assert np.array_equal(r.gt_to_pred, ref)
    assert replayed > 10  # the scenes do exercise the replay of the reference's algorithm


def test_long_augmenting_chain_needs_no_recursion():
    # A chain where every new pred displaces all earlier ones: depth ~ n in the reference's recursion.
    n = 3 * sys.getrecursionlimit()
    gt = np.stack([np.arange(n + 1) * 10.0, np.zeros(n + 1)], axis=1)
    pred = np.stack([np.arange(n)[::-1] * 10.0 + 5.0, np.zeros(n)], axis=1)  # pred i between gt n-1-i and n-i
    sigma = np.full(n + 1, 5.0)
    sigma[0] = 0.0  # only gt0 stays unmatched: the choice is open, so the augmenting-path replay runs
    r = match_points(pred, gt, sigma)
    assert (r.tp, r.fp, r.fn) == (n, 0, 1)
    assert not r.gt_matched[0] and r.gt_matched[1:].all()
