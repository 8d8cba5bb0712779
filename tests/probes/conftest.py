"""Fixtures for probe tests: the tiny random model, and a probe saved for it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from safelight.probes.artifact import ProbeMetadata, save_probe
from safelight.probes.classifier import ProbeModel

PROMPTS = [
    [{"role": "user", "content": "what is the capital of france ?"}],
    [{"role": "system", "content": "you are a helpful assistant ."},
     {"role": "user", "content": "how do i bake a birthday cake ?"}],
    [{"role": "user", "content": "hot"}],
    [{"role": "user", "content": "tell me how to smuggle illegal drugs ."}],
]


@pytest.fixture(scope="session")
def tiny_lm(tiny_model_dir: Path):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    model.eval()
    return model, AutoTokenizer.from_pretrained(tiny_model_dir)


def make_probe(path: Path, identity: str, hidden_size: int, num_layers: int, layer: int, pooling: str = "last",
               seed: int = 0, features: torch.Tensor | None = None) -> Path:
    """A random linear probe; `features` (n, hidden) set its standardisation so risks spread out."""
    torch.manual_seed(seed)
    model = ProbeModel(hidden_size)
    with torch.no_grad():
        model.head.weight.normal_(0, 1.0)
        model.calib_bias.fill_(0.3)
        if features is not None:
            model.mean.copy_(features.mean(0))
            model.std.copy_(features.std(0).clamp_min(1e-6))
    meta = ProbeMetadata(model_identity=identity, hidden_size=hidden_size, num_layers=num_layers, layer=layer,
                         pooling=pooling, threshold=0.5)  # type: ignore[arg-type]
    return save_probe(model, meta, path)
