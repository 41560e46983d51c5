"""Export a network as an ONNX or TorchScript graph: RGB pixels in, confidence and threshold maps out.

The graph holds the normalisation and the network; post-processing stays in Python (``confidence >= threshold``,
then :func:`iim.ops.extract_instances`), and so does tiling (:func:`iim.ops.tiled_inference` accepts any callable;
:class:`OnnxNetwork` makes an ONNX file one).

- input ``image``: float32 :math:`(B, 3, H, W)`, RGB in ``[0, 255]`` (uint8 pixels cast to float), batch, height
  and width dynamic; ``H`` and ``W`` must be multiples of the network's ``size_divisor`` (recorded in the metadata;
  pad the bottom and right, or use ``tiled_inference(..., size_divisor=...)``).
- outputs ``confidence`` and ``threshold``: float32 :math:`(B, 1, H, W)`.

Beside the graph a JSON file (``<file>.json``) records the metadata: mean, std, size divisor, ``min_area``,
connectivity, tiling settings and the source checkpoint; ONNX files also carry it in their ``metadata_props``.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from iim.models.network import IIMNet

__all__ = ["FORMATS", "ExportWrapper", "OnnxNetwork", "export_network", "read_metadata"]

FORMATS = ("onnx", "torchscript")


class ExportWrapper(nn.Module):
    """The exported computation: ``(image / 255 - mean) / std`` -> network -> ``(confidence, threshold)``.

    Shape:
        - image: :math:`(B, 3, H, W)` float32 RGB in ``[0, 255]``, ``H`` and ``W`` multiples of ``size_divisor``
        - output: two :math:`(B, 1, H, W)` maps
    """

    def __init__(self, net: IIMNet, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("offset", torch.tensor([255.0 * m for m in mean]).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor([1.0 / (255.0 * s) for s in std]).view(1, 3, 1, 1))

    def forward(self, image: Tensor) -> tuple[Tensor, Tensor]:
        """The confidence and threshold maps."""
        return self.net.maps((image - self.offset) * self.scale)


def _example(net: IIMNet, size: tuple[int, int] | None) -> Tensor:
    d = int(net.size_divisor)
    h, w = size if size is not None else (2 * d, 3 * d)
    if h % d or w % d:
        raise ValueError(f"export: the example size {h}x{w} must be a multiple of the size divisor {d}")
    return torch.rand(1, 3, h, w) * 255.0


def export_network(
    net: IIMNet,
    path: str | os.PathLike[str],
    fmt: str = "onnx",
    *,
    mean: Sequence[float],
    std: Sequence[float],
    metadata: Mapping[str, Any] | None = None,
    exporter: str = "dynamo",
    opset: int = 18,
    example_size: tuple[int, int] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``net`` (with its normalisation) as an ONNX or TorchScript file, and its metadata as JSON beside it.

    Args:
        net: The network (exported on the CPU in eval mode; the module itself is left as it was).
        path: The output file (``.onnx`` / ``.pt``); ``<path>.json`` gets the metadata.
        fmt: ``"onnx"`` or ``"torchscript"``.
        mean: RGB mean in [0, 1] of the network's training data.
        std: RGB standard deviation.
        metadata: Extra entries for the metadata (``min_area``, ``connectivity``, ``inference``, the source...).
        exporter: ONNX only: ``"dynamo"`` (``torch.export``, PyTorch's default) or ``"legacy"`` (the TorchScript-
            based exporter, faster to run).
        opset: ONNX opset.
        example_size: ``(H, W)`` traced through the network (multiples of its size divisor; small by default).
        overwrite: Replace existing files (otherwise an existing file is an error).

    Returns:
        The written file.

    Raises:
        FileExistsError: The file or its JSON exists and ``overwrite`` is false.
        ValueError: An unknown format or exporter.
        ImportError: ONNX export without the ``onnx`` / ``onnxscript`` packages (``pip install iim[export]``).
    """
    if fmt not in FORMATS:
        raise ValueError(f"export: `fmt` must be one of {FORMATS}, got {fmt!r}")
    if exporter not in ("dynamo", "legacy"):
        raise ValueError(f"export: `exporter` must be 'dynamo' or 'legacy', got {exporter!r}")
    path = Path(path)
    meta_path = path.with_name(path.name + ".json")
    for p in (path, meta_path):
        if p.exists() and not overwrite:
            raise FileExistsError(f"{p} exists; pass overwrite=True (iim-export overwrite=true) or another output path")
    path.parent.mkdir(parents=True, exist_ok=True)
    device, was_training = next(net.parameters()).device, net.training
    wrapper = ExportWrapper(net.to("cpu").eval(), mean, std).eval()
    example = _example(net, example_size)
    info = {
        "format": f"iim-{fmt}-1",
        "input": "image: float32 (B, 3, H, W), RGB in [0, 255]; H and W multiples of size_divisor",
        "outputs": ["confidence: float32 (B, 1, H, W)", "threshold: float32 (B, 1, H, W)"],
        "postprocess": "binary = confidence >= threshold; iim.ops.extract_instances(binary, min_area, connectivity)",
        "size_divisor": int(net.size_divisor),
        "mean": [float(v) for v in mean],
        "std": [float(v) for v in std],
        "min_area": 3,
        "connectivity": 4,
        **dict(metadata or {}),
    }
    tmp = path.with_name(f".{path.name}.part")
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", message=r".*(deprecated|legacy TorchScript-based ONNX).*")
            if fmt == "torchscript":
                torch.jit.trace(wrapper, example, check_trace=False).save(str(tmp))
            else:
                _export_onnx(wrapper, example, tmp, exporter, opset, info)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        net.to(device).train(was_training)
    meta_path.write_text(json.dumps(info, indent=2, default=str), encoding="utf-8")
    return path


