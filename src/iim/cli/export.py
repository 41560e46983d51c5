"""``iim-export``: a checkpoint's network as an ONNX or TorchScript graph (RGB in, confidence and threshold out).

    iim-export logs/train/runs/<run>/checkpoints/last.ckpt --format onnx          # -> last.onnx (+ last.onnx.json)
    iim-export last.ckpt --format torchscript --output model.pt
    iim-export NWPU-HR-ep_241.pth --format onnx                                   # weights of the original code

After writing, the file is run once (ONNX Runtime, or TorchScript) on an input of another size than the traced one
and compared with the PyTorch network; the maximum differences are printed (``--no-check`` skips this).
Post-processing stays in Python: see :mod:`iim.inference.export`.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import torch

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="iim-export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("checkpoint", type=Path, help="an iim-train checkpoint or a .pth of the original IIM code")
    p.add_argument("--format", choices=("onnx", "torchscript"), default="onnx", dest="fmt")
    p.add_argument("--output", "-o", type=Path, default=None, help="output file (default: beside the checkpoint)")
    p.add_argument("--exporter", choices=("dynamo", "legacy"), default="dynamo", help="ONNX exporter (default dynamo)")
    p.add_argument("--opset", type=int, default=18, help="ONNX opset (default 18)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--no-check", action="store_true", help="skip the comparison with the PyTorch network")
    return p


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


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``iim-export``; returns the exit status (2 on bad input)."""
    from iim.inference import Predictor
    from iim.inference.export import export_network

    args = _parser().parse_args(argv)
    suffix = ".onnx" if args.fmt == "onnx" else ".pt"
    output = args.output if args.output is not None else args.checkpoint.with_suffix(suffix)
    try:
        predictor = Predictor.from_checkpoint(args.checkpoint, device="cpu")
        meta = {
            "source_checkpoint": str(args.checkpoint),
            "min_area": predictor.min_area,
            "connectivity": predictor.connectivity,
            "inference": predictor.inference,
        }
        path = export_network(predictor.net, output, args.fmt, mean=predictor.mean, std=predictor.std, metadata=meta,
                              exporter=args.exporter, opset=args.opset, overwrite=args.overwrite)  # fmt: skip
    except (FileNotFoundError, FileExistsError, ValueError, ImportError) as err:
        print(f"iim-export: error: {err}", file=sys.stderr)
        return 2
    print(f"iim-export: wrote {path} and {path.name}.json (size divisor {predictor.net.size_divisor})")
    if not args.no_check:
        conf, thr = check_export(predictor, path, args.fmt)
        print(f"iim-export: check against PyTorch: max |diff| confidence {conf:.2e}, threshold {thr:.2e}")
        if max(conf, thr) > 1e-4:
            print("iim-export: error: the exported graph differs from the network by more than 1e-4", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
