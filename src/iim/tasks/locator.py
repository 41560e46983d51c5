"""LocatorTask: the LightningModule that trains, validates and tests an IIM network.

No model code lives here: the task receives a built :class:`~iim.models.IIMNet`, the loss, and optimizer/scheduler
factories per parameter group, all from Hydra config. Training uses Lightning's manual optimization so that the
confidence predictor and the threshold encoder have optimizers (and schedulers) of their own (Lightning 2 runs one
optimizer in automatic optimization, and refuses ``Trainer(gradient_clip_val=...)`` and ``accumulate_grad_batches``
for manual optimization). The task therefore takes those two as its own arguments and does them with Lightning's
manual-optimization tools: ``manual_backward`` (mixed-precision scaling), ``clip_gradients``, and the accumulation
pattern of Lightning's manual-optimization guide. Validation and
test run whole images through tiled inference, extract instances, and feed :class:`~iim.metrics.LocalizationMetrics`.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from iim.losses import IIMLoss
from iim.metrics import LocalizationMetrics
from iim.models import IIMNet
from iim.modules.configurable import Configurable, NotConfigurableError
from iim.ops import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    SPLIT_MIN_DISTANCE,
    extract_instances_batch,
    normalize_image,
    tiled_inference,
)
from iim.targets import sigmas_and_levels
from iim.tasks.optim import OptimizerGroup, SchedulerGroup
from iim.validation import as_threshold_offset

__all__ = ["LocatorTask", "NonFiniteLossError", "ThresholdCollapseError"]

OptimizerFactory = Callable[..., Optimizer]
SchedulerFactory = Callable[..., Any]


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite."""


class ThresholdCollapseError(RuntimeError):
    """The learned threshold saturated at a bound of its range (the original code's issue #27)."""


