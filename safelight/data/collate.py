"""Batch contract: input_ids, attention_mask, labels (-100 outside the response), prompt_lengths, risk."""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import Tensor

from safelight.data.chat import IGNORE_INDEX


class ChatCollator:
    """Right-pads tokenised rows; `risk` is NaN where no estimator has scored the row yet."""

    def __init__(self, pad_token_id: int) -> None:
        self.pad_token_id = pad_token_id

    def __call__(self, rows: Sequence[dict[str, Any]]) -> dict[str, Tensor]:
        width = max(len(r["input_ids"]) for r in rows)
        n = len(rows)
        input_ids = torch.full((n, width), self.pad_token_id, dtype=torch.long)
        labels = torch.full((n, width), IGNORE_INDEX, dtype=torch.long)
        attention_mask = torch.zeros((n, width), dtype=torch.long)
        for i, row in enumerate(rows):
            length = len(row["input_ids"])
            input_ids[i, :length] = torch.tensor(row["input_ids"])
            labels[i, :length] = torch.tensor(row["labels"])
            attention_mask[i, :length] = 1
        risk = [float("nan") if r.get("risk") is None else float(r["risk"]) for r in rows]
        return {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "labels": labels,
            "prompt_lengths": torch.tensor([r["prompt_length"] for r in rows], dtype=torch.long),
            "risk": torch.tensor(risk, dtype=torch.float32),
        }


def count_response_tokens(batch: dict[str, Tensor]) -> int:
    """Tokens the loss is computed on (labels shifted by one, as in the objective)."""
    return int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())