def _export_onnx(wrapper: nn.Module, example: Tensor, path: Path, exporter: str, opset: int, info: dict) -> None:
    try:
        import onnx
    except ImportError as err:
        raise ImportError("ONNX export needs the onnx package: pip install 'iim[export]'") from err
    names = {"input_names": ["image"], "output_names": ["confidence", "threshold"]}
    if exporter == "dynamo":
        dims = {0: torch.export.Dim("batch", max=1024), 2: torch.export.Dim.DYNAMIC, 3: torch.export.Dim.DYNAMIC}
        program = torch.onnx.export(
            wrapper, (example,), dynamo=True, opset_version=opset, dynamic_shapes=(dims,), verbose=False, **names
        )
        program.save(str(path))
    else:
        axes = {"image": {0: "batch", 2: "height", 3: "width"}}
        axes.update({k: {0: "batch", 2: "height", 3: "width"} for k in names["output_names"]})
        torch.onnx.export(wrapper, (example,), str(path), dynamo=False, opset_version=opset, dynamic_axes=axes, **names)
    model = onnx.load(str(path))
    for key, value in info.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = f"iim.{key}", json.dumps(value, default=str)
    onnx.save(model, str(path))


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The metadata JSON written beside an exported file."""
    meta = Path(path).with_name(Path(path).name + ".json")
    if not meta.is_file():
        raise FileNotFoundError(f"{meta}: no metadata beside {path} (written by iim-export)")
    return json.loads(meta.read_text(encoding="utf-8"))


class OnnxNetwork:
    """An exported ONNX file as a drop-in for the PyTorch network in :func:`iim.ops.tiled_inference`.

    Called, like :class:`~iim.models.IIMNet`, on *normalised* images (``normalize_image`` with the metadata's mean
    and std), it maps them back to ``[0, 255]`` for the graph, so that ``tiled_inference(OnnxNetwork(path), x,
    size_divisor=meta["size_divisor"])`` pads and stitches exactly as with the PyTorch network (zero padding in
    normalised space) and gives the same maps. Runs on ONNX Runtime (CPU by default).

    Args:
        path: The ``.onnx`` file (its metadata JSON must be beside it).
        providers: ONNX Runtime execution providers.
    """

    def __init__(self, path: str | os.PathLike[str], providers: Sequence[str] = ("CPUExecutionProvider",)) -> None:
        try:
            import onnxruntime as ort
        except ImportError as err:
            raise ImportError("running ONNX files needs onnxruntime: pip install 'iim[export]'") from err
        self.path = Path(path)
        self.metadata = read_metadata(self.path)
        self.session = ort.InferenceSession(str(self.path), providers=list(providers))
        self._scale = (255.0 * np.asarray(self.metadata["std"], dtype=np.float32)).reshape(1, 3, 1, 1)
        self._offset = (255.0 * np.asarray(self.metadata["mean"], dtype=np.float32)).reshape(1, 3, 1, 1)

    @property
    def size_divisor(self) -> int:
        """Height and width of inputs must be multiples of this."""
        return int(self.metadata["size_divisor"])

    def __call__(self, image: Tensor) -> tuple[Tensor, Tensor]:
        """Maps of a normalised batch :math:`(B, 3, H, W)`, as CPU float32 tensors :math:`(B, 1, H, W)`."""
        x = image.detach().float().cpu().numpy() * self._scale + self._offset
        confidence, threshold = self.session.run(None, {"image": np.ascontiguousarray(x, dtype=np.float32)})
        return torch.from_numpy(confidence), torch.from_numpy(threshold)
