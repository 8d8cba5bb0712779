"""The risk-weighted objective with a linear output head, fused: gradients formed chunk by chunk in
the forward pass, so nothing is recomputed in backward and no (positions x vocabulary) tensor
outlives its chunk.

For logits z = h W^T + b, p = softmax(z), the reference's q, KL weight beta and target y:

    d/dz [(1 - beta) nll + beta KL(q || p)] = p - beta q - (1 - beta) onehot(y)        (forward KL)
    d/dz [(1 - beta) nll + beta KL(p || q)] = (1 - beta)(p - onehot(y)) + beta p (log p - log q - KL)

so each chunk costs the two head matmuls, a few passes over (chunk x vocab), and the two matmuls
that turn dz into dh and dW. The checkpointed path (objective/loss.py) instead recomputes the policy
head, *and the reference head*, in backward: about 1.3x the objective's cost for SFT and 2x for KL.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from safelight.objective.chunks import position_chunks
from safelight.objective.divergence import Direction


def is_plain_linear(head: Any) -> bool:
    """Heads the closed-form gradient applies to (no soft-capping, no adapter on the head)."""
    return type(head) is nn.Linear


class _Workspace:
    """(chunk x vocab) fp32 buffers allocated once per objective call and reused by every chunk:
    fresh buffers of this size cost page faults (CPU) or allocator traffic on every chunk."""

    def __init__(self) -> None:
        self.buffers: dict[str, Tensor] = {}

    def get(self, name: str, rows: int, like: Tensor, vocab: int) -> Tensor:
        buf = self.buffers.get(name)
        if buf is None or buf.shape[0] < rows:
            buf = self.buffers[name] = torch.empty((rows, vocab), dtype=torch.float32, device=like.device)
        return buf[:rows]


def _logits(h: Tensor, weight: Tensor, bias: Tensor | None, out: Tensor) -> Tensor:
    if weight.dtype == torch.float32 and h.dtype == torch.float32:
        return torch.addmm(bias, h, weight.t(), out=out) if bias is not None else torch.mm(h, weight.t(), out=out)
    return out.copy_(F.linear(h, weight, bias))  # low precision: the logits are upcast for the softmax


def _log_softmax_and_softmax_(logits: Tensor, probs: Tensor) -> tuple[Tensor, Tensor]:
    """(log p, p): log p overwrites the logits, p goes into `probs`; no other buffer is touched."""
    logits.sub_(logits.amax(-1, keepdim=True))
    torch.exp(logits, out=probs)
    total = probs.sum(-1, keepdim=True)
    probs.div_(total)
    return logits.sub_(total.log_()), probs


def _rowsum_product_(a: Tensor, b: Tensor) -> Tensor:
    """sum(a * b, -1), overwriting `a` (cheaper than a batched dot product on CPU)."""
    return a.mul_(b).sum(-1)


def _chunk(
    h: Tensor, y: Tensor, beta: Tensor, weight: Tensor, bias: Tensor | None,
    rh: Tensor | None, rweight: Tensor | None, rbias: Tensor | None, direction: Direction, work: _Workspace,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(weighted, nll, kl) sums and dL/dz (fp32, a workspace view) of one chunk.

    Three (chunk x vocabulary) fp32 buffers at most, with the reference (16 MiB each per 128
    positions at a 32k vocabulary): the policy's log p, p (which becomes dL/dz) and the reference's
    logits. The reverse KL recomputes p from log p (one extra exp pass) instead of a fourth buffer.
    """
    n, vocab = h.shape[0], weight.shape[0]
    rows = torch.arange(n, device=h.device)
    logp, grad = _log_softmax_and_softmax_(_logits(h, weight, bias, work.get("logp", n, h, vocab)),
                                           work.get("grad", n, h, vocab))  # grad starts as p
    nll = -logp[rows, y]
    keep = (1.0 - beta)[:, None]
    if rh is None:
        kl = torch.zeros_like(nll)
        if bool((beta != 0).any()):
            grad.mul_(keep)
    else:
        assert rweight is not None
        shifted = _logits(rh, rweight, rbias, work.get("logq", n, h, vocab))
        shifted.sub_(shifted.amax(-1, keepdim=True))  # s = z_ref - max, so q = exp(s) / S
        if direction == "forward":
            # KL = sum q (s - log p) - log S: q is never normalised in a buffer of its own, and p
            # stays in `grad`, so three buffers and one exp per model suffice.
            s_minus_logp = torch.sub(shifted, logp, out=logp)  # log p is spent (nll taken above)
            unnormalised_q = shifted.exp_()
            total = unnormalised_q.sum(-1)
            kl = _rowsum_product_(s_minus_logp, unnormalised_q) / total - total.log()
            grad.addcmul_(unnormalised_q, (beta / total)[:, None], value=-1.0)  # p - beta q
        elif direction == "reverse":
            # p in `grad` is given up for q here and recomputed from log p.
            logq, q = _log_softmax_and_softmax_(shifted, grad)
            p = torch.exp(logp, out=q)
            diff = logq.neg_().add_(logp)  # log p - log q
            kl = torch.bmm(p[:, None, :], diff[:, :, None]).view(n)  # sum p (log p - log q)
            diff.sub_(kl[:, None]).mul_(p).mul_(beta[:, None])
            grad.mul_(keep).add_(diff)
        else:
            raise ValueError(f"divergence must be 'forward' or 'reverse', got {direction!r}")
    grad[rows, y] -= 1.0 - beta
    weighted = ((1.0 - beta) * nll + beta * kl).sum()
    return weighted, nll.sum(), kl.sum(), grad


