"""The GPU check: iim's GPU path run and measured in one go, as a Markdown table (``make gpu-check``).

    scripts/gpu_check.sh                       # on a CUDA machine: at most ~8 minutes (--budget-s)
    scripts/gpu_check.sh --out gpu_check.md    # also write the table to a file (for the README)
    scripts/gpu_check.sh --cpu --quick         # the same sections on the CPU with tiny sizes (a smoke test)

Sections (each in its own process with a timeout, so that a crash, an out-of-memory error or a compile that runs
long costs that section only; ``--inline`` runs them in this process, the default with ``--quick``):

1. Training throughput of the demo network (EfficientNet-Lite0 + FPN + PBM) and of HRNet-W48 + PBM (random init),
   on 512 x 1024 crops of synthetic crowds: the real ``LocatorTask.training_step`` (forward, ``IIMLoss``, backward,
   the two Adam optimizers and their PolyLR schedules) under ``Trainer.fit`` of the ``trainer=gpu`` preset, in
   three configurations: fp32 (``32-true``, network in NCHW), mixed precision (the preset's ``bf16-mixed``, or
   ``16-mixed`` on GPUs without native bfloat16) with the network in channels-last, and the same with
   ``model.compile=true`` (inductor). Images/s over the steps after the warm-up; the first step's time (includes
   compiling); peak GPU memory (``torch.cuda.max_memory_allocated``).
2. Early loss: the fp32 and mixed runs start from the same seed (same weights, same batches); their first
   ``--steps`` losses, smoothed by a trailing mean of ``--smooth`` steps, must agree within ``--loss-tol`` (relative).
3. ``iim-predict`` on a synthetic 1080p video (a crowd scene sliding by, ``--frames`` frames) with an HRNet-W48
   checkpoint built from a randomly initialised task, in bf16-mixed and 16-mixed: frames/s of the command's
   ``predict()`` (after a warm-up run, checkpoint loading excluded), of the Predictor alone (decoded frames in
   memory, no files) and of the network alone (``predict_maps``).
4. ``iim-eval`` of that checkpoint on ``--eval-images`` synthetic 1920 x 1080 images (custom format, written by
   ``iim.data.write_synthetic_dataset``) under ``trainer=gpu``: seconds, checkpoint loading included.

Goals printed beside the figures: mixed precision >= 2x the fp32 training throughput with the same early loss, and
>= 30 frames/s for HRNet-W48 at 1080p on an H100-class GPU. A goal not met is reported, not an error; the exit
status is 1 when any section failed (an error, a timeout, or no time left in the budget), else 0.

With random weights the head counts mean nothing: the figures are timings. fp32 runs with PyTorch's defaults, as
``trainer.precision=32-true`` would: cuDNN convolutions may use TF32 (``torch.backends.cudnn.allow_tf32``, printed).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("WANDB_MODE", "disabled")

RESULT_TAG = "GPU_CHECK_RESULT "
NETWORKS = {"demo": "efficientnet_lite0", "hrnet_w48": "hrnet_w48"}
ROWS = ("fp32", "mixed", "compile")
SPEEDUP_GOAL = 2.0
FPS_GOAL = 30.0


# ------------------------------------------------------------------------------------------------------ settings
def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """Sizes of every section: the full check, or ``--quick``'s tiny ones."""
    quick = args.quick
    s: dict[str, Any] = {
        "device": "cpu" if args.cpu else "cuda",
        "seed": args.seed,
        "quick": quick,
        "crop": [64, 64] if quick else [512, 1024],
        "batch": {"demo": 2, "hrnet_w48": 2} if quick else {"demo": args.batch_demo, "hrnet_w48": args.batch_hrnet},
        "steps": args.steps or (4 if quick else 50),
        "warmup": args.warmup if args.warmup is not None else (1 if quick else 10),
        "distinct_batches": 2 if quick else 4,
        "max_heads": 20 if quick else 200,
        "smooth": args.smooth or (2 if quick else 10),
        "loss_tol": args.loss_tol,
        # quick: graph capture only (dynamo's eager backend); a cold inductor compile takes minutes on a CPU
        "compile": {"backend": "eager"} if quick else True,
        "compile_nets": ["demo"] if quick else list(NETWORKS),
        "video": {"frames": args.frames or (3 if quick else 60), "size": [96, 160] if quick else [1080, 1920]},
        "predict_net": "test_resnet_fpn" if quick else "hrnet_w48",
        "eval": {"images": args.eval_images or (3 if quick else 50), "size": [96, 160] if quick else [1080, 1920]},
        "num_workers": 0 if quick else min(8, os.cpu_count() or 1),
    }
    s["predict_precisions"] = ["bf16-mixed"] if args.cpu else ["bf16-mixed", "16-mixed"]
    return s


