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
    """The threshold that maximises balanced accuracy (mean of TPR and TNR) on these scores.

    Separable validation data leaves a range of equally good thresholds; of those, the one nearest
    0.5 is kept (the calibrated probabilities' natural cut), not the extreme ROC corner.
    """
    fpr, tpr, thresholds = binary_roc(scores.float(), labels.long())
    thresholds = thresholds.clamp(0.0, 1.0)
    j = tpr - fpr
    best_choice, best_gap = 0.5, float("inf")
    for b in torch.nonzero(j >= j.max() - 1e-9).flatten().tolist():
        # Any threshold in (next lower score, thresholds[b]] classifies these scores alike.
        high = float(thresholds[b])
        low = float(thresholds[b + 1]) if b + 1 < len(thresholds) else 0.0
        choice = min(max(0.5, low + 1e-6), high) if low < high else high
        if abs(choice - 0.5) < best_gap:
            best_choice, best_gap = choice, abs(choice - 0.5)
    return best_choice
