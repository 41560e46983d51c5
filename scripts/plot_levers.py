"""The README's accuracy figure: val F1 (sigma_l) against training minutes for the rows of ``scripts/shhb_ablation.sh``.

python scripts/plot_levers.py [FOLDER] [--out PNG]       # default docs/results/shhb, docs/figures/levers.png

- the budget curve: PBM trained 8, 16 and 32 epochs (rows ``pbm``, ``pbm_16ep``, ``pbm_32ep``), as a line;
- each lever (one change against ``pbm``) as a point, labelled; evaluation-only levers sit at ``pbm``'s minutes;
- rows run with several seeds (``row@N``) as their mean with the spread (min to max) as error bars;
- where a row has ``eval/sweep.csv`` (``iim-eval``'s threshold-offset / split-distance sweep on the same maps), its
  best cell as a hollow marker above the point, joined by a dotted line: tuned on the validation images it is scored
  on, so optimistic;
- the issue's target (F1 0.70 within 60 minutes) as a shaded corner.

Each row's F1 / P / R and MAE come from its ``eval/metrics.json`` (``iim-eval`` on the 40 validation images), its
minutes from ``train/attempt-*.seconds`` (training plus validation wall time, pauses left out). The same numbers are
printed as a Markdown table (for the README). Needs matplotlib (the dev extra).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

from iim.cli.sweep_table import collect_runs

BUDGET_ROWS = {"pbm": 8, "pbm_16ep": 16, "pbm_32ep": 32}
TARGET_F1, TARGET_MINUTES = 0.70, 60.0


@dataclass
class Row:
    """One row of the figure: a run, or the seeds of one row pooled (``values`` holds one entry per seed)."""

    name: str
    f1: list[float]
    precision: list[float]
    recall: list[float]
    mae: list[float]
    minutes: list[float]
    tuned: list[dict[str, float]] = field(default_factory=list)  # each seed's best sweep cell (when swept)

    @staticmethod
    def _mean_spread(values: list[float], digits: int) -> str:
        if len(values) == 1:
            return f"{values[0]:.{digits}f}"
        return f"{statistics.fmean(values):.{digits}f} ± {(max(values) - min(values)) / 2:.{digits}f}"

    def cells(self) -> list[str]:
        triple = " / ".join(self._mean_spread(v, 3) for v in (self.f1, self.precision, self.recall))
        seeds = f" ({len(self.f1)} seeds)" if len(self.f1) > 1 else ""
        tuned = "-"
        if self.tuned:
            best = max(self.tuned, key=lambda c: c["f1"])
            distance = int(best["split_min_distance"])
            area = f", min area {int(best['min_area'])}" if best.get("min_area", 3) != 3 else ""
            tuned = (f"{self._mean_spread([c['f1'] for c in self.tuned], 3)} (offset {best['threshold_offset']:+.2f}, "
                     f"{f'split {distance}' if distance else 'no split'}{area}; MAE {best['mae']:.1f})")  # fmt: skip
        return [self.name + seeds, triple, self._mean_spread(self.mae, 1), self._mean_spread(self.minutes, 0), tuned]


SWEEP_COLUMNS = {"threshold_offset", "split_min_distance", "min_area", "f1", "mae"}  # min_area: since its sweep axis


def best_sweep_cell(path: Path) -> dict[str, float] | None:
    """The highest-F1 row of an ``iim-eval`` ``sweep.csv`` (offset, split distance, min area, f1, mae), None without
    one."""
    if not path.is_file():
        return None
    with path.open(newline="") as fh:
        cells = [{k: float(v) for k, v in row.items() if k in SWEEP_COLUMNS}
                 for row in csv.DictReader(fh)]  # fmt: skip
    return max(cells, key=lambda c: c["f1"]) if cells else None


def read_rows(folder: Path) -> list[Row]:
    """The evaluated rows under ``folder``, seeds of one row pooled, in the script's folder order."""
    pooled: dict[str, Row] = {}
    for record in collect_runs(folder):
        ev = record.evaluation
        if not {"f1", "precision", "recall", "mae"} <= set(ev) or record.wall_seconds is None:
            continue  # not evaluated yet, or no time on record
        name = record.folder.parent.name.split("@")[0]
        row = pooled.setdefault(name, Row(name, [], [], [], [], []))
        row.f1.append(ev["f1"])
        row.precision.append(ev["precision"])
        row.recall.append(ev["recall"])
        row.mae.append(ev["mae"])
        row.minutes.append(record.wall_seconds / 60)
        tuned = best_sweep_cell(record.folder.parent / "eval" / "sweep.csv")
        if tuned is not None:
            row.tuned.append(tuned)
    return list(pooled.values())


