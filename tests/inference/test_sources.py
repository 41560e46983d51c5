"""collect_inputs: files, folders, glob patterns; output names; problems named, not fatal."""

from __future__ import annotations

from iim.inference import collect_inputs


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_files_folders_and_patterns(tmp_path):
    _touch(tmp_path / "set/a.jpg")
    _touch(tmp_path / "set/sub/b.PNG")
    _touch(tmp_path / "set/notes.txt")
    _touch(tmp_path / "clips/v.mp4")
    single = _touch(tmp_path / "one.jpeg")
    items, problems = collect_inputs([tmp_path / "set", str(tmp_path / "clips/*.mp4"), single])
    assert problems == []
    assert [(i.name, i.kind) for i in items] == [("a", "image"), ("sub/b", "image"), ("v", "video"), ("one", "image")]
    flat, _ = collect_inputs([tmp_path / "set"], recursive=False)
    assert [i.name for i in flat] == ["a"]
    again, _ = collect_inputs([single, str(single)])  # duplicates are dropped
    assert len(again) == 1


def test_problems_and_name_clashes(tmp_path):
    _touch(tmp_path / "x/1.jpg")
    _touch(tmp_path / "y/1.jpg")
    _touch(tmp_path / "y/1.png")
    _touch(tmp_path / "empty/readme.md")
    items, problems = collect_inputs(
        [tmp_path / "x/1.jpg", tmp_path / "y/1.jpg", tmp_path / "y/1.png", tmp_path / "missing.jpg",
         tmp_path / "empty", str(tmp_path / "nothing*.jpg")]
    )  # fmt: skip
    assert sorted(i.name for i in items) == ["x/1.jpg", "y/1.jpg", "y/1.png"]
    assert [m for _, m in problems] == [
        "no such file or folder",
        "folder has no images or videos",
        "pattern matches no images or videos",
    ]
    assert problems[0][0].endswith("missing.jpg")
