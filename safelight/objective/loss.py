"""The risk-weighted objective of DESIGN.md section 1, computed in chunks over response positions.

    loss = sum_{response tokens t} [ (1 - beta_t) * nll_t + beta_t * KL_t ] / normaliser

Inputs are final hidden states at response positions only, plus the output heads. Logits are
formed chunk by chunk and each chunk runs under activation checkpointing, so at no time do the
(positions x vocabulary) log-probabilities of both models exist in full: peak extra memory is one
chunk of each, whatever the sequence length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor
from torch.utils.checkpoint import checkpoint

from safelight.objective.chunks import position_chunks
from safelight.objective.constrained import constrained_token_loss
from safelight.objective.divergence import Direction, token_kl
from safelight.objective.fused import fused_risk_weighted_sums, is_plain_linear

Head = Callable[[Tensor], Tensor]


@dataclass
class ObjectiveSums:
    """Sums over the response tokens given (not yet normalised); `loss` carries the gradient."""

    weighted: Tensor
    nll: Tensor
    kl: Tensor
    n_tokens: int


def _chunk_terms(
    policy_hidden: Tensor,
    targets: Tensor,
    beta: Tensor,
    reference_hidden: Tensor | None,
    policy_head: Head,
    reference_head: Head | None,
    direction: Direction,
    constraint_beta: Tensor | None,
) -> tuple[Tensor, Tensor, Tensor]:
    policy_logp = torch.log_softmax(policy_head(policy_hidden).float(), dim=-1)
    nll = -policy_logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    if reference_hidden is None or reference_head is None:
        kl = torch.zeros_like(nll)
        reference_nll = None
    else:
        with torch.no_grad():
            reference_logp = torch.log_softmax(reference_head(reference_hidden).float(), dim=-1)
            reference_nll = -reference_logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        kl = token_kl(policy_logp, reference_logp, direction)
    if constraint_beta is None:
        weighted = (1.0 - beta) * nll + beta * kl
    else:
        if reference_nll is None:
            raise ValueError("the constrained SFT objective needs the reference at every position")
        weighted = constrained_token_loss(nll, reference_nll, constraint_beta)
    return weighted.sum(), nll.detach().sum(), kl.detach().sum()


def risk_weighted_sums(
    policy_hidden: Tensor,
    targets: Tensor,
    beta: Tensor,
    policy_head: Head,
    reference_hidden: Tensor | None = None,
    reference_head: Head | None = None,
    direction: Direction = "forward",
    chunk_size: int = 1024,
    checkpoint_chunks: bool = True,
    constraint_beta: Tensor | None = None,
    fused: bool = True,
) -> ObjectiveSums:
    """Sum the weighted objective over N response positions.

    policy_hidden: (N, H) with grad; targets: (N,) token ids; beta: (N,) KL weight per position;
    reference_hidden: (K, H) without grad for the first K <= N positions, or None when every beta is
    0 (reference skipped). Positions K.. must have beta 0: they get the NLL only, and one call
    covers a batch that mixes both kinds (the threshold schedule), with one gradient buffer.
    constraint_beta: (N,) per-position betas of the token-wise constrained SFT baseline; when given,
    that loss replaces the risk-weighted mixture (`beta` is then ignored).
    fused: with plain `nn.Linear` heads and gradients enabled, use objective/fused.py (same values
    and gradients, no recomputation); other heads (soft-capped, adapted) take the checkpointed path.
    """
    n = policy_hidden.shape[0]
    covered = 0 if reference_hidden is None else reference_hidden.shape[0]
    if constraint_beta is None and bool((beta[covered:] > 0).any()):
        raise ValueError("beta > 0 at a position that has no reference hidden states")
    if constraint_beta is not None and covered not in (0, n):
        raise ValueError("the constrained SFT objective needs the reference at every position or none")
    if (fused and constraint_beta is None and torch.is_grad_enabled() and is_plain_linear(policy_head)
            and (reference_hidden is None or is_plain_linear(reference_head))):
        # Plain linear heads (the common case): gradients in closed form during the forward pass,
        # nothing recomputed in backward (see objective/fused.py).
        weighted, nll_sum, kl_sum = fused_risk_weighted_sums(policy_hidden, targets, beta, policy_head,  # type: ignore[arg-type]
                                                             reference_hidden, reference_head, direction, chunk_size)  # type: ignore[arg-type]
        return ObjectiveSums(weighted=weighted, nll=nll_sum, kl=kl_sum, n_tokens=n)
    zero = policy_hidden.new_zeros((), dtype=torch.float32)
    weighted, nll, kl = zero, zero.detach(), zero.detach()
    use_checkpoint = checkpoint_chunks and torch.is_grad_enabled() and policy_hidden.requires_grad
    for part, with_reference in position_chunks(n, covered, chunk_size):
        ref_part = reference_hidden[part] if with_reference and reference_hidden is not None else None
        constraint_part = None if constraint_beta is None else constraint_beta[part]
        args = (policy_hidden[part], targets[part], beta[part], ref_part, policy_head, reference_head, direction,
                constraint_part)
        if use_checkpoint:
            w, nl, k = checkpoint(_chunk_terms, *args, use_reentrant=False)
        else:
            w, nl, k = _chunk_terms(*args)
        weighted = weighted + w
        nll = nll + nl
        kl = kl + k
    return ObjectiveSums(weighted=weighted, nll=nll, kl=kl, n_tokens=n)
