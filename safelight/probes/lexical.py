"""Lexical baseline: bag-of-words logistic regression on the prompt text.

It sees only words, never the model, so whatever it scores shows how much of a probe's score the
prompts' surface style alone explains. Same splits, same L2 grid and selection as the probe.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Sequence

import torch
from torch import Tensor

WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


class BagOfWords:
    """log(1 + count) features over the training texts' vocabulary (words seen >= min_count times)."""

    def __init__(self, texts: Sequence[str], min_count: int = 1, max_vocab: int = 20000) -> None:
        counts = Counter(w for t in texts for w in set(words(t)))
        kept = [w for w, c in counts.most_common(max_vocab) if c >= min_count]
        self.index = {w: i for i, w in enumerate(sorted(kept))}

    def __call__(self, texts: Sequence[str]) -> Tensor:
        out = torch.zeros(len(texts), max(len(self.index), 1))
        for row, text in enumerate(texts):
            for word, count in Counter(words(text)).items():
                col = self.index.get(word)
                if col is not None:
                    out[row, col] = float(count)
        return out.log1p()
