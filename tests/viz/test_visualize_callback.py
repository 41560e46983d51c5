"""LogPredictionImages: PNGs for CSV, add_image for TensorBoard, log_image for wandb; schedule, rank, robustness."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import cv2
import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger, WandbLogger

from iim.callbacks import LogPredictionImages

HAS_TENSORBOARD = importlib.util.find_spec("tensorboard") is not None


@pytest.fixture(autouse=True)
def _no_wandb_network(monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")


def make_example(image_id: str = "img_0", h: int = 48, w: int = 64, seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    gt = np.array([[10.0, 30.0], [40.0, 30.0]])
    conf = rng.random((h, w)).astype(np.float32)
    thr = np.full((h, w), 0.45, np.float32)
    return {
        "image_id": image_id,
        "image": rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
        "pred_points": np.array([[11.0, 30.0], [55.0, 10.0]]),
        "gt_points": gt,
        "gt_sigma": np.array([5.0, 5.0]),
        "confidence": conf,
        "threshold": thr,
        "binary": (conf > thr).astype(np.float32),
    }


class RecordingExperiment:
    """Stands in for a tensorboard SummaryWriter: records add_image calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, np.ndarray, int, str]] = []

    def add_image(self, tag: str, img_tensor: Any, global_step: int | None = None, dataformats: str = "CHW") -> None:
        self.calls.append((tag, img_tensor, global_step, dataformats))


class StubWandbLogger(WandbLogger):
    """A WandbLogger that never starts wandb: records log_image calls."""

    def __init__(self) -> None:  # no super().__init__(): no wandb run, no network
        self.calls: list[dict[str, Any]] = []

    def log_image(self, key: str, images: list[Any], step: int | None = None, **kwargs: Any) -> None:
        self.calls.append({"key": key, "images": images, "step": step, **kwargs})


class NoImageLogger:
    """A logger with neither image support nor a log_dir."""

    log_dir = None


def fake_trainer(loggers: list[Any], epoch: int = 0, step: int = 7, **overrides: Any) -> SimpleNamespace:
    values = {
        "is_global_zero": True,
        "sanity_checking": False,
        "current_epoch": epoch,
        "global_step": step,
        "loggers": loggers,
    }
    values.update(overrides)
    return SimpleNamespace(**values)


def tb_logger_with_stub(tmp_path: Path) -> tuple[TensorBoardLogger, RecordingExperiment]:
    logger = TensorBoardLogger(tmp_path, name="tb")
    experiment = RecordingExperiment()
    logger._experiment = experiment
    return logger, experiment


