"""iim.cli.sweep_table: every ``iim-train`` run writes ``summary.json``; a multirun ends with one table over its jobs
(console, ``<sweep dir>/sweep_table.csv`` and ``.md``); the same table for any run or sweep folder."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from iim.cli.sweep_table import (
    SUMMARY_NAME,
    RunClock,
    SweepTableCallback,
    build_table,
    collect_runs,
    format_seconds,
    render_csv,
    render_markdown,
    write_summary,
    write_table,
)

FAST_SWEEP = [
    "+experiment=smoke",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "callbacks=none",
    "hydra/job_logging=none",  # in-process: leave pytest's logging alone
    "hydra/hydra_logging=none",
]


def _multirun(monkeypatch: pytest.MonkeyPatch, *overrides: str) -> None:
    """``iim-train -m <overrides>`` in this process (the imports are paid once per test session)."""
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    from iim.cli import train

    monkeypatch.setattr(sys, "argv", ["iim-train", "-m", *overrides])
    GlobalHydra.instance().clear()
    try:
        train.main()
    finally:
        GlobalHydra.instance().clear()
        HydraConfig.instance().cfg = None  # type: ignore[assignment]


def _csv_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


def _md_rows(path: Path) -> list[list[str]]:
    lines = [line for line in path.read_text().splitlines() if line.startswith("|")]
    return [[c.strip() for c in line.strip("|").split(" | ")] for line in lines]


def test_a_two_job_sweep_ends_with_its_table(tmp_path, monkeypatch, capsys):
    sweep = tmp_path / "sweep"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IIM_LOG_DIR", str(tmp_path / "logs"))
    _multirun(monkeypatch, *FAST_SWEEP, "model/net/threshold_encoder=fixed_0.5,pbm", f"hydra.sweep.dir={sweep}")
    out = capsys.readouterr().out
    assert out.count("iim-train finished") == 2
    assert f"sweep of 2 jobs: {sweep}" in out and "model/net/threshold_encoder" in out
    assert f"sweep table written to {sweep / 'sweep_table.csv'} and sweep_table.md" in out

    rows = _csv_rows(sweep / "sweep_table.csv")
    assert [r["job"] for r in rows] == ["0", "1"]
    assert [r["model/net/threshold_encoder"] for r in rows] == ["fixed_0.5", "pbm"]
    assert "+experiment=smoke" not in rows[0]  # shared overrides are not columns
    md = _md_rows(sweep / "sweep_table.md")
    header, md_rows = md[0], md[2:]
    assert header[:2] == ["job", "model/net/threshold_encoder"] and len(md_rows) == 2
    for row, md_row in zip(rows, md_rows):
        summary = json.loads((Path(row["folder"]) / SUMMARY_NAME).read_text())
        m = summary["metrics"]
        assert summary["status"] == row["status"] == "completed" and summary["job_num"] == int(row["job"])
        assert f"model/net/threshold_encoder={row['model/net/threshold_encoder']}" in summary["overrides"]
        for key in ("val/f1", "val/precision", "val/recall", "val/mae", "train/threshold_mean"):
            assert float(row[key]) == m[key], key
        assert float(row["wall_seconds"]) == summary["wall_seconds"] > 0
        assert row["best_checkpoint"] == summary["best_checkpoint"] and Path(row["best_checkpoint"]).is_file()
        assert row["last_checkpoint"] == (summary["last_checkpoint"] or "-")
        started, ended = summary["started"], summary["ended"]
        assert started <= ended and started[:4].isdigit()
        cells = dict(zip(header, md_row))
        assert cells["val F1 / P / R"] == f"{m['val/f1']:.3f} / {m['val/precision']:.3f} / {m['val/recall']:.3f}"
        assert cells["val MAE"] == f"{m['val/mae']:.2f}"
        assert cells["threshold (end)"] == f"{m['train/threshold_mean']:.3f}"
        assert cells["status"] == "completed" and cells["best checkpoint"].endswith(".ckpt")
    assert float(rows[0]["train/threshold_mean"]) == pytest.approx(0.5)  # fixed_0.5: the job's own figures


def _job(sweep: Path, num: int, overrides: list[str], summary: dict | None, name: str = "train") -> Path:
    """A hand-made multirun job folder (``<num>_<overrides>/`` with ``.hydra`` and, if given, ``summary.json``)."""
    folder = sweep / f"{num}_{','.join(overrides)}"
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(overrides)))
    hydra = {"hydra": {"mode": "MULTIRUN", "job": {"name": name, "num": num}}}
    (folder / ".hydra" / "hydra.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(hydra)))
    if summary is not None:
        (folder / SUMMARY_NAME).write_text(json.dumps({"overrides": overrides, "job_num": num, **summary}))
    return folder


def _done(f1: float, threshold: float) -> dict:
    metrics = {
        "val/f1": f1,
        "val/precision": 0.5,
        "val/recall": 0.25,
        "val/mae": 3.5,
        "train/threshold_mean": threshold,
    }
    return {"status": "completed", "metrics": metrics, "best_checkpoint": "", "wall_seconds": 150.0}


def test_failed_and_unfinished_jobs_get_dashes_and_their_status(tmp_path):
    _job(tmp_path, 0, ["+experiment=smoke", "model.lr=1"], _done(0.5, 0.4))
    failed = {"status": "failed", "error": "RuntimeError: boom\nsecond line", "metrics": {}, "wall_seconds": 1.5}
    _job(tmp_path, 1, ["+experiment=smoke", "model.lr=2"], failed)
    crashed = _job(tmp_path, 2, ["+experiment=smoke", "model.lr=3"], None)  # killed, or failed before main()
    _job(tmp_path, 10, ["+experiment=smoke", "model.lr=4"], None)
    (tmp_path / "eval" / ".hydra").mkdir(parents=True)  # another command's run folder: not a row
    (tmp_path / "eval" / ".hydra" / "hydra.yaml").write_text("hydra: {mode: RUN, job: {name: eval}}\n")
    records = collect_runs(tmp_path, job_status={str(crashed.resolve()): ("failed", "ValueError: bad")})
    table = build_table(records, tmp_path)
    assert table.headers[:2] == ["job", "model.lr"] and "shared overrides: +experiment=smoke" in table.caption
    rows = {row[0]: dict(zip(table.headers, row)) for row in table.rows}
    assert list(rows) == ["0", "1", "2", "10"]  # job order, not folder-name order
    assert rows["0"]["val F1 / P / R"] == "0.500 / 0.500 / 0.250" and rows["0"]["wall"] == "2.5 min"
    assert rows["0"]["threshold (end)"] == "0.400" and rows["0"]["status"] == "completed"
    for job in ("1", "2", "10"):
        assert rows[job]["val F1 / P / R"] == rows[job]["val MAE"] == rows[job]["best checkpoint"] == "-"
    assert rows["1"]["status"] == "failed: RuntimeError: boom second line" and rows["1"]["wall"] == "1.5 s"
    assert rows["2"]["status"] == "failed (no summary): ValueError: bad" and rows["2"]["wall"] == "-"
    assert rows["10"]["status"] == "no summary"
    csv_rows = list(csv.DictReader(io.StringIO(render_csv(table))))
    assert [r["status"] for r in csv_rows] == ["completed", "failed", "failed (no summary)", "no summary"]
    assert csv_rows[1]["error"] == "RuntimeError: boom\nsecond line" and csv_rows[1]["val/f1"] == "-"
    assert csv_rows[0]["val/f1"] == "0.5" and csv_rows[0]["wall_seconds"] == "150.0"
    md = render_markdown(table)
    assert md.count("\n| ") == 5 and "| 10 | 4 | - |" in md


def test_a_single_run_folder_is_a_one_row_table(tmp_path):
    run = tmp_path / "2026-12-01_10-00-00"
    (run / ".hydra").mkdir(parents=True)
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "best-epoch003-f10.5000.ckpt").write_bytes(b"")
    summary = {**_done(0.5, 0.3), "overrides": ["data.batch_size=2"], "job_num": None}
    summary["best_checkpoint"] = str(run / "checkpoints" / "best-epoch003-f10.5000.ckpt")
    (run / SUMMARY_NAME).write_text(json.dumps(summary))
    table = build_table(collect_runs(run), run)
    assert table.title == f"1 run in {run}" and table.caption.startswith("overrides: data.batch_size=2")
    assert table.headers[:2] == ["job", "val F1 / P / R"]  # no differing overrides in a single run
    (row,) = table.rows
    assert row[0] == run.name and row[-2] == "checkpoints/best-epoch003-f10.5000.ckpt" and row[-1] == "completed"


def test_old_runs_without_summary_read_their_csv_log_and_nested_job_folders_are_found(tmp_path):
    # hydra.sweep.subdir with a config-group override (a/b=c) nests the job folder under "<num>_...,a" / "b=c"
    job = tmp_path / "0_+experiment=smoke,model" / "net" / "threshold_encoder=pbm"
    (job / "csv").mkdir(parents=True)
    (job / "csv" / "metrics.csv").write_text("epoch,step,train/threshold_mean,val/f1,val/mae\n0,1,0.6,,\n0,2,,0.25,7\n")
    (job / "checkpoints").mkdir()
    (job / "checkpoints" / "last.ckpt").write_bytes(b"")
    (record,) = collect_runs(tmp_path)
    assert record.folder == job and record.status == "csv log"
    assert record.metrics == {"train/threshold_mean": 0.6, "val/f1": 0.25, "val/mae": 7.0}
    assert record.last_checkpoint == str(job / "checkpoints" / "last.ckpt") and record.best_checkpoint == ""


def test_tables_are_never_overwritten(tmp_path):
    _job(tmp_path, 0, ["x=1"], _done(0.5, 0.4))
    _job(tmp_path, 1, ["x=2"], _done(0.6, 0.4))
    table = build_table(collect_runs(tmp_path), tmp_path)
    first = write_table(table, tmp_path)
    assert [p.name for p in first] == ["sweep_table.csv", "sweep_table.md"]
    (tmp_path / "sweep_table.csv").write_text("mine\n")
    (tmp_path / "sweep_table-v2.md").write_text("mine too\n")  # either file taken: the pair moves on
    assert [p.name for p in write_table(table, tmp_path)] == ["sweep_table-v3.csv", "sweep_table-v3.md"]
    assert (tmp_path / "sweep_table.csv").read_text() == "mine\n"
    assert (tmp_path / "sweep_table-v2.md").read_text() == "mine too\n"
    assert not (tmp_path / "sweep_table-v2.csv").exists()


def test_the_callback_never_fails_the_sweep(tmp_path, capsys):
    callback = SweepTableCallback()
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    callback.on_multirun_start(OmegaConf.create({"hydra": {"sweep": {"dir": str(not_a_folder)}}}))
    callback.on_multirun_end(OmegaConf.create({}))  # nothing to read: no table, no error
    callback = SweepTableCallback()
    callback.on_multirun_start(OmegaConf.create({}))  # no hydra node at all
    callback.on_job_end(OmegaConf.create({}), job_return=None)
    callback.on_multirun_end(OmegaConf.create({}))
    _job(tmp_path / "sweep", 0, ["x=1"], _done(0.5, 0.4))
    (tmp_path / "sweep" / "sweep_table.csv").mkdir()  # the table's name is taken by a folder: written as -v2
    callback = SweepTableCallback()
    callback.on_multirun_start(OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path / "sweep")}}}))
    callback.on_multirun_end(OmegaConf.create({}))
    assert "sweep of 1 job:" in capsys.readouterr().out
    assert (tmp_path / "sweep" / "sweep_table-v2.md").is_file()


def test_write_summary_of_a_failed_run_and_non_finite_metrics(tmp_path):
    clock = RunClock()
    try:
        raise RuntimeError("outer") from ValueError("the cause")
    except RuntimeError as err:
        path = write_summary(tmp_path / "run", clock, error=err)
    assert path == tmp_path / "run" / SUMMARY_NAME
    summary = json.loads(path.read_text())
    assert summary["status"] == "failed" and summary["error"] == "ValueError: the cause"
    assert summary["metrics"] == {} and summary["best_checkpoint"] is None and summary["wall_seconds"] >= 0
    result = {"metrics": {"val/f1": 0.5, "val/mae": math.nan}, "best_checkpoint": "b.ckpt", "last_checkpoint": ""}
    summary = json.loads(write_summary(tmp_path / "run", clock, result=result).read_text())
    assert summary["status"] == "completed" and summary["metrics"] == {"val/f1": 0.5, "val/mae": None}
    assert summary["best_checkpoint"] == "b.ckpt" and summary["last_checkpoint"] is None
    assert write_summary(None, clock) is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "-"), (4.25, "4.2 s"), (150, "2.5 min"), (1800, "30 min"), (6060, "1 h 41 min")],
)
def test_format_seconds(seconds, text):
    assert format_seconds(seconds) == text


def test_the_module_needs_neither_torch_nor_lightning():
    code = (
        "import sys, iim.cli.sweep_table; print(sorted(m for m in ('torch', 'pytorch_lightning') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"


def _sweep_subprocess(args: list[str], sweep: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``iim-train -m ARGS`` in a fresh interpreter, its sweep in ``sweep`` and its logs under ``tmp_path``."""
    env = {**os.environ, "IIM_LOG_DIR": str(tmp_path / "logs"), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "iim.cli.train", *args, f"hydra.sweep.dir={sweep}"]
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=280, check=False)


