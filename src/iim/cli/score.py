"""``iim-score``: score a localization prediction file against a ground-truth file (NWPU-Crowd protocol).

    iim-score PRED.txt GT.txt [out=results.json] [per_image=per_image.csv]
              [protocol=nwpu|fixed] [radii=[4,8]] [overwrite=true] [ignore_extra=true]

The two leading words are ``pred`` and ``gt``; the settings are ``key=value`` overrides of ``conf/score.yaml``
(``iim-score --help`` lists them). Prints a table (F1 / precision / recall under sigma_l and sigma_s, or per fixed
radius; recall per head-size level A0..A5 and their mean; MAE / MSE / NAE; the number of images) and writes the
numbers as JSON, by default next to the predictions as ``<pred stem>_metrics.json``. Existing output files are never
replaced without ``overwrite=true``. (``iim-score`` was ``iim-evaluate``, which still runs it for one release.)

Exit status: 0 on success, 1 when an input is missing or malformed or an output already exists, 2 on a usage error.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig

from iim.cli._common import UsageError, require, run_app
from iim.metrics.evaluate import EvaluationError, EvaluationResult, evaluate_files
from iim.metrics.loc_files import LocFileError
from iim.metrics.matching import NUM_LEVELS

__all__ = ["PROG", "format_table", "main", "score"]

PROG = "iim-score"
PROTOCOLS = ("nwpu", "fixed")


def _error(prog: str, message: str) -> int:
    print(f"{prog}: error: {message}", file=sys.stderr)
    return 1


def _pct(x: float) -> str:
    return "   nan" if x != x else f"{x:.4f}"


def format_table(result: EvaluationResult) -> str:
    """The human-readable summary that ``iim-score`` prints."""
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


def _radii(value: Any) -> tuple[float, ...] | None:
    if value is None:
        return None
    values = list(value) if isinstance(value, (ListConfig, list, tuple)) else [value]
    try:
        return tuple(float(v) for v in values)
    except (TypeError, ValueError) as err:
        raise UsageError(f"radii must be numbers, e.g. radii=[4,8]: got {value}") from err


def score(cfg: DictConfig, prog: str = PROG) -> int:
    """Score ``cfg.pred`` against ``cfg.gt`` and write the outputs (the work of ``iim-score``).

    Args:
        cfg: A config of the form of ``conf/score.yaml``.
        prog: The name in messages.

    Returns:
        0 on success, 1 on a missing or malformed input or an existing output.

    Raises:
        UsageError: A missing ``pred`` or ``gt``, an unknown protocol, ``radii`` without ``protocol=fixed``.
    """
    require(cfg, prog, "pred", "gt")
    protocol = str(cfg.protocol)
    if protocol not in PROTOCOLS:
        raise UsageError(f"protocol must be one of {', '.join(PROTOCOLS)}: got {protocol!r}")
    radii = _radii(cfg.radii)
    if radii is not None and protocol != "fixed":
        raise UsageError("radii applies only to protocol=fixed")
    pred, gt = Path(str(cfg.pred)), Path(str(cfg.gt))
    overwrite, per_image = bool(cfg.overwrite), None if cfg.per_image is None else Path(str(cfg.per_image))
    for what, path in (("prediction", pred), ("ground-truth", gt)):
        if not path.is_file():
            return _error(prog, f"{what} file not found: {path}")
    out = Path(str(cfg.out)) if cfg.out is not None else pred.with_name(f"{pred.stem}_metrics.json")
    for path in [out] + ([per_image] if per_image is not None else []):
        if path.resolve() in (pred.resolve(), gt.resolve()):
            return _error(prog, f"output {path} is one of the input files")
        if path.exists() and not overwrite:
            hint = "pass overwrite=true to replace it, or choose out="
            return _error(prog, f"output file already exists: {path} ({hint})")
    try:
        result = evaluate_files(
            pred, gt, protocol=protocol, radii=radii, ignore_extra=bool(cfg.ignore_extra), warn_missing=False
        )
    except (LocFileError, EvaluationError) as err:
        return _error(prog, str(err))
    except ValueError as err:  # e.g. invalid radii
        return _error(prog, str(err))
    except OSError as err:
        return _error(prog, f"cannot read the inputs: {err}")

    print(f"{prog}: {format_table(result)}")
    try:
        with _open_output(out, overwrite) as f:
            json.dump(result.to_json_dict(), f, indent=2)
            f.write("\n")
        if per_image is not None:
            with _open_output(per_image, overwrite) as f:
                writer = csv.DictWriter(f, fieldnames=list(result.per_image[0]) if result.per_image else ["id"])
                writer.writeheader()
                writer.writerows(result.per_image)
    except FileExistsError as err:
        return _error(prog, f"output file already exists: {err.filename} (pass overwrite=true to replace it)")
    except OSError as err:
        return _error(prog, f"cannot write the outputs: {err}")
    print(f"\nwrote {out}" + (f" and {per_image}" if per_image is not None else ""))
    return 0


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    """Run ``iim-score``: ``PRED GT`` then ``key=value`` overrides of ``conf/score.yaml``.

    Args:
        argv: The arguments (without the program name); ``None`` reads ``sys.argv``.
        prog: The command's name in messages (the ``iim-evaluate`` alias passes its own).

    Returns:
        0 on success, 1 on a missing or malformed input or an existing output, 2 on a usage error.
    """
    return run_app(prog, "score", lambda cfg: score(cfg, prog), argv, keys=("pred", "gt"))


if __name__ == "__main__":
    sys.exit(main())
