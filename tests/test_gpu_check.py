"""scripts/gpu_check.py: the report (a failing section is listed in the table, the others still run, the exit status
says so) with stand-in sections, and the whole script on the CPU with ``--cpu --quick`` (slow)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "gpu_check.py"
NUMBER = r"\d+(\.\d+)?"


@pytest.fixture(scope="module")
def gpu_check() -> Any:
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_smoothed_loss_difference(gpu_check):
    assert gpu_check._smooth([1.0, 3.0, 5.0], 2) == [1.0, 2.0, 4.0]
    assert gpu_check._max_rel_diff([1.0, 1.0], [1.0, 1.1], 1) == pytest.approx(0.1)
    assert gpu_check._max_rel_diff([1.0, 1.0], [1.0, 1.1], 2) == pytest.approx(0.05)


def _fake_sections(gpu_check, monkeypatch, fail: set[str]) -> None:
    def train(settings, work, net, row):
        if f"{net}/{row}" in fail:
            raise RuntimeError("CUDA out of memory (stand-in)")
        speed = {"fp32": 10.0, "mixed": 25.0, "compile": 30.0}[row]
        losses = [1.0 - 0.01 * i for i in range(settings["steps"])]
        return {"precision": "32-true" if row == "fp32" else "bf16-mixed", "batch": 2, "images_per_s": speed,
                "first_step_s": 1.0, "peak_memory_gib": None, "losses": losses}  # fmt: skip

    def predict(settings, work):
        if "predict" in fail:
            raise ValueError("no video encoder (stand-in)")
        per = {"command_fps": 31.0, "command_s": 3.0, "load_s": 1.0, "predictor_fps": 40.0, "network_fps": 50.0}
        return {"per_precision": {"bf16-mixed": per}}

    def evaluate(settings, work):
        return {"precision": "32-true", "seconds": 2.0, "images_per_s": 1.5}

    monkeypatch.setattr(gpu_check, "SECTIONS", {"train": train, "predict": predict, "eval": evaluate})


def test_report_and_exit_status(gpu_check, monkeypatch, tmp_path, capsys):
    _fake_sections(gpu_check, monkeypatch, fail=set())
    assert gpu_check.main(["--cpu", "--quick", "--out", str(tmp_path / "t.md")]) == 0
    text = capsys.readouterr().out
    assert text.strip() == (tmp_path / "t.md").read_text().strip()
    assert "| demo | mixed + channels_last | bf16-mixed | 2 | 25.00 | 2.50x |" in text
    assert "| hrnet_w48 | compile | - | - | - | - | - | skipped (--quick) |" in text
    assert "| demo | fp32 vs mixed | 4 | 0.00% | 5% | yes |" in text
    assert "| bf16-mixed | 31.0 | 40.0 | 50.0 |" in text
    assert "| demo: mixed precision >= 2x fp32 training, same early loss | 2.50x, loss within 0.00% | met |" in text
    assert "all sections ran" in text


def test_a_failing_section_is_reported_and_the_rest_runs(gpu_check, monkeypatch, capsys):
    _fake_sections(gpu_check, monkeypatch, fail={"hrnet_w48/fp32", "predict"})
    assert gpu_check.main(["--cpu", "--quick"]) == 1
    text = capsys.readouterr().out
    assert "| hrnet_w48 | fp32 | - | - | - | - | - | FAILED: RuntimeError: CUDA out of memory (stand-in) |" in text
    assert "| hrnet_w48 | mixed + channels_last | bf16-mixed | 2 | 25.00 | - |" in text  # ran, no fp32 to compare
    assert "| hrnet_w48 | fp32 vs mixed | - | - | 5% | not measured (a run failed) |" in text
    assert "FAILED: ValueError: no video encoder (stand-in)" in text
    assert "| 32-true | 2.0 | 1.50 | ok |" in text  # iim-eval still ran
    assert "2 section(s) FAILED" in text


@pytest.mark.slow
def test_quick_cpu_run_prints_every_row_with_numbers(tmp_path):
    out = tmp_path / "gpu_check.md"
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--cpu", "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    text = run.stdout
    assert out.read_text() in text
    for net in ("demo", "hrnet_w48"):
        assert re.search(rf"\| {net} \| fp32 \| 32-true \| 2 \| {NUMBER} \| - \| {NUMBER} \|", text), net
        assert re.search(rf"\| {net} \| mixed \+ channels_last \| bf16-mixed \| 2 \| {NUMBER} \| {NUMBER}x \|", text)
        assert re.search(rf"\| {net} \| fp32 vs mixed \| 4 \| {NUMBER}% \| 5% \| (yes|NO) \|", text), net
    assert re.search(
        rf"\| demo \| mixed \+ channels_last \+ compile \(eager backend\) \| bf16-mixed \| 2 \| {NUMBER}", text
    )
    assert re.search(rf"\| bf16-mixed \| {NUMBER} \| {NUMBER} \| {NUMBER} \| {NUMBER} s with", text)  # iim-predict
    assert re.search(rf"\| 32-true \| {NUMBER} \| {NUMBER} \| ok \|", text)  # iim-eval
    assert "all sections ran" in text and "FAILED" not in text
