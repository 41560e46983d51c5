"""One table over the runs of a sweep (or over a single run): what each job changed and what it reached.

- ``iim-train`` writes ``<run folder>/summary.json`` at the end of every run, also a failed one (:func:`write_summary`):
  the metrics (``val/f1``, ``val/precision``, ``val/recall``, ``val/mae``, ``train/threshold_mean``, ...), the best and
  last checkpoints, the wall time, the start and end timestamps and the job's overrides.
- :class:`SweepTableCallback` (registered in ``conf/hydra/default.yaml`` under ``hydra.callbacks``) prints the table at
  the end of every multirun and writes it as ``<sweep dir>/sweep_table.csv`` and ``sweep_table.md`` (``-v2``, ``-v3``
  ... when those exist: nothing is overwritten).
- ``python scripts/ablation_table.py <folder>`` (:func:`main`) prints the same table for any run or sweep folder.

A run folder is one with a ``summary.json``, a CSV log (``csv/**/metrics.csv``: runs from before ``summary.json``,
whose figures are read from that log) or a ``.hydra`` folder of ``iim-train``. The table's columns: the job, the
overrides that differ between the jobs, val F1 / precision / recall and MAE, the mean threshold at the end of training,
the wall time, the best checkpoint and the job's status; a job without figures gets ``-`` and its status. Runs with an
``iim-eval`` evaluation next to them (``<row>/train`` and ``<row>/eval/metrics.json``, the layout of
``scripts/shhb_ablation.sh``) also get the evaluation's columns (sigma_l, 4 px and 8 px; MAE, RMSE, NAE).

This module is the CLI layer: it reads files and needs neither torch nor Lightning.
"""

from __future__ import annotations

import argparse
import atexit
import csv
import io
import json
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

__all__ = [
    "SUMMARY_NAME",
    "TABLE_STEM",
    "RunClock",
    "RunRecord",
    "SweepTableCallback",
    "Table",
    "build_table",
    "collect_runs",
    "find_run_folders",
    "format_seconds",
    "main",
    "read_run",
    "render_console",
    "render_csv",
    "render_markdown",
    "write_summary",
    "write_table",
]

log = logging.getLogger(__name__)

SUMMARY_NAME = "summary.json"
TABLE_STEM = "sweep_table"
MISSING = "-"
_SKIP_DIRS = {"checkpoints", "csv", "tensorboard", "wandb", "splits", "__pycache__"}


# ------------------------------------------------------------------------------------------------- summary.json
class RunClock:
    """The start of a run: wall-clock timestamp and a monotonic clock for its duration."""

    def __init__(self) -> None:
        self.started = datetime.now().astimezone()
        self._t0 = time.perf_counter()

    def seconds(self) -> float:
        """Seconds since the clock was made."""
        return time.perf_counter() - self._t0


def _json_number(value: Any) -> float | None:
    """A float for JSON: NaN and infinities become ``null`` (strict JSON has no such numbers)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _hydra_job() -> tuple[list[str], int | None]:
    """The running Hydra job's overrides and, in a multirun, its number (``[], None`` outside Hydra)."""
    try:
        from hydra.core.hydra_config import HydraConfig

        if not HydraConfig.initialized():
            return [], None
        hydra_cfg = HydraConfig.get()
        overrides = [str(o) for o in hydra_cfg.overrides.task]
        multirun = str(hydra_cfg.mode).endswith("MULTIRUN")
        return overrides, int(hydra_cfg.job.num) if multirun else None
    except Exception:  # pragma: no cover - Hydra internals; the summary is written without them
        return [], None


