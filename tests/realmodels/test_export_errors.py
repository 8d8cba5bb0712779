"""`safelight export` refuses what it cannot do, naming the option or config key."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from safelight.models.export import ExportError, export_policy, load_policy_weights
from safelight.models.sources import LoraSettings, PretrainedPolicy
from safelight.module import SafeFineTuner


def built(path: Path, lora: bool) -> SafeFineTuner:
    module = SafeFineTuner(PretrainedPolicy(str(path), lora=LoraSettings(r=4, alpha=8) if lora else None))
    module.configure_model()
    return module


def test_adapter_only_needs_lora(tiny_qwen2_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="--adapter-only needs a LoRA policy"):
        export_policy(built(tiny_qwen2_dir, lora=False), tmp_path / "out", adapter_only=True)


def test_checkpoint_must_match_the_configured_policy(tiny_qwen2_dir: Path, tmp_path: Path) -> None:
    full = built(tiny_qwen2_dir, lora=False)
    checkpoint = tmp_path / "full.ckpt"
    torch.save({"state_dict": {f"policy_model.{k}": v for k, v in full.policy_model.state_dict().items()}}, checkpoint)
    with pytest.raises(ExportError, match="does not match the policy"):
        load_policy_weights(built(tiny_qwen2_dir, lora=True).policy_model, checkpoint)
    torch.save({"state_dict": {"other.weight": torch.zeros(1)}}, tmp_path / "other.ckpt")
    with pytest.raises(ExportError, match="not a safelight fit checkpoint"):
        load_policy_weights(full.policy_model, tmp_path / "other.ckpt")


def test_full_finetune_export_roundtrip(tiny_qwen2_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    module = built(tiny_qwen2_dir, lora=False)
    with torch.no_grad():
        next(module.policy_model.parameters()).add_(0.1)
    out = export_policy(module, tmp_path / "out")
    ids = torch.tensor([[3, 4, 5, 6]])
    with torch.no_grad():
        torch.testing.assert_close(AutoModelForCausalLM.from_pretrained(out)(input_ids=ids).logits,
                                   module.policy_model.eval()(input_ids=ids).logits, rtol=0, atol=1e-6)
    assert AutoTokenizer.from_pretrained(out).chat_template == AutoTokenizer.from_pretrained(tiny_qwen2_dir).chat_template
