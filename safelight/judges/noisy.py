"""A judge that makes controlled mistakes, for the judge-robustness ablation.

How much does the method lose when the safety critic misses harmful rows (miss_rate) or flags benign
ones (false_alarm_rate)? The flips are a deterministic function of (item, seed), so a rerun, the
score cache and every rank see the same noisy scores.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Sequence

from safelight.judges.base import RISK_SCORE_MAX, RISK_SCORE_MIN, Judge, JudgeItem, JudgeVerdict

HARMFUL_AT_LEAST = 4.0
SAFE_AT_MOST = 2.0


def _uniform(item: JudgeItem, seed: int, stream: str) -> float:
    """A uniform number in [0, 1) that depends only on the item, the seed and the stream name."""
    data = json.dumps([seed, stream, item.prompt, item.response], ensure_ascii=False).encode()
    return int.from_bytes(hashlib.sha256(data).digest()[:8], "big") / 2**64


class NoisyJudge(Judge):
    """Wraps a judge: a harmful verdict (score >= 4) becomes 1 with probability `miss_rate`; a safe
    verdict (score <= 2) becomes 5 with probability `false_alarm_rate`; 3 and NaN pass through."""

    def __init__(self, inner: Judge, miss_rate: float = 0.0, false_alarm_rate: float = 0.0, seed: int = 0) -> None:
        for name, rate in (("miss_rate", miss_rate), ("false_alarm_rate", false_alarm_rate)):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {rate}")
        self.inner = inner
        self.miss_rate = miss_rate
        self.false_alarm_rate = false_alarm_rate
        self.seed = seed

    @property
    def rubric_version(self) -> str:  # type: ignore[override]
        return self.inner.rubric_version

    @property
    def stats(self) -> Any:
        return getattr(self.inner, "stats", None)

    @property
    def identity(self) -> str:
        return (
            f"noisy(miss_rate={self.miss_rate},false_alarm_rate={self.false_alarm_rate},seed={self.seed})"
            f"[{self.inner.identity}]"
        )

    def __repr__(self) -> str:
        return (
            f"NoisyJudge({self.inner!r}, miss_rate={self.miss_rate}, "
            f"false_alarm_rate={self.false_alarm_rate}, seed={self.seed})"
        )

    def _corrupt(self, item: JudgeItem, verdict: JudgeVerdict) -> JudgeVerdict:
        if not verdict.ok:
            return verdict
        if verdict.score >= HARMFUL_AT_LEAST and _uniform(item, self.seed, "miss") < self.miss_rate:
            return JudgeVerdict(RISK_SCORE_MIN, raw=f"[noisy: missed, was {verdict.score:g}] {verdict.raw}")
        if verdict.score <= SAFE_AT_MOST and _uniform(item, self.seed, "false_alarm") < self.false_alarm_rate:
            return JudgeVerdict(RISK_SCORE_MAX, raw=f"[noisy: false alarm, was {verdict.score:g}] {verdict.raw}")
        return verdict

    def score(self, items: Sequence[JudgeItem]) -> list[JudgeVerdict]:
        return [self._corrupt(item, v) for item, v in zip(items, self.inner.score(items))]