def write_summary(
    output_dir: str | Path | None,
    clock: RunClock,
    result: Mapping[str, Any] | None = None,
    error: BaseException | None = None,
) -> Path | None:
    """Write ``<output_dir>/summary.json`` for a finished (``result``) or failed (``error``) run.

    Args:
        output_dir: The run folder (``None``: nothing is written).
        clock: Made when the run started (start timestamp, wall time).
        result: What :func:`iim.cli.train.train` returned; ``None`` for a failed run.
        error: The exception that ended the run, if any (its innermost cause is recorded).

    Returns:
        The file written, or ``None`` when it could not be written (a warning says why; the run is never failed for
        want of its summary).
    """
    if output_dir is None:
        return None
    try:
        from iim.cli._common import root_cause

        overrides, job_num = _hydra_job()
        result = result or {}
        if error is None:
            status, message = "completed", None
        else:
            cause = root_cause(error)
            status = "interrupted" if isinstance(cause, KeyboardInterrupt) else "failed"
            message = f"{type(cause).__name__}: {cause}"
        summary = {
            "status": status,
            "error": message,
            "metrics": {str(k): _json_number(v) for k, v in dict(result.get("metrics", {})).items()},
            "best_checkpoint": result.get("best_checkpoint") or None,
            "last_checkpoint": result.get("last_checkpoint") or None,
            "wall_seconds": round(clock.seconds(), 3),
            "started": clock.started.isoformat(timespec="seconds"),
            "ended": datetime.now().astimezone().isoformat(timespec="seconds"),
            "overrides": overrides,
            "job_num": job_num,
            "output_dir": str(Path(output_dir).resolve()),
        }
        path = Path(output_dir) / SUMMARY_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{SUMMARY_NAME}.tmp")
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
        tmp.replace(path)
        return path
    except Exception as err:
        log.warning("summary.json not written to %s: %s", output_dir, err)
        return None


# ------------------------------------------------------------------------------------------------- reading runs
@dataclass
class RunRecord:
    """What one run folder says about its run.

    Attributes:
        folder: The run folder.
        label: What the table calls it: the job number in a multirun, else the folder relative to the table's root.
        status: ``completed``, ``failed``, ``interrupted`` (from ``summary.json``), ``csv log`` (an old run: figures
            from its CSV log), or ``no summary`` (nothing to read: still running, killed, or failed before training).
        job_num: The job's number in its multirun, if it was one.
        overrides: The job's command-line overrides (``.hydra/overrides.yaml``).
        metrics: Name -> value (the summary's, completed by the CSV log's last values).
        evaluation: The metrics of an ``iim-eval`` run next to this one (``metrics`` and ``metrics_fixed`` merged).
        best_checkpoint: Path, or ``""``.
        last_checkpoint: Path, or ``""``.
        wall_seconds: The training time; ``None`` when unknown.
        attempts: How many attempts ``wall_seconds`` adds up (``attempt-*.seconds`` of ``scripts/shhb_ablation.sh``).
        error: The error of a failed run.
    """

    folder: Path
    label: str
    status: str
    job_num: int | None = None
    overrides: list[str] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    evaluation: dict[str, float] = field(default_factory=dict)
    best_checkpoint: str = ""
    last_checkpoint: str = ""
    wall_seconds: float | None = None
    attempts: int = 1
    error: str = ""


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _hydra_yaml(folder: Path) -> DictConfig | None:
    path = folder / ".hydra" / "hydra.yaml"
    if not path.is_file():
        return None
    try:
        cfg = OmegaConf.load(path)
    except Exception:
        return None
    return cfg if isinstance(cfg, DictConfig) else None


def _is_run_folder(folder: Path) -> bool:
    """``iim-train``'s run folders (not ``iim-eval``'s or other commands' that also have a ``.hydra``)."""
    if (folder / SUMMARY_NAME).is_file():
        return True
    if (folder / "csv").is_dir() and any((folder / "csv").glob("**/metrics.csv")):
        return True
    hydra_cfg = _hydra_yaml(folder)
    if hydra_cfg is None:
        return False
    return OmegaConf.select(hydra_cfg, "hydra.job.name", default=None, throw_on_missing=False) == "train"


def find_run_folders(root: str | Path) -> list[Path]:
    """``root`` itself when it is a run folder, else every run folder under it (job folders nested in the sweep
    folder, as ``hydra.sweep.subdir`` may make them, are found too)."""
    root = Path(root)
    if _is_run_folder(root):
        return [root]
    found = []
    for dirpath, dirnames, _ in os.walk(root):
        here = Path(dirpath)
        if here != root and _is_run_folder(here):
            found.append(here)
            dirnames.clear()
            continue
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in _SKIP_DIRS)
    return found


