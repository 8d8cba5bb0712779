"""Schedule values at the boundaries, checked by hand."""

import pytest
import torch

from safelight.objective import ConstantSchedule, LinearSchedule, PaperClampSchedule, ThresholdSchedule, ZeroSchedule
from safelight.objective.weights import UnknownRiskError, example_betas


def t(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32)


def test_paper_clamp_matches_judge_score_formula() -> None:
    # risk s -> judge score r = 1 + 4 s -> beta = clamp((r - 2) / 3, 0.1, 0.9)
    beta = PaperClampSchedule()(t(0.0, 0.25, 0.5, 0.75, 1.0))
    expected = t(0.1, 0.1, 1 / 3, 2 / 3, 0.9)  # r = 1, 2, 3, 4, 5
    torch.testing.assert_close(beta, expected)


def test_linear_endpoints_and_midpoint() -> None:
    torch.testing.assert_close(LinearSchedule(0.1, 0.9)(t(0.0, 0.5, 1.0)), t(0.1, 0.5, 0.9))


def test_threshold_is_inclusive_at_tau_and_zero_below() -> None:
    s = ThresholdSchedule(tau=0.5, beta_high=0.8)
    torch.testing.assert_close(s(t(0.0, 0.4999, 0.5, 1.0)), t(0.0, 0.0, 0.8, 0.8))
    assert not s.never_needs_reference
    assert ThresholdSchedule(beta_high=0.0).never_needs_reference


def test_constant_and_zero_ignore_risk() -> None:
    torch.testing.assert_close(ConstantSchedule(0.5)(t(0.0, 1.0)), t(0.5, 0.5))
    torch.testing.assert_close(ZeroSchedule()(t(0.0, 1.0)), t(0.0, 0.0))
    assert ZeroSchedule().never_needs_reference
    assert ConstantSchedule(0.0).never_needs_reference and not ConstantSchedule(0.5).never_needs_reference


def test_schedule_arguments_are_validated() -> None:
    with pytest.raises(ValueError, match="beta_min"):
        PaperClampSchedule(beta_min=0.95, beta_max=0.9)
    with pytest.raises(ValueError, match="beta"):
        ConstantSchedule(1.5)


def test_per_batch_granularity_uses_the_batch_mean_risk() -> None:
    risk = t(0.0, 0.0, 0.0, 1.0)  # one harmful row among four
    per_example = example_betas(LinearSchedule(0.0, 0.8), risk, "example")
    per_batch = example_betas(LinearSchedule(0.0, 0.8), risk, "batch")
    torch.testing.assert_close(per_example, t(0.0, 0.0, 0.0, 0.8))
    torch.testing.assert_close(per_batch, t(0.2, 0.2, 0.2, 0.2))


def test_nan_risk_is_refused_and_rows_named() -> None:
    with pytest.raises(UnknownRiskError, match=r"rows \[1\]"):
        example_betas(PaperClampSchedule(), t(0.0, float("nan")), "example")


def test_out_of_range_risk_is_refused() -> None:
    with pytest.raises(ValueError, match="risk must lie"):
        example_betas(PaperClampSchedule(), t(0.0, 1.5), "example")
