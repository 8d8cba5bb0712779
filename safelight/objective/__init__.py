"""The objective: schedules (risk -> beta), divergences, and the chunked risk-weighted loss."""

from safelight.objective.divergence import token_kl
from safelight.objective.loss import ObjectiveSums, risk_weighted_sums
from safelight.objective.schedules import (
    ConstantSchedule,
    LinearSchedule,
    PaperClampSchedule,
    RiskSchedule,
    ThresholdSchedule,
    ZeroSchedule,
)

__all__ = [
    "ConstantSchedule",
    "LinearSchedule",
    "ObjectiveSums",
    "PaperClampSchedule",
    "RiskSchedule",
    "ThresholdSchedule",
    "ZeroSchedule",
    "risk_weighted_sums",
    "token_kl",
]
