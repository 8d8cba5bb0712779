"""LoRA on tiny Llama-3 / Qwen2.5 / Phi-3.5 models: target modules, a training step, the adapter-disabled reference."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from safelight.data.chat import encode_chat
from safelight.data.collate import ChatCollator
from safelight.models.sources import LoraSettings, PretrainedPolicy
from safelight.models.validation import ATTENTION_MLP_PROJECTIONS, PolicyConfigError
from safelight.module import SafeFineTuner
from safelight.objective.schedules import ConstantSchedule

PROJECTIONS = {"llama3": {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"},
               "qwen2": {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"},
               "phi3": {"qkv_proj", "o_proj", "gate_up_proj", "down_proj"}}
CHATS = [[{"role": "user", "content": "Give three tips for staying healthy."},
          {"role": "assistant", "content": "Eat well, sleep enough, and exercise every day."}],
         [{"role": "system", "content": "You are a helpful assistant."},
          {"role": "user", "content": "What is the capital of France?"},
          {"role": "assistant", "content": "The capital of France is Paris."}]]


@pytest.mark.parametrize("family", ["llama3", "qwen2", "phi3"])
@pytest.mark.parametrize("targets", ["all-linear", list(ATTENTION_MLP_PROJECTIONS)], ids=["all-linear", "names"])
def test_default_targets_cover_attention_and_mlp(family: str, targets, request: pytest.FixtureRequest) -> None:
    path = request.getfixturevalue(f"tiny_{family}_dir")
    model = PretrainedPolicy(str(path), lora=LoraSettings(r=4, alpha=8, target_modules=targets)).load_model()
    assert {n.split(".")[-1] for n in lora_targets_modules(model)} == PROJECTIONS[family]


def lora_targets_modules(model: torch.nn.Module) -> set[str]:
    return {name.rsplit(".lora_A", 1)[0] for name, _ in model.named_parameters() if ".lora_A." in name}


def batch_for(path: Path, risk: float) -> dict[str, torch.Tensor]:
    tokenizer = AutoTokenizer.from_pretrained(path)
    rows = []
    for chat in CHATS:
        enc = encode_chat(tokenizer, chat)
        rows.append({"input_ids": enc.input_ids, "labels": enc.labels, "prompt_length": enc.prompt_length, "risk": risk})
    return ChatCollator(tokenizer.pad_token_id)(rows)


def module_for(path: Path) -> SafeFineTuner:
    policy = PretrainedPolicy(str(path), lora=LoraSettings(r=4, alpha=8, dropout=0.0))
    module = SafeFineTuner(policy, schedule=ConstantSchedule(0.5), reference="disabled_adapter")
    module.configure_model()
    return module


def test_lora_step_changes_only_adapter_weights(tiny_family_dir: Path) -> None:
    module = module_for(tiny_family_dir)
    before = {k: v.detach().clone() for k, v in module.policy_model.state_dict().items()}
    optimizer = torch.optim.AdamW([p for p in module.policy_model.parameters() if p.requires_grad], lr=1e-2)
    sums, _ = module.objective_sums(batch_for(tiny_family_dir, risk=0.5))
    assert sums.n_tokens > 0
    (sums.weighted / sums.n_tokens).backward()
    optimizer.step()
    after = module.policy_model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(".lora_" in k for k in changed)
    assert {k for k in before if "lora_B" in k} <= changed  # B starts at 0 and must have moved
    trainable = {n for n, p in module.policy_model.named_parameters() if p.requires_grad}
    assert trainable and all(".lora_" in n for n in trainable)


def test_adapter_disabled_reference_equals_base_model(tiny_family_dir: Path) -> None:
    module = module_for(tiny_family_dir)
    with torch.no_grad():  # make the adapter non-trivial, as after training
        for name, param in module.policy_model.named_parameters():
            if "lora_B" in name:
                param.normal_(0.0, 0.5)
    batch = batch_for(tiny_family_dir, risk=1.0)
    ids, mask = batch["input_ids"], batch["attention_mask"]
    base = AutoModelForCausalLM.from_pretrained(tiny_family_dir).eval()
    with torch.no_grad():
        expected = base(input_ids=ids, attention_mask=mask).logits
        hidden = module.reference.hidden_states(ids, mask)
        reference_logits = module.reference.head(hidden)
        policy_logits = module.policy_model(input_ids=ids, attention_mask=mask).logits
    valid = mask.bool()
    torch.testing.assert_close(reference_logits[valid], expected[valid], rtol=0, atol=1e-5)
    assert (policy_logits[valid] - expected[valid]).abs().max() > 1e-3  # the adapter is on outside the view


def test_target_modules_matching_nothing_is_refused(tiny_llama3_dir: Path) -> None:
    policy = PretrainedPolicy(str(tiny_llama3_dir), lora=LoraSettings(target_modules=["query_key_value"]))
    with pytest.raises(PolicyConfigError, match=r"lora\.target_modules.*q_proj"):
        policy.load_model()


@pytest.mark.parametrize("kwargs, key", [
    ({"gguf_file": "model.Q4_K_M.gguf", "trust_remote_code": True}, "trust_remote_code"),
    ({"lora": {"r": 0}}, r"lora\.r"),
    ({"lora": {"dropout": 1.0}}, r"lora\.dropout"),
    ({"lora": {"target_modules": []}}, r"lora\.target_modules"),
])
def test_invalid_combinations_name_their_keys(kwargs: dict, key: str) -> None:
    with pytest.raises(PolicyConfigError, match=key):
        lora = kwargs.pop("lora", None)
        PretrainedPolicy("some/model", lora=LoraSettings(**lora) if lora is not None else None, **kwargs)


@pytest.mark.skipif(torch.cuda.is_available(), reason="float16 is allowed where CUDA is visible")
def test_float16_on_cpu_is_refused(tiny_llama3_dir: Path) -> None:
    with pytest.raises(PolicyConfigError, match=r"policy\.init_args\.dtype=float16"):
        PretrainedPolicy(str(tiny_llama3_dir), dtype="float16").load_base_model()


def test_disabled_adapter_without_lora_is_refused(tiny_llama3_dir: Path) -> None:
    module = SafeFineTuner(PretrainedPolicy(str(tiny_llama3_dir)), reference="disabled_adapter")
    with pytest.raises(ValueError, match="reference=disabled_adapter"):
        module.configure_model()
