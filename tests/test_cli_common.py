"""The one command-line dialect of every iim command: leading words become quoted overrides, then Hydra runs the app
in-process (``iim.cli._common.positional_overrides`` and ``run_app``)."""

from __future__ import annotations

import sys

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from iim.cli._common import UsageError, hydra_quote, positional_overrides, run_app

AWKWARD = ["plain.txt", "a b.txt", "it's.png", "x,y=[z]", "C:\\data\\", "back\\'quote", "${oc.env:HOME}", "é", ""]


def _read_back(override: str) -> object:
    """What the app's config holds after Hydra parses ``override`` and OmegaConf resolves it."""
    value = OverridesParser.create().parse_override(override).value()
    return OmegaConf.to_container(OmegaConf.create({"v": value}), resolve=True)["v"]


@pytest.mark.parametrize("text", AWKWARD)
def test_hydra_quote_reads_back_unchanged(text):
    assert _read_back(f"v={hydra_quote(text)}") == text
    assert _read_back(f"v=[{hydra_quote(text)},{hydra_quote('b')}]") == [text, "b"]


def test_leading_words_become_overrides_and_stop_at_the_first_setting_or_flag():
    argv = ["pred.txt", "gt loc.txt", "out=m.json", "-m", "later.txt", "--cfg", "job"]
    assert positional_overrides(argv, ["pred", "gt"]) == [
        "pred='pred.txt'",
        "gt='gt loc.txt'",
        "out=m.json",
        "-m",
        "later.txt",
        "--cfg",
        "job",
    ]
    # the overrides join the given ones, which Hydra's argparse needs as one run of words
    assert positional_overrides(["p", "-m", "protocol=a,b"], ["pred"]) == ["-m", "pred='p'", "protocol=a,b"]
    assert positional_overrides(["p", "--cfg", "job"], ["pred"]) == ["pred='p'", "--cfg", "job"]
    assert positional_overrides(["p", "--info"], ["pred"]) == ["pred='p'", "--info"]
    # Hydra's flags need no special knowledge: everything from the first flag on is Hydra's
    assert positional_overrides(["--info", "config", "a"], ["ckpt"]) == ["--info", "config", "a"]
    assert positional_overrides(["a.jpg", "b.jpg", "c.mp4", "ckpt=x"], [], "inputs") == [
        "inputs=['a.jpg','b.jpg','c.mp4']",
        "ckpt=x",
    ]
    assert positional_overrides(["last.ckpt", "a.jpg"], ["ckpt"], "inputs") == ["ckpt='last.ckpt'", "inputs=['a.jpg']"]
    assert positional_overrides(["ckpt=x"], ["ckpt"], "inputs") == ["ckpt=x"]  # nothing by position: no overrides


def test_a_key_given_twice_or_too_many_words_is_a_usage_error():
    with pytest.raises(UsageError, match="pred is given twice"):
        positional_overrides(["p.txt", "g.txt", "pred=q.txt"], ["pred", "gt"])
    with pytest.raises(UsageError, match="inputs is given twice"):
        positional_overrides(["a.jpg", "+inputs=[b.jpg]"], [], "inputs")
    with pytest.raises(UsageError, match="gt is given twice"):
        positional_overrides(["p.txt", "g.txt", "out=m.json", "++gt=x.txt"], ["pred", "gt"])
    with pytest.raises(UsageError, match=r"unexpected argument\(s\) 'c' \(expected PRED GT"):
        positional_overrides(["a", "b", "c"], ["pred", "gt"])
    assert positional_overrides(["p.txt", "gt_other=x"], ["pred", "gt"]) == ["pred='p.txt'", "gt_other=x"]


def test_run_app_runs_in_process_and_returns_the_status(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    seen = []

    def task(cfg):
        seen.append(OmegaConf.to_container(cfg))
        return int(cfg.overwrite)  # the exit status (score and export both have the key)

    before = list(sys.argv)
    assert run_app("iim-x", "score", task, ["p q.txt", "g.txt", "per_image=r.csv"], keys=("pred", "gt")) == 0
    assert seen[-1]["pred"] == "p q.txt" and seen[-1]["gt"] == "g.txt" and seen[-1]["per_image"] == "r.csv"
    assert sys.argv == before  # restored
    assert run_app("iim-x", "score", task, ["p", "g", "overwrite=true"], keys=("pred", "gt")) == 1
    assert list(tmp_path.iterdir()) == []  # no run folder, no .hydra/, no log file

    # errors before the task starts are usage errors (2), with Hydra's or our message
    assert run_app("iim-x", "score", task, ["p", "g", "nokey=1"], keys=("pred", "gt")) == 2
    assert "Could not override 'nokey'" in capsys.readouterr().err
    assert run_app("iim-x", "score", task, ["p", "g", "h"], keys=("pred", "gt")) == 2
    assert capsys.readouterr().err.startswith("iim-x: error: unexpected argument(s) 'h'")
    assert run_app("iim-x", "score", task, ["p", "g", "--nope"], keys=("pred", "gt")) == 2
    assert "unrecognized arguments: --nope" in capsys.readouterr().err
    # a path with '=' is read as a setting (the rule has no exceptions); the error says how to give it
    (tmp_path / "epoch=0-step=2.ckpt").touch()
    assert run_app("iim-x", "export", task, ["epoch=0-step=2.ckpt"], keys=("ckpt",)) == 2
    assert "note: 'epoch=0-step=2.ckpt' contains '=', so it was read as a setting" in capsys.readouterr().err
    assert run_app("iim-x", "export", task, ["ckpt='epoch=0-step=2.ckpt'"], keys=("ckpt",)) == 0
    assert seen[-1]["ckpt"] == "epoch=0-step=2.ckpt"
    (tmp_path / "epoch=0-step=2.ckpt").unlink()
    # a missing mandatory key met by the task, and a UsageError it raises, are named: status 2
    assert run_app("iim-x", "score", lambda cfg: print(cfg.gt), ["p"], keys=("pred", "gt")) == 2
    assert capsys.readouterr().err == "iim-x: error: missing gt=... (see iim-x --help)\n"

    def refuse(cfg):
        raise UsageError("protocol must be nwpu")

    assert run_app("iim-x", "score", refuse, ["p", "g"], keys=("pred", "gt")) == 2
    assert capsys.readouterr().err == "iim-x: error: protocol must be nwpu\n"
    # Hydra's own commands work as in any Hydra app, without running the task
    count = len(seen)
    assert run_app("iim-x", "score", task, ["p", "g", "--cfg", "job"], keys=("pred", "gt")) == 0
    assert "pred: p\ngt: g\n" in capsys.readouterr().out
    assert run_app("iim-x", "score", task, ["p", "g", "--cfg", "job", "out=o.json"], keys=("pred", "gt")) == 0
    assert "pred: p\ngt: g\nout: o.json\n" in capsys.readouterr().out
    assert run_app("iim-x", "score", task, ["--help"], keys=("pred", "gt")) == 0
    shown = capsys.readouterr().out
    assert "iim-score PRED GT" in shown and "== Settings (key=value; the two leading words are pred and gt) ==" in shown
    assert "per_image: null" in shown and "ignore_extra: false" in shown
    assert len(seen) == count
