"""Per-step training metrics (`train/nll`, `train/kl`, `train/beta`, `train/risk`) as torchmetrics,
so epoch values are synced across ranks and weighted correctly (token-weighted for nll and kl)."""

from __future__ import annotations

from lightning.pytorch import LightningModule
from torch import Tensor, nn
from torchmetrics import MeanMetric

from safelight.objective.loss import ObjectiveSums


class TrainingMetrics(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.nll = MeanMetric()
        self.kl = MeanMetric()
        self.beta = MeanMetric()
        self.risk = MeanMetric()

    def update(self, sums: ObjectiveSums, risk: Tensor, beta: Tensor) -> None:
        n = max(sums.n_tokens, 1)
        # Calling the metric (forward) both accumulates for the epoch and returns this batch's value.
        self.nll(sums.nll / n, weight=float(n))
        self.kl(sums.kl / n, weight=float(n))
        self.beta(beta.detach())
        self.risk(risk.detach())

    def log_to(self, module: LightningModule) -> None:
        for name in ("nll", "kl", "beta", "risk"):
            module.log(f"train/{name}", getattr(self, name), on_step=True, on_epoch=True)
