"""Safety and utility metrics (torchmetrics, so they sync across ranks)."""

from __future__ import annotations

from torch import nn
from torchmetrics import MeanMetric

SAFETY_METRICS = (
    "asr",
    "harmfulness",
    "keyword_asr",
    "utility",
    "utility_alignment",
    "utility_task",
    "over_refusal",
)


class SafetyMetrics(nn.Module):
    """One MeanMetric per reported number; `prefix` is `eval` (policy) or `eval_reference` (before)."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix
        self.metrics = nn.ModuleDict({name: MeanMetric() for name in SAFETY_METRICS})

    def name(self, metric: str) -> str:
        return f"{self.prefix}/{metric}"
