"""The Predictor: any image size, every input kind, the same result as the evaluation pipeline, clear errors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

import iim
from iim.data.synthetic import SyntheticSource
from iim.inference import InputError, Prediction, Predictor, as_rgb_array
from iim.models import load_network
from iim.ops import SPLIT_MIN_DISTANCE, extract_instances, normalize_image, tiled_inference


@pytest.fixture(scope="module")
def predictor(trained_checkpoint):
    return Predictor.from_checkpoint(trained_checkpoint, device="cpu")


@pytest.fixture(scope="module")
def scene():
    return SyntheticSource(test=1, seed=4, height=120, width=150).read("test")[0].image


def _reference(checkpoint, image: np.ndarray):
    """The evaluation pipeline by hand: normalise, tiled inference, confidence >= threshold, components."""
    net, info = load_network(checkpoint)
    x = normalize_image(torch.from_numpy(image).permute(2, 0, 1)[None], info.mean, info.std)
    out = tiled_inference(net, x, **info.inference)
    return extract_instances(out.binary[0], min_area=info.min_area, connectivity=info.connectivity), out


def test_predict_matches_the_evaluation_pipeline(predictor, trained_checkpoint, scene):
    result = predictor.predict(scene, return_maps=True)
    ref, out = _reference(trained_checkpoint, scene)
    assert isinstance(result, Prediction) and result.image_size == (120, 150)
    assert ref.count > 5  # a real localisation, not an empty map
    assert result.count == ref.count and np.array_equal(result.points, ref.points)
    assert np.array_equal(result.boxes, ref.boxes) and np.array_equal(result.areas, ref.areas)
    assert np.allclose(result.confidence, out.confidence[0, 0].numpy()) and result.threshold.shape == (120, 150)
    assert iim.Predictor is Predictor  # the top-level name
    d = result.to_dict()
    assert d["count"] == result.count and len(d["points"]) == result.count and d["image_size"] == [120, 150]


@pytest.mark.parametrize("shape", [(1, 1), (7, 13), pytest.param((3000, 4000), marks=pytest.mark.slow)])
def test_odd_and_large_sizes(predictor, shape):
    image = np.random.default_rng(1).integers(0, 255, size=(*shape, 3), dtype=np.uint8)
    result = predictor.predict(image, return_maps=True)
    assert result.image_size == shape and result.confidence.shape == shape and result.threshold.shape == shape
    assert result.points.shape == (result.count, 2) and result.boxes.shape == (result.count, 4)
    if result.count:
        assert (result.points >= 0).all() and (result.points[:, 0] < shape[1]).all()
        assert (result.points[:, 1] < shape[0]).all()


def test_every_input_kind_gives_the_same_heads(predictor, scene, tmp_path):
    png = tmp_path / "scene.png"
    cv2.imwrite(str(png), cv2.cvtColor(scene, cv2.COLOR_RGB2BGR))
    expected = predictor.predict(scene)
    rgba = np.concatenate([scene, np.full((*scene.shape[:2], 1), 255, np.uint8)], axis=2)
    kinds = {
        "path": png,
        "str path": str(png),
        "PIL": Image.fromarray(scene),
        "float array": scene.astype(np.float32) / 255.0,
        "RGBA array": rgba,
        "tensor CHW": torch.from_numpy(scene).permute(2, 0, 1),
    }
    for kind, value in kinds.items():
        got = predictor.predict(value)
        assert np.array_equal(got.points, expected.points), kind
    assert predictor.predict(png).source == str(png)
    many = predictor.predict([scene, png, Image.fromarray(scene)])
    assert isinstance(many, list) and [p.count for p in many] == [expected.count] * 3
    gray = predictor.predict(scene[:, :, 0])  # grayscale is replicated to RGB
    assert gray.image_size == scene.shape[:2]


def test_batches_equal_single_images(trained_checkpoint, scene):
    single = Predictor.from_checkpoint(trained_checkpoint, device="cpu")
    batched = Predictor.from_checkpoint(trained_checkpoint, device="cpu", batch_size=3)
    images = [scene, scene[::-1].copy(), scene[:, ::-1].copy(), scene[:64, :80].copy()]
    for a, b in zip(single.predict(images), batched.predict(images)):
        assert np.array_equal(a.points, b.points)


def test_bad_inputs_and_settings(predictor, trained_checkpoint, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing\.jpg"):
        predictor.predict(tmp_path / "missing.jpg")
    (tmp_path / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(InputError, match=r"corrupt\.jpg"):
        predictor.predict(tmp_path / "corrupt.jpg")
    with pytest.raises(InputError, match=r"integer images must hold values in \[0, 255\]"):
        as_rgb_array(np.full((4, 4, 3), 300, dtype=np.int32))
    assert np.array_equal(as_rgb_array(np.full((4, 4, 3), 9, dtype=np.int32)), np.full((4, 4, 3), 9, np.uint8))
    with pytest.raises(InputError, match="uint8 or float"):
        as_rgb_array(np.zeros((4, 4, 3), dtype=np.complex64))
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        as_rgb_array(np.full((4, 4, 3), 7.0))
    with pytest.raises(InputError, match="shape"):
        as_rgb_array(np.zeros((4, 4, 2), dtype=np.uint8))
    with pytest.raises(InputError, match="empty"):
        as_rgb_array(np.zeros((0, 4, 3), dtype=np.uint8))
    with pytest.raises(InputError, match="dict"):
        predictor.predict({"not": "an image"})
    with pytest.raises(InputError, match="image 1"):
        predictor.predict([np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 5), np.uint8)])
    # a checkpoint of another model, and files that are no checkpoints
    torch.save({"state_dict": {"fc.weight": torch.zeros(2, 2)}, "epoch": 1}, tmp_path / "other.ckpt")
    with pytest.raises(ValueError, match="not an iim checkpoint"):
        Predictor.from_checkpoint(tmp_path / "other.ckpt")
    (tmp_path / "junk.ckpt").write_bytes(b"junk")
    with pytest.raises(ValueError, match="cannot read it"):
        Predictor.from_checkpoint(tmp_path / "junk.ckpt")
    with pytest.raises(FileNotFoundError, match=r"nope\.ckpt"):
        Predictor.from_checkpoint(tmp_path / "nope.ckpt")
    net, _ = load_network(trained_checkpoint)
    with pytest.raises(ValueError, match="precision"):
        Predictor(net, (0.5,) * 3, (0.5,) * 3, precision="8")
    with pytest.raises(ValueError, match="needs a GPU"):
        Predictor(net, (0.5,) * 3, (0.5,) * 3, device="cpu", precision="16-mixed")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            Predictor(net, (0.5,) * 3, (0.5,) * 3, device="cuda")


def test_bf16_on_cpu_runs(trained_checkpoint, scene):
    result = Predictor.from_checkpoint(trained_checkpoint, device="cpu", precision="bf16-mixed").predict(scene)
    assert result.image_size == scene.shape[:2]


def test_from_config_and_weights(trained_checkpoint, scene, tmp_path):
    net, info = load_network(trained_checkpoint)
    torch.save(net.state_dict(), tmp_path / "weights.pth")
    predictor = Predictor.from_config(info.net_config, tmp_path / "weights.pth", device="cpu", mean=info.mean,
                                      std=info.std, inference=info.inference)  # fmt: skip
    expected = Predictor.from_checkpoint(trained_checkpoint, device="cpu").predict(scene)
    assert np.array_equal(predictor.predict(scene).points, expected.points)
    # a Lightning checkpoint works as the weights too; a run config gives mean and std
    run_cfg = {"model": {"net": info.net_config}, "data": {"mean": list(info.mean), "std": list(info.std)}}
    again = Predictor.from_config(run_cfg, trained_checkpoint, device="cpu", inference=info.inference)
    assert again.mean == info.mean and np.array_equal(again.predict(scene).points, expected.points)
    bad = {k: v for k, v in net.state_dict().items() if "threshold_encoder" not in k}
    with pytest.raises(ValueError, match=r"missing.*threshold_encoder"):
        Predictor.from_config(info.net_config, bad, device="cpu")
    with pytest.raises(ValueError, match="neither a network node"):
        Predictor.from_config({"foo": 1}, bad, device="cpu")


def test_threshold_offset_moves_the_binarization(predictor, scene):
    base = predictor.predict(scene, return_maps=True)
    for offset in (-0.2, 0.1):
        shifted = predictor.predict(scene, threshold_offset=offset)
        binary = base.confidence >= base.threshold + offset
        ref = extract_instances(torch.from_numpy(binary), min_area=predictor.min_area)
        assert shifted.count == ref.count and np.array_equal(shifted.points, ref.points)
    assert predictor.predict(scene, threshold_offset=-0.2).count != base.count  # the knob does move the count
    assert predictor.predict(scene, threshold_offset=0.0).count == base.count
    for bad in (1.5, "high", float("nan")):
        with pytest.raises(ValueError, match="threshold_offset"):
            predictor.predict(scene, threshold_offset=bad)
    with pytest.raises(ValueError, match="threshold_offset"):
        Predictor(predictor.net, predictor.mean, predictor.std, threshold_offset=-2)


def test_split_heads_cuts_components_at_their_confidence_peaks(trained_checkpoint, scene):
    plain = Predictor.from_checkpoint(trained_checkpoint, device="cpu").predict(scene, return_maps=True)
    split = Predictor.from_checkpoint(trained_checkpoint, device="cpu", split_heads=True, split_min_distance=2)
    result = split.predict(scene)
    binary = plain.confidence >= plain.threshold
    ref = extract_instances(
        binary, min_area=split.min_area, split_heads=True, confidence=plain.confidence, split_min_distance=2
    )
    assert result.count == ref.count and np.array_equal(result.points, ref.points)
    assert result.count >= plain.count  # splitting only ever adds heads
    assert "split_heads=True" in repr(split)
    with pytest.raises(ValueError, match="split_min_distance"):
        Predictor(split.net, split.mean, split.std, split_heads=True, split_min_distance=0)


def test_the_checkpoints_split_settings_are_the_default(trained_checkpoint, tmp_path):
    """A run that validated with split heads (a recipe's ``model.split_heads``) predicts with them unless told."""
    from iim.tasks import LocatorTask

    net, _ = load_network(trained_checkpoint)
    task = LocatorTask(net, split_heads=True, split_min_distance=5)
    stored: dict = {}
    task.on_save_checkpoint(stored)
    assert (stored["iim"]["split_heads"], stored["iim"]["split_min_distance"]) == (True, 5)
    state = torch.load(trained_checkpoint, weights_only=True)
    state["iim"].update(split_heads=True, split_min_distance=5)
    torch.save(state, tmp_path / "recipe.ckpt")
    recipe = Predictor.from_checkpoint(tmp_path / "recipe.ckpt", device="cpu")
    assert (recipe.split_heads, recipe.split_min_distance) == (True, 5)
    told = Predictor.from_checkpoint(tmp_path / "recipe.ckpt", device="cpu", split_heads=False, split_min_distance=9)
    assert (told.split_heads, told.split_min_distance) == (False, 9)
    del state["iim"]["split_heads"], state["iim"]["split_min_distance"]  # a checkpoint from before they were stored
    torch.save(state, tmp_path / "older.ckpt")
    older = Predictor.from_checkpoint(tmp_path / "older.ckpt", device="cpu")
    assert (older.split_heads, older.split_min_distance) == (False, SPLIT_MIN_DISTANCE)
