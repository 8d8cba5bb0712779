"""Where a policy comes from: a hub id, a local directory or a GGUF file, optionally with LoRA.

Every model, the toy one included, loads through `AutoModelForCausalLM.from_pretrained`, so the
code exercised by tests is the code that loads Qwen2.5 or Llama-3 on a GPU.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerBase

DType = Literal["float32", "bfloat16", "float16", "auto"]


@dataclass
class LoraSettings:
    """LoRA adapter settings (the paper: r 64, alpha 16 on all attention and MLP projections)."""

    r: int = 64
    alpha: int = 16
    dropout: float = 0.05
    target_modules: list[str] | str = field(default="all-linear")

    def __post_init__(self) -> None:
        from safelight.models.validation import check_lora_settings

        check_lora_settings(self)


def torch_dtype(name: DType) -> torch.dtype | str:
    return "auto" if name == "auto" else getattr(torch, name)


class PolicySource(ABC):
    """Loads the tokenizer and the (trainable) policy model; `prepare` runs once per node, rank 0."""

    lora: LoraSettings | None = None
    gradient_checkpointing: bool = False

    def prepare(self) -> None:
        """Download or build what `load_model` needs; called from `prepare_data` (one process)."""

    @property
    @abstractmethod
    def identity(self) -> str:
        """Short model name for MLflow params and the probe metadata."""

    @abstractmethod
    def load_tokenizer(self) -> PreTrainedTokenizerBase: ...

    @abstractmethod
    def load_base_model(self) -> nn.Module:
        """The base model before any adapter is attached."""

    def load_model(self) -> nn.Module:
        model = self.load_base_model()
        if self.gradient_checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if self.lora is not None:
            model = attach_lora(model, self.lora)
        return model


def attach_lora(model: nn.Module, settings: LoraSettings) -> nn.Module:
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=settings.target_modules,
        task_type="CAUSAL_LM",
    )
    try:
        return get_peft_model(model, config)
    except ValueError as error:
        if "not found in the base model" not in str(error):
            raise
        from safelight.models.validation import lora_target_error

        raise lora_target_error(error, settings, model) from error


class PretrainedPolicy(PolicySource):
    """Any Hugging Face causal LM: hub id, local directory, or a GGUF file inside either."""

    def __init__(
        self,
        name_or_path: str,
        gguf_file: str | None = None,
        dtype: DType = "float32",
        lora: LoraSettings | None = None,
        gradient_checkpointing: bool = False,
        trust_remote_code: bool = False,
        attn_implementation: str | None = None,
        tokenizer_name_or_path: str | None = None,
    ) -> None:
        from safelight.models.validation import check_pretrained_settings

        check_pretrained_settings(gguf_file, trust_remote_code, dtype, lora)
        self.name_or_path = name_or_path
        self.gguf_file = gguf_file
        self.dtype = dtype
        self.lora = lora
        self.gradient_checkpointing = gradient_checkpointing
        self.trust_remote_code = trust_remote_code
        self.attn_implementation = attn_implementation
        self.tokenizer_name_or_path = tokenizer_name_or_path

    @property
    def identity(self) -> str:
        return f"{self.name_or_path}::{self.gguf_file}" if self.gguf_file else self.name_or_path

    def _common(self) -> dict:
        kwargs: dict = {"trust_remote_code": self.trust_remote_code}
        if self.gguf_file:
            kwargs["gguf_file"] = self.gguf_file
        return kwargs

    def load_tokenizer(self) -> PreTrainedTokenizerBase:
        path = self.tokenizer_name_or_path or self.name_or_path
        tokenizer = AutoTokenizer.from_pretrained(path, **self._common())
        if tokenizer.pad_token is None:
            # Padding positions are masked everywhere, so reusing EOS as padding is safe.
            tokenizer.pad_token = tokenizer.eos_token
        return tokenizer

    def load_base_model(self) -> nn.Module:
        from safelight.models.validation import check_dtype_for_device

        check_dtype_for_device(self.dtype)
        kwargs = self._common() | {"dtype": torch_dtype(self.dtype)}
        if self.attn_implementation:
            kwargs["attn_implementation"] = self.attn_implementation
        return AutoModelForCausalLM.from_pretrained(self.name_or_path, **kwargs)