@pytest.mark.slow
def test_the_ablation_sweep_ends_with_eight_rows(tmp_path):
    sweep = tmp_path / "sweep"
    args = ["-m", "+hparams=ablation", "+experiment=smoke", "trainer.enable_progress_bar=false", "callbacks=none"]
    result = _sweep_subprocess(args, sweep, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"sweep of 8 jobs: {sweep}" in result.stdout
    rows = _csv_rows(sweep / "sweep_table.csv")
    assert [r["job"] for r in rows] == [str(i) for i in range(8)]
    # the booleans as Hydra writes them into overrides.yaml
    pairs = {(r["model/net/threshold_encoder"], r["model.loss.l1_into_confidence"]) for r in rows}
    assert pairs == {(t, l1) for t in ("fixed_0.5", "fixed_0.8", "ibm", "pbm") for l1 in ("True", "False")}
    for row in rows:
        summary = json.loads((Path(row["folder"]) / SUMMARY_NAME).read_text())
        assert row["status"] == "completed" and float(row["val/f1"]) == summary["metrics"]["val/f1"]
    assert len(_md_rows(sweep / "sweep_table.md")) == 2 + 8


@pytest.mark.slow
def test_a_sweep_with_a_failed_job_still_ends_with_its_table(tmp_path):
    # Hydra's basic sweeper raises after the jobs when one failed, so on_multirun_end never comes: printed at exit
    sweep = tmp_path / "sweep"
    args = ["-m", "+experiment=smoke", "model.on_threshold_collapse=warn,bogus", "trainer.enable_progress_bar=false"]
    result = _sweep_subprocess([*args, "callbacks=none"], sweep, tmp_path)
    assert result.returncode == 1 and "on_threshold_collapse" in result.stderr
    assert "sweep of 2 jobs" in result.stdout and "(the sweep stopped early: a job failed)" in result.stdout
    rows = _csv_rows(sweep / "sweep_table.csv")
    assert [(r["model.on_threshold_collapse"], r["status"]) for r in rows] == [
        ("warn", "completed"),
        ("bogus", "failed"),
    ]
    assert rows[1]["error"].startswith("ValueError: LocatorTask: `on_threshold_collapse`") and rows[1]["val/f1"] == "-"
