"""Shared fixtures: tiny random models saved in Hugging Face format, loaded through the real path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer random Llama with the toy tokenizer and chat template, saved with save_pretrained."""
    from safelight.toy.model import init_toy_model
    from safelight.toy.tokenizer import build_toy_tokenizer
    from safelight.toy.world import ToyWorld

    path = tmp_path_factory.mktemp("tiny-llama")
    tokenizer = build_toy_tokenizer(ToyWorld(0))
    model = init_toy_model(tokenizer, seed=0, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=2, num_key_value_heads=2)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
