"""``iim-evaluate``: score a localization prediction file against a ground-truth file (NWPU-Crowd protocol).

    iim-evaluate PRED.txt GT.txt [--out results.json] [--per-image per_image.csv]
                 [--protocol nwpu|fixed] [--radii 4 8] [--overwrite] [--ignore-extra]

Prints a table (F1 / precision / recall under sigma_l and sigma_s, or per fixed radius; recall per head-size level
A0..A5 and their mean; MAE / MSE / NAE; the number of images) and writes the numbers as JSON, by default next to the
predictions as ``<pred stem>_metrics.json``. Existing output files are never replaced without ``--overwrite``.

Exit status: 0 on success, 1 when an input is missing or malformed or an output already exists, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

from iim.metrics.evaluate import EvaluationError, EvaluationResult, evaluate_files
from iim.metrics.loc_files import LocFileError
from iim.metrics.matching import NUM_LEVELS

__all__ = ["build_parser", "format_table", "main"]

PROG = "iim-evaluate"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``iim-evaluate``."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Score crowd localization predictions against a ground-truth file (NWPU-Crowd protocol: "
        "maximum matching within each head's sigma_s / sigma_l, micro-averaged; plus MAE/MSE/NAE).",
        epilog="Prediction lines: '<id> <num> x1 y1 x2 y2 ...'. Ground-truth lines: '<id> <num> x y sigma_s sigma_l "
        "level ...' (NWPU val_gt_loc.txt). Images are those of the ground truth; a missing prediction line counts "
        "as zero predictions.",
    )
    parser.add_argument("pred", type=Path, help="prediction / submission file")
    parser.add_argument("gt", type=Path, help="ground-truth localization file (e.g. val_gt_loc.txt)")
    parser.add_argument(
        "--out", type=Path, default=None, help="JSON output (default: next to PRED as <pred stem>_metrics.json)"
    )
    parser.add_argument("--per-image", type=Path, default=None, help="also write per-image counts as CSV")
    parser.add_argument(
        "--protocol",
        choices=["nwpu", "fixed"],
        default="nwpu",
        help="nwpu: per-head sigma_s and sigma_l (default); fixed: the same radius for every head",
    )
    parser.add_argument(
        "--radii", type=float, nargs="+", default=None, help="radii in px for --protocol fixed (default: 4 8)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    parser.add_argument(
        "--ignore-extra", action="store_true", help="drop prediction ids that the ground truth lacks (default: error)"
    )
    return parser


def _error(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 1


def _pct(x: float) -> str:
    return "   nan" if x != x else f"{x:.4f}"


def format_table(result: EvaluationResult) -> str:
    """The human-readable summary that ``iim-evaluate`` prints."""
    m = result.metrics
    proto = result.protocol
    lines = [
        f"{result.num_images} images, protocol {proto.name}",
        f"  predictions:  {result.pred_path}",
        f"  ground truth: {result.gt_path}",
        "",
        f"  {'':<10} {'F1':>8} {'Precision':>10} {'Recall':>8}",
    ]
    if proto.name == "nwpu":
        labels = {"l": "sigma_l", "s": "sigma_s"}
        order = ["l", "s"]
    else:
        labels = {s: f"r = {r:g} px" for s, r in zip(proto.suffixes, proto.radii or ())}
        order = list(proto.suffixes)
    for s in order:
        mark = "  <- headline" if s == proto.headline else ""
        lines.append(
            f"  {labels[s]:<10} {_pct(m[f'f1_{s}']):>8} {_pct(m[f'precision_{s}']):>10} {_pct(m[f'recall_{s}']):>8}"
            + mark
        )
    if proto.has_levels:
        names = [f"A{k}" for k in range(NUM_LEVELS)] + ["mean"]
        values = [m[f"recall_a{k}"] for k in range(NUM_LEVELS)] + [m["recall_mean"]]
        lines += [
            "",
            "  Recall per head-size level (sigma_l; box area A0 <10, A1 10-100, ..., A5 >1e5 px²)",
            "  " + " ".join(f"{n:>7}" for n in names),
            "  " + " ".join(f"{_pct(v):>7}" for v in values),
        ]
    lines += [
        "",
        f"  Counting   MAE {m['mae']:.3f}   MSE {m['mse']:.3f}   NAE {_pct(m['nae'])}",
    ]
    if result.missing_ids:
        shown = ", ".join(str(i) for i in result.missing_ids[:10])
        more = f", ... ({len(result.missing_ids)} in total)" if len(result.missing_ids) > 10 else ""
        lines.append(
            f"  note: {len(result.missing_ids)} image(s) have no prediction line (zero predictions): {shown}{more}"
        )
    if result.ignored_ids:
        lines.append(f"  note: {len(result.ignored_ids)} prediction line(s) without ground truth were ignored")
    return "\n".join(lines)


def _open_output(path: Path, overwrite: bool) -> Any:
    return open(path, "w" if overwrite else "x", encoding="utf-8", newline="")


def main(argv: list[str] | None = None) -> int:
    """Run ``iim-evaluate``; returns the exit status (usage errors exit through argparse with status 2).

    Args:
        argv: The arguments (without the program name); ``None`` reads ``sys.argv``.

    Returns:
        0 on success, 1 on a missing or malformed input or an existing output.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.radii is not None and args.protocol != "fixed":
        parser.error("--radii applies only to --protocol fixed")
    for what, path in (("prediction", args.pred), ("ground-truth", args.gt)):
        if not path.is_file():
            return _error(f"{what} file not found: {path}")
    out = args.out if args.out is not None else args.pred.with_name(f"{args.pred.stem}_metrics.json")
    outputs = [out] + ([args.per_image] if args.per_image is not None else [])
    for path in outputs:
        if path.resolve() in (args.pred.resolve(), args.gt.resolve()):
            return _error(f"output {path} is one of the input files")
        if path.exists() and not args.overwrite:
            return _error(f"output file already exists: {path} (pass --overwrite to replace it, or choose --out)")
    radii = tuple(args.radii) if args.radii is not None else None
    try:
        result = evaluate_files(
            args.pred, args.gt, protocol=args.protocol, radii=radii, ignore_extra=args.ignore_extra, warn_missing=False
        )
    except (LocFileError, EvaluationError) as err:
        return _error(str(err))
    except ValueError as err:  # e.g. invalid radii
        return _error(str(err))
    except OSError as err:
        return _error(f"cannot read the inputs: {err}")

    print(f"{PROG}: {format_table(result)}")
    try:
        with _open_output(out, args.overwrite) as f:
            json.dump(result.to_json_dict(), f, indent=2)
            f.write("\n")
        if args.per_image is not None:
            with _open_output(args.per_image, args.overwrite) as f:
                writer = csv.DictWriter(f, fieldnames=list(result.per_image[0]) if result.per_image else ["id"])
                writer.writeheader()
                writer.writerows(result.per_image)
    except FileExistsError as err:
        return _error(f"output file already exists: {err.filename} (pass --overwrite to replace it)")
    except OSError as err:
        return _error(f"cannot write the outputs: {err}")
    print(f"\nwrote {out}" + (f" and {args.per_image}" if args.per_image is not None else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