# ------------------------------------------------------------------------------------------------------- helpers
def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def _compose(config_name: str, overrides: list[str], output_dir: Path) -> Any:
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import open_dict

    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="iim.conf", version_base="1.3"):
        cfg = compose(config_name=config_name, overrides=overrides)
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
    return cfg


def _network_overrides(net: str) -> list[str]:
    """The network's recipe: the demo's (model=demo) or the original's (model=default) with the given predictor."""
    predictor = NETWORKS.get(net, net)
    model = "demo" if net == "demo" else "default"
    out = [f"model={model}", f"model/net/predictor={predictor}"]
    if predictor != "test_resnet_fpn":
        out.append("model.net.predictor.backbone.pretrained=false")
    return out


def _quote(path: Path) -> str:
    """A Hydra override string literal."""
    return "'" + str(path).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _trainer_preset(device: str) -> str:
    return "trainer=gpu" if device == "cuda" else "trainer=cpu"


def _smooth(values: list[float], window: int) -> list[float]:
    """Trailing mean over ``window`` values (fewer at the start)."""
    out = []
    for i in range(len(values)):
        part = values[max(0, i - window + 1) : i + 1]
        out.append(sum(part) / len(part))
    return out


def _max_rel_diff(a: list[float], b: list[float], window: int) -> float:
    sa, sb = _smooth(a, window), _smooth(b, window)
    return max(abs(x - y) / max(abs(x), 1e-12) for x, y in zip(sa, sb))


def _checkpoint(settings: dict[str, Any], work: Path) -> Path:
    """An ``iim-train``-style checkpoint of a randomly initialised task (the predict network), made once."""
    path = work / f"{settings['predict_net']}_random.ckpt"
    if path.is_file():
        return path
    import pytorch_lightning as pl
    import torch
    from hydra.utils import instantiate

    cfg = _compose("train", [*_network_overrides(settings["predict_net"]), "trainer=cpu"], work / "ckpt_run")
    pl.seed_everything(settings["seed"], verbose=False)
    task = instantiate(cfg.model)  # the network records its own config for the checkpoint (iim.modules.Configurable)
    checkpoint: dict[str, Any] = {"state_dict": task.state_dict(), "epoch": 0, "global_step": 0}
    task.on_save_checkpoint(checkpoint)  # the "iim" entry: net_config, mean, std, inference
    tmp = path.with_suffix(".tmp")
    torch.save(checkpoint, tmp)
    tmp.replace(path)
    return path


def _video(settings: dict[str, Any], work: Path) -> Path:
    """A synthetic crowd video: one wide scene seen through a window that slides 4 px a frame (mp4v)."""
    import cv2
    import numpy as np

    from iim.data.synthetic import SyntheticCrowds

    frames, (h, w) = settings["video"]["frames"], settings["video"]["size"]
    path = work / f"crowd_{w}x{h}_{frames}.mp4"
    if path.is_file():
        return path
    step = 4
    scene = SyntheticCrowds(num_images=1, seed=settings["seed"], height=h, width=w + step * frames,
                            max_heads=settings["max_heads"] * 2).generate(0).image  # fmt: skip
    tmp = path.with_name("tmp_" + path.name)
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (w, h))
    if not writer.isOpened():
        raise RuntimeError("OpenCV cannot write an mp4v video here")
    for t in range(frames):
        writer.write(cv2.cvtColor(np.ascontiguousarray(scene[:, t * step : t * step + w]), cv2.COLOR_RGB2BGR))
    writer.release()
    tmp.replace(path)
    return path


