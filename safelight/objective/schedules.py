"""Risk -> KL-weight schedules. Baselines are schedules too, so every method shares one code path.

A schedule maps per-example risk s in [0, 1] to the KL weight beta in [0, 1]; the NLL weight is
alpha = 1 - beta. `ZeroSchedule` is plain SFT, `ConstantSchedule` is the constant-KL baseline.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import Tensor


def _check_unit(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {value}")


class RiskSchedule(ABC):
    """Maps risk (any shape, values in [0, 1]) to beta of the same shape."""

    #: Short name logged as the MLflow `schedule` param.
    name: str = "schedule"

    @abstractmethod
    def __call__(self, risk: Tensor) -> Tensor: ...

    @property
    def never_needs_reference(self) -> bool:
        """True when beta is 0 for every risk, so the reference is never run."""
        return False

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class PaperClampSchedule(RiskSchedule):
    """The paper's code: judge score r = 1 + 4 s, beta = clamp((r - 2) / 3, beta_min, beta_max)."""

    name = "paper_clamp"

    def __init__(self, beta_min: float = 0.1, beta_max: float = 0.9) -> None:
        _check_unit("beta_min", beta_min)
        _check_unit("beta_max", beta_max)
        if beta_min > beta_max:
            raise ValueError(f"beta_min ({beta_min}) must not exceed beta_max ({beta_max})")
        self.beta_min = beta_min
        self.beta_max = beta_max

    def __call__(self, risk: Tensor) -> Tensor:
        score = 1.0 + 4.0 * risk
        return ((score - 2.0) / 3.0).clamp(self.beta_min, self.beta_max)


class LinearSchedule(RiskSchedule):
    """beta = beta_min + (beta_max - beta_min) * s."""

    name = "linear"

    def __init__(self, beta_min: float = 0.0, beta_max: float = 0.9) -> None:
        _check_unit("beta_min", beta_min)
        _check_unit("beta_max", beta_max)
        self.beta_min = beta_min
        self.beta_max = beta_max

    def __call__(self, risk: Tensor) -> Tensor:
        return self.beta_min + (self.beta_max - self.beta_min) * risk


class ThresholdSchedule(RiskSchedule):
    """beta = beta_high where s >= tau, else 0: low-risk batches skip the reference forward."""

    name = "threshold"

    def __init__(self, tau: float = 0.5, beta_high: float = 0.9) -> None:
        _check_unit("tau", tau)
        _check_unit("beta_high", beta_high)
        self.tau = tau
        self.beta_high = beta_high

    def __call__(self, risk: Tensor) -> Tensor:
        return torch.where(risk >= self.tau, torch.full_like(risk, self.beta_high), torch.zeros_like(risk))

    @property
    def never_needs_reference(self) -> bool:
        return self.beta_high == 0.0


class ConstantSchedule(RiskSchedule):
    """The constant-KL baseline: the same beta whatever the risk."""

    name = "constant"

    def __init__(self, beta: float = 0.5) -> None:
        _check_unit("beta", beta)
        self.beta = beta

    def __call__(self, risk: Tensor) -> Tensor:
        return torch.full_like(risk, self.beta)

    @property
    def never_needs_reference(self) -> bool:
        return self.beta == 0.0


class ZeroSchedule(RiskSchedule):
    """Plain SFT: beta = 0, the reference is never run."""

    name = "zero"

    def __call__(self, risk: Tensor) -> Tensor:
        return torch.zeros_like(risk)

    @property
    def never_needs_reference(self) -> bool:
        return True
