"""LocalizationMetrics: method.md's numbers, micro-averaging over updates and processes, protocols, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from iim.metrics import LocalizationCounts, LocalizationMetrics, MatchingProtocol, match_points, score_image

GT = {
    "points": torch.tensor([[10.0, 10], [30, 10], [100, 100]]),
    "sigma_s": torch.tensor([2, 2, 5]),
    "sigma_l": torch.tensor([6, 6, 12]),
    "level": torch.tensor([1, 2, 3]),
}
PRED = torch.tensor([[11.0, 10], [14, 10], [35, 10], [200, 200]])


def as_floats(result: dict[str, torch.Tensor]) -> dict[str, float]:
    return {k: v.item() for k, v in result.items()}


def random_batch(rng: np.random.Generator, n_images: int) -> tuple[list[np.ndarray], list[dict]]:
    preds, targets = [], []
    for _ in range(n_images):
        m = int(rng.integers(0, 40))
        pts = rng.integers(0, 200, size=(m, 2)).astype(float)
        s = rng.integers(0, 6, size=m)
        keep = rng.random(m) > 0.2
        pred = np.concatenate([pts[keep] + rng.normal(0, 2, size=(int(keep.sum()), 2)), rng.uniform(0, 200, (3, 2))])
        preds.append(pred)
        targets.append(
            {
                "points": pts,
                "sigma_s": s,
                "sigma_l": s + rng.integers(0, 6, size=m),
                "level": rng.integers(0, 6, size=m),
                "count": m + int(rng.integers(0, 3)),
            }
        )
    return preds, targets


def test_method_md_numbers():
    metric = LocalizationMetrics()
    metric.update([PRED], [GT])
    out = as_floats(metric.compute())
    assert out["precision_l"] == pytest.approx(0.5) and out["precision"] == out["precision_l"]
    assert out["recall_l"] == pytest.approx(2 / 3) and out["recall"] == out["recall_l"]
    assert out["f1_l"] == pytest.approx(0.5714, abs=5e-5) and out["f1"] == out["f1_l"]
    assert out["precision_s"] == pytest.approx(0.25) and out["recall_s"] == pytest.approx(1 / 3)
    assert out["f1_s"] == pytest.approx(2 * 0.25 * (1 / 3) / (0.25 + 1 / 3))
    # sigma_l: tp_c=[0,1,1,0,0,0], fn_c=[0,0,0,1,0,0]; empty levels count as recall 0 in the mean of six.
    assert [out[f"recall_a{k}"] for k in range(6)] == pytest.approx([0, 1, 1, 0, 0, 0])
    assert out["recall_mean"] == pytest.approx(2 / 6)
    # Counting: 3 heads, 4 predictions.
    assert (out["mae"], out["mse"], out["nae"], out["num_images"]) == pytest.approx((1.0, 1.0, 1 / 3, 1.0))
    assert metric.tp.tolist() == [1, 2] and metric.fp.tolist() == [3, 2] and metric.fn.tolist() == [2, 1]
    assert metric.tp_c.tolist() == [[0, 1, 0, 0, 0, 0], [0, 1, 1, 0, 0, 0]]
    assert metric.fn_c.tolist() == [[0, 0, 1, 1, 0, 0], [0, 0, 0, 1, 0, 0]]


def test_method_md_edge_cases_through_the_metric():
    metric = LocalizationMetrics()
    no_gt = {"points": torch.zeros(0, 2), "sigma_s": [], "sigma_l": [], "level": []}
    two_gt = {"points": [[10, 10], [50, 50]], "sigma_s": [1, 1], "sigma_l": [2, 2], "level": [0, 5]}
    metric.update([torch.tensor([[1.0, 1], [5, 5]]), torch.zeros(0, 2)], [no_gt, two_gt])
    assert metric.tp.tolist() == [0, 0] and metric.fp.tolist() == [2, 2] and metric.fn.tolist() == [2, 2]
    assert metric.fn_c.tolist() == [[1, 0, 0, 0, 0, 1]] * 2
    out = as_floats(metric.compute())
    assert out["precision"] == 0.0 and out["recall"] == 0.0 and out["f1"] == 0.0  # the 1e-20 epsilon, no NaN
    # counting: |0 - 2| and |2 - 0|; NAE only over the image with a positive count.
    assert (out["mae"], out["mse"], out["nae"]) == pytest.approx((2.0, 2.0, 1.0))


def test_count_field_is_used_for_counting_only():
    metric = LocalizationMetrics()
    metric.update([PRED], [{**GT, "count": 6}])  # e.g. a gt file whose num includes zero-area boxes
    out = as_floats(metric.compute())
    assert (out["mae"], out["nae"]) == pytest.approx((2.0, 2 / 6))
    assert out["f1"] == pytest.approx(0.5714, abs=5e-5)


def test_two_updates_equal_one_update_with_all_images():
    preds, targets = random_batch(np.random.default_rng(1), 12)
    split = LocalizationMetrics()
    split.update(preds[:5], targets[:5])
    split.update(preds[5:], targets[5:])
    whole = LocalizationMetrics()
    whole.update(preds, targets)
    assert as_floats(split.compute()) == as_floats(whole.compute())
    for name in ("tp", "fp", "fn", "tp_c", "fn_c", "abs_err", "sq_err", "nae_sum", "nae_images", "num_images"):
        assert torch.equal(getattr(split, name), getattr(whole, name)), name
    # Micro-averaging, not a mean of per-image F1: the sums decide.
    counts = whole.counts()
    assert counts.tp.sum() > 0 and counts.num_images == 12


def test_states_sum_across_processes():
    """What DDP does (every state is reduced with sum): merging two ranks' states equals one rank with all images."""
    preds, targets = random_batch(np.random.default_rng(2), 9)
    rank0, rank1, whole = LocalizationMetrics(), LocalizationMetrics(), LocalizationMetrics()
    rank0.update(preds[::2], targets[::2])
    rank1.update(preds[1::2], targets[1::2])
    whole.update(preds, targets)
    assert all(rank0._reductions[name] is not None for name in rank0._defaults)
    rank0.merge_state(rank1)
    assert as_floats(rank0.compute()) == as_floats(whole.compute())


