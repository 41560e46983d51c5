"""``iim-export``: a checkpoint's network as an ONNX or TorchScript graph (RGB in, confidence and threshold out).

    iim-export logs/train/runs/<run>/checkpoints/last.ckpt format=onnx          # -> last.onnx (+ last.onnx.json)
    iim-export last.ckpt format=torchscript output=model.pt
    iim-export NWPU-HR-ep_241.pth format=onnx opset=17                          # weights of the original code

The leading word is ``ckpt``; the settings (``format``, ``output``, ``exporter``, ``opset``, ``overwrite``,
``check``) are ``key=value`` overrides of ``conf/export.yaml`` (``iim-export --help`` lists them). After writing, the
file is run once (ONNX Runtime, or TorchScript) on an input of another size than the traced one and compared with the
PyTorch network; the maximum differences are printed (``check=false`` skips this). Post-processing stays in Python:
see :mod:`iim.inference.export`.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch
from omegaconf import DictConfig

from iim.cli._common import UsageError, require, run_app

__all__ = ["check_export", "export", "main"]

PROG = "iim-export"
FORMATS = ("onnx", "torchscript")
EXPORTERS = ("dynamo", "legacy")


def check_export(predictor: object, path: Path, fmt: str) -> tuple[float, float]:
    """Max |difference| of the confidence and threshold maps between the file and the PyTorch network, on a random
    image of 3 x 5 size divisors (another size than the traced example)."""
    from iim.inference.export import ExportWrapper, OnnxNetwork

    net = predictor.net  # type: ignore[attr-defined]
    d = int(net.size_divisor)
    image = torch.rand(1, 3, 3 * d, 5 * d) * 255.0
    wrapper = ExportWrapper(net.cpu(), predictor.mean, predictor.std).eval()  # type: ignore[attr-defined]
    with torch.no_grad():
        ref = wrapper(image)
        if fmt == "onnx":
            runner = OnnxNetwork(path)
            got = runner.session.run(None, {"image": image.numpy()})
            got = tuple(torch.from_numpy(g) for g in got)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                got = torch.jit.load(str(path))(image)
    return tuple(float((a - b).abs().max()) for a, b in zip(ref, got))  # type: ignore[return-value]


def export(cfg: DictConfig) -> int:
    """Export ``cfg.ckpt`` as ``conf/export.yaml`` describes (the work of ``iim-export``).

    Returns:
        0 on success, 1 when the written graph differs from the network, 2 on bad input (printed as
        ``iim-export: error: ...``).

    Raises:
        UsageError: A missing ``ckpt``, an unknown ``format`` or ``exporter``.
    """
    from iim.inference import Predictor
    from iim.inference.export import export_network

    require(cfg, PROG, "ckpt")
    fmt, exporter = str(cfg.format), str(cfg.exporter)
    if fmt not in FORMATS:
        raise UsageError(f"format must be one of {', '.join(FORMATS)}: got {fmt!r}")
    if exporter not in EXPORTERS:
        raise UsageError(f"exporter must be one of {', '.join(EXPORTERS)}: got {exporter!r}")
    checkpoint = Path(str(cfg.ckpt))
    suffix = ".onnx" if fmt == "onnx" else ".pt"
    output = Path(str(cfg.output)) if cfg.output is not None else checkpoint.with_suffix(suffix)
    try:
        predictor = Predictor.from_checkpoint(checkpoint, device="cpu")
        meta = {
            "source_checkpoint": str(checkpoint),
            "min_area": predictor.min_area,
            "connectivity": predictor.connectivity,
            "inference": predictor.inference,
        }
        path = export_network(predictor.net, output, fmt, mean=predictor.mean, std=predictor.std, metadata=meta,
                              exporter=exporter, opset=int(cfg.opset), overwrite=bool(cfg.overwrite))  # fmt: skip
    except (FileNotFoundError, FileExistsError, ValueError, ImportError) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    print(f"{PROG}: wrote {path} and {path.name}.json (size divisor {predictor.net.size_divisor})")
    if cfg.check:
        conf, thr = check_export(predictor, path, fmt)
        print(f"{PROG}: check against PyTorch: max |diff| confidence {conf:.2e}, threshold {thr:.2e}")
        if max(conf, thr) > 1e-4:
            print(f"{PROG}: error: the exported graph differs from the network by more than 1e-4", file=sys.stderr)
            return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``iim-export``: ``CKPT`` then ``key=value`` overrides of ``conf/export.yaml``.

    Args:
        argv: The arguments (without the program name); ``None`` reads ``sys.argv``.

    Returns:
        The exit status: 0 on success, 1 when the check fails, 2 on bad input or a usage error.
    """
    return run_app(PROG, "export", export, argv, keys=("ckpt",))


if __name__ == "__main__":
    raise SystemExit(main())
