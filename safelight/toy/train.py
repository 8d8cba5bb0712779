"""A plain torch SFT loop for building the toy reference (and quick calibration experiments).

Deliberately not the Lightning module: the reference must exist before any experiment runs, and
building it must not depend on the code it is used to test. Loss: mean NLL over response tokens.
"""

from __future__ import annotations

import math
import random
import time
from typing import Any, Callable, Mapping, Sequence

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from safelight.data.chat import IGNORE_INDEX, encode_chat


def encode_rows(tokenizer: PreTrainedTokenizerBase, rows: Sequence[Mapping[str, Any]]) -> list[tuple[list[int], list[int]]]:
    encoded = [encode_chat(tokenizer, row["messages"]) for row in rows]
    return [(e.input_ids, e.labels) for e in encoded]


def collate(examples: Sequence[tuple[list[int], list[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    width = max(len(ids) for ids, _ in examples)
    input_ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for i, (ids, lab) in enumerate(examples):
        input_ids[i, : len(ids)] = torch.tensor(ids)
        labels[i, : len(lab)] = torch.tensor(lab)
        mask[i, : len(ids)] = 1
    return {"input_ids": input_ids, "labels": labels, "attention_mask": mask}


def epoch_batches(lengths: Sequence[int], batch_size: int, rng: random.Random, bucket: int = 8) -> list[list[int]]:
    """One shuffled pass in batches of similar length.

    Rows are shuffled, cut into chunks of `bucket` batches, and sorted by length inside a chunk:
    random padding doubled the cost of a step on CPU (mean row 24 tokens, mean batch max 47).
    """
    order = list(range(len(lengths)))
    rng.shuffle(order)
    batches: list[list[int]] = []
    chunk = batch_size * bucket
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lambda i: lengths[i])
        batches += [part[k : k + batch_size] for k in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    return batches


def _lr_factor(step: int, steps: int, warmup: int, cosine: bool) -> float:
    if step < warmup:
        return (step + 1) / warmup
    if not cosine:
        return 1.0
    progress = (step - warmup) / max(1, steps - warmup)
    return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress))


def sft_train(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    rows: Sequence[Mapping[str, Any]],
    *,
    steps: int,
    batch_size: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
    warmup_steps: int = 0,
    cosine: bool = False,
    weight_decay: float = 0.0,
    log: Callable[[str], None] | None = None,
    log_every: int = 100,
) -> list[float]:
    """Train in place for `steps` optimizer steps over shuffled passes of `rows`; returns the losses."""
    examples = encode_rows(tokenizer, rows)
    rng = random.Random(seed)
    torch.manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: _lr_factor(s, steps, warmup_steps, cosine)
    )
    lengths = [len(ids) for ids, _ in examples]
    queue: list[list[int]] = []
    losses: list[float] = []
    model.train()
    started = time.perf_counter()
    for step in range(steps):
        if not queue:
            # Whole passes: every row is seen once per epoch, as in ordinary SFT.
            queue = epoch_batches(lengths, batch_size, rng)
        batch = collate([examples[i] for i in queue.pop()], tokenizer.pad_token_id)
        loss = model(**batch).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        if log and (step + 1) % log_every == 0:
            recent = sum(losses[-log_every:]) / log_every
            log(f"step {step + 1}/{steps} loss {recent:.4f} ({time.perf_counter() - started:.0f}s)")
    model.eval()
    return losses
