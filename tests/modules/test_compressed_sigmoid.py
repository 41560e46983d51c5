"""CompressedSigmoid: the values in method.md section 12, its range, gradient and low-precision behaviour."""

from __future__ import annotations

import math

import pytest
import torch

from iim.modules import CompressedSigmoid, compressed_sigmoid


@pytest.mark.parametrize(("x", "expected"), [(0.0, 0.533333), (0.1, 0.622319), (-0.1, 0.411942)])
def test_values_from_method_md(x, expected):
    assert CompressedSigmoid()(torch.tensor(x, dtype=torch.float64)).item() == pytest.approx(expected, abs=1e-6)


def test_limits_and_range():
    f = CompressedSigmoid()
    assert f(torch.tensor(math.inf)).item() == pytest.approx(0.7)
    assert f(torch.tensor(-math.inf)).item() == pytest.approx(0.2)
    y = f(torch.linspace(-100, 100, 10001))
    assert y.min() >= 0.2 and y.max() <= 0.7
    assert torch.all(y[1:] >= y[:-1])


def test_slope_parameter_and_function_module_agree():
    x = torch.randn(3, 4)
    assert torch.equal(CompressedSigmoid(k=3.0)(x), compressed_sigmoid(x, k=3.0))
    assert compressed_sigmoid(torch.tensor(0.1), k=1.0).item() == pytest.approx(1 / (2 + math.exp(-0.1)) + 0.2)


def test_gradcheck():
    x = torch.randn(2, 1, 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: compressed_sigmoid(v), (x,), fast_mode=True)


def test_no_nan_for_very_negative_inputs_in_half_precision():
    x = torch.tensor([-1e4, -50.0, 0.0, 50.0], dtype=torch.float16, requires_grad=True)
    y = compressed_sigmoid(x)
    y.sum().backward()
    assert torch.isfinite(y).all() and torch.isfinite(x.grad).all()