def _csv_log(folder: Path) -> dict[str, float]:
    """The last logged value of every column of the run's CSV logs (Lightning's ``csv/**/metrics.csv``)."""
    values: dict[str, float] = {}
    for metrics_csv in sorted((folder / "csv").glob("**/metrics.csv")):
        try:
            with metrics_csv.open(newline="") as f:
                for record in csv.DictReader(f):
                    for key, value in record.items():
                        if key in (None, "epoch", "step") or value in (None, ""):
                            continue
                        try:
                            values[key] = float(value)
                        except ValueError:
                            continue
        except OSError:
            continue
    return values


def _wall_from_files(folder: Path) -> tuple[float | None, int]:
    """``scripts/shhb_ablation.sh``'s training time: the sum of ``attempt-*.seconds`` (time stopped not counted), or
    for runs from before those files ``wall_seconds.txt`` less ``paused_seconds.txt``."""

    def number(path: Path) -> float:
        try:
            return float(path.read_text().strip() or 0)
        except (OSError, ValueError):
            return 0.0

    attempts = sorted(folder.glob("attempt-*.seconds"))
    if attempts:
        return sum(number(a) for a in attempts), len(attempts)
    wall, paused = folder / "wall_seconds.txt", folder / "paused_seconds.txt"
    if wall.is_file():
        return number(wall) - (number(paused) if paused.is_file() else 0.0), 1
    return None, 1


def _newest(folder: Path, pattern: str) -> str:
    files = sorted((folder / "checkpoints").glob(pattern), key=lambda p: p.stat().st_mtime)
    return str(files[-1]) if files else ""


def _evaluation(folder: Path) -> dict[str, float]:
    """The metrics of the ``iim-eval`` run of ``scripts/shhb_ablation.sh``'s layout: ``<row>/eval/metrics.json``
    next to ``<row>/train`` (or ``<run>/eval/metrics.json`` inside the run)."""
    for candidate in (folder / "eval" / "metrics.json", folder.parent / "eval" / "metrics.json"):
        if candidate.parent == folder or not candidate.is_file():
            continue
        data = _read_json(candidate)
        if data is None:
            continue
        merged: dict[str, float] = {}
        # the fixed-radius part also has plain f1 / precision / recall / mae (those of its largest radius): the
        # NWPU part is read last, so its sigma_l figures are the ones under the plain names
        for part in ("metrics_fixed", "metrics"):
            for key, value in dict(data.get(part) or {}).items():
                number = _json_number(value)
                if number is not None:
                    merged[str(key)] = number
        return merged
    return {}


def _overrides(folder: Path, summary: Mapping[str, Any] | None) -> list[str]:
    if summary and isinstance(summary.get("overrides"), list) and summary["overrides"]:
        return [str(o) for o in summary["overrides"]]
    path = folder / ".hydra" / "overrides.yaml"
    if path.is_file():
        try:
            loaded = OmegaConf.to_container(OmegaConf.load(path))
        except Exception:
            return []
        if isinstance(loaded, list):
            return [str(o) for o in loaded]
    return []


