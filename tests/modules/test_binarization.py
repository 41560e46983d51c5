"""BinarizationLayer / binarize: forward, the original BinarizedF backward, threshold shapes, dtypes, errors."""

from __future__ import annotations

import pytest
import torch

from iim.modules import BinarizationLayer, binarize

P = [[0.5, 0.7], [0.2, 0.6]]
Y = [[1.0, 1.0], [0.0, 0.0]]


def test_forward_matches_method_md():
    p = torch.tensor(P)
    b = binarize(p, torch.tensor(0.6))
    assert torch.equal(b, torch.tensor([[0.0, 1.0], [0.0, 1.0]]))  # 0.6 >= 0.6 is foreground


def test_backward_is_scaled_straight_through_and_minus_g():
    p = torch.tensor(P, requires_grad=True)
    t = torch.full((2, 2), 0.6, requires_grad=True)
    g = torch.tensor([[1.0, -2.0], [3.0, 0.5]])
    binarize(p, t).backward(g)
    assert torch.allclose(p.grad, 0.2 * g)
    assert torch.allclose(t.grad, -g)


def test_l1_gradient_on_threshold_matches_method_md():
    p = torch.tensor(P, requires_grad=True)
    t = torch.full((2, 2), 0.6, requires_grad=True)
    b = binarize(p, t)
    (b - torch.tensor(Y)).abs().mean().backward()
    assert torch.allclose(t.grad, torch.tensor([[0.25, 0.0], [0.0, -0.25]]))
    assert torch.allclose(p.grad, torch.tensor([[-0.05, 0.0], [0.0, 0.05]]))


def test_sgd_step_lowers_threshold_at_false_negative_and_raises_it_at_false_positive():
    p = torch.tensor(P)
    t = torch.nn.Parameter(torch.full((2, 2), 0.6))
    opt = torch.optim.SGD([t], lr=0.1)
    (binarize(p, t) - torch.tensor(Y)).abs().mean().backward()
    opt.step()
    t = t.detach()
    assert t[0, 0] < 0.6  # false negative (P=0.5 < T, Y=1): threshold falls
    assert t[1, 1] > 0.6  # false positive (P=0.6 >= T, Y=0): threshold rises
    assert t[0, 1].item() == pytest.approx(0.6) and t[1, 0].item() == pytest.approx(0.6)  # correct pixels untouched


@pytest.mark.parametrize("grad_scale", [0.0, 0.2, 1.0])
def test_grad_scale(grad_scale):
    p = torch.rand(2, 1, 4, 4, requires_grad=True)
    g = torch.randn(2, 1, 4, 4)
    binarize(p, 0.5, grad_scale=grad_scale).backward(g)
    assert torch.allclose(p.grad, grad_scale * g)


@pytest.mark.parametrize(
    "shape",
    [(), (2, 1, 1, 1), (2, 1, 4, 6), (1, 1, 1, 1), (1, 1, 4, 6)],
    ids=["scalar", "per-image", "map", "shared-scalar-4d", "shared-map"],
)
def test_threshold_gradient_reduced_to_its_own_shape(shape):
    p = torch.rand(2, 1, 4, 6)
    t = torch.full(shape, 0.5, requires_grad=True)
    g = torch.randn(2, 1, 4, 6)
    b = binarize(p, t)
    assert torch.equal(b, (p >= 0.5).float())
    b.backward(g)
    assert t.grad.shape == t.shape
    expected = (-g).sum_to_size(shape) if shape else (-g).sum()
    assert torch.allclose(t.grad, expected)


def test_float_threshold_and_no_grad_threshold():
    p = torch.rand(1, 1, 3, 3, requires_grad=True)
    b = binarize(p, 0.3)
    assert torch.equal(b, (p >= 0.3).to(p.dtype))
    b.sum().backward()
    assert torch.allclose(p.grad, torch.full_like(p, 0.2))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_output_in_input_dtype(dtype):
    p = torch.rand(1, 1, 5, 5).to(dtype).requires_grad_()
    t = torch.full((1, 1, 1, 1), 0.5, dtype=torch.float32, requires_grad=True)
    b = binarize(p, t)
    assert b.dtype == dtype
    assert set(b.unique().tolist()) <= {0.0, 1.0}
    b.float().sum().backward()
    assert p.grad.dtype == dtype and t.grad.dtype == torch.float32


def test_module_equals_function():
    p = torch.rand(2, 1, 8, 8, requires_grad=True)
    t = torch.rand(2, 1, 8, 8, requires_grad=True)
    layer = BinarizationLayer(grad_scale=0.5)
    out_m = layer(p, t)
    gm = torch.autograd.grad(out_m.sum(), [p, t])
    out_f = binarize(p, t, grad_scale=0.5)
    gf = torch.autograd.grad(out_f.sum(), [p, t])
    assert torch.equal(out_m, out_f)
    assert all(torch.equal(a, b) for a, b in zip(gm, gf))
    assert "grad_scale=0.5" in repr(layer)
    assert not list(layer.parameters())


def test_bad_inputs_raise_clear_errors():
    p = torch.rand(2, 1, 4, 4)
    with pytest.raises(ValueError, match=r"threshold.*\(3, 1, 1, 1\).*does not broadcast"):
        binarize(p, torch.rand(3, 1, 1, 1))
    with pytest.raises(ValueError, match=r"would enlarge"):
        binarize(torch.rand(1, 1, 4, 4), torch.rand(2, 1, 4, 4))
    with pytest.raises(ValueError, match="grad_scale"):
        binarize(p, 0.5, grad_scale=-1.0)
    with pytest.raises(ValueError, match="grad_scale"):
        BinarizationLayer(grad_scale=-0.1)
    with pytest.raises(TypeError, match="confidence"):
        binarize([[0.5]], 0.5)
