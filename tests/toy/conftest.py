"""Shared fixtures for the toy-world tests: one world and one tokenizer per session (cheap, pure)."""

from __future__ import annotations

import os

import pytest
from transformers import PreTrainedTokenizerFast

from safelight.toy.tokenizer import build_toy_tokenizer
from safelight.toy.world import ToyWorld

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


@pytest.fixture(scope="session")
def world() -> ToyWorld:
    return ToyWorld(seed=0)


@pytest.fixture(scope="session")
def toy_tokenizer(world: ToyWorld) -> PreTrainedTokenizerFast:
    return build_toy_tokenizer(world)
