"""iim-predict end to end: images, a folder, a pattern and a short generated video; unreadable inputs listed and
skipped; outputs never overwritten unless asked."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest

from helpers.configs import compose_train
from iim.cli.predict import main, predict
from iim.data.synthetic import SyntheticSource
from iim.inference import Predictor
from iim.inference.video import VideoError, VideoWriter, read_frames, video_info
from iim.metrics import read_pred_loc


def _run(args, cwd):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "NO_ALBUMENTATIONS_UPDATE": "1"}
    cmd = [sys.executable, "-c", "from iim.cli.predict import main; raise SystemExit(main())", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("inputs")
    scenes = SyntheticSource(test=6, seed=8, height=96, width=128).read("test")
    (root / "folder/sub").mkdir(parents=True)
    for i, rec in enumerate(scenes[:3]):
        target = root / ("folder/sub" if i == 2 else "folder") / f"{i:04d}.png"
        cv2.imwrite(str(target), cv2.cvtColor(rec.image, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(root / "single.jpg"), cv2.cvtColor(scenes[3].image, cv2.COLOR_RGB2BGR))
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    with VideoWriter(root / "clip.mp4", fps=10, size=(96, 128)) as writer:
        for k in range(8):
            writer.write(scenes[4 + k % 2].image)
    return root


def test_leading_words_are_the_inputs(tmp_path, capsys):
    """The words before the first key=value are the inputs, quoted for Hydra; --cfg job shows the result."""
    assert main(["a.jpg", "dir/", "b c,'d'.png", "ckpt=x.ckpt", "--cfg", "job"]) == 0
    shown = capsys.readouterr().out
    assert "- a.jpg\n- dir/\n- b c,'d'.png\n" in shown and "ckpt: x.ckpt" in shown
    assert main(["a.jpg", f"hydra.run.dir={tmp_path}", "inputs=[b.jpg]"]) == 2
    assert "iim-predict: error: inputs is given twice" in capsys.readouterr().err
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((8, 8, 3), np.uint8))
    assert main([f"hydra.run.dir={tmp_path}", f"inputs=[{tmp_path / 'a.png'}]"]) == 2  # ckpt: ???
    assert "iim-predict: error: missing ckpt=..." in capsys.readouterr().err


def test_video_io_roundtrip(inputs):
    info = video_info(inputs / "clip.mp4")
    assert (info.height, info.width) == (96, 128) and info.frames == 8 and info.fps == pytest.approx(10)
    frames = list(read_frames(inputs / "clip.mp4", stride=3))
    assert [i for i, _, _ in frames] == [0, 3, 6] and frames[1][1] == pytest.approx(0.3)
    assert frames[0][2].shape == (96, 128, 3)
    (inputs / "garbage.mp4").write_bytes(bytes(range(256)) * 8)
    for bad in ("broken.jpg", "garbage.mp4"):
        with pytest.raises(VideoError, match=re.escape(bad)):
            video_info(inputs / bad)
        with pytest.raises(VideoError, match=re.escape(bad)):
            list(read_frames(inputs / bad))
    (inputs / "garbage.mp4").unlink()


def test_predict_in_process(inputs, trained_checkpoint, tmp_path):
    """The command's work (as the Hydra app runs it) on a folder and a video, with a broken file among them."""
    listed = ",".join(f"'{inputs / name}'" for name in ("folder", "clip.mp4", "broken.jpg"))
    overrides = [f"ckpt={trained_checkpoint}", f"inputs=[{listed}]", "progress=false", "video.stride=2"]
    cfg = compose_train([*overrides, "outputs.maps=true"], tmp_path, "predict")
    summary = predict(cfg)
    assert summary["processed"] == 5 and len(summary["failed"]) == 1 and "broken.jpg" in summary["failed"][0]
    assert (tmp_path / "sub/0002.maps.png").is_file() and (tmp_path / "0000.overlay.png").is_file()
    frames = [json.loads(line) for line in (tmp_path / "clip.frames.jsonl").read_text().splitlines()]
    assert [f["frame"] for f in frames] == [0, 2, 4, 6] and video_info(tmp_path / "clip.overlay.mp4").frames == 4
    assert json.loads((tmp_path / "clip.json").read_text())["frames"] == 4
    assert not list(tmp_path.glob(".*.part*"))  # no partial files left
    first = read_pred_loc(tmp_path / "predictions.txt")
    assert set(first) == {0, 1, "sub/0002"}
    # resuming with on_existing=skip redoes nothing, and the set files still list every input
    again = predict(compose_train([*overrides, "on_existing=skip"], tmp_path, "predict"))
    assert again["processed"] == 1 and again["skipped"] == 4  # only broken.jpg is tried again
    resumed = read_pred_loc(tmp_path / "predictions.txt")
    assert set(resumed) == set(first) and all(np.array_equal(first[k], resumed[k]) for k in first)
    with pytest.raises(ValueError, match="no inputs"):
        predict(compose_train([f"ckpt={trained_checkpoint}"], tmp_path / "x", "predict"))
    with pytest.raises(ValueError, match=r"nothing to process.*nothing\.jpg"):
        predict(
            compose_train([f"ckpt={trained_checkpoint}", f"inputs=['{tmp_path / 'nothing.jpg'}']"], tmp_path, "predict")
        )