def read_png(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


# ---------------------------------------------------------------------------------------------------------------------
# With a fake trainer
# ---------------------------------------------------------------------------------------------------------------------


def test_logs_to_csv_tensorboard_and_wandb(tmp_path):
    csv = CSVLogger(tmp_path, name="csv")
    tb, experiment = tb_logger_with_stub(tmp_path)
    wandb = StubWandbLogger()
    module = SimpleNamespace(val_examples=[make_example("img_0"), make_example("img_1", seed=1)])
    LogPredictionImages().on_validation_epoch_end(fake_trainer([csv, tb, wandb], epoch=3, step=42), module)

    folder = Path(csv.log_dir) / "images" / "epoch_3"
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["img_0_maps.png", "img_0_matches.png", "img_1_maps.png", "img_1_matches.png"]
    matches = read_png(folder / "img_0_matches.png")
    assert matches.shape == (48, 64, 3)
    assert tuple(matches[30, 11]) == (0, 255, 0)  # the true positive, green
    maps = read_png(folder / "img_0_maps.png")
    assert maps.shape[1] > 4 * 64  # image, confidence, threshold, binary

    tags = [c[0] for c in experiment.calls]
    assert tags == ["val/matches/img_0", "val/maps/img_0", "val/matches/img_1", "val/maps/img_1"]
    for _, chw, step, dataformats in experiment.calls:
        assert isinstance(chw, np.ndarray)
        assert chw.dtype == np.uint8
        assert chw.ndim == 3
        assert chw.shape[0] == 3
        assert step == 42
        assert dataformats == "CHW"
    assert np.array_equal(experiment.calls[0][1].transpose(1, 2, 0), matches)

    assert [c["key"] for c in wandb.calls] == tags
    for call in wandb.calls:
        assert call["step"] == 42
        (picture,) = call["images"]
        assert picture.dtype == np.uint8
        assert picture.ndim == 3
        assert picture.shape[2] == 3
    # TensorBoard and wandb do not get PNG files
    assert not (Path(tb.log_dir) / "images").exists() or Path(tb.log_dir) == Path(csv.log_dir)


def test_any_logger_with_log_image_is_used():
    calls = []
    logger = SimpleNamespace(log_image=lambda key, images, step: calls.append((key, images[0].shape, step)))
    module = SimpleNamespace(val_examples=[make_example("a")])
    LogPredictionImages().on_validation_epoch_end(fake_trainer([logger], step=3), module)
    assert [c[0] for c in calls] == ["val/matches/a", "val/maps/a"]
    assert calls[0][1] == (48, 64, 3)


def test_example_values_may_be_torch_tensors(tmp_path):
    ex = make_example("t")
    ex = {k: (torch.from_numpy(np.asarray(v)) if k != "image_id" else v) for k, v in ex.items()}
    csv = CSVLogger(tmp_path)
    LogPredictionImages().on_validation_epoch_end(fake_trainer([csv]), SimpleNamespace(val_examples=[ex]))
    assert (Path(csv.log_dir) / "images" / "epoch_0" / "t_maps.png").is_file()


def test_binary_is_optional():
    tb_exp = RecordingExperiment()
    tb = TensorBoardLogger("unused", name="tb")
    tb._experiment = tb_exp
    ex = make_example()
    del ex["binary"]
    LogPredictionImages().on_validation_epoch_end(fake_trainer([tb]), SimpleNamespace(val_examples=[ex]))
    assert len(tb_exp.calls) == 2


def test_max_images_and_unique_safe_ids(tmp_path):
    csv = CSVLogger(tmp_path)
    examples = [make_example("a/b"), make_example("a/b"), make_example(""), make_example("x")]
    LogPredictionImages(max_images=3).on_validation_epoch_end(
        fake_trainer([csv]), SimpleNamespace(val_examples=examples)
    )
    names = sorted(p.name for p in (Path(csv.log_dir) / "images" / "epoch_0").iterdir())
    assert names == [
        "a_b_1_maps.png",
        "a_b_1_matches.png",
        "a_b_maps.png",
        "a_b_matches.png",
        "example_2_maps.png",
        "example_2_matches.png",
    ]


def test_max_side_downscales(tmp_path):
    tb, experiment = tb_logger_with_stub(tmp_path)
    module = SimpleNamespace(val_examples=[make_example(h=120, w=200)])
    LogPredictionImages(max_side=100).on_validation_epoch_end(fake_trainer([tb]), module)
    for _, chw, _, _ in experiment.calls:
        assert max(chw.shape[1:]) == 100
    assert experiment.calls[0][1].shape == (3, 60, 100)


def test_every_n_epochs(tmp_path):
    csv = CSVLogger(tmp_path)
    callback = LogPredictionImages(every_n_epochs=2)
    module = SimpleNamespace(val_examples=[make_example()])
    for epoch in range(5):
        callback.on_validation_epoch_end(fake_trainer([csv], epoch=epoch), module)
    assert sorted(p.name for p in (Path(csv.log_dir) / "images").iterdir()) == ["epoch_0", "epoch_2", "epoch_4"]


@pytest.mark.parametrize("overrides", [{"is_global_zero": False}, {"sanity_checking": True}, {"loggers": []}], ids=str)
def test_skips_non_zero_rank_sanity_check_and_no_loggers(tmp_path, overrides):
    tb, experiment = tb_logger_with_stub(tmp_path)
    values = {"loggers": [tb], **overrides}
    trainer = fake_trainer(**values)
    LogPredictionImages().on_validation_epoch_end(trainer, SimpleNamespace(val_examples=[make_example()]))
    assert experiment.calls == []


@pytest.mark.parametrize(
    "module", [SimpleNamespace(), SimpleNamespace(val_examples=[]), SimpleNamespace(val_examples=None)]
)
def test_missing_or_empty_examples_do_nothing(tmp_path, module):
    csv = CSVLogger(tmp_path)
    LogPredictionImages().on_validation_epoch_end(fake_trainer([csv]), module)
    assert not (Path(csv.log_dir) / "images").exists()


def test_max_images_zero_logs_nothing(tmp_path):
    tb, experiment = tb_logger_with_stub(tmp_path)
    LogPredictionImages(max_images=0).on_validation_epoch_end(
        fake_trainer([tb]), SimpleNamespace(val_examples=[make_example()])
    )
    assert experiment.calls == []


def test_a_bad_example_warns_and_the_rest_is_logged(tmp_path):
    tb, experiment = tb_logger_with_stub(tmp_path)
    bad = make_example("bad")
    del bad["threshold"]
    wrong = make_example("wrong")
    wrong["gt_sigma"] = np.array([1.0])  # 2 heads
    module = SimpleNamespace(val_examples=[bad, wrong, make_example("good")])
    with pytest.warns(UserWarning, match="could not render") as record:
        LogPredictionImages().on_validation_epoch_end(fake_trainer([tb]), module)
    messages = [str(w.message) for w in record]
    assert any("example 'bad'" in m and "threshold" in m for m in messages)
    assert any("example 'wrong'" in m and "`gt_sigma`" in m for m in messages)
    assert [c[0] for c in experiment.calls] == ["val/matches/good", "val/maps/good"]


def test_a_failing_logger_warns_and_others_still_log(tmp_path):
    class Broken:
        def log_image(self, key, images, step):
            raise RuntimeError("offline")

    tb, experiment = tb_logger_with_stub(tmp_path)
    with pytest.warns(UserWarning, match="Broken could not log") as record:
        LogPredictionImages().on_validation_epoch_end(
            fake_trainer([Broken(), tb]), SimpleNamespace(val_examples=[make_example()])
        )
    assert sorted(str(w.message) for w in record) == [
        "LogPredictionImages: Broken could not log 'val/maps/img_0': offline",
        "LogPredictionImages: Broken could not log 'val/matches/img_0': offline",
    ]
    assert len(experiment.calls) == 2


def test_logger_without_images_or_log_dir_warns_once():
    callback = LogPredictionImages()
    logger = NoImageLogger()
    module = SimpleNamespace(val_examples=[make_example()])
    with pytest.warns(UserWarning, match="NoImageLogger supports no images"):
        callback.on_validation_epoch_end(fake_trainer([logger]), module)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second warning would raise
        callback.on_validation_epoch_end(fake_trainer([logger], epoch=1), module)


def test_render_example_returns_rgb_pictures():
    pictures = LogPredictionImages().render_example(make_example())
    assert set(pictures) == {"matches", "maps"}
    for picture in pictures.values():
        assert picture.dtype == np.uint8
        assert picture.ndim == 3
        assert picture.shape[2] == 3
    with pytest.raises(ValueError, match=r"lacks the key\(s\) \['confidence'\]"):
        LogPredictionImages().render_example({k: v for k, v in make_example().items() if k != "confidence"})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"every_n_epochs": 0}, "`every_n_epochs`"),
        ({"every_n_epochs": 1.5}, "`every_n_epochs`"),
        ({"max_images": -1}, "`max_images`"),
        ({"max_side": 4}, "`max_side`"),
    ],
)
def test_constructor_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LogPredictionImages(**kwargs)