# ------------------------------------------------------------------------------------------------ the sections
def section_train(settings: dict[str, Any], work: Path, net: str, row: str) -> dict[str, Any]:
    """One training configuration (``row``: fp32 / mixed / compile) of one network: throughput, memory, losses."""
    import pytorch_lightning as pl
    import torch
    from hydra.utils import instantiate
    from torch.utils.data import DataLoader

    device, batch = settings["device"], settings["batch"][net]
    (ch, cw), total, warmup = settings["crop"], settings["steps"], settings["warmup"]
    overrides = [
        *_network_overrides(net),
        _trainer_preset(device),
        f"data.source.train={batch * settings['distinct_batches']}",
        f"data.source.height={ch + ch // 8}",
        f"data.source.width={cw + cw // 8}",
        f"data.source.max_heads={settings['max_heads']}",
        f"data.train_transform.crop_size=[{ch},{cw}]",
        f"data.batch_size={batch}",
        "data.num_workers=0",
        f"model.channels_last={'false' if row == 'fp32' else 'true'}",
    ]
    if row == "compile":
        compile_arg = settings["compile"]
        value = "true" if compile_arg is True else "{" + ",".join(f"{k}:{v}" for k, v in compile_arg.items()) + "}"
        overrides.append(f"model.compile={value}")
    cfg = _compose("train", overrides, work / f"train_{net}_{row}")
    # mixed: the preset's choice on a GPU (bf16-mixed or 16-mixed); CPU autocast runs bfloat16
    mixed = str(cfg.trainer.precision) if device == "cuda" else "bf16-mixed"
    precision = "32-true" if row == "fp32" else mixed

    pl.seed_everything(settings["seed"], verbose=False)
    dm = instantiate(cfg.data)
    dm.setup("fit")
    batches = []
    for b in dm.train_dataloader():
        batches.append({"image": b["image"], "instance_map": b["instance_map"]})
        if len(batches) == settings["distinct_batches"]:
            break
    loader = DataLoader([batches[i % len(batches)] for i in range(total)], batch_size=None, shuffle=False)
    pl.seed_everything(settings["seed"], verbose=False)
    task = instantiate(cfg.model)

    class Timer(pl.Callback):
        def __init__(self) -> None:
            self.ends: list[float] = []
            self.losses: list[Any] = []
            self.start = 0.0

        def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
            _sync(device)
            self.start = time.perf_counter()

        def on_train_batch_end(
            self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
        ) -> None:
            _sync(device)
            self.ends.append(time.perf_counter())
            self.losses.append(outputs["loss"].detach())

    timer = Timer()
    trainer = instantiate(
        cfg.trainer,
        precision=precision,
        max_steps=total,
        max_epochs=-1,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        logger=False,
        callbacks=[timer],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    trainer.fit(task, train_dataloaders=loader)
    if len(timer.ends) != total:
        raise RuntimeError(f"ran {len(timer.ends)} of {total} steps")
    timed = total - warmup
    seconds = timer.ends[-1] - timer.ends[warmup - 1] if warmup > 0 else timer.ends[-1] - timer.start
    return {
        "net": net,
        "row": row,
        "precision": precision,
        "channels_last": row != "fp32",
        "compile": row == "compile",
        "batch": batch,
        "crop": [ch, cw],
        "images_per_s": timed * batch / seconds,
        "first_step_s": timer.ends[0] - timer.start,
        "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else None,
        "losses": [float(v) for v in timer.losses],
        "parameters_m": sum(p.numel() for p in task.net.parameters()) / 1e6,
    }


def section_predict(settings: dict[str, Any], work: Path) -> dict[str, Any]:
    """``iim-predict`` on the synthetic video, per precision; the Predictor and the network alone beside it."""
    import torch

    from iim.cli.predict import predict
    from iim.inference import Predictor
    from iim.inference.video import read_frames

    device = settings["device"]
    ckpt, video = _checkpoint(settings, work), _video(settings, work)
    frames = [f for _, _, f in read_frames(video)]
    out: dict[str, Any] = {"frames": len(frames), "size": settings["video"]["size"], "per_precision": {}}
    for precision in settings["predict_precisions"]:
        base = [f"ckpt={ckpt}", f"inputs=[{_quote(video)}]", f"device={device}", f"precision={precision}",
                "progress=false", "on_existing=overwrite"]  # fmt: skip
        warm = _compose("predict", [*base, f"output_dir={work / 'predict_warm'}", "video.max_frames=3"], work)
        predict(warm)  # cuDNN's algorithm search and the first allocations happen here
        t0 = time.perf_counter()
        predictor = Predictor.from_checkpoint(ckpt, device=device, precision=precision)
        load_s = time.perf_counter() - t0
        cfg = _compose("predict", [*base, f"output_dir={work / f'predict_{precision}'}"], work)
        _sync(device)
        t0 = time.perf_counter()
        summary = predict(cfg)
        _sync(device)
        command_s = time.perf_counter() - t0
        if summary["failed"]:
            raise RuntimeError(f"iim-predict failed: {summary['failed']}")
        done = int(summary["results"][0]["frames"])
        t0 = time.perf_counter()
        counts = [p.count for p in predictor.predict_many(frames)]
        _sync(device)
        predictor_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        for frame in frames:
            predictor.predict_maps(frame[None])
        _sync(device)
        network_s = time.perf_counter() - t0
        out["per_precision"][precision] = {
            "command_fps": done / max(command_s - load_s, 1e-9),
            "command_s": command_s,
            "load_s": load_s,
            "predictor_fps": len(frames) / predictor_s,
            "network_fps": len(frames) / network_s,
            "mean_count": sum(counts) / max(len(counts), 1),
        }
        del predictor
        if device == "cuda":
            torch.cuda.empty_cache()
    return out


def section_eval(settings: dict[str, Any], work: Path) -> dict[str, Any]:
    """``iim-eval`` of the random checkpoint on synthetic 1080p images (custom format)."""
    from iim.cli.eval import evaluate
    from iim.data import write_synthetic_dataset

    n, (h, w) = settings["eval"]["images"], settings["eval"]["size"]
    ckpt = _checkpoint(settings, work)
    root = work / f"eval_data_{w}x{h}_{n}"
    if not (root / "test.txt").is_file():
        shutil.rmtree(root, ignore_errors=True)
        write_synthetic_dataset(root, splits={"test": n}, seed=settings["seed"], image_format="jpg", height=h,
                                width=w, max_heads=settings["max_heads"])  # fmt: skip
    overrides = [f"ckpt_path={ckpt}", "data=custom", f"data.root={root}", "split=test",
                 _trainer_preset(settings["device"]), "trainer.enable_progress_bar=false",
                 f"data.num_workers={settings['num_workers']}"]  # fmt: skip
    cfg = _compose("eval", overrides, work / "eval_run")
    t0 = time.perf_counter()
    result = evaluate(cfg)
    seconds = time.perf_counter() - t0
    if result["images"] != n:
        raise RuntimeError(f"iim-eval scored {result['images']} of {n} images")
    precision = str(cfg.trainer.precision)
    return {"images": n, "size": [h, w], "seconds": seconds, "images_per_s": n / seconds, "precision": precision}


SECTIONS: dict[str, Callable[..., dict[str, Any]]] = {
    "train": section_train,
    "predict": section_predict,
    "eval": section_eval,
}


# --------------------------------------------------------------------------------------------- orchestration
def _worker(spec_json: str) -> int:
    """Run one section from its JSON spec and print its result on the last line (``GPU_CHECK_RESULT {...}``)."""
    spec = json.loads(spec_json)
    if spec["settings"].get("threads"):
        import torch

        torch.set_num_threads(spec["settings"]["threads"])
    result = SECTIONS[spec["section"]](spec["settings"], Path(spec["work"]), **spec.get("kwargs", {}))
    print(RESULT_TAG + json.dumps(result), flush=True)
    return 0


def _last_error(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    errors = [line for line in lines if "Error" in line or "error" in line]
    return (errors[-1] if errors else (lines[-1] if lines else "no output"))[:300]


def _run_isolated(spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    """The section in a child process (its own process group, killed with its compile workers on timeout)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise TimeoutError(f"timed out after {timeout:.0f} s") from None
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG) :])
    raise RuntimeError(f"exit status {proc.returncode}: {_last_error(stderr or stdout)}")


class Runner:
    """Runs the sections in order within the time budget, recording results and failures."""

    def __init__(self, settings: dict[str, Any], work: Path, budget_s: float, inline: bool) -> None:
        self.settings, self.work, self.inline = settings, work, inline
        self.deadline = time.monotonic() + budget_s
        self.failures: list[str] = []

    def run(self, name: str, section: str, reserve_s: float = 0.0, **kwargs: Any) -> dict[str, Any]:
        """``{"ok": True, **result, "wall_s": ...}`` or ``{"ok": False, "error": ...}``."""
        spec = {"section": section, "settings": self.settings, "work": str(self.work), "kwargs": kwargs}
        left = self.deadline - time.monotonic() - reserve_s
        t0 = time.monotonic()
        print(f"gpu_check: {name} ...", file=sys.stderr, flush=True)
        try:
            if self.inline:  # what the commands print (Lightning's test table) goes to stderr, the report to stdout
                with contextlib.redirect_stdout(sys.stderr):
                    result = SECTIONS[section](self.settings, self.work, **kwargs)
            else:
                if left < 20:
                    raise TimeoutError(f"not run: {max(left, 0):.0f} s left of the time budget")
                result = _run_isolated(spec, left)
            out = {"ok": True, **result}
        except Exception as err:  # a failing section is reported in the table; the others still run
            if self.inline:
                traceback.print_exc()
            message = " ".join(f"{type(err).__name__}: {err}".split())[:300]
            self.failures.append(f"{name}: {message}")
            out = {"ok": False, "error": message}
        out["wall_s"] = time.monotonic() - t0
        print(f"gpu_check: {name}: {'ok' if out['ok'] else out['error']} ({out['wall_s']:.1f} s)", file=sys.stderr)
        return out


# ------------------------------------------------------------------------------------------------------ report
def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}" if math.isfinite(value) else str(value)
    return str(value)


def _header(settings: dict[str, Any]) -> list[str]:
    import pytorch_lightning as pl
    import torch

    lines = ["## iim GPU check", ""]
    if settings["device"] == "cuda":
        props = torch.cuda.get_device_properties(0)
        lines.append(f"- GPU: {props.name} (compute capability {props.major}.{props.minor}, "
                     f"{props.total_memory / 2**30:.0f} GiB), {torch.cuda.device_count()} visible")  # fmt: skip
    else:
        lines.append(f"- device: CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)")
    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    lines += [
        f"- torch {torch.__version__}, CUDA {torch.version.cuda or '-'}, cuDNN {cudnn or '-'}, "
        f"pytorch_lightning {pl.__version__}, Python {platform.python_version()}",
        f"- TF32: cuDNN convolutions {torch.backends.cudnn.allow_tf32}, matmul {torch.backends.cuda.matmul.allow_tf32}"
        " (PyTorch's defaults: the fp32 rows are what `trainer.precision=32-true` gets)",
        f"- mode: {'quick (tiny sizes: a smoke test, not a measurement)' if settings['quick'] else 'full'}; "
        f"crops {settings['crop'][0]}x{settings['crop'][1]}, {settings['steps']} steps "
        f"({settings['warmup']} warm-up), batch " + ", ".join(f"{k} {v}" for k, v in settings["batch"].items()),
        "",
    ]
    return lines


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"] + [
        "| " + " | ".join(r) + " |" for r in rows
    ]


def _report(settings: dict[str, Any], train: dict[str, dict[str, Any]], predict: dict[str, Any],
            evaluation: dict[str, Any]) -> tuple[list[str], list[list[str]]]:  # fmt: skip
    lines: list[str] = []
    goals: list[list[str]] = []
    rows = []
    for net in NETWORKS:
        base = train.get(f"{net}/fp32", {})
        for row in ROWS:
            r = train.get(f"{net}/{row}")
            if r is None:
                continue
            label = {"fp32": "fp32", "mixed": "mixed + channels_last", "compile": "mixed + channels_last + compile"}
            if not r["ok"]:
                rows.append([net, label[row], "-", "-", "-", "-", "-", f"FAILED: {r['error']}"])
                continue
            speedup = r["images_per_s"] / base["images_per_s"] if base.get("ok") and row != "fp32" else None
            compiled = f" ({settings['compile']['backend']} backend)" if row == "compile" and settings["quick"] else ""
            rows.append([
                net, label[row] + compiled, r["precision"], f"{r['batch']}", _fmt(r["images_per_s"], 2),
                f"{speedup:.2f}x" if speedup else "-", _fmt(r["first_step_s"]),
                f"{_fmt(r['peak_memory_gib'], 2)}" if r["peak_memory_gib"] is not None else "- (CPU)",
            ])  # fmt: skip
        skipped = [row for row in ROWS if f"{net}/{row}" not in train]
        if skipped:
            rows.append([net, ", ".join(skipped), "-", "-", "-", "-", "-", "skipped (--quick)"])
    crop = f"{settings['crop'][0]}x{settings['crop'][1]}"
    lines += [f"### Training ({crop} crops of synthetic crowds, LocatorTask.training_step under Trainer.fit)", ""]
    lines += _table(["network", "configuration", "precision", "batch", "images/s", "vs fp32", "first step s",
                     "peak GPU memory GiB"], rows)  # fmt: skip
    lines.append("")

    window, tol = settings["smooth"], settings["loss_tol"]
    rows = []
    for net in NETWORKS:
        for a, b in (("fp32", "mixed"), ("mixed", "compile")):
            ra, rb = train.get(f"{net}/{a}"), train.get(f"{net}/{b}")
            if ra is None or rb is None:
                continue
            if not (ra["ok"] and rb["ok"]):
                rows.append([net, f"{a} vs {b}", "-", "-", f"{tol:.0%}", "not measured (a run failed)"])
                continue
            diff = _max_rel_diff(ra["losses"], rb["losses"], window)
            rows.append([net, f"{a} vs {b}", f"{len(ra['losses'])}", f"{diff:.2%}", f"{tol:.0%}",
                         "yes" if diff <= tol else "NO"])  # fmt: skip
            if (a, b) == ("fp32", "mixed"):
                speed = rb["images_per_s"] / ra["images_per_s"]
                met = speed >= SPEEDUP_GOAL and diff <= tol
                goals.append([f"{net}: mixed precision >= {SPEEDUP_GOAL:.0f}x fp32 training, same early loss",
                              f"{speed:.2f}x, loss within {diff:.2%}", "met" if met else "NOT met"])  # fmt: skip
    lines += [f"### Early loss (the same seed and batches; trailing mean of {window} steps)", ""]
    lines += _table(["network", "runs", "steps", "max relative difference", "tolerance", "agree"], rows)
    lines.append("")

    (h, w), frames = settings["video"]["size"], settings["video"]["frames"]
    net_name = settings["predict_net"]
    lines += [f"### iim-predict: {net_name} on a synthetic {w}x{h} video ({frames} frames)", ""]
    rows = []
    if not predict["ok"]:
        rows.append(["-", "-", "-", "-", f"FAILED: {predict['error']}"])
    else:
        for precision, r in predict["per_precision"].items():
            rows.append([precision, _fmt(r["command_fps"]), _fmt(r["predictor_fps"]), _fmt(r["network_fps"]),
                         f"{r['command_s']:.1f} s with {r['load_s']:.1f} s checkpoint load"])  # fmt: skip
            goal = f"{net_name} at {w}x{h}, {precision}: >= {FPS_GOAL:.0f} frames/s (iim-predict, H100-class)"
            met = "met" if r["command_fps"] >= FPS_GOAL else "NOT met"
            goals.append([goal, f"{r['command_fps']:.1f} frames/s", met])
    lines += _table(["precision", "iim-predict frames/s", "Predictor frames/s", "network frames/s", "command"], rows)
    lines += ["", "(iim-predict: the command's `predict()` with its default outputs, after a warm-up run, checkpoint "
              "load excluded; Predictor: decoded frames in memory, heads extracted, no files; network: "
              "`predict_maps` only)", ""]  # fmt: skip

    (h, w), n = settings["eval"]["size"], settings["eval"]["images"]
    lines += [f"### iim-eval: {net_name} on {n} synthetic {w}x{h} images", ""]
    if evaluation["ok"]:
        row = [evaluation["precision"], f"{evaluation['seconds']:.1f}", _fmt(evaluation["images_per_s"], 2), "ok"]
    else:
        row = ["-", "-", "-", f"FAILED: {evaluation['error']}"]
    lines += _table(["precision", "seconds (checkpoint load included)", "images/s", "status"], [row])
    lines.append("")
    return lines, goals


def _run_all(args: argparse.Namespace, settings: dict[str, Any]) -> int:
    """Run every section, print (and write) the report; 1 when any section failed."""
    inline = args.inline or (args.quick and not args.isolate)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="iim_gpu_check_"))
    work.mkdir(parents=True, exist_ok=True)
    t_start = time.monotonic()
    runner = Runner(settings, work, args.budget_s, inline)

    train: dict[str, dict[str, Any]] = {}
    # measurements first, compiling last: a compile that runs long only costs the budget left at the end
    for net in NETWORKS:
        for row in ("fp32", "mixed"):
            train[f"{net}/{row}"] = runner.run(f"train {net} {row}", "train", reserve_s=60.0, net=net, row=row)
    predict = runner.run("iim-predict", "predict", reserve_s=30.0)
    evaluation = runner.run("iim-eval", "eval")
    for net in settings["compile_nets"]:
        train[f"{net}/compile"] = runner.run(f"train {net} compile", "train", net=net, row="compile")

    lines = _header(settings)
    body, goals = _report(settings, train, predict, evaluation)
    lines += body
    lines += ["### Goals" + (" (--quick: tiny sizes on a CPU, not measurements)" if settings["quick"] else ""), ""]
    lines += _table(["goal", "figure", "status"], goals or [["-", "-", "no figures"]])
    lines.append("")
    status = "all sections ran" if not runner.failures else f"{len(runner.failures)} section(s) FAILED"
    lines.append(f"{status}; {time.monotonic() - t_start:.0f} s in all.")
    lines += [f"- {f}" for f in runner.failures]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if runner.failures else 0


# -------------------------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpu", action="store_true", help="run on the CPU (no GPU needed)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and steps: a smoke test of the script")
    parser.add_argument("--out", type=Path, default=None, help="also write the Markdown table to this file")
    parser.add_argument("--budget-s", type=float, default=450.0, help="time for all sections (isolated runs)")
    parser.add_argument("--inline", action="store_true", help="run the sections in this process (--quick's default)")
    parser.add_argument("--isolate", action="store_true", help="run each section in a child process (full default)")
    parser.add_argument("--steps", type=int, default=None, help="training steps per run (50; --quick: 4)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed first steps (10; --quick: 1)")
    parser.add_argument("--batch-demo", type=int, default=8, help="batch of the demo network")
    parser.add_argument("--batch-hrnet", type=int, default=4, help="batch of HRNet-W48")
    parser.add_argument("--smooth", type=int, default=None, help="trailing-mean window of the loss curves (10)")
    parser.add_argument("--loss-tol", type=float, default=0.05, help="relative tolerance of the smoothed losses")
    parser.add_argument("--frames", type=int, default=None, help="frames of the video (60; --quick: 3)")
    parser.add_argument("--eval-images", type=int, default=None, help="images for iim-eval (50; --quick: 3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's; --quick: 1)")
    parser.add_argument("--workdir", type=Path, default=None, help="keep generated files here (default: a temp dir)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        return _worker(args.worker)

    import torch

    if not args.cpu and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; use --cpu (with --quick for a smoke test)", file=sys.stderr)
        return 2
    if args.warmup is not None and args.steps is not None and not 0 <= args.warmup < args.steps:
        parser.error("--warmup must be >= 0 and below --steps")
    settings = _settings(args)
    threads = args.threads or (1 if args.quick else None)
    if threads:  # two spinning OpenMP threads beside another busy process slow a small CPU step down many times
        torch.set_num_threads(threads)
        settings["threads"] = threads
    previous = torch.get_num_threads()
    try:
        return _run_all(args, settings)
    finally:
        torch.set_num_threads(previous)


if __name__ == "__main__":
    sys.exit(main())
