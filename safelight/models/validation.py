"""Refuse policy settings that cannot work, with messages naming the config keys to change.

Checked at construction (cheap, before any download) where possible, and when the model is built
for what needs the model (LoRA target modules that match nothing).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from safelight.models.sources import LoraSettings

POLICY_KEY = "model.init_args.policy.init_args"

#: The paper's "all attention and MLP projections", by name, across Llama / Qwen2 / Mistral
#: (q/k/v/o, gate/up/down) and Phi-3 (fused qkv_proj and gate_up_proj). peft matches by suffix and
#: only needs one name to hit; "all-linear" (the default) is the architecture-agnostic equivalent.
ATTENTION_MLP_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "qkv_proj",
                             "gate_proj", "up_proj", "down_proj", "gate_up_proj")


class PolicyConfigError(ValueError):
    """A policy configuration that cannot work; the message names the keys involved."""


def check_lora_settings(settings: "LoraSettings") -> None:
    key = f"{POLICY_KEY}.lora"
    if settings.r < 1:
        raise PolicyConfigError(f"{key}.r must be >= 1, got {settings.r}")
    if settings.alpha <= 0:
        raise PolicyConfigError(f"{key}.alpha must be > 0, got {settings.alpha}")
    if not 0.0 <= settings.dropout < 1.0:
        raise PolicyConfigError(f"{key}.dropout must lie in [0, 1), got {settings.dropout}")
    targets = settings.target_modules
    if isinstance(targets, str):
        if not targets.strip():
            raise PolicyConfigError(f"{key}.target_modules is empty; use 'all-linear' or a list of module names")
    elif not targets or not all(isinstance(t, str) and t for t in targets):
        raise PolicyConfigError(f"{key}.target_modules must be 'all-linear' or a non-empty list of module names")


def check_pretrained_settings(gguf_file: str | None, trust_remote_code: bool, dtype: str,
                              lora: "LoraSettings | None") -> None:
    if gguf_file and trust_remote_code:
        # GGUF loading dequantises into transformers' own architectures; remote code never runs, so
        # asking for it signals a misunderstanding (or an architecture GGUF loading cannot handle).
        raise PolicyConfigError(
            f"{POLICY_KEY}.gguf_file and {POLICY_KEY}.trust_remote_code=true cannot be combined: GGUF files "
            "load only into architectures built into transformers; drop trust_remote_code or load the "
            "original (non-GGUF) checkpoint"
        )
    if lora is not None:
        check_lora_settings(lora)


def check_dtype_for_device(dtype: str) -> None:
    """float16 training needs a CUDA device: CPU fp16 kernels are partial and there is no loss scaling."""
    if dtype == "float16" and not torch.cuda.is_available():
        raise PolicyConfigError(
            f"{POLICY_KEY}.dtype=float16 needs a CUDA device (none is visible); use dtype=bfloat16 or float32 on CPU"
        )


def lora_target_error(error: ValueError, settings: "LoraSettings", model: Any) -> PolicyConfigError:
    """Rephrase peft's 'Target modules ... not found' with the config key and the names on offer."""
    linear = sorted({name.rsplit(".", 1)[-1] for name, module in model.named_modules()
                     if isinstance(module, torch.nn.Linear)})
    return PolicyConfigError(
        f"{POLICY_KEY}.lora.target_modules={settings.target_modules!r} matches no module of "
        f"{type(model).__name__}; its linear layers are named {linear}. Use 'all-linear' or some of "
        f"these names ({error})"
    )
