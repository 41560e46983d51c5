"""OptimizerGroup / schedulers: two optimizers == the original's one Adam with two groups; state round trips."""

from __future__ import annotations

import copy
import itertools

import pytest
import torch

from iim.losses import IIMLoss
from iim.models import build_network
from iim.tasks import EpochDecayLR, LocatorTask, OptimizerGroup, PolyLR, SchedulerGroup, WarmupCosineLR


def _batch():
    g = torch.Generator().manual_seed(0)
    image = torch.randint(0, 255, (2, 3, 64, 64), generator=g, dtype=torch.uint8)
    target = (torch.rand(2, 1, 64, 64, generator=g) > 0.8).to(torch.uint8)
    return image, target


def test_two_adams_equal_the_originals_single_adam_with_two_groups():
    net = build_network("test_resnet_fpn", "pbm")
    reference = copy.deepcopy(net)
    task = LocatorTask(
        net,
        optimizers={
            "confidence": lambda p: torch.optim.Adam(p, lr=1e-3, weight_decay=1e-5),
            "threshold": lambda p: torch.optim.Adam(p, lr=1e-4),
        },
    )
    (group,), _ = task.configure_optimizers()
    original = torch.optim.Adam(
        [
            {"params": reference.confidence_parameters(), "lr": 1e-3, "weight_decay": 1e-5},
            {"params": reference.threshold_parameters(), "lr": 1e-4},
        ]
    )
    image, target = _batch()
    loss = IIMLoss()
    for _ in range(3):
        for model, opt in ((net, group), (reference, original)):
            opt.zero_grad()
            x = task.normalize(image)
            loss(model(x), target.float())["loss"].backward()
            opt.step()
    for (name, a), b in zip(net.named_parameters(), reference.parameters()):
        assert torch.equal(a, b), name
    assert isinstance(group, OptimizerGroup) and set(group.optimizers) == {"confidence", "threshold"}


def test_fixed_threshold_has_no_threshold_optimizer():
    task = LocatorTask(build_network("test_resnet_fpn", "fixed_0.5"))
    (group,), _ = task.configure_optimizers()
    assert list(group.optimizers) == ["confidence"]


def test_group_state_dict_round_trip_and_errors():
    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 1)
    group = OptimizerGroup({"a": torch.optim.Adam(a.parameters()), "b": torch.optim.SGD(b.parameters(), lr=0.1)})
    (a(torch.ones(1, 2)).sum() + b(torch.ones(1, 2)).sum()).backward()
    group.step()
    state = group.state_dict()
    other = OptimizerGroup({"a": torch.optim.Adam(a.parameters()), "b": torch.optim.SGD(b.parameters(), lr=0.1)})
    other.load_state_dict(state)
    assert other["a"].state_dict()["state"][0]["step"] == 1
    assert len(group.param_groups) == 2 and {g["name"] for g in group.param_groups} == {"a", "b"}
    with pytest.raises(ValueError, match="holds optimizers"):
        OptimizerGroup({"a": torch.optim.Adam(a.parameters())}).load_state_dict(state)
    with pytest.raises(ValueError, match="shares parameters"):
        OptimizerGroup({"x": torch.optim.SGD(a.parameters(), lr=1), "y": torch.optim.SGD(a.parameters(), lr=1)})


def test_poly_and_epoch_decay_schedules():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    poly = PolyLR(opt, total_steps=10, power=0.9)
    lrs = []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        poly.step()
    assert lrs[0] == 1.0  # the first iteration runs at the base lr, as the original
    assert lrs[5] == pytest.approx((1 - 5 / 10) ** 0.9)
    assert opt.param_groups[0]["lr"] == 0.0
    opt2 = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    decay = EpochDecayLR(opt2, gamma=0.99)
    group = OptimizerGroup({"c": opt2})
    sched = SchedulerGroup(group, {"c": decay})
    group.step()  # an optimizer step first, as in training
    sched.step("step")  # an epoch schedule ignores per-step calls
    assert opt2.param_groups[0]["lr"] == 1.0
    sched.step("epoch")
    assert opt2.param_groups[0]["lr"] == pytest.approx(0.99)
    restored = SchedulerGroup(group, {"c": EpochDecayLR(opt2, gamma=0.99)})
    restored.load_state_dict(sched.state_dict())
    assert restored.schedulers["c"].last_epoch == 1


def test_warmup_cosine_rises_then_decays_to_its_floor():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = WarmupCosineLR(opt, total_steps=100, warmup_steps=0.1, min_factor=0.1)
    lrs = []
    for _ in range(100):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert sched.warmup_steps == 10
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)  # linear warm-up over 10 steps
    assert all(a < b for a, b in itertools.pairwise(lrs[:10]))
    assert lrs[10] == pytest.approx(1.0) and lrs[55] == pytest.approx(0.55, abs=0.01)  # half-way: the mid-point
    assert all(a >= b for a, b in itertools.pairwise(lrs[10:])) and lrs[-1] > 0.1
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)  # the floor at total_steps
    with pytest.raises(ValueError, match="min_factor"):
        WarmupCosineLR(opt, total_steps=10, min_factor=2)