class _FusedObjective(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, hidden: Tensor, weight: Tensor, bias: Tensor | None, targets: Tensor, beta: Tensor,
        ref_hidden: Tensor | None, ref_weight: Tensor | None, ref_bias: Tensor | None,
        direction: Direction, chunk_size: int,
    ) -> tuple[Tensor, Tensor, Tensor]:
        need_h, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        need_b = bias is not None and ctx.needs_input_grad[2]
        grad_h = torch.empty_like(hidden) if need_h else None
        grad_w = torch.zeros_like(weight) if need_w else None
        grad_b = torch.zeros_like(bias) if need_b and bias is not None else None
        sums = torch.zeros(3, dtype=torch.float32, device=hidden.device)
        work = _Workspace()
        covered = 0 if ref_hidden is None else ref_hidden.shape[0]
        for part, with_reference in position_chunks(hidden.shape[0], covered, chunk_size):
            rh = ref_hidden[part] if with_reference and ref_hidden is not None else None
            w, n, k, dz = _chunk(hidden[part], targets[part], beta[part].float(), weight, bias, rh, ref_weight,
                                 ref_bias, direction, work)
            sums += torch.stack([w, n, k])
            dz = dz.to(weight.dtype)
            if grad_h is not None:
                torch.mm(dz, weight, out=grad_h[part])
            if grad_w is not None:
                grad_w.addmm_(dz.t(), hidden[part])
            if grad_b is not None:
                grad_b += dz.sum(0)
        ctx.grads = (grad_h, grad_w, grad_b)
        weighted, nll, kl = sums[0].clone(), sums[1].clone(), sums[2].clone()
        ctx.mark_non_differentiable(nll, kl)
        return weighted, nll, kl

    @staticmethod
    def backward(ctx: Any, grad_weighted: Tensor, *_: Any) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        grad_h, grad_w, grad_b = ctx.grads
        ctx.grads = None
        # In place: these buffers belong to this call alone, and a (vocab x hidden) copy is costly.
        scaled = [g.mul_(grad_weighted.to(g.dtype)) if g is not None else None for g in (grad_h, grad_w, grad_b)]
        return (*scaled, None, None, None, None, None, None, None)


def fused_risk_weighted_sums(
    policy_hidden: Tensor, targets: Tensor, beta: Tensor, policy_head: nn.Linear,
    reference_hidden: Tensor | None, reference_head: nn.Linear | None, direction: Direction, chunk_size: int,
) -> tuple[Tensor, Tensor, Tensor]:
    """(weighted, nll, kl) sums over N positions; only `weighted` carries a gradient."""
    if reference_hidden is not None and reference_head is None:
        raise ValueError("reference hidden states given without the reference head")
    ref_w = reference_head.weight if reference_head is not None and reference_hidden is not None else None
    ref_b = reference_head.bias if reference_head is not None and reference_hidden is not None else None
    if ref_w is not None:
        ref_w, ref_b = ref_w.detach(), None if ref_b is None else ref_b.detach()
    ref_h = None if reference_hidden is None else reference_hidden.detach()
    return _FusedObjective.apply(policy_hidden, policy_head.weight, policy_head.bias, targets, beta, ref_h, ref_w,
                                 ref_b, direction, chunk_size)
