"""Pre-generation activations of a causal LM: hidden states over the prompt, pooled per example.

Layer numbering follows Hugging Face's `output_hidden_states`: layer 0 is the embedding output and
layer l (1..num_layers) the residual stream after decoder block l, before any final norm.

The decoder is run through its own `forward` (so every family's embedding scaling, rotary setup
and mask construction is the real one) with forward hooks on the blocks: a hook records the
block's output, and when `stop=True` the block of the highest requested layer raises
`_StopForward`, so the blocks above it are never run (except under FSDP2, whose root forward
must run whole so its resharding hooks fire; untested here for lack of a multi-GPU machine).
"""

from __future__ import annotations

from typing import Literal, Mapping, Sequence

import torch
from torch import Tensor, nn

from safelight.data.chat import encode_prompt
from safelight.models.forward import unwrap_peft

Pooling = Literal["last", "mean"]
PaddingSide = Literal["left", "right"]


class _StopForward(Exception):
    """Raised by the hook on the highest probe layer so the blocks above it are not run."""


def decoder_of(model: nn.Module) -> nn.Module:
    """The decoder stack (embeddings + blocks) of a causal LM, through a PeftModel wrapper too."""
    return unwrap_peft(model).get_decoder()


def decoder_blocks(model: nn.Module) -> nn.ModuleList:
    decoder = decoder_of(model)
    for name in ("layers", "h", "blocks"):
        blocks = getattr(decoder, name, None)
        if isinstance(blocks, nn.ModuleList):
            return blocks
    raise TypeError(f"cannot find the decoder blocks of {type(decoder).__name__} (looked for layers, h, blocks)")


def num_layers(model: nn.Module) -> int:
    return len(decoder_blocks(model))


def position_ids_for(attention_mask: Tensor) -> Tensor:
    """Positions counted over real tokens only, so a left-padded row starts at position 0."""
    return (attention_mask.long().cumsum(-1) - 1).clamp_min(0)


def pool(hidden: Tensor, prompt_mask: Tensor, pooling: Pooling) -> Tensor:
    """(batch, seq, hidden) -> (batch, hidden) over the positions where prompt_mask is true."""
    mask = prompt_mask.bool()
    if pooling == "last":
        seq = torch.arange(mask.shape[1], device=mask.device)
        last = torch.where(mask, seq, -1).amax(dim=1)
        if (last < 0).any():
            raise ValueError("a row has no prompt token to pool")
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
    if pooling == "mean":
        weights = mask.to(hidden.dtype)[..., None]
        return (hidden * weights).sum(1) / weights.sum(1).clamp_min(1.0)
    raise ValueError(f"pooling must be 'last' or 'mean', got {pooling!r}")


def capture_pooled(
    model: nn.Module,
    input_ids: Tensor,
    attention_mask: Tensor,
    layers: Sequence[int],
    prompt_mask: Tensor | None = None,
    pooling: Pooling = "last",
    stop: bool = True,
) -> tuple[dict[int, Tensor], Tensor | None]:
    """Pooled hidden states at `layers` ({layer: (batch, hidden)}), in float32.

    prompt_mask: the positions to pool over (default: every real token). Positions are derived
    from the attention mask, so left and right padding give the same features.
    stop: stop after the highest layer (cheapest); otherwise the full decoder runs and its final
    hidden states (after the last norm) are returned as the second value, for reuse by the objective.
    """
    from safelight.distributed import is_fully_sharded

    # An exception inside an FSDP2 root forward would skip its resharding hooks: run it whole.
    stop = stop and not is_fully_sharded(model)
    blocks = decoder_blocks(model)
    wanted = sorted(set(int(layer) for layer in layers))
    if not wanted or wanted[0] < 0 or wanted[-1] > len(blocks):
        raise ValueError(f"probe layers must lie in 0..{len(blocks)}, got {list(layers)}")
    mask = attention_mask.bool() if prompt_mask is None else prompt_mask.bool() & attention_mask.bool()
    pooled: dict[int, Tensor] = {}
    top = wanted[-1]

    def record(layer: int, hidden: Tensor) -> None:
        pooled[layer] = pool(hidden, mask, pooling).float()
        if stop and layer == top:
            raise _StopForward

    handles = []
    if 0 in wanted:
        # Layer 0 is the first block's input: embeddings after any scaling the family applies.
        def embed_hook(_module: nn.Module, args: tuple, kwargs: dict) -> None:
            record(0, args[0] if args else kwargs["hidden_states"])

        handles.append(blocks[0].register_forward_pre_hook(embed_hook, with_kwargs=True))
    for layer in wanted:
        if layer == 0:
            continue
        handles.append(blocks[layer - 1].register_forward_hook(
            lambda _m, _a, out, layer=layer: record(layer, out[0] if isinstance(out, tuple) else out)))
    final = None
    try:
        final = _forward(model, input_ids, attention_mask)
    except _StopForward:
        pass
    finally:
        for handle in handles:
            handle.remove()
    return pooled, (None if stop else final)


def _forward(model: nn.Module, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
    """Final hidden states; the decoder alone, or for an FSDP2 model the root forward (whose hooks
    gather the root parameter group) with the head on one position only."""
    from safelight.distributed import is_fully_sharded

    position_ids = position_ids_for(attention_mask)
    if not is_fully_sharded(model):
        return decoder_of(model)(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                                 use_cache=False).last_hidden_state
    captured: list[Tensor] = []
    handle = decoder_of(model).register_forward_hook(lambda _m, _a, out: captured.append(out.last_hidden_state))
    try:
        model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=False,
              logits_to_keep=1)
    finally:
        handle.remove()
    return captured[0]


def pad_batch(ids: Sequence[Sequence[int]], pad_token_id: int, side: PaddingSide) -> tuple[Tensor, Tensor]:
    width = max(len(row) for row in ids)
    input_ids = torch.full((len(ids), width), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(ids), width), dtype=torch.long)
    for i, row in enumerate(ids):
        span = slice(width - len(row), width) if side == "left" else slice(0, len(row))
        input_ids[i, span] = torch.tensor(list(row), dtype=torch.long)
        attention_mask[i, span] = 1
    return input_ids, attention_mask


@torch.inference_mode()
def prompt_features(
    model: nn.Module,
    tokenizer,
    prompts: Sequence[Sequence[Mapping[str, str]]],
    layers: Sequence[int],
    pooling: Pooling = "last",
    batch_size: int = 32,
    padding_side: PaddingSide = "left",
    max_length: int | None = None,
) -> Tensor:
    """Features (n_prompts, n_layers, hidden) of chat prompts rendered with the generation prompt.

    Prompts are sorted by length before batching so little compute goes to padding.
    """
    encoded = [encode_prompt(tokenizer, messages) for messages in prompts]
    if max_length is not None:
        # Keep the end: the generation prompt is what the probe reads (last token pooling).
        encoded = [ids[-max_length:] for ids in encoded]
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    wanted = sorted(set(layers))
    device = next(model.parameters()).device
    out = torch.empty(len(encoded), len(wanted), unwrap_peft(model).config.hidden_size)
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            input_ids, attention_mask = pad_batch([encoded[i] for i in idx], tokenizer.pad_token_id, padding_side)
            pooled, _ = capture_pooled(model, input_ids.to(device), attention_mask.to(device), wanted,
                                       pooling=pooling, stop=True)
            out[idx] = torch.stack([pooled[layer].cpu() for layer in wanted], dim=1)
    finally:
        model.train(was_training)
    return out