class LocatorTask(pl.LightningModule):
    """Train, validate and test an IIM network.

    Args:
        net: The network.
        loss: The IIM loss (MSE on the confidence + L1 on the binary map; see :class:`~iim.losses.IIMLoss`).
        optimizers: Optimizer factories by parameter group: ``confidence`` (backbone + neck + head) and
            ``threshold`` (threshold encoder), each called with that group's parameters. A fixed threshold has no
            parameters; its optimizer is then left out.
        schedulers: Scheduler factories by group (same keys), called with the group's optimizer (and
            ``total_steps`` when they take it); a group without one keeps its learning rate.
        mean: Dataset mean (RGB, [0, 1]) used to normalise the uint8 batches on the device.
        std: Dataset standard deviation.
        inference: Keyword arguments of :func:`~iim.ops.tiled_inference` for validation and test.
        min_area: Smallest component counted as a head (3).
        connectivity: 4 (the original) or 8.
        split_heads: In validation and test, cut components holding several confidence peaks into one head per peak
            (:func:`iim.ops.split_touching`; off: the original).
        split_min_distance: With ``split_heads``: least distance in pixels between two peaks that count as two heads.
        threshold_offset: In validation and test, added to the learned threshold before binarizing
            (``confidence >= threshold + offset``; 0: the trained model, as the original).
        metric_protocol: ``"nwpu"`` (per-head sigma from the boxes) or ``"fixed"`` (radii below).
        metric_radii: Radii of the fixed protocol.
        accumulate_grad_batches: Batches whose gradients are summed before a step.
        gradient_clip_val: Clip the gradient norm (all parameters together) to this; ``None`` disables.
        on_nonfinite: ``"stop"`` (raise :class:`NonFiniteLossError`) or ``"skip"`` (drop the batch; stop after
            ``max_skipped_batches`` in a row).
        max_skipped_batches: See ``on_nonfinite``.
        on_threshold_collapse: ``"warn"``, ``"stop"`` or ``"ignore"`` when the mean threshold stays within
            ``collapse_tolerance`` of a bound of the compressed sigmoid (0.2 or 0.7) for ``collapse_patience`` steps.
        collapse_tolerance: See ``on_threshold_collapse``.
        collapse_patience: See ``on_threshold_collapse``.
        val_start_epoch: First epoch (0-based) with validation (the original: 24).
        val_every_n_epochs: Validate every this many epochs from then on (the original: 4).
        num_val_examples: Validation images kept in ``val_examples`` for the picture-logging callback.
        net_config: The network's (resolved) ``_target_`` config, stored in checkpoints under ``"iim"`` so that
            the network can be rebuilt without this task (``iim-eval``, the Predictor, export). ``None`` (the
            default): the network's own record of how it was built (:meth:`iim.modules.Configurable.config`), so
            a task made in plain Python or by ``iim-train`` writes loadable checkpoints alike. A class of the
            user's own inside the network records its arguments by deriving from ``Configurable`` too.
        channels_last: Memory layout of the network's weights, set in :meth:`configure_model`: ``True`` converts
            the network to ``torch.channels_last`` (the layout the data pipeline's batches come in), ``False``
            leaves it as built, ``None`` (the default) converts it when the trainer runs on a CUDA device
            (``trainer=gpu``, ``trainer=ddp``), where cuDNN's NHWC kernels are the fast ones for bf16/fp16.
        compile: ``torch.compile`` the network in :meth:`configure_model`: ``False``, ``True``, or a dict of
            ``torch.compile``'s keyword arguments (``{"mode": "max-autotune"}``, ``{"backend": "aot_eager"}``).
            The network is compiled in place (``nn.Module.compile``), so its ``state_dict`` keys stay ``net.*``
            (no ``_orig_mod.``) and checkpoints load as eager ones do. Validation and test run it compiled too.
    """

    def __init__(
        self,
        net: IIMNet,
        loss: IIMLoss | None = None,
        optimizers: Mapping[str, OptimizerFactory] | None = None,
        schedulers: Mapping[str, SchedulerFactory | None] | None = None,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        inference: Mapping[str, Any] | None = None,
        min_area: int = 3,
        connectivity: int = 4,
        split_heads: bool = False,
        split_min_distance: int = SPLIT_MIN_DISTANCE,
        threshold_offset: float = 0.0,
        metric_protocol: str = "nwpu",
        metric_radii: Sequence[float] | None = None,
        accumulate_grad_batches: int = 1,
        gradient_clip_val: float | None = None,
        on_nonfinite: str = "stop",
        max_skipped_batches: int = 10,
        on_threshold_collapse: str = "warn",
        collapse_tolerance: float = 1e-3,
        collapse_patience: int = 100,
        val_start_epoch: int = 0,
        val_every_n_epochs: int = 1,
        num_val_examples: int = 2,
        net_config: Mapping[str, Any] | None = None,
        channels_last: bool | None = None,
        compile: bool | Mapping[str, Any] = False,
    ) -> None:
        super().__init__()
        if on_nonfinite not in ("stop", "skip"):
            raise ValueError(f"LocatorTask: `on_nonfinite` must be 'stop' or 'skip', got {on_nonfinite!r}")
        if on_threshold_collapse not in ("warn", "stop", "ignore"):
            raise ValueError(
                "LocatorTask: `on_threshold_collapse` must be 'warn', 'stop' or 'ignore', got "
                f"{on_threshold_collapse!r}"
            )
        if accumulate_grad_batches < 1 or val_every_n_epochs < 1 or val_start_epoch < 0:
            raise ValueError(
                "LocatorTask: `accumulate_grad_batches` and `val_every_n_epochs` must be >= 1 and `val_start_epoch` "
                f">= 0, got {accumulate_grad_batches}, {val_every_n_epochs}, {val_start_epoch}"
            )
        # the factories are callables (not checkpoint material); the resolved run config keeps them
        self.save_hyperparameters(ignore=["net", "loss", "optimizers", "schedulers", "net_config"])
        self.net_config = dict(net_config) if net_config is not None else None
        self.automatic_optimization = False
        self.net = net
        self.loss = loss if loss is not None else IIMLoss()
        default_opt = {"confidence": torch.optim.Adam, "threshold": torch.optim.Adam}
        self.optimizer_factories = dict(optimizers or default_opt)
        self.scheduler_factories = dict(schedulers or {})
        self.mean, self.std = tuple(float(v) for v in mean), tuple(float(v) for v in std)
        self.inference = dict(inference or {})
        self.min_area, self.connectivity = min_area, connectivity
        self.split_heads, self.split_min_distance = bool(split_heads), int(split_min_distance)
        self.threshold_offset = as_threshold_offset("LocatorTask: `threshold_offset`", threshold_offset)
        # set by iim-eval's sweep: test_predictions then also hold each image's confidence and threshold maps
        self.keep_test_maps = False
        self.val_metrics = LocalizationMetrics(protocol=metric_protocol, radii=metric_radii)
        self.test_metrics = LocalizationMetrics(protocol=metric_protocol, radii=metric_radii)
        self.metric_protocol = metric_protocol
        self.val_examples: list[dict[str, Any]] = []
        self.test_predictions: list[dict[str, Any]] = []
        self._skipped_in_a_row = 0
        self._collapsed_steps = 0
        self._collapse_warned = False
        if not isinstance(compile, (bool, Mapping)):
            raise ValueError(f"LocatorTask: `compile` must be a bool or torch.compile's arguments, got {compile!r}")
        self._compile_kwargs = dict(compile) if isinstance(compile, Mapping) else ({} if compile else None)
        self._channels_last = channels_last
        self._net_configured = False
        self._config_warned = False
        self._thresholds: list[float] = []

    # ------------------------------------------------------------------------------------------------ checkpoints
    def network_config(self) -> dict[str, Any] | None:
        """The config that rebuilds the network: ``net_config`` if given, else the network's own record; ``None``
        (with a warning, once) when the network holds a part that cannot be written as config."""
        if self.net_config is not None:
            return self.net_config
        net = getattr(self.net, "_orig_mod", self.net)  # a torch.compile'd network
        if not isinstance(net, Configurable):
            reason = f"the network is a {type(net).__name__}, which does not derive from iim.modules.Configurable"
        else:
            try:
                return net.config()
            except NotConfigurableError as err:
                reason = str(err)
        if not self._config_warned:
            pl.utilities.rank_zero_warn(
                f"LocatorTask: checkpoints will not hold a network config ({reason}); Predictor.from_checkpoint, "
                "iim-eval and iim-export need one: derive the part's class from iim.modules.Configurable, or pass "
                "LocatorTask(net_config=...) (a `_target_` config)"
            )
            self._config_warned = True
        return None

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Store what rebuilding the network and its inference needs, as plain data, under ``"iim"``."""
        checkpoint["iim"] = {
            "format": 1,
            "net_config": self.network_config(),
            "mean": list(self.mean),
            "std": list(self.std),
            "inference": dict(self.inference),
            "min_area": self.min_area,
            "connectivity": self.connectivity,
            "split_heads": self.split_heads,
            "split_min_distance": self.split_min_distance,
        }

    # ------------------------------------------------------------------------------------------------ optimizers
    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """The trainable parameters of each group (groups without any are left out)."""
        groups = {"confidence": self.net.confidence_parameters(), "threshold": self.net.threshold_parameters()}
        return {name: [p for p in params if p.requires_grad] for name, params in groups.items() if params}

    def _total_steps(self) -> int:
        batches = self.trainer.estimated_stepping_batches if self._trainer is not None else 1
        if not math.isfinite(batches):
            raise ValueError("LocatorTask: the poly schedule needs a finite run: set trainer.max_epochs or max_steps")
        return max(1, math.ceil(int(batches) / self.hparams.accumulate_grad_batches))

    def configure_optimizers(self) -> Any:
        """One :class:`OptimizerGroup` holding an optimizer per parameter group, with their schedulers."""
        groups = self.parameter_groups()
        unknown = set(self.optimizer_factories) - {"confidence", "threshold"}
        if unknown:
            raise ValueError(f"LocatorTask: unknown optimizer groups {sorted(unknown)}; use 'confidence', 'threshold'")
        optimizers = {}
        for name, params in groups.items():
            if name not in self.optimizer_factories:
                raise ValueError(f"LocatorTask: no optimizer configured for the {name!r} parameters")
            optimizers[name] = self.optimizer_factories[name](params)
        group = OptimizerGroup(optimizers)
        schedulers = {}
        for name, opt in optimizers.items():
            factory = self.scheduler_factories.get(name)
            if factory is None:
                continue
            takes_total = "total_steps" in inspect.signature(factory).parameters
            schedulers[name] = factory(opt, total_steps=self._total_steps()) if takes_total else factory(opt)
        return [group], [{"scheduler": SchedulerGroup(group, schedulers), "interval": "step"}]

    def lr_scheduler_step(self, scheduler: Any, metric: Any) -> None:
        """Schedulers are stepped by the task itself (manual optimization)."""

    def _scheduler_group(self) -> SchedulerGroup | None:
        configs = self.trainer.lr_scheduler_configs if self._trainer is not None else []
        return configs[0].scheduler if configs else None

    # ---------------------------------------------------------------------------------------- layout, compile
    def wants_channels_last(self) -> bool:
        """Whether :meth:`configure_model` puts the network in ``channels_last`` (see ``channels_last``)."""
        if self._channels_last is not None:
            return bool(self._channels_last)
        return self._trainer is not None and self.trainer.strategy.root_device.type == "cuda"

    def configure_model(self) -> None:
        """Convert the network to ``channels_last`` and compile it, as asked (once; Lightning calls this on every
        fit / validate / test, before it moves the network to the device and wraps it for DDP)."""
        if self._net_configured:
            return
        self._net_configured = True
        if self.wants_channels_last():
            self.net.to(memory_format=torch.channels_last)
        if self._compile_kwargs is not None:
            self.net.compile(**self._compile_kwargs)

    def setup(self, stage: str) -> None:
        """Before fitting, give Lightning's model summary an example input of the training crop's size, so that it
        reports FLOPs and tensor sizes (not a column of zeros). Left out for a compiled network (it would compile
        at that size first)."""
        datamodule = getattr(self._trainer, "datamodule", None) if self._trainer is not None else None
        crop = getattr(getattr(datamodule, "train_transform", None), "crop_size", None)
        if stage == "fit" and crop and self._compile_kwargs is None:
            self.example_input_array = torch.zeros(1, 3, int(crop[0]), int(crop[1]))

    # -------------------------------------------------------------------------------------------------- training
    def normalize(self, image: Tensor) -> Tensor:
        """uint8 RGB batch -> normalised float input of the network."""
        return normalize_image(image, self.mean, self.std)

    def forward(self, image: Tensor) -> Any:
        """The network's output on a normalised batch."""
        return self.net(image)

    def _guard_nonfinite(self, losses: Mapping[str, Tensor], threshold: Tensor, batch_idx: int) -> bool:
        """True when the batch must be skipped; raises when training must stop."""
        if torch.isfinite(losses["loss"]) and torch.isfinite(threshold).all():
            self._skipped_in_a_row = 0
            return False
        detail = ", ".join(f"{k}={float(v.detach()):.4g}" for k, v in losses.items())
        message = (
            f"non-finite training loss at epoch {self.current_epoch}, batch {batch_idx} (step {self.global_step}): "
            f"{detail}; threshold finite: {bool(torch.isfinite(threshold).all())}. Lower the learning rates "
            "(model.optimizers.threshold.lr first), enable gradient clipping (model.gradient_clip_val) or use "
            "32-bit precision; model.on_nonfinite=skip drops such batches instead of stopping."
        )
        if self.hparams.on_nonfinite == "stop":
            raise NonFiniteLossError(message)
        self._skipped_in_a_row += 1
        self.log("train/skipped_batches", float(self._skipped_in_a_row))
        if self._skipped_in_a_row > self.hparams.max_skipped_batches:
            raise NonFiniteLossError(f"{self._skipped_in_a_row} batches in a row skipped; last: {message}")
        return True

    def _guard_threshold(self, threshold: Tensor) -> None:
        if self.hparams.on_threshold_collapse == "ignore" or not self.net.threshold_parameters():
            return
        mean = float(threshold.detach().float().mean())
        tol = self.hparams.collapse_tolerance
        collapsed = mean <= 0.2 + tol or mean >= 0.7 - tol
        self._collapsed_steps = self._collapsed_steps + 1 if collapsed else 0
        if self._collapsed_steps < self.hparams.collapse_patience:
            return
        message = (
            f"the learned threshold has stayed at {mean:.4f}, a bound of its (0.2, 0.7) range, for "
            f"{self._collapsed_steps} steps (epoch {self.current_epoch}, step {self.global_step}): the threshold "
            "encoder has collapsed. Lower its learning rate (model.optimizers.threshold.lr) or restart from an "
            "earlier checkpoint."
        )
        if self.hparams.on_threshold_collapse == "stop":
            raise ThresholdCollapseError(message)
        if not self._collapse_warned:
            self._collapse_warned = True
            pl.utilities.rank_zero_warn(message)

    def training_step(self, batch: Mapping[str, Any], batch_idx: int) -> Tensor:
        """Forward, loss, (accumulated) backward, clipping, optimizer and per-step scheduler steps."""
        optimizer = self.optimizers()
        accumulate = self.hparams.accumulate_grad_batches
        out = self.net(self.normalize(batch["image"]))
        losses = self.loss(out, batch["instance_map"].to(out.confidence.dtype))
        if self._guard_nonfinite(losses, out.threshold, batch_idx):
            optimizer.zero_grad()
            return losses["loss"].detach()
        self._guard_threshold(out.threshold)
        self.manual_backward(losses["loss"] / accumulate)
        last_batch = (batch_idx + 1) == self.trainer.num_training_batches
        if (batch_idx + 1) % accumulate == 0 or last_batch:
            if self.hparams.gradient_clip_val:
                self.clip_gradients(
                    optimizer, gradient_clip_val=self.hparams.gradient_clip_val, gradient_clip_algorithm="norm"
                )
            optimizer.step()
            optimizer.zero_grad()
            schedulers = self._scheduler_group()
            if schedulers is not None:
                schedulers.step("step")
        threshold = out.threshold.detach()
        batch_size = batch["image"].shape[0]
        logs = {f"train/{k}": v.detach() for k, v in losses.items()}
        logs.update(
            {
                "train/threshold_mean": threshold.mean(),
                "train/threshold_min": threshold.min(),
                "train/threshold_max": threshold.max(),
            }
        )
        self.log_dict(logs, prog_bar=False, batch_size=batch_size)
        self.log("loss", losses["loss"].detach(), prog_bar=True, logger=False, batch_size=batch_size)
        for group in optimizer.param_groups:
            self.log(f"lr/{group['name']}", float(group["lr"]), batch_size=batch_size)
        return losses["loss"].detach()

    def on_train_epoch_end(self) -> None:
        """Step the per-epoch schedulers."""
        schedulers = self._scheduler_group()
        if schedulers is not None:
            schedulers.step("epoch")

    # ------------------------------------------------------------------------------------------ validation/test
    def on_train_epoch_start(self) -> None:
        """Apply the validation schedule: Lightning validates an epoch when ``(epoch + 1) % check_val_every_n_epoch``
        is 0, so the task sets that attribute per epoch from ``val_start_epoch`` / ``val_every_n_epochs``."""
        self.trainer.check_val_every_n_epoch = 1 if self.should_validate(self.current_epoch) else 2**31 - 1

    def should_validate(self, epoch: int) -> bool:
        """Whether epoch ``epoch`` (0-based) is validated (``val_start_epoch`` and ``val_every_n_epochs``)."""
        start, every = self.hparams.val_start_epoch, self.hparams.val_every_n_epochs
        return epoch >= start and (epoch - start) % every == 0

    def _targets(self, batch: Mapping[str, Any]) -> list[dict[str, Any]]:
        targets = []
        for points, boxes, meta in zip(batch["points"], batch["boxes"], batch["meta"]):
            s = sigmas_and_levels(boxes.detach().cpu().numpy().astype(np.float64))
            targets.append(
                {
                    "points": points.detach().cpu().numpy(),
                    "sigma_s": s.sigma_s,
                    "sigma_l": s.sigma_l,
                    "level": s.level,
                    "count": float(meta.get("count", len(points))),
                }
            )
        return targets

    def predict_maps(self, image: Tensor) -> Any:
        """Tiled inference on a uint8 batch (normalised here)."""
        return tiled_inference(self.net, self.normalize(image), **self.inference)

    def _evaluate(self, batch: Mapping[str, Any], metrics: LocalizationMetrics, stage: str) -> dict[str, Any]:
        out = self.predict_maps(batch["image"])
        binary = out.binary if not self.threshold_offset else out.confidence >= out.threshold + self.threshold_offset
        instances = extract_instances_batch(
            binary,
            min_area=self.min_area,
            connectivity=self.connectivity,
            split_heads=self.split_heads,
            confidence=out.confidence if self.split_heads else None,
            split_min_distance=self.split_min_distance,
        )
        targets = self._targets(batch)
        metrics.update([inst.points for inst in instances], targets)
        mse = torch.nn.functional.mse_loss(out.confidence, batch["instance_map"].to(out.confidence.dtype))
        batch_size = batch["image"].shape[0]
        self.log(f"{stage}/loss", mse, batch_size=batch_size, sync_dist=True)
        threshold = out.threshold.detach().float().mean()
        self.log(f"{stage}/threshold_mean", threshold, batch_size=batch_size, sync_dist=True)
        self._thresholds.append(float(threshold))
        return {"out": out, "instances": instances, "targets": targets}

    def validation_step(self, batch: Mapping[str, Any], batch_idx: int) -> None:
        """Tiled inference, instance extraction and metric update on whole validation images."""
        result = self._evaluate(batch, self.val_metrics, "val")
        if len(self.val_examples) < self.hparams.num_val_examples:
            out, instances = result["out"], result["instances"]
            for i in range(batch["image"].shape[0]):
                if len(self.val_examples) >= self.hparams.num_val_examples:
                    break
                self.val_examples.append(
                    {
                        "image_id": str(batch["image_id"][i]),
                        "image": batch["image"][i].permute(1, 2, 0).cpu().numpy(),
                        "pred_points": instances[i].points,
                        "gt_points": result["targets"][i]["points"],
                        "gt_sigma": result["targets"][i]["sigma_l"],
                        "confidence": out.confidence[i, 0].float().cpu().numpy(),
                        "threshold": out.threshold[i, 0].float().cpu().numpy(),
                        "binary": out.binary[i, 0].float().cpu().numpy(),
                    }
                )

    def _broadcast_buffers(self) -> None:
        """Give every DDP process rank 0's BatchNorm statistics before evaluating.

        DDP broadcasts rank 0's buffers before each training forward, after which every process updates them from
        its own batch; without this, each process would validate its images with its own statistics rather than the
        checkpoint's (rank 0's), and the summed metrics would not be those of the saved weights.
        """
        if torch.distributed.is_available() and torch.distributed.is_initialized() and self.trainer.world_size > 1:
            for buffer in self.net.buffers():
                torch.distributed.broadcast(buffer, src=0)

    def on_validation_epoch_start(self) -> None:
        """Use rank 0's buffers everywhere and forget the previous epoch's example images."""
        self._broadcast_buffers()
        self.val_examples = []
        self._thresholds = []

    def _log_metrics(self, metrics: LocalizationMetrics, stage: str) -> dict[str, float]:
        values = {k: float(v) for k, v in metrics.compute().items()}
        metrics.reset()
        # torchmetrics already summed the states over processes: every process holds the same values
        self.log_dict({f"{stage}/{k}": v for k, v in values.items()}, sync_dist=True)
        return values

    def on_validation_epoch_end(self) -> None:
        """Compute and log the validation metrics (``val/f1`` picks the best checkpoint); show F1 in the progress
        bar and print one line: epoch, F1, precision, recall, MAE and the mean threshold."""
        values = self._log_metrics(self.val_metrics, "val")
        thresholds, self._thresholds = self._thresholds, []
        if self.trainer.sanity_checking or not values:
            return
        self.log("val_f1", values["f1"], prog_bar=True, logger=False, sync_dist=True)
        mean_threshold = sum(thresholds) / len(thresholds) if thresholds else float("nan")
        self.print(
            f"epoch {self.current_epoch}: val F1 {values['f1']:.4f}  P {values['precision']:.4f}  "
            f"R {values['recall']:.4f}  MAE {values['mae']:.2f}  threshold {mean_threshold:.3f}"
        )

    def test_step(self, batch: Mapping[str, Any], batch_idx: int) -> None:
        """As validation, and keep the predictions for the result files."""
        result = self._evaluate(batch, self.test_metrics, "test")
        for i, inst in enumerate(result["instances"]):
            target = result["targets"][i]
            self.test_predictions.append(
                {
                    "image_id": str(batch["image_id"][i]),
                    "points": inst.points,
                    "boxes": inst.boxes,
                    "target": target,
                    "annotated": bool(batch["meta"][i].get("annotated", True)),
                }
            )
            if self.keep_test_maps:
                out = result["out"]
                self.test_predictions[-1]["confidence"] = out.confidence[i, 0].float().cpu().numpy()
                self.test_predictions[-1]["threshold"] = out.threshold[i, 0].float().cpu().numpy()

    def on_test_epoch_start(self) -> None:
        """Use rank 0's buffers everywhere and start a fresh list of predictions."""
        self._broadcast_buffers()
        self.test_predictions = []

    def on_test_epoch_end(self) -> None:
        """Compute and log the test metrics."""
        self._log_metrics(self.test_metrics, "test")
