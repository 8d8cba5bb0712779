"""The toy world's safe reference as a policy source (built once, then loaded like any HF model)."""

from __future__ import annotations

from pathlib import Path

from torch import nn
from transformers import PreTrainedTokenizerBase

from safelight.models.sources import LoraSettings, PolicySource, PretrainedPolicy


class ToyPolicy(PolicySource):
    """Fine-tune the toy world's safe reference policy.

    Args:
        cache_dir: where the built reference lives (default: $SAFELIGHT_CACHE_DIR or ~/.cache/safelight).
        world_seed: which toy world (and reference) to build or reuse.
        lora: attach LoRA adapters (then the reference is the adapter-disabled model).
    """

    def __init__(self, cache_dir: str | None = None, world_seed: int = 0, lora: LoraSettings | None = None) -> None:
        self.cache_dir = cache_dir
        self.world_seed = world_seed
        self.lora = lora

    @property
    def identity(self) -> str:
        return f"toy-reference-seed{self.world_seed}"

    def _path(self) -> Path:
        from safelight.toy.reference import ensure_toy_reference

        # Returns at once when built; builds (under a file lock) otherwise.
        return ensure_toy_reference(self.cache_dir, seed=self.world_seed)

    def _pretrained(self) -> PretrainedPolicy:
        return PretrainedPolicy(str(self._path()), lora=self.lora)

    def prepare(self) -> None:
        self._path()

    def load_tokenizer(self) -> PreTrainedTokenizerBase:
        return self._pretrained().load_tokenizer()

    def load_base_model(self) -> nn.Module:
        return self._pretrained().load_base_model()
