"""A training run prints the progress bar, one line per validation and the closing table; none of the notices that
iim can avoid (issue 15): `weights_only` not set, Lightning's tips, the _pytree deprecation, a FLOPs count of 0."""

from __future__ import annotations

import logging
import warnings

from helpers.configs import compose_train
from iim.cli.train import train


def test_training_console_is_quiet_and_informative(tmp_path, caplog, capsys):
    overrides = [
        "+experiment=smoke",
        "callbacks.progress_bar=null",
        "trainer.enable_progress_bar=false",
        "callbacks.prediction_images=null",
        "data.num_workers=0",
        "trainer.max_epochs=2",
    ]
    cfg = compose_train(overrides, tmp_path)
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.INFO):
        warnings.simplefilter("always")
        train(cfg)
    out = capsys.readouterr().out
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "weights_only" not in logged
    assert "Tip:" not in logged and "litlogger" not in logged
    assert "already configured with model summary" not in logged
    assert not [w for w in caught if "LeafSpec" in str(w.message)]
    assert "Total FLOPs: 0" not in out and "Total FLOPs" in out  # the summary counted them on an example input
    lines = [line for line in out.splitlines() if line.startswith("epoch ") and "val F1" in line]
    assert [line.split(":")[0] for line in lines] == ["epoch 0", "epoch 1"]
    assert all(" MAE " in line and " threshold " in line for line in lines)