def read_run(
    folder: str | Path, root: str | Path | None = None, job_status: Mapping[str, tuple[str, str]] | None = None
) -> RunRecord:
    """Read one run folder into a :class:`RunRecord` (never raises on missing or broken files).

    Args:
        folder: The run folder.
        root: The folder the table is for (labels are relative to it); ``folder`` itself by default.
        job_status: Run folder (resolved, as a string) -> ``(status, error)`` from Hydra's job returns, for jobs that
            wrote no ``summary.json``.
    """
    folder = Path(folder)
    root = Path(root) if root is not None else folder
    summary = _read_json(folder / SUMMARY_NAME)
    job_num = summary.get("job_num") if summary else None
    if not isinstance(job_num, int):
        hydra_cfg = _hydra_yaml(folder)
        job_num = None
        if hydra_cfg is not None and str(OmegaConf.select(hydra_cfg, "hydra.mode", default="")) == "MULTIRUN":
            num = OmegaConf.select(hydra_cfg, "hydra.job.num", default=None, throw_on_missing=False)
            job_num = int(num) if isinstance(num, int) else None
    here, top = folder.resolve(), root.resolve()
    relative = here.relative_to(top).as_posix() if here != top and here.is_relative_to(top) else here.name
    record = RunRecord(
        folder=folder,
        label=str(job_num) if job_num is not None else relative,
        status="no summary",
        job_num=job_num,
        overrides=_overrides(folder, summary),
    )
    logged = _csv_log(folder)
    record.metrics = {**logged, **{k: v for k, v in (summary or {}).get("metrics", {}).items() if v is not None}}
    record.evaluation = _evaluation(folder)
    wall, attempts = _wall_from_files(folder)
    if summary is not None:
        record.status = str(summary.get("status") or "completed")
        record.error = str(summary.get("error") or "")
        record.best_checkpoint = str(summary.get("best_checkpoint") or "")
        record.last_checkpoint = str(summary.get("last_checkpoint") or "")
        if wall is None:
            wall = _json_number(summary.get("wall_seconds"))
    elif logged:
        record.status = "csv log"
    if job_status and str(folder.resolve()) in job_status and summary is None:
        status, error = job_status[str(folder.resolve())]
        record.status, record.error = f"{status} (no summary)", error
    record.best_checkpoint = record.best_checkpoint or _newest(folder, "best*.ckpt")
    record.last_checkpoint = record.last_checkpoint or _newest(folder, "last*.ckpt")
    record.wall_seconds, record.attempts = wall, attempts
    return record


def collect_runs(root: str | Path, job_status: Mapping[str, tuple[str, str]] | None = None) -> list[RunRecord]:
    """Every run under ``root`` (or ``root`` itself), in job order (multirun number, then folder).

    Args:
        root: A run folder or a folder of runs (a sweep folder, ``logs/shhb_ablation``).
        job_status: See :func:`read_run`.
    """
    records = [read_run(folder, root, job_status) for folder in find_run_folders(root)]
    return sorted(records, key=lambda r: (r.job_num is None, r.job_num if r.job_num is not None else 0, r.label))


# ------------------------------------------------------------------------------------------------- the table
@dataclass
class Table:
    """A table in two forms: formatted cells (console, Markdown) and raw values (CSV).

    Attributes:
        title: One line above the table.
        caption: One line below it (the overrides every job shares, where the checkpoints are).
        headers: Column names of the formatted table.
        rows: Formatted cells, one list per run.
        csv_headers: Column names of the CSV (metric names as logged).
        csv_rows: Raw values (``-`` when missing), one list per run.
    """

    title: str
    caption: str
    headers: list[str]
    rows: list[list[str]]
    csv_headers: list[str]
    csv_rows: list[list[str]]


def _split_override(override: str) -> tuple[str, str]:
    key, _, value = override.partition("=")
    return key, value


def _differing(records: Sequence[RunRecord]) -> tuple[list[str], list[str]]:
    """The override keys whose value differs between the runs (in first-seen order), and the overrides all share."""
    per_run = [dict(_split_override(o) for o in r.overrides) for r in records]
    keys: list[str] = []
    for overrides in per_run:
        keys += [k for k in overrides if k not in keys]
    differ = [k for k in keys if len({o.get(k) for o in per_run}) > 1]
    common = [f"{k}={per_run[0][k]}" for k in keys if k not in differ and per_run]
    return differ, common


def _num(value: float | None, digits: int) -> str:
    return MISSING if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _raw(value: float | None) -> str:
    return MISSING if value is None else repr(float(value))


def _triple(m: Mapping[str, float], keys: Sequence[str]) -> str:
    if not any(k in m for k in keys):
        return MISSING
    return " / ".join(_num(m.get(k), 3) for k in keys)


