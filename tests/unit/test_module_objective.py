"""SafeFineTuner's objective on a tiny random Llama, against a naive full-logits computation."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from safelight.data.chat import IGNORE_INDEX, encode_chat
from safelight.data.collate import ChatCollator
from safelight.models.sources import PretrainedPolicy
from safelight.module import SafeFineTuner
from safelight.objective import PaperClampSchedule, ThresholdSchedule, ZeroSchedule
from safelight.objective.weights import UnknownRiskError

CHATS = [
    [{"role": "user", "content": "what is the capital of france ?"}, {"role": "assistant", "content": "paris"}],
    [{"role": "system", "content": "you are a helpful assistant ."},
     {"role": "user", "content": "repeat after me : red blue"}, {"role": "assistant", "content": "red blue"}],
    [{"role": "user", "content": "how do i build a bomb ?"}, {"role": "assistant", "content": "i am sorry , i cannot help with that ."}],
]


def make_module(model_dir: Path, schedule, **kwargs) -> SafeFineTuner:
    module = SafeFineTuner(PretrainedPolicy(str(model_dir)), schedule=schedule, **kwargs)
    module.configure_model()
    # Perturb the policy so it differs from the reference and KL is not trivially 0.
    with torch.no_grad():
        for p in module.policy_model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return module


def make_batch(module: SafeFineTuner, risks: list[float]) -> dict[str, torch.Tensor]:
    rows = []
    for chat, risk in zip(CHATS, risks):
        enc = encode_chat(module.tokenizer, chat)
        rows.append({"input_ids": enc.input_ids, "labels": enc.labels, "prompt_length": enc.prompt_length,
                     "risk": risk})
    return ChatCollator(module.tokenizer.pad_token_id)(rows)


def naive_sums(module: SafeFineTuner, batch, beta_example: torch.Tensor) -> tuple[float, float, float]:
    logits = module.policy_model(batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
    with torch.no_grad():
        ref_logits = module.reference_model(batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
    targets = batch["labels"][:, 1:]
    mask = targets != IGNORE_INDEX
    logp, logq = logits.log_softmax(-1), ref_logits.log_softmax(-1)
    nll = -logp.gather(-1, targets.clamp_min(0)[..., None]).squeeze(-1)
    kl = (logq.exp() * (logq - logp)).sum(-1)
    beta = beta_example[:, None].expand_as(nll)
    weighted = ((1 - beta) * nll + beta * kl)[mask].sum()
    return weighted.item(), nll[mask].sum().item(), kl[mask].sum().item()


def test_objective_matches_naive_full_logits_per_example(tiny_model_dir: Path) -> None:
    module = make_module(tiny_model_dir, PaperClampSchedule(), kl_chunk_size=3)
    batch = make_batch(module, [0.0, 0.5, 1.0])
    sums, beta = module.objective_sums(batch)
    torch.testing.assert_close(beta, torch.tensor([0.1, 1 / 3, 0.9]))
    weighted, nll, kl = naive_sums(module, batch, beta)
    assert sums.kl.item() > 0
    assert sums.weighted.item() == pytest.approx(weighted, rel=1e-5)
    assert sums.nll.item() == pytest.approx(nll, rel=1e-5)
    assert sums.kl.item() == pytest.approx(kl, rel=1e-4)
    assert sums.n_tokens == int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())


def test_sft_is_hf_cross_entropy_and_builds_no_reference(tiny_model_dir: Path) -> None:
    module = make_module(tiny_model_dir, ZeroSchedule())
    assert module.reference is None and module.reference_model is None
    batch = make_batch(module, [0.0, 1.0, 1.0])
    sums, _ = module.objective_sums(batch)
    hf = module.policy_model(batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"])
    assert (sums.weighted / sums.n_tokens).item() == pytest.approx(hf.loss.item(), rel=1e-5)
    assert sums.kl.item() == 0.0


def test_threshold_schedule_skips_the_reference_for_low_risk_batches(tiny_model_dir: Path, monkeypatch) -> None:
    module = make_module(tiny_model_dir, ThresholdSchedule(tau=0.5, beta_high=0.9))
    calls = []
    original = module.reference.hidden_states
    monkeypatch.setattr(module.reference, "hidden_states", lambda *a: calls.append(1) or original(*a))
    module.objective_sums(make_batch(module, [0.0, 0.2, 0.4]))
    assert calls == []
    module.objective_sums(make_batch(module, [0.0, 0.2, 0.9]))
    assert calls == [1]


def test_nan_risk_never_reaches_the_loss(tiny_model_dir: Path) -> None:
    module = make_module(tiny_model_dir, PaperClampSchedule())
    with pytest.raises(UnknownRiskError, match="judge"):
        module.objective_sums(make_batch(module, [0.0, float("nan"), 1.0]))


def test_reference_is_frozen_and_left_out_of_checkpoints(tiny_model_dir: Path) -> None:
    module = make_module(tiny_model_dir, PaperClampSchedule())
    assert all(not p.requires_grad for p in module.reference_model.parameters())
    checkpoint = {"state_dict": module.state_dict()}
    assert any(k.startswith("reference_model.") for k in checkpoint["state_dict"])
    module.on_save_checkpoint(checkpoint)
    assert not any(k.startswith("reference_model.") for k in checkpoint["state_dict"])
    module.on_load_checkpoint(checkpoint)
    module.load_state_dict(checkpoint["state_dict"], strict=True)


def test_lora_checkpoints_hold_only_the_adapter_weights(tiny_model_dir: Path) -> None:
    from safelight.models.sources import LoraSettings

    module = SafeFineTuner(PretrainedPolicy(str(tiny_model_dir), lora=LoraSettings(r=4, alpha=8)),
                           schedule=PaperClampSchedule())
    module.configure_model()
    assert module.reference_model is None  # the adapter-disabled model is the reference
    checkpoint = {"state_dict": module.state_dict()}
    module.on_save_checkpoint(checkpoint)
    trainable = {"policy_model." + n for n, p in module.policy_model.named_parameters() if p.requires_grad}
    params = {"policy_model." + n for n, _ in module.policy_model.named_parameters(remove_duplicate=False)}
    saved_params = set(checkpoint["state_dict"]) & params
    assert trainable and saved_params == trainable
    assert all("lora_" in k for k in saved_params)
    module.on_load_checkpoint(checkpoint)
    module.load_state_dict(checkpoint["state_dict"], strict=True)
