"""The token-wise constrained SFT baseline (Qi et al. 2024, "Safety Alignment Should Be Made More
Than Just a Few Tokens Deep"):

    loss_t = -(2 / b_t) * log sigmoid( b_t * (log pi_theta(y_t) - log pi_ref(y_t)) )

with larger b_t on the first response tokens, where shallow alignment lives. As b_t -> 0 the term
tends to plain NLL (up to a constant); a large b_t saturates once the policy's log-probability of
the target exceeds the reference's, so the first tokens cannot drift far from the aligned model.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass
class ConstrainedSFTSettings:
    """b_1 = first, b_t = early for 2 <= t <= early_until, b_t = late afterwards (the paper's defaults)."""

    first: float = 0.5
    early: float = 2.0
    late: float = 0.1
    early_until: int = 5

    def betas(self, position_in_response: Tensor) -> Tensor:
        """Per-token b_t from 1-based positions within the response."""
        out = torch.full_like(position_in_response, self.late, dtype=torch.float32)
        out = torch.where(position_in_response <= self.early_until, torch.full_like(out, self.early), out)
        return torch.where(position_in_response == 1, torch.full_like(out, self.first), out)


def constrained_token_loss(policy_nll: Tensor, reference_nll: Tensor, b: Tensor) -> Tensor:
    """Per-token loss from the policy's and reference's NLL of the target token."""
    log_ratio = reference_nll - policy_nll  # log pi_theta(y) - log pi_ref(y)
    return -(2.0 / b) * F.logsigmoid(b * log_ratio)


def response_positions(response_mask: Tensor) -> Tensor:
    """1-based index of each response token within its row's response, shape like the mask."""
    return response_mask.long().cumsum(dim=-1) * response_mask.long()
