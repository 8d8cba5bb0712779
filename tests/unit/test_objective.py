"""The risk-weighted objective, checked by hand on tiny tensors."""

import math

import torch

from safelight.objective import risk_weighted_sums, token_kl


def test_forward_and_reverse_kl_by_hand() -> None:
    p_ref = torch.tensor([0.5, 0.5]).log()
    p_pol = torch.tensor([0.25, 0.75]).log()
    forward = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)
    reverse = 0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)
    assert math.isclose(token_kl(p_pol, p_ref, "forward").item(), forward, rel_tol=1e-6)
    assert math.isclose(token_kl(p_pol, p_ref, "reverse").item(), reverse, rel_tol=1e-6)


def naive_loss(h, targets, beta, w_pol, h_ref, w_ref):
    logp = torch.log_softmax(h @ w_pol.T, -1)
    logq = torch.log_softmax(h_ref @ w_ref.T, -1)
    nll = -logp.gather(-1, targets[:, None]).squeeze(-1)
    kl = (logq.exp() * (logq - logp)).sum(-1)
    return ((1 - beta) * nll + beta * kl).sum(), nll.sum(), kl.sum()


def test_chunked_checkpointed_sums_equal_the_naive_full_computation() -> None:
    g = torch.Generator().manual_seed(0)
    n, hidden, vocab = 7, 5, 11
    w_pol = torch.randn(vocab, hidden, generator=g, requires_grad=True)
    w_ref = torch.randn(vocab, hidden, generator=g)
    h = torch.randn(n, hidden, generator=g, requires_grad=True)
    h_ref = torch.randn(n, hidden, generator=g)
    targets = torch.randint(0, vocab, (n,), generator=g)
    beta = torch.rand(n, generator=g)

    want, want_nll, want_kl = naive_loss(h, targets, beta, w_pol, h_ref, w_ref)
    want_grad = torch.autograd.grad(want, [h, w_pol])
    for chunk in (1, 3, 100):
        for ckpt in (True, False):
            sums = risk_weighted_sums(h, targets, beta, lambda x: x @ w_pol.T, h_ref, lambda x: x @ w_ref.T,
                                      chunk_size=chunk, checkpoint_chunks=ckpt)
            torch.testing.assert_close(sums.weighted, want)
            torch.testing.assert_close(sums.nll, want_nll)
            torch.testing.assert_close(sums.kl, want_kl)
            got_grad = torch.autograd.grad(sums.weighted, [h, w_pol])
            for a, b in zip(got_grad, want_grad):
                torch.testing.assert_close(a, b)
            assert sums.n_tokens == n


def test_beta_zero_is_plain_cross_entropy_and_needs_no_reference() -> None:
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(4, 6, generator=g)
    targets = torch.tensor([0, 5, 2, 2])
    sums = risk_weighted_sums(logits, targets, torch.zeros(4), lambda x: x)
    torch.testing.assert_close(sums.weighted, torch.nn.functional.cross_entropy(logits, targets, reduction="sum"))
    assert sums.kl.item() == 0.0


def test_missing_reference_with_positive_beta_is_an_error() -> None:
    try:
        risk_weighted_sums(torch.zeros(2, 3), torch.tensor([0, 1]), torch.tensor([0.0, 0.5]), lambda x: x)
    except ValueError as err:
        assert "reference" in str(err)
    else:
        raise AssertionError("expected a ValueError")


def test_gradient_descent_reaches_the_mixture_optimum() -> None:
    """min_p alpha*CE(target) + beta*KL(p_ref || p)  =>  p* = beta * p_ref + alpha * onehot(target)."""
    vocab, target, beta = 5, 3, 0.9
    p_ref = torch.tensor([0.7, 0.1, 0.1, 0.05, 0.05])  # the reference "refuses" (token 0)
    ref_logits = p_ref.log()[None]
    z = torch.zeros(1, vocab, requires_grad=True)
    opt = torch.optim.Adam([z], lr=0.05)
    for _ in range(3000):
        opt.zero_grad()
        sums = risk_weighted_sums(z, torch.tensor([target]), torch.tensor([beta]), lambda x: x,
                                  ref_logits, lambda x: x)
        sums.weighted.backward()
        opt.step()
    expected = beta * p_ref + (1 - beta) * torch.nn.functional.one_hot(torch.tensor(target), vocab).float()
    torch.testing.assert_close(torch.softmax(z.detach(), -1)[0], expected, atol=2e-4, rtol=0)
    # With beta = 0.9 the harmful target cannot become the greedy choice where the reference refused.
    assert torch.softmax(z.detach(), -1)[0].argmax().item() == 0
