"""Export: the ONNX graph in ONNX Runtime and the TorchScript graph give the PyTorch maps (max |diff| < 1e-4) and
exactly the same heads; metadata beside the file; no overwriting; the iim-export command."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch

from iim.cli.export import main as export_main
from iim.data.synthetic import SyntheticSource
from iim.inference import Predictor
from iim.inference.export import ExportWrapper, OnnxNetwork, export_network, read_metadata
from iim.ops import extract_instances, normalize_image, tiled_inference


@pytest.fixture(scope="module")
def predictor(trained_checkpoint):
    return Predictor.from_checkpoint(trained_checkpoint, device="cpu")


def _export_onnx(predictor, folder, exporter):
    return export_network(predictor.net, folder / f"{exporter}.onnx", "onnx", mean=predictor.mean, std=predictor.std,
                          metadata={"min_area": 3, "source_checkpoint": "smoke"}, exporter=exporter)  # fmt: skip


@pytest.fixture(scope="module")
def onnx_file(predictor, tmp_path_factory):
    """The legacy (TorchScript-based) exporter: seconds; the default dynamo exporter is tested in the slow suite."""
    return _export_onnx(predictor, tmp_path_factory.mktemp("export"), "legacy")


@pytest.fixture(scope="module")
def image():
    return SyntheticSource(test=1, seed=4, height=200, width=300).read("test")[0].image


def test_onnx_maps_and_heads_match_pytorch(predictor, onnx_file, image):
    _check_onnx_against_pytorch(predictor, onnx_file, image)


@pytest.mark.slow
def test_default_dynamo_onnx_export_matches_pytorch(predictor, image, tmp_path):
    _check_onnx_against_pytorch(predictor, _export_onnx(predictor, tmp_path, "dynamo"), image)


def _check_onnx_against_pytorch(predictor, onnx_file, image):
    d = read_metadata(onnx_file)["size_divisor"]
    assert d == predictor.net.size_divisor and read_metadata(onnx_file)["mean"] == list(predictor.mean)
    props = {p.key: json.loads(p.value) for p in onnx.load(str(onnx_file)).metadata_props}
    assert props["iim.size_divisor"] == d and props["iim.source_checkpoint"] == "smoke"
    runner = OnnxNetwork(onnx_file)
    # the graph itself, at sizes other than the traced example, batch 2
    raw = torch.rand(2, 3, 7 * d, 11 * d) * 255
    wrapper = ExportWrapper(predictor.net, predictor.mean, predictor.std).eval()
    with torch.no_grad():
        ref = wrapper(raw)
    got = runner.session.run(None, {"image": raw.numpy()})
    for a, b in zip(ref, got):
        assert a.shape == b.shape and float(np.abs(a.numpy() - b).max()) < 1e-4
    # tiled inference on a whole image with either network: the same maps and exactly the same points
    x = normalize_image(torch.from_numpy(image).permute(2, 0, 1)[None], predictor.mean, predictor.std)
    settings = {**predictor.inference, "size_divisor": d}
    with torch.no_grad():
        torch_out = tiled_inference(predictor.net, x, **settings)
    onnx_out = tiled_inference(runner, x, **settings)
    assert float((torch_out.confidence - onnx_out.confidence).abs().max()) < 1e-4
    assert float((torch_out.threshold - onnx_out.threshold).abs().max()) < 1e-4
    torch_heads = extract_instances(torch_out.binary[0])
    onnx_heads = extract_instances(onnx_out.binary[0])
    assert torch_heads.count > 5 and np.array_equal(torch_heads.points, onnx_heads.points)
    assert np.array_equal(predictor.predict(image).points, torch_heads.points)


def test_torchscript(predictor, tmp_path):
    ts = export_network(predictor.net, tmp_path / "net.pt", "torchscript", mean=predictor.mean, std=predictor.std)
    d = predictor.net.size_divisor
    raw = torch.rand(1, 3, 5 * d, 3 * d) * 255
    with torch.no_grad():
        ref = ExportWrapper(predictor.net, predictor.mean, predictor.std).eval()(raw)
        scripted = torch.jit.load(str(ts))(raw)
    for a, b in zip(ref, scripted):
        assert float((a - b).abs().max()) < 1e-4
    assert predictor.net.training is False and next(predictor.net.parameters()).device.type == "cpu"


def test_export_refuses_to_overwrite_and_checks_arguments(predictor, onnx_file, tmp_path):
    with pytest.raises(FileExistsError, match="overwrite"):
        export_network(predictor.net, onnx_file, "onnx", mean=predictor.mean, std=predictor.std)
    with pytest.raises(ValueError, match="fmt"):
        export_network(predictor.net, tmp_path / "x.bin", "tflite", mean=predictor.mean, std=predictor.std)
    with pytest.raises(ValueError, match="multiple of the size divisor"):
        export_network(predictor.net, tmp_path / "x.pt", "torchscript", mean=predictor.mean, std=predictor.std,
                       example_size=(33, 64))  # fmt: skip


def test_iim_export_command(trained_checkpoint, tmp_path, capsys):
    out = tmp_path / "model.pt"
    assert export_main([trained_checkpoint, "format=torchscript", f"output={out}"]) == 0
    printed = capsys.readouterr().out
    assert "wrote" in printed and "max |diff| confidence" in printed
    assert out.is_file() and json.loads((tmp_path / "model.pt.json").read_text())["format"] == "iim-torchscript-1"
    assert export_main([trained_checkpoint, "format=torchscript", f"output={out}", "check=false"]) == 2
    assert "exists" in capsys.readouterr().err
    assert export_main([trained_checkpoint, "format=tflite"]) == 2
    assert "iim-export: error: format must be one of onnx, torchscript" in capsys.readouterr().err
    assert export_main(["format=onnx"]) == 2
    assert "iim-export: error: missing ckpt=..." in capsys.readouterr().err
    assert not list(tmp_path.glob(".hydra")) and not list(tmp_path.glob("*.log"))
    torch.save({"something": torch.zeros(1)}, tmp_path / "other.ckpt")
    assert export_main([str(tmp_path / "other.ckpt")]) == 2
    assert "not an iim checkpoint" in capsys.readouterr().err
