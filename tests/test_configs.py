"""The Hydra config tree: every experiment composes with the original's settings and runs (fast_dev_run) on a
fake copy of its dataset; the demo defaults; the sweeps; errors for unknown experiments and missing data."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from helpers.configs import FAST, compose_train
from helpers.fake_datasets import write_fdst, write_jhu, write_nwpu, write_qnrf, write_shanghaitech
from helpers.golden_configs import resolved_experiment
from iim.cli.train import train

ALL_EXPERIMENTS = sorted(
    p.name.removesuffix(".yaml")
    for p in resources.files("iim.conf").joinpath("experiment").iterdir()
    if p.name.endswith(".yaml") and p.name != "smoke.yaml"
)
# the original code's runs, <dataset>_<backbone>_<threshold>; the others are iim's recipes (e.g. for a CPU)
EXPERIMENTS = [n for n in ALL_EXPERIMENTS if re.fullmatch(r"(nwpu|shha|shhb|qnrf|jhu|fdst)_(hrnet|vgg)_(pbm|ibm)", n)]
RECIPES = [n for n in ALL_EXPERIMENTS if n not in EXPERIMENTS]
WRITERS = {
    "nwpu": write_nwpu,
    "shha": write_shanghaitech,
    "shhb": write_shanghaitech,
    "qnrf": write_qnrf,
    "jhu": write_jhu,
    "fdst": write_fdst,
}
EPOCHS = {
    "nwpu": (600, 600),
    "shha": (2000, 1000),
    "shhb": (2000, 1000),
    "qnrf": (1000, 1000),
    "jhu": (600, 600),
    "fdst": (1000, 1000),
}
CAP = {"nwpu": 25, "shha": 25, "shhb": 25, "qnrf": 15, "jhu": 15, "fdst": 25}


def test_every_dataset_backbone_and_threshold_has_an_experiment():
    expected = {f"{d}_{b}_{t}" for d in WRITERS for b in ("hrnet", "vgg") for t in ("pbm", "ibm")}
    assert set(EXPERIMENTS) == expected


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_has_the_originals_settings(name):
    dataset, backbone, threshold = name.split("_")
    cfg = OmegaConf.create(resolved_experiment(name))  # composed once for this and the golden test
    assert cfg.model.net.predictor.backbone.name == {"hrnet": "hrnet_w48", "vgg": "vgg16_bn"}[backbone]
    assert cfg.model.net.threshold_encoder._target_.endswith(
        {"pbm": "PixelThresholdEncoder", "ibm": "ImageThresholdEncoder"}[threshold]
    )
    assert cfg.model.optimizers.confidence.lr == 1e-5 and cfg.model.optimizers.confidence.weight_decay == 1e-5
    assert cfg.model.optimizers.threshold.lr == {"hrnet": 1e-6, "vgg": 2e-7}[backbone]
    assert cfg.model.optimizers.threshold.weight_decay == 0
    assert cfg.trainer.max_epochs == EPOCHS[dataset][backbone == "vgg"]
    assert cfg.data.batch_size == (12 if dataset == "nwpu" else 6)
    assert list(cfg.data.train_transform.crop_size) == [512, 1024]
    assert cfg.data.train_transform.instance_map.max_half_size == CAP[dataset]
    assert (cfg.model.val_start_epoch, cfg.model.val_every_n_epochs) == (24, 4)
    assert cfg.model.schedulers.confidence._target_ == "iim.tasks.PolyLR"


def test_cpu_recipe_for_shanghaitech_b(tmp_path):
    assert RECIPES == ["shhb_lite0_cpu", "shhb_lite0_cpu_plus"]
    cfg = compose_train(["+experiment=shhb_lite0_cpu"], tmp_path)
    assert cfg.model.net.predictor.backbone.name == "efficientnet_lite0" and cfg.trainer.accelerator == "cpu"
    assert cfg.model.net.threshold_encoder._target_.endswith("PixelThresholdEncoder")
    assert list(cfg.model.net.threshold_encoder.hidden_channels) == [256, 128, 64]  # the original's PBM
    assert list(cfg.data.train_transform.crop_size) == [384, 512] and cfg.data.batch_size == 4
    assert (cfg.model.optimizers.confidence.lr, cfg.model.optimizers.threshold.lr) == (2e-4, 3e-5)
    assert cfg.trainer.max_epochs == 8 and list(cfg.data.mean) == [0.5, 0.5, 0.5]
    assert cfg.data.source._target_.endswith("ShanghaiTechReader") and cfg.data.source.val_fraction == 0.1


def test_cpu_plus_recipe_is_the_cpu_recipe_with_larger_learning_rates_and_split_heads(tmp_path):
    """shhb_lite0_cpu_plus changes the learning rates and the post-processing of shhb_lite0_cpu, nothing else."""
    base = OmegaConf.create(resolved_experiment("shhb_lite0_cpu"))
    plus = OmegaConf.create(resolved_experiment("shhb_lite0_cpu_plus"))
    lrs = {"confidence": {"lr": 8e-4}, "threshold": {"lr": 1.2e-4}}
    changed = {"model": {"optimizers": lrs, "split_heads": True, "split_min_distance": 6, "min_area": 12}}
    expected = OmegaConf.merge(base, changed, {"tags": [*base.tags, "plus"]})
    assert OmegaConf.to_container(plus) == OmegaConf.to_container(expected)
    model = instantiate(compose_train(["+experiment=shhb_lite0_cpu_plus"], tmp_path).model)
    assert model.split_heads and model.split_min_distance == 6 and model.min_area == 12


def _run_experiment(tmp_path: Path, name: str) -> dict:
    dataset = name.split("_")[0]
    root = tmp_path / "data"
    WRITERS[dataset](root)
    cfg = compose_train(
        [
            f"+experiment={name}",
            *FAST,
            f"data.root={root}",
            "data.batch_size=2",
            "++trainer.fast_dev_run=true",
            "trainer.precision=32-true",
            "model.val_start_epoch=0",
        ],
        tmp_path / "run",
    )
    return train(cfg)


def test_one_experiment_runs_on_a_fake_dataset(tmp_path):
    result = _run_experiment(tmp_path, "shhb_hrnet_pbm")
    assert "train/loss" in result["metrics"] and "val/f1" in result["metrics"]


@pytest.mark.slow
@pytest.mark.parametrize("name", EXPERIMENTS + RECIPES)
def test_every_experiment_runs_on_a_fake_dataset(tmp_path, name):
    result = _run_experiment(tmp_path, name)
    assert "train/loss" in result["metrics"] and "val/f1" in result["metrics"]


def test_demo_defaults(tmp_path):
    cfg = compose_train([], tmp_path)
    assert cfg.data.source._target_ == "iim.data.SyntheticSource"
    assert cfg.model.net.predictor.backbone.name == "efficientnet_lite0"
    assert cfg.model.net.predictor.backbone.pretrained is True
    assert cfg.trainer.accelerator == "cpu"
    model = instantiate(cfg.model)
    assert type(model.net.threshold_encoder).__name__ == "PixelThresholdEncoder"


@pytest.mark.parametrize(("name", "jobs"), [("ablation", 8), ("lr_grid", 9)])
def test_sweeps_compose(tmp_path, name, jobs):
    cfg = compose_train([f"+hparams={name}"], tmp_path)
    assert cfg.hydra.mode.name == "MULTIRUN"
    params = cfg.hydra.sweeper.params
    n = 1
    for values in params.values():
        n *= len(str(values).split(","))
    assert n == jobs


def test_optuna_sweep_composes(tmp_path):
    cfg = compose_train(["+hparams=optuna"], tmp_path)
    assert "optuna" in cfg.hydra.sweeper._target_.lower() and cfg.hydra.sweeper.direction == "maximize"


def test_slurm_launcher_composes(tmp_path):
    cfg = compose_train(["hydra/launcher=slurm", "trainer=ddp"], tmp_path)
    assert "submitit" in cfg.hydra.launcher._target_.lower() and cfg.hydra.launcher.tasks_per_node == 2


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "IIM_LOG_DIR": str(cwd / "logs"), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "iim.cli.train", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_unknown_experiment_lists_the_ones_that_exist(tmp_path):
    with pytest.raises(Exception, match=r"(?s)experiment/nope.*nwpu_hrnet_pbm"):
        compose_train(["+experiment=nope"], tmp_path)


@pytest.mark.slow
def test_unknown_experiment_on_the_command_line(tmp_path):
    result = _cli("+experiment=nope", cwd=tmp_path)
    assert result.returncode != 0
    assert "experiment/nope" in result.stderr and "nwpu_hrnet_pbm" in result.stderr


@pytest.mark.slow
def test_missing_dataset_root_says_which_key_to_set(tmp_path):
    result = _cli("+experiment=shhb_hrnet_pbm", "model/net/predictor=test_resnet_fpn", cwd=tmp_path)
    assert result.returncode == 2
    assert "iim-train: error:" in result.stderr and "data.root=" in result.stderr
    assert "ShanghaiTech" in result.stderr and "github.com" in result.stderr


@pytest.mark.slow
def test_ablation_sweep_completes_all_jobs(tmp_path):
    sweep = f"hydra.sweep.dir={tmp_path / 'sweep'}"
    args = ["-m", "+hparams=ablation", "+experiment=smoke", "++trainer.fast_dev_run=true", "callbacks=none"]
    result = _cli(*args, "trainer.enable_progress_bar=false", sweep, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = sorted(p.name for p in (tmp_path / "sweep").iterdir() if p.is_dir())
    assert len(jobs) == 8, jobs
    assert result.stdout.count("iim-train finished") == 8


def test_the_short_run_options_of_the_readme_train_together(tmp_path):
    """Every option of the README's table at once, on a fake Part B: x2 images, Lite0 at 1/2, weighted loss, cosine."""
    root = tmp_path / "data"
    WRITERS["shhb"](root)
    cfg = compose_train(
        [
            "+experiment=shhb_lite0_cpu",
            "model/net/predictor=efficientnet_lite0_s2",
            "model.net.predictor.backbone.pretrained=false",
            "+data.source.scale=2",
            "+model.loss.foreground_weight=5",
            "+model.loss.focal_gamma=1",
            "~model.schedulers.confidence",
            "+model.schedulers.confidence={_target_:iim.tasks.WarmupCosineLR,_partial_:true,warmup_steps:0.05}",
            "+model.split_heads=true",
            "+model.inference.hflip=true",
            *FAST[1:],
            f"data.root={root}",
            "data.batch_size=2",
            "data.train_transform.crop_size=[64,96]",
            "++trainer.fast_dev_run=true",
            "model.val_start_epoch=0",
        ],
        tmp_path / "run",
    )
    model = instantiate(cfg.model)
    assert model.net.predictor.head.stride == 2 and model.split_heads and model.inference["hflip"]
    assert model.loss.foreground_weight == 5.0
    result = train(cfg)
    assert "train/loss" in result["metrics"] and "val/f1" in result["metrics"]
