"""Probe classifiers on pooled activations: L2 logistic regression (default) or a small MLP, with
feature standardisation and Platt calibration, all in torch and seeded.

Logistic regression is fit full batch with L-BFGS (convex: the seed does not matter); the MLP is
fit full batch with Adam from a seeded initialisation. Calibration fits p = sigmoid(a * z + b) on
validation logits z with a = exp(log_a) > 0, so calibration never reverses the ranking.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

ClassifierKind = Literal["logistic", "mlp"]


class ProbeModel(nn.Module):
    """standardise -> head -> logit; `proba` is the calibrated probability of harmful intent."""

    def __init__(self, hidden_size: int, kind: ClassifierKind = "logistic", mlp_hidden: int = 64) -> None:
        super().__init__()
        self.kind = kind
        self.mlp_hidden = mlp_hidden
        self.register_buffer("mean", torch.zeros(hidden_size))
        self.register_buffer("std", torch.ones(hidden_size))
        if kind == "logistic":
            self.head: nn.Module = nn.Linear(hidden_size, 1)
        elif kind == "mlp":
            self.head = nn.Sequential(nn.Linear(hidden_size, mlp_hidden), nn.GELU(), nn.Linear(mlp_hidden, 1))
        else:
            raise ValueError(f"classifier must be 'logistic' or 'mlp', got {kind!r}")
        self.calib_log_scale = nn.Parameter(torch.zeros(()), requires_grad=False)
        self.calib_bias = nn.Parameter(torch.zeros(()), requires_grad=False)

    def logits(self, features: Tensor) -> Tensor:
        x = (features.float() - self.mean) / self.std
        return self.head(x).squeeze(-1)

    def proba(self, features: Tensor) -> Tensor:
        z = self.logits(features)
        return torch.sigmoid(self.calib_log_scale.exp() * z + self.calib_bias)


def _l2_penalty(model: ProbeModel) -> Tensor:
    # Biases are not penalised: the class prior must stay free.
    return sum((p ** 2).sum() for n, p in model.head.named_parameters() if n.endswith("weight"))


def fit_probe(
    features: Tensor,
    labels: Tensor,
    l2: float,
    kind: ClassifierKind = "logistic",
    seed: int = 0,
    mlp_hidden: int = 64,
    max_iter: int = 200,
) -> ProbeModel:
    """Fit on (n, hidden) features and {0,1} labels; the loss is mean BCE + l2 * ||W||^2."""
    torch.manual_seed(seed)
    x = features.float()
    y = labels.float()
    model = ProbeModel(x.shape[1], kind, mlp_hidden)
    model.mean.copy_(x.mean(0))
    model.std.copy_(x.std(0).clamp_min(1e-6))
    # Balanced class weights: sources differ in size and the prior should not drive the fit.
    pos = y.mean().clamp(1e-3, 1 - 1e-3)
    weight = torch.where(y > 0.5, 0.5 / pos, 0.5 / (1 - pos))

    def loss_fn() -> Tensor:
        return F.binary_cross_entropy_with_logits(model.logits(x), y, weight=weight) + l2 * _l2_penalty(model)

    params = list(model.head.parameters())
    if kind == "logistic":
        opt = torch.optim.LBFGS(params, lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe")

        def closure() -> Tensor:
            opt.zero_grad()
            loss = loss_fn()
            loss.backward()
            return loss

        opt.step(closure)
    else:
        opt = torch.optim.Adam(params, lr=1e-2)
        for _ in range(max_iter * 2):
            opt.zero_grad()
            loss_fn().backward()
            opt.step()
    model.requires_grad_(False)
    return model


def calibrate(model: ProbeModel, features: Tensor, labels: Tensor, max_iter: int = 100) -> ProbeModel:
    """Platt scaling on held-out (validation) data, in place."""
    with torch.no_grad():
        z = model.logits(features)
    y = labels.float()
    log_a = torch.zeros((), requires_grad=True)
    b = torch.zeros((), requires_grad=True)
    opt = torch.optim.LBFGS([log_a, b], lr=0.5, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        opt.zero_grad()
        # A small prior on log_a keeps the scale finite when validation is perfectly separated.
        loss = F.binary_cross_entropy_with_logits(log_a.exp() * z + b, y) + 1e-3 * log_a ** 2
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        model.calib_log_scale.copy_(log_a.detach().clamp(-5.0, 5.0))
        model.calib_bias.copy_(b.detach())
    return model