def test_hydra_config_instantiates_the_callback():
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    path = Path(__file__).resolve().parents[2] / "conf" / "callbacks" / "default.yaml"
    if not path.is_file():
        pytest.skip("conf/callbacks/default.yaml not present")
    node = OmegaConf.load(path).get("prediction_images")
    if node is None:
        pytest.skip("no prediction_images callback configured")
    callback = instantiate(node)
    assert isinstance(callback, LogPredictionImages)


# ---------------------------------------------------------------------------------------------------------------------
# With a real Trainer (CPU, tiny module)
# ---------------------------------------------------------------------------------------------------------------------


class TinyModule(pl.LightningModule):
    """Fills val_examples the way iim.tasks.LocatorTask does."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)
        self.val_examples: list[dict[str, Any]] = []

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self.layer(batch[0]).pow(2).mean()

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        if not self.val_examples:
            self.val_examples.append(make_example(f"val_{batch_idx}"))

    def on_validation_epoch_start(self) -> None:
        self.val_examples = []

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.01)

    def train_dataloader(self) -> torch.utils.data.DataLoader:
        return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(4, 2)), batch_size=2)

    def val_dataloader(self) -> torch.utils.data.DataLoader:
        return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(2, 2)), batch_size=2)


def test_real_trainer_csv_and_tensorboard(tmp_path):
    csv = CSVLogger(tmp_path, name="csv")
    tb = TensorBoardLogger(tmp_path, name="tb")
    stub = None
    if not HAS_TENSORBOARD:  # pragma: no cover - tensorboard is a dependency; keep the test hermetic without it
        stub = RecordingExperiment()
        tb._experiment = stub
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=2,
        limit_train_batches=2,
        limit_val_batches=1,
        num_sanity_val_steps=1,
        logger=[csv, tb],
        callbacks=[LogPredictionImages(max_images=2)],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=1,
        default_root_dir=tmp_path,
    )
    trainer.fit(TinyModule())

    for epoch in (0, 1):
        folder = Path(csv.log_dir) / "images" / f"epoch_{epoch}"
        assert sorted(p.name for p in folder.iterdir()) == ["val_0_maps.png", "val_0_matches.png"]
    if stub is not None:  # pragma: no cover
        assert [c[0] for c in stub.calls] == ["val/matches/val_0", "val/maps/val_0"] * 2
        return
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tb.experiment.flush()
    events = EventAccumulator(tb.log_dir, size_guidance={"images": 0})
    events.Reload()
    assert sorted(events.Tags()["images"]) == ["val/maps/val_0", "val/matches/val_0"]
    images = events.Images("val/matches/val_0")
    assert [im.step for im in images] == [2, 4]  # global_step after epochs 0 and 1 (2 batches each)
    assert (images[0].width, images[0].height) == (64, 48)