def format_seconds(seconds: float | None) -> str:
    """``12.3 s``, ``4.5 min``, ``42 min``, ``1 h 05 min``; ``-`` when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return MISSING
    if seconds < 100:
        return f"{seconds:.1f} s"
    minutes = seconds / 60
    if minutes < 10:
        return f"{minutes:.1f} min"
    if minutes < 100:
        return f"{minutes:.0f} min"
    hours, rest = divmod(round(minutes), 60)
    return f"{hours} h {rest:02d} min"


def _short_path(path: str, folder: Path) -> str:
    if not path:
        return MISSING
    try:
        return Path(path).resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        return path


def _status(record: RunRecord, limit: int | None = 60) -> str:
    text = f"{record.status}: {record.error}" if record.error else record.status
    text = " ".join(text.split())
    return text if limit is None or len(text) <= limit else text[: limit - 3] + "..."


_VAL = ("val/f1", "val/precision", "val/recall")
_EVAL_TRIPLES = (
    ("eval F1 / P / R (sigma_l)", ("f1", "precision", "recall")),
    ("eval F1 / P / R (4 px)", ("f1_r4", "precision_r4", "recall_r4")),
    ("eval F1 / P / R (8 px)", ("f1_r8", "precision_r8", "recall_r8")),
)
_EVAL_COUNTS = (("eval MAE", "mae", 1), ("eval RMSE", "mse", 1), ("eval NAE", "nae", 3))
_THRESHOLD = "train/threshold_mean"


def build_table(records: Sequence[RunRecord], root: str | Path, title: str | None = None) -> Table:
    """The table of ``records`` (see :func:`collect_runs`).

    Args:
        records: The runs, in table order.
        root: The folder the table is for (named in the title).
        title: Replaces the default title (``<n> runs in <root>``).
    """
    root = Path(root)
    differ, common = _differing(records) if len(records) > 1 else ([], [])
    with_eval = any(r.evaluation for r in records)
    headers = ["job", *differ, "val F1 / P / R", "val MAE", "threshold (end)", "wall", "best checkpoint", "status"]
    csv_headers = ["job", "folder", *differ, *_VAL, "val/mae", _THRESHOLD, "wall_seconds", "attempts"]
    csv_headers += ["best_checkpoint", "last_checkpoint", "status", "error"]
    if with_eval:
        headers[-3:-3] = [name for name, _ in _EVAL_TRIPLES] + [name for name, _, _ in _EVAL_COUNTS]
        eval_keys = [k for _, keys in _EVAL_TRIPLES for k in keys] + [k for _, k, _ in _EVAL_COUNTS]
        csv_headers[-4:-4] = [f"eval/{k}" for k in eval_keys]
    rows, csv_rows = [], []
    for r in records:
        values = [dict(_split_override(o) for o in r.overrides).get(k, MISSING) for k in differ]
        wall = format_seconds(r.wall_seconds)
        if r.attempts > 1 and r.wall_seconds is not None:
            wall += f" ({r.attempts} attempts)"
        row = [r.label, *values, _triple(r.metrics, _VAL), _num(r.metrics.get("val/mae"), 2)]
        row += [_num(r.metrics.get(_THRESHOLD), 3), wall, _short_path(r.best_checkpoint, r.folder), _status(r)]
        raw = [r.label, str(r.folder.resolve()), *values, *(_raw(r.metrics.get(k)) for k in _VAL)]
        raw += [_raw(r.metrics.get("val/mae")), _raw(r.metrics.get(_THRESHOLD))]
        raw += [_raw(r.wall_seconds), str(r.attempts) if r.wall_seconds is not None else MISSING]
        raw += [r.best_checkpoint or MISSING, r.last_checkpoint or MISSING, r.status, r.error or MISSING]
        if with_eval:
            e = r.evaluation
            row[-3:-3] = [_triple(e, keys) for _, keys in _EVAL_TRIPLES]
            row[-3:-3] = [_num(e.get(k), digits) for _, k, digits in _EVAL_COUNTS]
            raw[-4:-4] = [_raw(e.get(k)) for k in eval_keys]
        rows.append(row)
        csv_rows.append(raw)
    n = len(records)
    caption = ("shared overrides: " + " ".join(common)) if common else ""
    if n == 1 and records[0].overrides:
        caption = "overrides: " + " ".join(records[0].overrides)
    caption += ("; " if caption else "") + "checkpoints relative to each job's folder (full paths in the CSV)"
    return Table(
        title=title or f"{n} run{'s' if n != 1 else ''} in {root}",
        caption=caption,
        headers=headers,
        rows=rows,
        csv_headers=csv_headers,
        csv_rows=csv_rows,
    )


def render_csv(table: Table) -> str:
    """The table's raw values as CSV (a header line, one line per run)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.csv_headers)
    writer.writerows(table.csv_rows)
    return out.getvalue()


