"""``LocalizationMetrics``: the NWPU-Crowd localization + counting metrics as a torchmetrics ``Metric``.

The matching runs on the CPU in numpy/scipy (:func:`~iim.metrics.match_points`); only the summed counts live in
the metric's states, all with ``dist_reduce_fx="sum"``, so the result under DDP equals a single-process run over
all images (micro-averaging needs only sums).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import torch
from torch import Tensor
from torchmetrics import Metric

from iim.metrics.counting import LocalizationCounts, MatchingProtocol, score_images
from iim.metrics.matching import NUM_LEVELS

__all__ = ["LocalizationMetrics"]

_COUNT_STATES = ("tp", "fp", "fn", "tp_c", "fn_c")
_SCALAR_STATES = ("abs_err", "sq_err", "nae_sum", "nae_images", "num_images")


class LocalizationMetrics(Metric):
    """Localization (precision / recall / F1, per-level recall) and counting (MAE / MSE / NAE) metrics.

    Exactly the NWPU-Crowd evaluator (``misc/compute_metric.py`` of IIM == NWPU ``eval/eval.py``): per image a
    maximum-cardinality matching of predictions to heads, a head matched iff within its own radius (inclusive);
    counts summed over all images, then micro-averaged. See :mod:`iim.metrics.counting` for the formulas and the
    two protocols.

    Args:
        protocol: ``"nwpu"`` (default): every head has its own ``sigma_s`` and ``sigma_l`` and a level 0..5.
            ``"fixed"``: every head is matched within the same radius, once per entry of ``radii``.
        radii: Radii in pixels for ``protocol="fixed"`` (default ``(4, 8)``); must be ``None`` for ``"nwpu"``.
        kwargs: Passed to :class:`torchmetrics.Metric` (``sync_on_compute``, ``process_group``, ...).

    ``compute()`` returns float64 scalar tensors:

    - ``"nwpu"``: ``precision_s, recall_s, f1_s, precision_l, recall_l, f1_l``; ``precision, recall, f1`` (= the
      ``sigma_l`` ones, the headline numbers); ``recall_a0`` .. ``recall_a5`` and ``recall_mean`` (per-level recall
      under ``sigma_l`` and the plain mean of the six); ``mae``, ``mse`` (root mean squared error, as the field
      names it), ``nae`` (over images with a positive ground-truth count); ``num_images``.
    - ``"fixed"`` with ``radii=(4, 8)``: ``precision_r4, recall_r4, f1_r4, precision_r8, recall_r8, f1_r8``;
      ``precision, recall, f1`` (= those of the last radius); ``mae, mse, nae, num_images``.

    Shape:
        - preds: a sequence of :math:`(N_i, 2)` tensors or arrays, (x, y) pixels, one per image (any device)
        - targets: a sequence of mappings, one per image, with ``"points"`` :math:`(M_i, 2)`; for ``"nwpu"`` also
          ``"sigma_s"``, ``"sigma_l"``, ``"level"`` :math:`(M_i,)`; optional ``"count"`` (the ground-truth count used
          for MAE/MSE/NAE, e.g. the ``num`` of the gt file; defaults to :math:`M_i`)

    Example:
        >>> m = LocalizationMetrics()
        >>> gt = {"points": torch.tensor([[10.0, 10], [30, 10], [100, 100]]), "sigma_s": torch.tensor([2, 2, 5]),
        ...       "sigma_l": torch.tensor([6, 6, 12]), "level": torch.tensor([1, 2, 3])}
        >>> m.update([torch.tensor([[11.0, 10], [14, 10], [35, 10], [200, 200]])], [gt])
        >>> round(m.compute()["f1"].item(), 4)
        0.5714
    """

    is_differentiable = False
    higher_is_better: bool | None = None  # F1 higher, MAE lower
    full_state_update = False

    tp: Tensor
    fp: Tensor
    fn: Tensor
    tp_c: Tensor
    fn_c: Tensor
    abs_err: Tensor
    sq_err: Tensor
    nae_sum: Tensor
    nae_images: Tensor
    num_images: Tensor

    def __init__(
        self,
        protocol: Literal["nwpu", "fixed"] = "nwpu",
        radii: Sequence[float] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.protocol = MatchingProtocol(protocol, None if radii is None else tuple(radii))
        k = len(self.protocol.suffixes)
        for name in ("tp", "fp", "fn"):
            self.add_state(name, default=torch.zeros(k, dtype=torch.long), dist_reduce_fx="sum")
        for name in ("tp_c", "fn_c"):
            self.add_state(name, default=torch.zeros(k, NUM_LEVELS, dtype=torch.long), dist_reduce_fx="sum")
        for name in ("abs_err", "sq_err", "nae_sum"):
            self.add_state(name, default=torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        for name in ("nae_images", "num_images"):
            self.add_state(name, default=torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: Sequence[Any], targets: Sequence[Mapping[str, Any]]) -> None:
        """Match every image of a batch and add its counts.

        Args:
            preds: One ``(N_i, 2)`` array/tensor of predicted (x, y) points per image.
            targets: One mapping per image (see the class docstring).
        """
        batch = LocalizationCounts.zeros(len(self.protocol.suffixes))
        for score in score_images(preds, targets, self.protocol):
            batch.add(score)
        for name in (*_COUNT_STATES, *_SCALAR_STATES):
            state = getattr(self, name)
            setattr(self, name, state + torch.as_tensor(getattr(batch, name), dtype=state.dtype, device=state.device))

    def counts(self) -> LocalizationCounts:
        """The current (local, unsynchronised) states as a numpy :class:`~iim.metrics.LocalizationCounts`."""
        values = {name: getattr(self, name).detach().cpu().numpy() for name in (*_COUNT_STATES, *_SCALAR_STATES)}
        return LocalizationCounts(
            tp=values["tp"],
            fp=values["fp"],
            fn=values["fn"],
            tp_c=values["tp_c"],
            fn_c=values["fn_c"],
            abs_err=float(values["abs_err"]),
            sq_err=float(values["sq_err"]),
            nae_sum=float(values["nae_sum"]),
            nae_images=int(values["nae_images"]),
            num_images=int(values["num_images"]),
        )

    def compute(self) -> dict[str, Tensor]:
        """The dataset-level metrics (see the class docstring for the keys)."""
        summary = self.counts().summary(self.protocol)
        return {k: torch.tensor(v, dtype=torch.float64) for k, v in summary.items()}

    def extra_repr(self) -> str:
        radii = "" if self.protocol.radii is None else f", radii={self.protocol.radii}"
        return f"protocol={self.protocol.name!r}{radii}"
