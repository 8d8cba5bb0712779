"""The fused objective (closed-form gradients in forward) equals autograd through the plain formula."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from safelight.objective import risk_weighted_sums


def setup(seed: int, bias: bool, tied_grad: bool = True):
    g = torch.Generator().manual_seed(seed)
    n, hdim, vocab = 11, 6, 17
    head = nn.Linear(hdim, vocab, bias=bias)
    ref = nn.Linear(hdim, vocab, bias=bias)
    with torch.no_grad():
        for m in (head, ref):
            m.weight.copy_(torch.randn(vocab, hdim, generator=g))
            if bias:
                m.bias.copy_(torch.randn(vocab, generator=g))
    head.weight.requires_grad_(tied_grad)
    ref.requires_grad_(False)
    h = torch.randn(n, hdim, generator=g, requires_grad=True)
    h_ref = torch.randn(n, hdim, generator=g)
    targets = torch.randint(0, vocab, (n,), generator=g)
    beta = torch.rand(n, generator=g) * (torch.rand(n, generator=g) > 0.3)
    return head, ref, h, h_ref, targets, beta


@pytest.mark.parametrize("direction", ["forward", "reverse"])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("chunk", [1, 4, 100])
def test_fused_values_and_gradients_match_autograd(direction: str, bias: bool, chunk: int) -> None:
    results = []
    for fused in (True, False):
        head, ref, h, h_ref, targets, beta = setup(0, bias)
        sums = risk_weighted_sums(h, targets, beta, head, h_ref, ref, direction, chunk_size=chunk,
                                  checkpoint_chunks=False, fused=fused)
        (2.5 * sums.weighted).backward()
        grads = [h.grad, head.weight.grad] + ([head.bias.grad] if bias else [])
        results.append((sums, grads))
    (fs, fg), (ps, pg) = results
    torch.testing.assert_close(fs.weighted, ps.weighted)
    torch.testing.assert_close(fs.nll, ps.nll)
    torch.testing.assert_close(fs.kl, ps.kl)
    for a, b in zip(fg, pg):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_fused_sft_without_reference_and_frozen_head() -> None:
    results = []
    for fused in (True, False):
        head, _, h, _, targets, _ = setup(1, bias=False, tied_grad=False)
        sums = risk_weighted_sums(h, targets, torch.zeros(len(targets)), head, fused=fused)
        sums.weighted.backward()
        assert head.weight.grad is None
        results.append((sums.weighted.detach(), h.grad))
    torch.testing.assert_close(results[0][0], results[1][0])
    torch.testing.assert_close(results[0][1], results[1][1])


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("chunk", [1, 3, 100])
def test_reference_on_a_prefix_equals_the_two_parts_summed(fused: bool, chunk: int) -> None:
    """One call whose reference covers the first K positions (the rest beta 0, NLL only) gives the
    values and gradients of a KL call on the prefix plus an NLL-only call on the rest."""
    covered = 7  # 11 positions: chunks of 3 straddle position 7 unless split there
    head, ref, h, h_ref, targets, beta = setup(2, bias=True)
    beta = torch.cat([beta[:covered].clamp_min(0.2), torch.zeros(len(beta) - covered)])
    one = risk_weighted_sums(h, targets, beta, head, h_ref[:covered], ref, chunk_size=chunk, fused=fused)
    one.weighted.backward()
    one_grads = [h.grad.clone(), head.weight.grad.clone(), head.bias.grad.clone()]
    h.grad, head.weight.grad, head.bias.grad = None, None, None
    first = risk_weighted_sums(h[:covered], targets[:covered], beta[:covered], head, h_ref[:covered], ref,
                               chunk_size=chunk, fused=fused)
    rest = risk_weighted_sums(h[covered:], targets[covered:], beta[covered:], head, chunk_size=chunk, fused=fused)
    (first.weighted + rest.weighted).backward()
    torch.testing.assert_close(one.weighted, first.weighted + rest.weighted)
    torch.testing.assert_close(one.nll, first.nll + rest.nll)
    torch.testing.assert_close(one.kl, first.kl + rest.kl)
    for a, b in zip(one_grads, [h.grad, head.weight.grad, head.bias.grad]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_a_positive_beta_without_reference_is_refused() -> None:
    head, ref, h, h_ref, targets, _ = setup(3, bias=False)
    beta = torch.full((len(targets),), 0.5)
    with pytest.raises(ValueError, match="no reference hidden states"):
        risk_weighted_sums(h, targets, beta, head, h_ref[:5], ref)
