"""The toy causal LM: a small transformers Llama, so every HF code path (save, load, generate,
LoRA via peft, FSDP wrapping) is the real one."""

from __future__ import annotations

import torch
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerBase


def toy_llama_config(tokenizer: PreTrainedTokenizerBase, **overrides: object) -> LlamaConfig:
    """About 1.1M parameters: 4 layers, hidden 128, 4 heads, intermediate 512 (DESIGN.md §4)."""
    settings: dict[str, object] = dict(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=512,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=256,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        # No BOS in the toy template; point it at eos so nothing refers to an unrelated token.
        bos_token_id=tokenizer.eos_token_id,
    )
    settings.update(overrides)
    return LlamaConfig(**settings)


def init_toy_model(tokenizer: PreTrainedTokenizerBase, seed: int = 0, **overrides: object) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    model = LlamaForCausalLM(toy_llama_config(tokenizer, **overrides))
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.bos_token_id = tokenizer.eos_token_id
    return model
