"""Pooled prompt features: padding-independent, and the blocks above the probe layer never run."""

from __future__ import annotations

import pytest
import torch

from safelight.probes.features import capture_pooled, decoder_blocks, pad_batch, prompt_features
from safelight.data.chat import encode_prompt

from .conftest import PROMPTS


@pytest.mark.parametrize("pooling", ["last", "mean"])
@pytest.mark.parametrize("side", ["left", "right"])
def test_padded_batch_equals_unpadded_per_example(tiny_lm, pooling: str, side: str) -> None:
    model, tokenizer = tiny_lm
    layers = [0, 1, 2]
    alone = torch.cat([prompt_features(model, tokenizer, [p], layers, pooling, batch_size=1) for p in PROMPTS])
    batched = prompt_features(model, tokenizer, PROMPTS, layers, pooling, batch_size=len(PROMPTS), padding_side=side)
    assert batched.shape == (len(PROMPTS), 3, model.config.hidden_size)
    torch.testing.assert_close(batched, alone, atol=1e-5, rtol=1e-5)


def test_last_layer_matches_hf_hidden_states(tiny_lm) -> None:
    model, tokenizer = tiny_lm
    ids = torch.tensor([encode_prompt(tokenizer, PROMPTS[0])])
    with torch.no_grad():
        ref = model(ids, output_hidden_states=True).hidden_states
        pooled, _ = capture_pooled(model, ids, torch.ones_like(ids), [0, 1], pooling="last")
    torch.testing.assert_close(pooled[0], ref[0][:, -1])
    torch.testing.assert_close(pooled[1], ref[1][:, -1])


def test_blocks_above_the_probe_layer_are_not_run(tiny_lm) -> None:
    model, tokenizer = tiny_lm
    blocks = decoder_blocks(model)
    calls = [0] * len(blocks)
    handles = [b.register_forward_hook(lambda *_a, i=i: calls.__setitem__(i, calls[i] + 1)) for i, b in enumerate(blocks)]
    try:
        ids, mask = pad_batch([encode_prompt(tokenizer, p) for p in PROMPTS], tokenizer.pad_token_id, "left")
        with torch.no_grad():
            capture_pooled(model, ids, mask, [1], stop=True)
        assert calls == [1, 0]
        with torch.no_grad():
            _, final = capture_pooled(model, ids, mask, [1], stop=False)
        assert calls == [2, 1] and final is not None and final.shape[:2] == ids.shape
    finally:
        for h in handles:
            h.remove()


def test_layer_out_of_range_is_refused(tiny_lm) -> None:
    model, tokenizer = tiny_lm
    ids = torch.tensor([encode_prompt(tokenizer, PROMPTS[0])])
    with pytest.raises(ValueError, match="0..2"):
        capture_pooled(model, ids, torch.ones_like(ids), [3])
