"""Shared fixtures for the toy-world tests: one world and one tokenizer per session (cheap, pure)."""

from __future__ import annotations

import os
from typing import Iterator

import pytest
import torch
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


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    # Tiny models gain nothing from a second thread, and oversubscribed threads are many times
    # slower when other test processes share the cores.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
