"""Policy loading (HF id, local dir, GGUF; LoRA) and the frozen reference policy."""

from safelight.models.reference import ReferencePolicy, make_frozen_copy, resolve_reference_kind
from safelight.models.sources import LoraSettings, PolicySource, PretrainedPolicy

__all__ = [
    "LoraSettings",
    "PolicySource",
    "PretrainedPolicy",
    "ReferencePolicy",
    "make_frozen_copy",
    "resolve_reference_kind",
]
