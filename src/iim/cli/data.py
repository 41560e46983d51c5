"""``iim-data``: check a dataset, convert it to iim's custom format or the original IIM layout, write synthetic data.

iim-data check ROOT --format shanghaitech
iim-data convert ROOT --format qnrf --to iim OUT [--max-half-size 15]
iim-data convert ROOT --format jhu --to custom OUT
iim-data synth OUT --train 80 --val 20 --test 20
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from iim.data.readers import READERS, get_reader
from iim.data.records import CrowdRecord, DatasetError, Problem
from iim.targets import boxes_to_instance_map, format_gt_loc_line, points_to_boxes

__all__ = ["main"]


def _reader_kwargs(args: argparse.Namespace) -> dict:
    kwargs: dict = {"out_of_bounds": args.out_of_bounds}
    if args.val_fraction is not None:
        kwargs["val_fraction"] = args.val_fraction
    if args.seed is not None:
        kwargs["seed"] = args.seed
    return kwargs


def _splits(reader: object, requested: Sequence[str] | None) -> list[str]:
    available = [s for s in reader.splits() if s != "trainval"]  # type: ignore[attr-defined]
    return list(requested) if requested else available


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


def cmd_check(args: argparse.Namespace) -> int:
    """Validate every split and list every problem found."""
    reader = get_reader(args.format, args.root, **_reader_kwargs(args))
    print(f"{reader.name} dataset at {reader.root}")
    print(f"{'split':<8}{'images':>8}{'heads':>10}{'min':>8}{'mean':>9}{'max':>8}{'empty':>8}   sizes (WxH)")
    all_problems: list[tuple[str, Problem]] = []
    for split in _splits(reader, args.split):
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
        raise FileExistsError(f"{out} exists and is not empty; choose another folder or pass --overwrite")
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


def cmd_convert(args: argparse.Namespace) -> int:
    """Write the dataset in iim's custom format or the original IIM layout."""
    reader = get_reader(args.format, args.root, **_reader_kwargs(args))
    out = Path(args.out)
    _prepare_out(out, args.overwrite)
    cap = args.max_half_size
    by_split = {split: reader.read(split) for split in _splits(reader, args.split)}
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
            _place_image(record, out / "images" / f"{name}{suffix}", args.link)
            boxes = record.boxes
            if boxes is None and record.annotated:
                boxes = points_to_boxes(record.points, record.height, record.width)
            names.append(name)
            if args.to == "custom":
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
    print(f"wrote {args.to} layout to {out}")
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    """Write synthetic crowds in the custom format."""
    from iim.data.synthetic import write_synthetic_dataset

    splits = {"train": args.train, "val": args.val, "test": args.test}
    write_synthetic_dataset(
        args.out, splits, seed=args.seed or 0, overwrite=args.overwrite, height=args.height, width=args.width
    )
    print(f"wrote {sum(splits.values())} synthetic scenes ({splits}) to {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``iim-data`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="iim-data", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    formats = sorted(READERS)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("root", help="the dataset's root folder")
        p.add_argument("--format", "-f", required=True, choices=formats, help="on-disk format")
        p.add_argument("--split", nargs="+", help="splits to use (default: all)")
        p.add_argument("--val-fraction", type=float, help="held-out fraction for datasets without a val split")
        p.add_argument("--seed", type=int, help="seed of that split")
        p.add_argument("--out-of-bounds", choices=["clip", "drop"], default="clip", help="points outside the image")

    check = sub.add_parser("check", help="validate a dataset and print a summary and every problem")
    common(check)
    check.set_defaults(func=cmd_check)
    convert = sub.add_parser("convert", help="write the custom format or the original IIM layout")
    common(convert)
    convert.add_argument("--to", choices=["custom", "iim"], required=True, help="output layout")
    convert.add_argument("out", help="output folder (must be empty unless --overwrite)")
    convert.add_argument("--max-half-size", type=int, default=25, help="mask half-size cap (25 NWPU/SH, 15 QNRF/JHU)")
    convert.add_argument("--link", action="store_true", help="symlink images instead of copying them")
    convert.add_argument("--overwrite", action="store_true", help="write into a non-empty folder")
    convert.set_defaults(func=cmd_convert)
    synth = sub.add_parser("synth", help="write synthetic crowds in the custom format")
    synth.add_argument("out")
    synth.add_argument("--train", type=int, default=80)
    synth.add_argument("--val", type=int, default=20)
    synth.add_argument("--test", type=int, default=20)
    synth.add_argument("--height", type=int, default=384)
    synth.add_argument("--width", type=int, default=512)
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--overwrite", action="store_true")
    synth.set_defaults(func=cmd_synth)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``iim-data``."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (DatasetError, FileExistsError, FileNotFoundError, ValueError) as err:
        print(f"iim-data {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