def render_markdown(table: Table) -> str:
    """The formatted table as Markdown (a GitHub table between its title and caption lines)."""

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"

    lines = [f"**{table.title}**", "", line(table.headers), "|" + "---|" * len(table.headers)]
    lines += [line(row) for row in table.rows]
    if table.caption:
        lines += ["", table.caption]
    return "\n".join(lines) + "\n"


def render_console(table: Table, file: Any = None) -> None:
    """Print the formatted table (rich; wide enough not to fold when the output is not a terminal).

    Args:
        table: From :func:`build_table`.
        file: Where to print (``sys.stdout`` by default).
    """
    from rich.console import Console
    from rich.table import Table as RichTable

    console = Console(file=file or sys.stdout)
    rich_table = RichTable(title=table.title, caption=table.caption, title_justify="left", caption_justify="left")
    numeric = {"val F1 / P / R", "val MAE", "threshold (end)", "wall"} | {n for n, _ in _EVAL_TRIPLES}
    numeric |= {n for n, _, _ in _EVAL_COUNTS}
    for header in table.headers:
        rich_table.add_column(header, justify="right" if header in numeric else "left", overflow="fold")
    for row in table.rows:
        rich_table.add_row(*row)
    if not console.is_terminal:  # a log or a pipe: as wide as the table needs (no folded cells)
        console.width = 100_000
        console.width = max(80, console.measure(rich_table).maximum)
    console.print(rich_table)