def test_predict_splits_heads_when_asked(inputs, trained_checkpoint, tmp_path):
    image = inputs / "folder" / "0000.png"
    overrides = [f"ckpt={trained_checkpoint}", f"inputs=['{image}']", "progress=false", "split_heads=true"]
    predict(compose_train([*overrides, "split_min_distance=2"], tmp_path, "predict"))
    written = json.loads((tmp_path / "0000.json").read_text())
    expected = Predictor.from_checkpoint(trained_checkpoint, device="cpu", split_heads=True, split_min_distance=2)
    assert written["count"] == expected.predict(image).count
    with pytest.raises(ValueError, match=r"split_heads: expected true or false, got 'yes'"):
        predict(compose_train([*overrides[:-1], "split_heads=yes"], tmp_path / "bad", "predict"))


def test_predict_takes_a_threshold_offset(inputs, trained_checkpoint, tmp_path):
    image = inputs / "folder" / "0000.png"
    predictor = Predictor.from_checkpoint(trained_checkpoint, device="cpu")
    base = predictor.predict(image).count
    # an offset that changes this image's count, so that the check below can fail
    offset = next(
        o for o in (-0.1, 0.1, -0.3, 0.3, -0.45, 0.45) if predictor.predict(image, threshold_offset=o).count != base
    )
    overrides = [f"ckpt={trained_checkpoint}", f"inputs=['{image}']", "progress=false", f"threshold_offset={offset}"]
    predict(compose_train(overrides, tmp_path, "predict"))
    written = json.loads((tmp_path / "0000.json").read_text())
    assert written["count"] == predictor.predict(image, threshold_offset=offset).count != base


@pytest.mark.slow
def test_predict_images_folder_and_video(inputs, trained_checkpoint, tmp_path):
    out = tmp_path / "out"
    args = [str(inputs / "folder"), str(inputs / "single.jpg"), str(inputs / "broken.jpg"), str(inputs / "clip.mp4"),
            str(inputs / "no_such.png"), f"ckpt={trained_checkpoint}", f"output_dir={out}", "progress=false",
            f"hydra.run.dir={tmp_path / 'hydra'}", "batch_size=3"]  # fmt: skip
    run = _run(args, tmp_path)
    assert run.returncode == 1, run.stderr  # some inputs failed, the rest was done
    assert "broken.jpg" in run.stderr and "no_such.png" in run.stderr
    predictor = Predictor.from_checkpoint(trained_checkpoint, device="cpu")
    names = ["0000", "0001", "sub/0002", "single"]
    for name in names:
        data = json.loads((out / f"{name}.json").read_text())
        source = next(p for p in inputs.rglob("*") if p.stem == name.split("/")[-1] and p.suffix in (".png", ".jpg"))
        expected = predictor.predict(source)
        assert data["count"] == expected.count and np.allclose(data["points"], expected.points)
        rows = list(csv.DictReader((out / f"{name}.csv").open()))
        assert len(rows) == expected.count and set(rows[0]) == {"x", "y", "x1", "y1", "x2", "y2", "area"}
        overlay = cv2.imread(str(out / f"{name}.overlay.png"))
        assert overlay.shape == (96, 128, 3)
    submission = read_pred_loc(out / "predictions.txt")
    assert set(submission) == {0, 1, "sub/0002", "single"}
    assert len(submission[1]) == json.loads((out / "0001.json").read_text())["count"]
    # the video: per-frame counts, points, an overlay video with every frame
    frames = [json.loads(line) for line in (out / "clip.frames.jsonl").read_text().splitlines()]
    assert [f["frame"] for f in frames] == list(range(8))
    counts = list(csv.DictReader((out / "clip.counts.csv").open()))
    assert [int(r["count"]) for r in counts] == [f["count"] for f in frames]
    decoded = [frame for _, _, frame in read_frames(inputs / "clip.mp4")]
    assert [f["count"] for f in frames] == [p.count for p in predictor.predict(decoded)]
    summary_video = json.loads((out / "clip.json").read_text())
    assert summary_video["frames"] == 8 and summary_video["count_max"] == max(f["count"] for f in frames)
    assert video_info(out / "clip.overlay.mp4").frames == 8
    summary = json.loads((out / "summary.json").read_text())["inputs"]
    assert sum("error" in r for r in summary) == 2 and len(summary) == 7
    # a second run into the same folder overwrites nothing
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    again = _run(args, tmp_path)
    assert again.returncode == 2 and "already exist" in again.stderr and "on_existing" in again.stderr
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before
    skip = _run([*args, "on_existing=skip"], tmp_path)
    assert skip.returncode == 1 and "skipped (outputs exist)" in skip.stdout


@pytest.mark.slow
def test_predict_needs_inputs(trained_checkpoint, tmp_path):
    run = _run([f"ckpt={trained_checkpoint}", f"hydra.run.dir={tmp_path}"], tmp_path)
    assert run.returncode == 2 and "no inputs" in run.stderr
