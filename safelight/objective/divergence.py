"""Per-position divergences between the reference and the policy over the full vocabulary."""

from __future__ import annotations

from typing import Literal

from torch import Tensor

Direction = Literal["forward", "reverse"]


def token_kl(policy_logp: Tensor, reference_logp: Tensor, direction: Direction = "forward") -> Tensor:
    """KL per position from log-probabilities of shape (..., vocab); returns shape (...).

    forward: KL(pi_ref || pi_theta), the paper's choice (mass-covering: the policy must keep
    probability wherever the reference puts it, e.g. on refusals). reverse: KL(pi_theta || pi_ref).
    """
    if direction == "forward":
        return (reference_logp.exp() * (reference_logp - policy_logp)).sum(-1)
    if direction == "reverse":
        return (policy_logp.exp() * (policy_logp - reference_logp)).sum(-1)
    raise ValueError(f"divergence must be 'forward' or 'reverse', got {direction!r}")
