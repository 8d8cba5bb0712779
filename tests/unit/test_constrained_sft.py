"""The token-wise constrained SFT baseline, checked by hand."""

import math

import torch

from safelight.objective import risk_weighted_sums
from safelight.objective.constrained import ConstrainedSFTSettings, constrained_token_loss, response_positions


def test_betas_follow_the_position_in_the_response() -> None:
    mask = torch.tensor([[False, False, True, True, True, True, True, True, True]])
    positions = response_positions(mask)
    assert positions.tolist() == [[0, 0, 1, 2, 3, 4, 5, 6, 7]]
    betas = ConstrainedSFTSettings().betas(positions[mask])
    torch.testing.assert_close(betas, torch.tensor([0.5, 2.0, 2.0, 2.0, 2.0, 0.1, 0.1]))


def test_loss_value_and_gradient_where_policy_equals_reference() -> None:
    nll = torch.tensor([1.3], requires_grad=True)
    for b in (0.1, 0.5, 2.0):
        loss = constrained_token_loss(nll, torch.tensor([1.3]), torch.tensor([b]))
        assert math.isclose(loss.item(), 2 * math.log(2) / b, rel_tol=1e-6)
        (grad,) = torch.autograd.grad(loss, nll)
        assert math.isclose(grad.item(), 1.0, rel_tol=1e-6)  # the same pull as plain NLL there


def test_constraint_saturates_once_the_policy_exceeds_the_reference() -> None:
    # Policy already far more likely than the reference on the target: little gradient left (b = 2).
    nll = torch.tensor([0.1], requires_grad=True)
    loss = constrained_token_loss(nll, torch.tensor([5.0]), torch.tensor([2.0]))
    (grad,) = torch.autograd.grad(loss, nll)
    assert grad.item() == torch.sigmoid(torch.tensor(-2.0 * 4.9)).mul(2).item()
    assert grad.item() < 1e-3


def test_chunked_sums_use_the_constrained_loss() -> None:
    logits = torch.randn(4, 6, generator=torch.Generator().manual_seed(0))
    ref_logits = torch.randn(4, 6, generator=torch.Generator().manual_seed(1))
    targets = torch.tensor([1, 2, 3, 4])
    b = torch.tensor([0.5, 2.0, 2.0, 0.1])
    sums = risk_weighted_sums(logits, targets, torch.zeros(4), lambda x: x, ref_logits, lambda x: x,
                              chunk_size=3, constraint_beta=b)
    nll = -logits.log_softmax(-1).gather(-1, targets[:, None]).squeeze(-1)
    ref_nll = -ref_logits.log_softmax(-1).gather(-1, targets[:, None]).squeeze(-1)
    torch.testing.assert_close(sums.weighted, constrained_token_loss(nll, ref_nll, b).sum())
