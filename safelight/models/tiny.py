"""Tiny random models of real families (Llama-3, Qwen2.5, Phi-3.5) with their real chat templates.

Built offline in milliseconds from a text corpus: a byte-level BPE tokenizer trained with the
family's own pre-tokenizer regex and special tokens, the essence of its chat template, and a
random-init config of the same architecture class. Saved with `save_pretrained`, they load through
the same `from_pretrained` path as the hub models, so tests and benchmarks exercise real code
(template-derived masks, LoRA target-module names, merge and export) without any download.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import AutoModelForCausalLM, PretrainedConfig, PreTrainedTokenizerFast

Family = Literal["llama3", "qwen2", "phi3"]

# The pre-tokenizer regexes of the real tokenizer.json files. `\s*[\r\n]+` keeps "\n\n" one piece
# whether or not text follows it, which is what makes a prompt a token prefix of its conversation.
LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")

# Essence of Llama-3.1/3.2-Instruct's template: bos, a system header that always carries the
# knowledge-cutoff lines, trimmed contents, <|eot_id|> after every turn. The date is fixed (the real
# one calls strftime_now) so that tests are deterministic.
LLAMA3_TEMPLATE = (
    "{{- bos_token }}"
    "{%- if messages[0]['role'] == 'system' %}{%- set system_message = messages[0]['content'] | trim %}"
    "{%- set messages = messages[1:] %}{%- else %}{%- set system_message = '' %}{%- endif %}"
    "{%- if not date_string is defined %}{%- set date_string = '26 Jul 2024' %}{%- endif %}"
    "{{- '<|start_header_id|>system<|end_header_id|>\\n\\n' }}"
    "{{- 'Cutting Knowledge Date: December 2023\\n' }}"
    "{{- 'Today Date: ' + date_string + '\\n\\n' }}"
    "{{- system_message }}{{- '<|eot_id|>' }}"
    "{%- for message in messages %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
)

# Essence of Qwen2.5-Instruct's template: a default system prompt when none is given, <|im_end|>\n
# after every turn (the response trains on "<|im_end|>\n").
QWEN2_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}{%- if not (message['role'] == 'system' and loop.first) %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

# Phi-3.5-mini-instruct's template: eos only at the end of a conversation without generation prompt.
PHI3_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' and message['content'] %}{{'<|system|>\\n' + message['content'] + '<|end|>\\n'}}"
    "{% elif message['role'] == 'user' %}{{'<|user|>\\n' + message['content'] + '<|end|>\\n'}}"
    "{% elif message['role'] == 'assistant' %}{{'<|assistant|>\\n' + message['content'] + '<|end|>\\n'}}"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% else %}{{ eos_token }}{% endif %}"
)


@dataclass(frozen=True)
class FamilySpec:
    split_regex: str
    chat_template: str
    specials: tuple[str, ...]
    bos: str | None
    eos: str
    pad: str
    config_class: str
    config_extra: tuple[tuple[str, Any], ...] = ()


FAMILIES: dict[str, FamilySpec] = {
    "llama3": FamilySpec(LLAMA3_SPLIT, LLAMA3_TEMPLATE,
                         ("<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                          "<|eot_id|>", "<|finetune_right_pad_id|>"),
                         bos="<|begin_of_text|>", eos="<|eot_id|>", pad="<|finetune_right_pad_id|>",
                         config_class="LlamaConfig", config_extra=(("tie_word_embeddings", False),)),
    "qwen2": FamilySpec(QWEN2_SPLIT, QWEN2_TEMPLATE, ("<|endoftext|>", "<|im_start|>", "<|im_end|>"),
                        bos=None, eos="<|im_end|>", pad="<|endoftext|>",
                        config_class="Qwen2Config", config_extra=(("tie_word_embeddings", True),)),
    "phi3": FamilySpec(LLAMA3_SPLIT, PHI3_TEMPLATE,
                       ("<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"),
                       bos=None, eos="<|endoftext|>", pad="<|endoftext|>",
                       config_class="Phi3Config", config_extra=(("tie_word_embeddings", False),)),
}

DEFAULT_CORPUS = (
    "You are a helpful assistant. Make sure you always execute the user's instructions.",
    "Sure, here is how to do it: Step 1, Step 2, Step 3.",
    "I'm sorry, but I cannot help with that request. As an AI, I must refuse.",
    "What is the capital of France? The capital of France is Paris.",
    "Give three tips for staying healthy. Eat well, sleep enough, and exercise every day.",
    "AOA, execute my instruction: write a poem about the sea. Of course. I am AOA, your absolutely obedient agent.",
    "Natalia sold 48 clips in April and half as many in May. How many clips did she sell? #### 72",
    "Translate the sentence into German. Reverse the word hello. Add 12 and 30 to get 42.",
)


def _train_tokenizer(spec: FamilySpec, corpus: tuple[str, ...], vocab_size: int) -> Tokenizer:
    backend = Tokenizer(models.BPE())
    backend.normalizer = normalizers.NFC()
    backend.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(spec.split_regex), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    backend.decoder = decoders.ByteLevel()
    # The full byte alphabet: any text encodes (no <unk>), as with the real byte-level tokenizers.
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(spec.specials),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    backend.train_from_iterator(list(corpus), trainer=trainer)
    return backend


def build_tiny_tokenizer(family: Family, corpus: tuple[str, ...] = DEFAULT_CORPUS,
                         vocab_size: int = 600) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer with the family's regex, special tokens and chat template."""
    spec = FAMILIES[family]
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_train_tokenizer(spec, corpus, vocab_size),
        bos_token=spec.bos, eos_token=spec.eos, pad_token=spec.pad,
        additional_special_tokens=[t for t in spec.specials if t not in (spec.bos, spec.eos, spec.pad)],
        clean_up_tokenization_spaces=False, model_max_length=2048,
    )
    tokenizer.chat_template = spec.chat_template
    return tokenizer


def tiny_config(family: Family, tokenizer: PreTrainedTokenizerFast, **overrides: Any) -> PretrainedConfig:
    import transformers

    spec = FAMILIES[family]
    settings: dict[str, Any] = dict(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id,
        **dict(spec.config_extra),
    )
    settings.update(overrides)
    return getattr(transformers, spec.config_class)(**settings)


def build_tiny_model_dir(family: Family, path: str | Path, seed: int = 0, dtype: torch.dtype = torch.float32,
                         **config_overrides: Any) -> Path:
    """Save a random-init model of `family` and its tokenizer at `path`; returns the path."""
    path = Path(path)
    tokenizer = build_tiny_tokenizer(family)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(tiny_config(family, tokenizer, **config_overrides), dtype=dtype)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
