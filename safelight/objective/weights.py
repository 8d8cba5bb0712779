"""Per-example KL weights from risk, at per-example or per-batch granularity."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from safelight.objective.schedules import RiskSchedule

Granularity = Literal["example", "batch"]


class UnknownRiskError(ValueError):
    """A batch reached the loss with NaN risk: no estimator scored it. Unknown risk is not 'safe'."""


def example_betas(schedule: RiskSchedule, risk: Tensor, granularity: Granularity) -> Tensor:
    """beta per example, shape (batch,).

    per example (default): each row gets the schedule's value at its own risk, so one harmful row
    in a benign batch is still pulled back hard. per batch (the paper): one beta from the batch's
    mean risk, which a single harmful row among many benign ones barely moves.
    """
    if torch.isnan(risk).any():
        bad = torch.nonzero(torch.isnan(risk)).flatten().tolist()
        raise UnknownRiskError(
            f"risk is NaN for batch rows {bad}: configure a judge on the data module "
            "(data.init_args.judge) or a ProbeRiskCallback; refusing to treat unknown risk as safe"
        )
    if risk.min() < 0 or risk.max() > 1:
        raise ValueError(f"risk must lie in [0, 1]; got values in [{risk.min().item()}, {risk.max().item()}]")
    if granularity == "example":
        return schedule(risk)
    if granularity == "batch":
        return schedule(risk.mean()).expand_as(risk)
    raise ValueError(f"granularity must be 'example' or 'batch', got {granularity!r}")
