"""``iim-data``: check a dataset, convert it to iim's custom format or the original IIM layout, write synthetic data.

    iim-data check ROOT format=shanghaitech [split=[train,val]] [val_fraction=0.1] [seed=0] [out_of_bounds=drop]
    iim-data convert ROOT OUT format=qnrf to=iim [max_half_size=15] [link=true] [overwrite=true]
    iim-data convert ROOT OUT format=jhu to=custom
    iim-data synth OUT train=80 val=20 test=20 [height=384 width=512 seed=0 overwrite=true]

The leading words are the command, then ``root`` (check, convert) and ``out`` (convert, synth); the settings are
``key=value`` overrides of ``conf/data_tool.yaml`` (``root=``, ``out=`` work too; ``iim-data --help`` lists them).
Exit status: 0 on success, 1 when check finds problems that stop reading, 2 on bad input or a usage error.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from omegaconf import DictConfig, ListConfig

from iim.cli._common import UsageError, require, run_app
from iim.data.readers import READERS, get_reader
from iim.data.records import CrowdRecord, DatasetError, Problem
from iim.targets import boxes_to_instance_map, format_gt_loc_line, points_to_boxes

__all__ = ["COMMANDS", "POSITIONAL", "cmd_check", "cmd_convert", "cmd_synth", "main", "run"]

PROG = "iim-data"
# the config keys of each command's leading words (after the command itself)
POSITIONAL: dict[str, tuple[str, ...]] = {"check": ("root",), "convert": ("root", "out"), "synth": ("out",)}


def _reader_kwargs(cfg: DictConfig) -> dict:
    kwargs: dict = {"out_of_bounds": str(cfg.out_of_bounds)}
    if cfg.val_fraction is not None:
        kwargs["val_fraction"] = float(cfg.val_fraction)
    if cfg.seed is not None:
        kwargs["seed"] = int(cfg.seed)
    return kwargs


def _splits(reader: object, requested: Any) -> list[str]:
    available = [s for s in reader.splits() if s != "trainval"]  # type: ignore[attr-defined]
    if not requested:
        return available
    return [str(s) for s in requested] if isinstance(requested, (ListConfig, list, tuple)) else [str(requested)]


def _summary_line(split: str, records: list[CrowdRecord]) -> str:
    counts = np.array([r.count for r in records]) if records else np.zeros(0)
    if not len(counts):
        return f"{split:<8}{0:>8}{0:>10}{'-':>8}{'-':>9}{'-':>8}{'-':>8}   -"
    sizes = np.array([(r.height, r.width) for r in records])
    size = f"{sizes[:, 1].min()}x{sizes[:, 0].min()} .. {sizes[:, 1].max()}x{sizes[:, 0].max()}"
    return (
        f"{split:<8}{len(records):>8}{int(counts.sum()):>10}{int(counts.min()):>8}{counts.mean():>9.1f}"
        f"{int(counts.max()):>8}{int((counts == 0).sum()):>8}   {size}"
    )


def cmd_check(cfg: DictConfig) -> int:
    """Validate every split and list every problem found."""
    reader = get_reader(str(cfg.format), str(cfg.root), **_reader_kwargs(cfg))
    print(f"{reader.name} dataset at {reader.root}")
    print(f"{'split':<8}{'images':>8}{'heads':>10}{'min':>8}{'mean':>9}{'max':>8}{'empty':>8}   sizes (WxH)")
    all_problems: list[tuple[str, Problem]] = []
    for split in _splits(reader, cfg.split):
        try:
            records, problems = reader.scan(split)
        except DatasetError as err:
            print(f"{split:<8} cannot be listed: {err}")
            all_problems.append((split, Problem(reader.root, str(err))))
            continue
        print(_summary_line(split, records))
        clipped = sum(int(r.meta.get("points_clipped", 0)) for r in records)
        dropped = sum(int(r.meta.get("points_dropped", 0)) for r in records)
        if clipped or dropped:
            print(f"{'':<8}points outside their image: {clipped} clipped, {dropped} dropped")
        all_problems += [(split, p) for p in problems]
    fatal = [p for _, p in all_problems if p.fatal]
    if all_problems:
        print(f"\n{len(all_problems)} problem(s) found ({len(fatal)} that stop reading):")
        for split, problem in all_problems:
            print(f"  [{split}] {'ERROR' if problem.fatal else 'warning'} {problem}")
    else:
        print("\nno problems found")
    return 1 if fatal else 0


def _prepare_out(out: Path, overwrite: bool) -> None:
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out} exists and is not empty; choose another folder or pass overwrite=true")
    out.mkdir(parents=True, exist_ok=True)


def _image_name(record: CrowdRecord) -> str:
    return record.image_id.replace("/", "_")


def _place_image(record: CrowdRecord, target: Path, link: bool) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() or target.is_symlink():
        target.unlink()
    assert record.image_path is not None
    if link:
        target.symlink_to(record.image_path.resolve())
    else:
        shutil.copyfile(record.image_path, target)


def cmd_convert(cfg: DictConfig) -> int:
    """Write the dataset in iim's custom format or the original IIM layout."""
    reader = get_reader(str(cfg.format), str(cfg.root), **_reader_kwargs(cfg))
    out = Path(str(cfg.out))
    _prepare_out(out, bool(cfg.overwrite))
    cap, layout, link = int(cfg.max_half_size), str(cfg.to), bool(cfg.link)
    by_split = {split: reader.read(split) for split in _splits(reader, cfg.split)}
    seen: dict[str, int] = {}
    for records in by_split.values():
        for record in records:
            seen[_image_name(record)] = seen.get(_image_name(record), 0) + 1
    for split, records in by_split.items():
        names = []
        gt_lines = []
        for record in records:
            # ids repeat across splits in some datasets (ShanghaiTech's IMG_1 is in train and test): prefix those
            name = _image_name(record) if seen[_image_name(record)] == 1 else f"{split}_{_image_name(record)}"
            suffix = record.image_path.suffix.lower() if record.image_path else ".jpg"
            _place_image(record, out / "images" / f"{name}{suffix}", link)
            boxes = record.boxes
            if boxes is None and record.annotated:
                boxes = points_to_boxes(record.points, record.height, record.width)
            names.append(name)
            if layout == "custom":
                if record.annotated:
                    ann = {"points": record.points.round(3).tolist()}
                    if boxes is not None:
                        ann["boxes"] = np.asarray(boxes).round(3).tolist()
                    (out / "annotations").mkdir(exist_ok=True)
                    (out / "annotations" / f"{name}.json").write_text(json.dumps(ann))
                continue
            if not record.annotated:
                continue
            assert boxes is not None
            ann = {
                "img_id": f"{name}{suffix}",
                "human_num": record.count,
                "points": record.points.round(3).tolist(),
                "boxes": np.asarray(boxes).round(3).tolist(),
            }
            (out / "jsons").mkdir(exist_ok=True)
            (out / "jsons" / f"{name}.json").write_text(json.dumps(ann))
            mask = boxes_to_instance_map(boxes, record.height, record.width, max_half_size=cap, mode="original")
            mask_dir = out / f"mask_{2 * cap}_60"
            mask_dir.mkdir(exist_ok=True)
            cv2.imwrite(str(mask_dir / f"{name}.png"), mask.astype(np.uint8) * 255, [cv2.IMWRITE_PNG_BILEVEL, 1])
            gt_lines.append(format_gt_loc_line(name, boxes))
        (out / f"{split}.txt").write_text("".join(f"{n}\n" for n in names))
        if gt_lines:
            (out / f"{split}_gt_loc.txt").write_text("".join(f"{line}\n" for line in gt_lines))
        print(f"{split}: {len(records)} images written")
    print(f"wrote {layout} layout to {out}")
    return 0