def markdown(rows: list[Row]) -> str:
    lines = ["| row | F1 / P / R (sigma_l) | MAE | train minutes | best F1 of the post-processing sweep |"]
    lines.append("|---|---|---|---|---|")
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def plot(rows: list[Row], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    ax.fill_between(
        [0, TARGET_MINUTES], TARGET_F1, 1.0, color="tab:green", alpha=0.08, label="target (F1 >= 0.70 in <= 60 min)"
    )
    budget = sorted((r for r in rows if r.name in BUDGET_ROWS), key=lambda r: BUDGET_ROWS[r.name])
    if budget:
        ax.plot([statistics.fmean(r.minutes) for r in budget], [statistics.fmean(r.f1) for r in budget], "o-",
                color="tab:gray", label="PBM, 8 / 16 / 32 epochs")  # fmt: skip
        for r in budget:
            ax.annotate(f"{BUDGET_ROWS[r.name]} ep", (statistics.fmean(r.minutes), statistics.fmean(r.f1)),
                        textcoords="offset points", xytext=(4, -12), fontsize=8, color="tab:gray")  # fmt: skip
    for r in rows:
        x, y = statistics.fmean(r.minutes), statistics.fmean(r.f1)
        if r.tuned:
            best = statistics.fmean(c["f1"] for c in r.tuned)
            ax.plot([x, x], [y, best], ":", color="tab:gray", linewidth=0.8)
            ax.plot(x, best, "o", markerfacecolor="none", markeredgecolor="tab:gray")
        if r.name in BUDGET_ROWS:
            continue
        if len(r.f1) > 1:
            yerr = [[y - min(r.f1)], [max(r.f1) - y]]
            xerr = [[x - min(r.minutes)], [max(r.minutes) - x]]
            ax.errorbar(x, y, yerr=yerr, xerr=xerr, fmt="s", capsize=3)
        else:
            ax.plot(x, y, "o")
        ax.annotate(r.name, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    if any(r.tuned for r in rows):
        ax.plot(
            [], [], "o", markerfacecolor="none", markeredgecolor="tab:gray", label="best post-processing (tuned on val)"
        )
    ax.set_xlabel("training minutes (2 CPU cores, training + validation)")
    ax.set_ylabel("val F1 (sigma_l, 40 images)")
    ax.set_title("ShanghaiTech Part B: accuracy levers against training time")
    top = max([TARGET_F1 + 0.05] + [max(r.f1 + [c["f1"] for c in r.tuned]) + 0.05 for r in rows])
    ax.set_ylim(min([0.4] + [min(r.f1) - 0.05 for r in rows]), min(1.0, top))
    ax.set_xlim(0, max([TARGET_MINUTES * 1.1] + [max(r.minutes) * 1.1 for r in rows]))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "folder",
        nargs="?",
        default="docs/results/shhb",
        help="runs of scripts/shhb_ablation.sh (or their KEEP= records)",
    )
    parser.add_argument("--out", default="docs/figures/levers.png", help="where the PNG goes")
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    if not folder.is_dir():
        parser.error(f"FOLDER: {folder} is not a folder (runs of scripts/shhb_ablation.sh expected)")
    rows = read_rows(folder)
    if not rows:
        parser.error(f"FOLDER: no evaluated rows under {folder} (each needs <row>/eval/metrics.json and its minutes)")
    plot(rows, Path(args.out))
    print(markdown(rows))
    print(f"# figure: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