def test_reset_and_compute_before_update():
    metric = LocalizationMetrics()
    metric.update([PRED], [GT])
    metric.reset()
    with pytest.warns(UserWarning, match="compute"):
        out = as_floats(metric.compute())
    assert out["num_images"] == 0 and out["f1"] == 0.0
    assert math.isnan(out["mae"]) and math.isnan(out["mse"]) and math.isnan(out["nae"])


def test_fixed_radius_protocol():
    metric = LocalizationMetrics(protocol="fixed", radii=(4, 8))
    assert "radii=(4.0, 8.0)" in repr(metric)
    metric.update([PRED], [{"points": GT["points"]}])  # radii only: no sigma or level needed
    out = as_floats(metric.compute())
    assert set(out) == {
        *(f"{m}_{r}" for m in ("precision", "recall", "f1") for r in ("r4", "r8")),
        *("precision", "recall", "f1", "mae", "mse", "nae", "num_images"),
    }
    for radius, key in ((4, "r4"), (8, "r8")):
        r = match_points(PRED, GT["points"], radius)
        assert out[f"precision_{key}"] == pytest.approx(r.tp / (r.tp + r.fp))
        assert out[f"recall_{key}"] == pytest.approx(r.tp / (r.tp + r.fn))
    assert (out["recall_r4"], out["recall_r8"]) == pytest.approx((1 / 3, 2 / 3))  # (35,10) is 5 px from (30,10)
    assert out["f1"] == out["f1_r8"]  # the headline is the last radius
    default = LocalizationMetrics(protocol="fixed")
    assert default.protocol.radii == (4.0, 8.0)
    assert MatchingProtocol("fixed", (2.5, 10)).suffixes == ("r2p5", "r10")


def test_fixed_protocol_equals_nwpu_with_constant_sigmas():
    preds, targets = random_batch(np.random.default_rng(3), 6)
    fixed = LocalizationMetrics(protocol="fixed", radii=(3, 7))
    nwpu = LocalizationMetrics()
    fixed.update(preds, targets)
    const = [{**t, "sigma_s": np.full(len(t["points"]), 3), "sigma_l": np.full(len(t["points"]), 7)} for t in targets]
    nwpu.update(preds, const)
    f, n = as_floats(fixed.compute()), as_floats(nwpu.compute())
    for a, b in (("r3", "s"), ("r7", "l")):
        for m in ("precision", "recall", "f1"):
            assert f[f"{m}_{a}"] == n[f"{m}_{b}"]


def test_numpy_core_agrees_with_the_metric():
    preds, targets = random_batch(np.random.default_rng(4), 5)
    protocol = MatchingProtocol()
    counts = LocalizationCounts.zeros(2)
    for p, t in zip(preds, targets):
        counts.add(score_image(p, t, protocol))
    metric = LocalizationMetrics()
    metric.update(preds, targets)
    assert counts.summary(protocol) == as_floats(metric.compute())
    assert list(counts.summary(protocol)) == protocol.metric_names()


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"protocol": "nwpu", "radii": (4, 8)}, r"`radii` applies only to protocol='fixed'"),
        ({"protocol": "fixed", "radii": (4, 4)}, r"`radii` must be distinct"),
        ({"protocol": "fixed", "radii": (-1,)}, r"`radii` must be one or more finite radii >= 0"),
        ({"protocol": "fixed", "radii": ()}, r"`radii` must be one or more"),
        ({"protocol": "p2p"}, r"`protocol` must be 'nwpu' or 'fixed', got 'p2p'"),
    ],
)
def test_bad_constructor_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        LocalizationMetrics(**kwargs)


def test_bad_update_arguments_name_the_image_and_field():
    metric = LocalizationMetrics()
    with pytest.raises(ValueError, match=r"one entry per image, got 2 and 1"):
        metric.update([PRED, PRED], [GT])
    missing = {k: v for k, v in GT.items() if k != "sigma_l"}
    with pytest.raises(ValueError, match=r"targets\[1\] has no 'sigma_l'"):
        metric.update([PRED, PRED], [GT, missing])
    with pytest.raises(ValueError, match=r"targets\[0\]\['level'\] must be integers in \[0, 6\), got 7 at index 2"):
        metric.update([PRED], [{**GT, "level": torch.tensor([1, 2, 7])}])
    with pytest.raises(ValueError, match=r"targets\[0\]\['sigma_s'\] must have shape \(G,\) = \(3,\)"):
        metric.update([PRED], [{**GT, "sigma_s": torch.tensor([1, 2])}])
    with pytest.raises(ValueError, match=r"preds\[0\] must have shape \(N, 2\)"):
        metric.update([PRED[:, 0]], [GT])
    with pytest.raises(ValueError, match=r"targets\[0\]\['count'\] must be finite and >= 0"):
        metric.update([PRED], [{**GT, "count": -1}])
    with pytest.raises(ValueError, match=r"targets\[0\] must be a mapping"):
        metric.update([PRED], [GT["points"]])
    assert metric.num_images.item() == 0  # nothing was added by the failed updates