def cmd_synth(cfg: DictConfig) -> int:
    """Write synthetic crowds in the custom format."""
    from iim.data.synthetic import write_synthetic_dataset

    splits = {"train": int(cfg.train), "val": int(cfg.val), "test": int(cfg.test)}
    out = Path(str(cfg.out))
    write_synthetic_dataset(out, splits, seed=int(cfg.seed or 0), overwrite=bool(cfg.overwrite),
                            height=int(cfg.height), width=int(cfg.width))  # fmt: skip
    print(f"wrote {sum(splits.values())} synthetic scenes ({splits}) to {out}")
    return 0


COMMANDS: dict[str, tuple[Callable[[DictConfig], int], tuple[str, ...]]] = {
    "check": (cmd_check, ("root", "format")),
    "convert": (cmd_convert, ("root", "format", "to", "out")),
    "synth": (cmd_synth, ("out",)),
}


def _one_of(cfg: DictConfig, key: str, allowed: Sequence[str]) -> None:
    if cfg.get(key) is not None and str(cfg[key]) not in allowed:
        raise UsageError(f"{key} must be one of {', '.join(allowed)}: got {cfg[key]!r}")


def run(cfg: DictConfig) -> int:
    """Run the command of a ``conf/data_tool.yaml`` config; returns the exit status.

    Raises:
        UsageError: No or an unknown command, a setting it needs is missing, a value outside its choices.
    """
    command = None if cfg.get("command") is None else str(cfg.command)
    if command not in COMMANDS:
        got = "none" if command is None else repr(command)
        raise UsageError(f"the first word is the command: {', '.join(COMMANDS)} (got {got})")
    func, needed = COMMANDS[command]
    require(cfg, f"{PROG} {command}", *needed)
    _one_of(cfg, "format", sorted(READERS))
    _one_of(cfg, "to", ("custom", "iim"))
    _one_of(cfg, "out_of_bounds", ("clip", "drop"))
    try:
        return int(func(cfg))
    except (DatasetError, FileExistsError, FileNotFoundError, ValueError) as err:
        print(f"{PROG} {command}: error: {err}", file=sys.stderr)
        return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``iim-data``: ``COMMAND [ROOT] [OUT]`` then ``key=value`` overrides of ``conf/data_tool.yaml``.

    Args:
        argv: The arguments (without the program name); ``None`` reads ``sys.argv``.

    Returns:
        The exit status: 0 on success, 1 when check finds problems that stop reading, 2 on bad input or a usage error.
    """
    args = sys.argv[1:] if argv is None else [str(a) for a in argv]
    first = args[0] if args and not args[0].startswith("-") and "=" not in args[0] else None
    if first is not None and first not in POSITIONAL:
        print(f"{PROG}: error: unknown command {first!r}: the first word is one of {', '.join(POSITIONAL)}",
              file=sys.stderr)  # fmt: skip
        return 2
    return run_app(PROG, "data_tool", run, args, keys=("command", *POSITIONAL.get(first or "", ())))


if __name__ == "__main__":
    sys.exit(main())
