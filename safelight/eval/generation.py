"""Batched generation from chat prompts: left-padded, KV cache, chat template via `encode_prompt`.

Left padding keeps every prompt's last token at the same position, so one `generate` call
continues all of them; the attention mask tells the model which positions are padding.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from safelight.data.chat import encode_prompt


def _left_pad(prompts: list[list[int]], pad_id: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for i, p in enumerate(prompts):
        ids[i, width - len(p):] = torch.tensor(p, dtype=torch.long)
        mask[i, width - len(p):] = 1
    return ids.to(device), mask.to(device)


@torch.no_grad()
def generate_responses(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    messages_list: Sequence[Sequence[Mapping[str, str]]],
    max_new_tokens: int,
    batch_size: int = 64,
    do_sample: bool = False,
    temperature: float = 1.0,
    num_return_sequences: int = 1,
) -> list[str]:
    """Responses to each conversation (ending with the user turn), decoded without special tokens.

    Returns `len(messages_list) * num_return_sequences` strings, grouped per prompt in order.
    The model is put in eval mode for the call and restored afterwards.
    """
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out: list[str] = []
    try:
        for start in range(0, len(messages_list), batch_size):
            prompts = [encode_prompt(tokenizer, m) for m in messages_list[start : start + batch_size]]
            ids, mask = _left_pad(prompts, pad_id, device)
            sampling = {"temperature": temperature, "top_p": 1.0, "top_k": 0} if do_sample else {}
            generated = model.generate(
                input_ids=ids,
                attention_mask=mask,
                max_new_tokens=max_new_tokens,
                do_sample=do_sample,
                num_return_sequences=num_return_sequences,
                pad_token_id=pad_id,
                eos_token_id=tokenizer.eos_token_id,
                use_cache=True,
                **sampling,
            )
            new_tokens = generated[:, ids.shape[1]:]
            out.extend(t.strip() for t in tokenizer.batch_decode(new_tokens, skip_special_tokens=True))
    finally:
        model.train(was_training)
    return out