def write_table(table: Table, folder: str | Path, stem: str = TABLE_STEM) -> list[Path]:
    """Write ``<folder>/<stem>.csv`` and ``<stem>.md``; when either exists, ``<stem>-v2.*`` (``-v3`` ...) instead:
    an existing file is never replaced.

    Returns:
        The two files written.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    contents = {".csv": render_csv(table), ".md": render_markdown(table)}
    for version in range(1, 1000):
        name = stem if version == 1 else f"{stem}-v{version}"
        paths = [folder / f"{name}{suffix}" for suffix in contents]
        if any(p.exists() for p in paths):
            continue
        written: list[Path] = []
        try:
            for path, text in zip(paths, contents.values()):
                with path.open("x") as f:  # "x": fails rather than replaces, should another process get there first
                    f.write(text)
                written.append(path)
        except FileExistsError:
            for path in written:
                path.unlink(missing_ok=True)
            continue
        return paths
    raise FileExistsError(f"{folder}: {stem}.csv and {stem}-v2 ... -v999 all exist; remove some")


# ------------------------------------------------------------------------------------------------- Hydra callback
class SweepTableCallback(Callback):
    """At the end of a multirun, print one table over its jobs and save it into the sweep folder.

    Hydra's basic sweeper raises after the last job when one of them failed, before ``on_multirun_end``; the table is
    then printed when the process exits, with the failed jobs' rows. The callback never fails the sweep: an error while
    making the table is logged as a warning.

    Args:
        write: Also write ``<sweep dir>/sweep_table.csv`` and ``sweep_table.md`` (``-v2`` ... when they exist).
    """

    def __init__(self, write: bool = True) -> None:
        self.write = write
        self._sweep_dir: Path | None = None
        self._jobs: dict[str, tuple[str, str]] = {}
        self._done = False

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Remember the sweep folder; arrange for the table to be printed even if the sweep stops on a failed job."""
        try:
            self._sweep_dir = Path(str(config.hydra.sweep.dir))
        except Exception as err:
            log.warning("sweep table: no sweep folder (%s)", err)
            return
        self._done = False
        atexit.register(self._at_exit)

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        """Remember how each job ended (a job that failed before it could write its ``summary.json`` still gets a
        row with its status)."""
        try:
            status = getattr(getattr(job_return, "status", None), "name", "unknown").lower()
            value = getattr(job_return, "_return_value", None)
            error = f"{type(value).__name__}: {value}" if isinstance(value, BaseException) else ""
            self._jobs[str(Path(str(config.hydra.runtime.output_dir)).resolve())] = (status, error)
        except Exception:  # pragma: no cover - the status is a nicety
            pass

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """Print the table and write it into the sweep folder."""
        atexit.unregister(self._at_exit)
        self._report()

    def _at_exit(self) -> None:
        if not self._done:
            self._report(title_suffix=" (the sweep stopped early: a job failed)")

    def _report(self, title_suffix: str = "") -> None:
        self._done = True
        if self._sweep_dir is None:
            return
        try:
            records = collect_runs(self._sweep_dir, self._jobs)
            if not records:
                log.info("sweep table: no iim-train job folders under %s", self._sweep_dir)  # e.g. an iim-eval sweep
                return
            n = len(records)
            title = f"sweep of {n} job{'s' if n != 1 else ''}: {self._sweep_dir}{title_suffix}"
            table = build_table(records, self._sweep_dir, title)
            render_console(table)
            if self.write:
                paths = write_table(table, self._sweep_dir)
                print(f"sweep table written to {paths[0]} and {paths[1].name}")
        except Exception as err:
            log.warning("sweep table not made for %s: %s", self._sweep_dir, err)


# ------------------------------------------------------------------------------------------------- command line
def main(argv: Sequence[str] | None = None, default_folder: str | None = None) -> int:
    """``python scripts/ablation_table.py [FOLDER] [--markdown | --csv] [--write]``: the table of a run or sweep folder.

    Args:
        argv: Command-line arguments (``sys.argv[1:]`` by default).
        default_folder: The folder when none is given (none: the folder is required).

    Returns:
        The exit status: 0, 1 when the folder holds no runs, 2 when it does not exist.
    """
    parser = argparse.ArgumentParser(
        prog="ablation_table.py",
        description="The table of the runs in a sweep folder (or one run folder): the differing overrides, val F1 / "
        "P / R, MAE, the mean threshold at the end, wall time, best checkpoint, status; plus the evaluation's "
        "columns when the runs have one (scripts/shhb_ablation.sh).",
    )
    parser.add_argument("folder", nargs="?" if default_folder else None, default=default_folder, type=Path)
    form = parser.add_mutually_exclusive_group()
    form.add_argument("--markdown", action="store_true", help="print the Markdown table instead of the console one")
    form.add_argument("--csv", action="store_true", help="print the CSV instead of the console table")
    parser.add_argument(
        "--write", action="store_true", help="also write sweep_table.csv and .md into FOLDER (-v2 ... if they exist)"
    )
    args = parser.parse_args(argv)
    folder: Path = args.folder
    if not folder.is_dir():
        print(f"ablation_table.py: error: {folder} is not a folder", file=sys.stderr)
        return 2
    records = collect_runs(folder)
    if not records:
        print(f"ablation_table.py: no runs under {folder}", file=sys.stderr)
        return 1
    table = build_table(records, folder)
    render: Callable[[Table], str] | None = render_markdown if args.markdown else render_csv if args.csv else None
    if render is None:
        render_console(table)
    else:
        sys.stdout.write(render(table))
    if args.write:
        paths = write_table(table, folder)
        print(f"table written to {paths[0]} and {paths[1].name}", file=sys.stderr)
    return 0
