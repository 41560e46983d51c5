"""``iim-serve`` on the command line: loopback by default, settings without their group, clear usage errors."""

from __future__ import annotations

import pytest
import torch
import uvicorn

from iim.cli.serve import main


@pytest.fixture
def launched(monkeypatch):
    """What ``iim-serve`` hands to uvicorn (uvicorn.run replaced: nothing listens)."""
    calls = {}

    def fake_run(app, **kwargs):
        calls.update(kwargs, app=app)

    monkeypatch.setattr(uvicorn, "run", fake_run)
    return calls


def test_binds_loopback_by_default_and_takes_the_settings(trained_checkpoint, launched, capsys, monkeypatch):
    monkeypatch.delenv("IIM_SERVE_TOKEN", raising=False)
    assert main([trained_checkpoint, "device=cpu"]) == 0
    assert launched["host"] == "127.0.0.1" and launched["port"] == 8000
    service = launched["app"].state.service
    assert service.settings.token is None and service.settings.max_upload_bytes == 25 * 2**20
    assert "http://127.0.0.1:8000/" in capsys.readouterr().out
    argv = [trained_checkpoint, "device=cpu", "host=0.0.0.0", "port=9001", "token=abc", "max_batch_size=3"]
    assert main([*argv, "max_pixels=1000", "window_ms=2", "limits.max_pending=5", "cors_origins=[http://a.b]"]) == 0
    settings = launched["app"].state.service.settings
    assert (launched["host"], launched["port"]) == ("0.0.0.0", 9001)
    assert (settings.token, settings.max_batch_size, settings.max_pixels) == ("abc", 3, 1000)
    assert (settings.batch_window_ms, settings.max_pending, settings.cors_origins) == (2.0, 5, ("http://a.b",))
    assert "reachable from other machines" in capsys.readouterr().err
    threads = torch.get_num_threads()
    try:
        assert main([trained_checkpoint, "device=cpu", "threads=1", "max_batch_pixels=5000", "decode_workers=3"]) == 0
        settings = launched["app"].state.service.settings
        assert torch.get_num_threads() == 1 and (settings.max_batch_pixels, settings.decode_workers) == (5000, 3)
    finally:
        torch.set_num_threads(threads)


def test_usage_errors_name_what_is_wrong(trained_checkpoint, tmp_path, launched, capsys):
    assert main([]) == 2 and "missing ckpt=" in capsys.readouterr().err
    assert main([str(tmp_path / "none.ckpt")]) == 2 and "none.ckpt" in capsys.readouterr().err
    assert main([trained_checkpoint, "max_pending=0"]) == 2 and "max_pending" in capsys.readouterr().err
    assert main([trained_checkpoint, "device=tpu9"]) == 2 and "device" in capsys.readouterr().err
    assert main([trained_checkpoint, "threads=0"]) == 2 and "threads" in capsys.readouterr().err
    assert launched == {}  # nothing was served


def test_help_lists_the_settings(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "iim-serve CKPT" in out and "max_upload_bytes" in out and "curl" in out


def test_malloc_arenas_are_capped_on_glibc():
    import platform
    import sys

    from iim.serve.memory import limit_malloc_arenas

    took = limit_malloc_arenas(4)
    if sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc":
        assert took is True
    with pytest.raises(ValueError, match="arenas"):
        limit_malloc_arenas(0)
