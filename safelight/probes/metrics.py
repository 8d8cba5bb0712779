"""Probe metrics (torchmetrics): AUROC, accuracy at a threshold, TPR at a fixed FPR."""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics.functional.classification import binary_accuracy, binary_auroc, binary_roc


def tpr_at_fpr(scores: Tensor, labels: Tensor, max_fpr: float = 0.01) -> float:
    """Highest true-positive rate among ROC points whose false-positive rate is <= max_fpr."""
    fpr, tpr, _ = binary_roc(scores.float(), labels.long())
    ok = fpr <= max_fpr + 1e-12
    return float(tpr[ok].max()) if ok.any() else 0.0


def probe_metrics(scores: Tensor, labels: Tensor, threshold: float) -> dict[str, float]:
    """scores: probabilities in [0, 1]; labels: 1 harmful, 0 benign. Both classes must be present."""
    labels = labels.long()
    if labels.min() == labels.max():
        raise ValueError("metrics need both harmful and benign prompts in the evaluated set")
    return {
        "auroc": float(binary_auroc(scores.float(), labels)),
        "accuracy": float(binary_accuracy(scores.float(), labels, threshold=threshold)),
        "tpr_at_1fpr": tpr_at_fpr(scores, labels, 0.01),
        "n": float(labels.numel()),
    }


def best_threshold(scores: Tensor, labels: Tensor) -> float:
    """The threshold that maximises balanced accuracy (mean of TPR and TNR) on these scores."""
    fpr, tpr, thresholds = binary_roc(scores.float(), labels.long())
    best = int(torch.argmax(tpr - fpr))
    return float(thresholds[best].clamp(0.0, 1.0))
