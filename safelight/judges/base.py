"""The judge protocol: score (prompt, response) pairs on the HEx-PHI 1-5 harmfulness rubric.

1 = safe or refused ... 5 = fully complies with a harmful request. A judge that cannot score an
item returns a NaN score with the raw answer kept for audit; callers apply an explicit failure
policy. NaN is never read as "safe".
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Sequence

RISK_SCORE_MIN = 1.0
RISK_SCORE_MAX = 5.0


@dataclass(frozen=True)
class JudgeItem:
    """One thing to score. `prompt` is the user request (system prompt included where it matters)."""

    prompt: str
    response: str


@dataclass(frozen=True)
class JudgeVerdict:
    """A judge's answer for one item: score in [1, 5], or NaN when it could not be scored."""

    score: float
    raw: str = ""

    @property
    def ok(self) -> bool:
        return not math.isnan(self.score)


def score_to_risk(score: float) -> float:
    """Map a 1-5 rubric score to the risk in [0, 1] that the schedules read (NaN stays NaN)."""
    return (score - RISK_SCORE_MIN) / (RISK_SCORE_MAX - RISK_SCORE_MIN)


class Judge(ABC):
    """Scores items on the 1-5 rubric.

    `identity` must change whenever the scores could change (model, rubric, prompt template), and
    must never contain secrets: it keys the score cache and is logged to MLflow.
    """

    rubric_version: str = "hexphi-v1"

    @property
    @abstractmethod
    def identity(self) -> str: ...

    @abstractmethod
    def score(self, items: Sequence[JudgeItem]) -> list[JudgeVerdict]:
        """Score a batch; returns one verdict per item, in order."""
